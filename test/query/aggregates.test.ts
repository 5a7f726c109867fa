import { describe, expect, test } from 'vitest'
import type { SourceSpec } from '../../src/core/source.ts'
import { aggFunction } from '../../src/query/aggregates.ts'
import { ChangelogTable } from '../../src/query/changelog.ts'
import { type Catalog, planQuery } from '../../src/query/planner.ts'
import { formatType } from '../../src/query/types.ts'
import { collect } from '../../src/plugins/outputs/collect.ts'
import { TestDriver } from '../../src/runtime/test-driver.ts'

// The output of the TOPK aggregate: the k most frequent values with their counts.

const idle: SourceSpec = { kind: 'test', bounded: true, create: () => ({ nextBatch: () => null }) }
const catalog: Catalog = {
  hits: {
    source: idle,
    schema: { site: 'STRING', path: 'STRING', ts: 'TIMESTAMP(3)' },
    eventTime: { column: 'ts', watermarkDelayMs: 0 },
  },
}

/** Hits of `site`, one per path letter of `paths`, one millisecond apart from `start`. */
function hits(site: string, paths: string, start: number) {
  return [...paths].map((p, i) => ({ value: { site, path: `/${p}`, ts: start + i }, time: start + i }))
}

function run(sql: string, records: ReturnType<typeof hits>) {
  const plan = planQuery(sql, catalog, { sink: { spec: collect() }, timestamps: 'ms' })
  const d = new TestDriver(plan.topology)
  d.pushRecords('hits', records)
  d.end()
  return { plan, values: d.values<{ [c: string]: unknown }>('sink') }
}

describe('TOPK(x, k)', () => {
  test('per window: the k most frequent values with their counts, most frequent first, ties by value', () => {
    const { plan, values } = run(
      "SELECT site, window_start, TOPK(path, 3) AS top FROM TABLE(TUMBLE(TABLE hits, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY site, window_start, window_end",
      [...hits('shop', 'abcabcaadeb', 0), ...hits('blog', 'zzy', 10), ...hits('shop', 'q', 1500)],
    )
    expect(formatType(plan.types[2]!)).toBe('ARRAY<ROW<value STRING, count BIGINT>>')
    const byKey = new Map(values.map((v) => [`${v.site}@${v.window_start}`, v.top]))
    expect(byKey.get('shop@0')).toEqual([
      { value: '/a', count: 4 },
      { value: '/b', count: 3 },
      { value: '/c', count: 2 },
    ])
    expect(byKey.get('blog@0')).toEqual([
      { value: '/z', count: 2 },
      { value: '/y', count: 1 },
    ])
    expect(byKey.get('shop@1000')).toEqual([{ value: '/q', count: 1 }])
    expect(values).toHaveLength(3)
  })

  test('in an updating GROUP BY, a change carries the new top list, and a row that leaves it as it was changes nothing', () => {
    const { values } = run('SELECT site, TOPK(path, 2) AS top FROM hits GROUP BY site', hits('s', 'abbcc', 0))
    const text = (top: unknown) =>
      (top as { value: string; count: number }[]).map((e) => `${e.value}:${e.count}`).join(' ')
    const changes = values as { op: string; row: { top: unknown } }[]
    expect(changes.map((c) => `${c.op} ${text(c.row.top)}`)).toEqual([
      '+I /a:1',
      '-U /a:1',
      '+U /a:1 /b:1',
      '-U /a:1 /b:1',
      '+U /b:2 /a:1',
      '-U /b:2 /a:1',
      '+U /b:2 /c:2',
    ])
    const table = new ChangelogTable()
    for (const v of values) table.apply(v as never)
    expect(table.toRows()).toEqual([
      {
        site: 's',
        top: [
          { value: '/b', count: 2 },
          { value: '/c', count: 2 },
        ],
      },
    ])
  })

  test('merging partial counts (HOP panes) adds them before ranking', () => {
    const f = aggFunction('TOPK', { constant: 2 })
    let a = f.create()
    for (const v of ['x', 'y', 'y']) a = f.add(a, v)
    let b = f.create()
    for (const v of ['x', 'x', 'z']) b = f.add(b, v)
    expect(f.result(f.merge(a, b))).toEqual([
      { value: 'x', count: 3 },
      { value: 'y', count: 2 },
    ])
    expect(f.result(a)).toEqual([
      { value: 'y', count: 2 },
      { value: 'x', count: 1 },
    ])
  })
})

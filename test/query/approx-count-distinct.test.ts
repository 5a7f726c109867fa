import { describe, expect, it } from 'vitest'
import type { SourceSpec } from '../../src/core/source.ts'
import { collect } from '../../src/plugins/outputs/collect.ts'
import { planQuery } from '../../src/query/planner.ts'
import { TestDriver, type TestRecord } from '../../src/runtime/test-driver.ts'

const idle: SourceSpec = { kind: 'generated', bounded: true, create: () => ({ nextBatch: () => null }) }

// The documented precision of APPROX_COUNT_DISTINCT and its relative standard error.
const P = 12
const SE = 1.04 / Math.sqrt(2 ** P)

interface Visit {
  site: string
  visitor: string
  ts: number
}

describe('APPROX_COUNT_DISTINCT', () => {
  it('HOP windows over 130 000 distinct visitors per window stay within 3 standard errors of the exact count', () => {
    const sql = `
      SELECT window_start, window_end, site, APPROX_COUNT_DISTINCT(visitor) AS visitors
      FROM TABLE(HOP(TABLE visits, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '4' MINUTE))
      GROUP BY window_start, window_end, site`
    const plan = planQuery(
      sql,
      {
        visits: {
          source: idle,
          sample: [{ site: 'a', visitor: 'v0', ts: 0 }],
          eventTime: { column: 'ts', watermarkDelayMs: 0 },
        },
      },
      { sink: { spec: collect(), name: 'out' }, timestamps: 'ms' },
    )
    expect(plan.updating).toBe(false)
    // Minute m of site a has visitors 30 000·m … 30 000·m + 39 999, so panes overlap in visitors and
    // a 4-minute window holds up to 130 000 distinct ones; site b has a third as many, in its own
    // range. The exact answer per window is kept alongside.
    const exact = new Map<string, Set<string>>()
    const records: TestRecord<Visit>[] = []
    for (let m = 0; m < 6; m++) {
      for (const [site, n, base] of [
        ['a', 40_000, 0],
        ['b', 13_000, 10_000_000],
      ] as const) {
        for (let i = 0; i < n; i++) {
          const visitor = `v${base + (n * 3 * m) / 4 + i}`
          const ts = m * 60_000 + Math.floor((i * 60_000) / n)
          records.push({ value: { site, visitor, ts }, time: ts })
          // The windows of size 4 min sliding by 1 min that contain minute m.
          for (let end = m + 1; end <= m + 4; end++) {
            const k = `${site} ${end * 60_000}`
            let s = exact.get(k)
            if (s === undefined) exact.set(k, (s = new Set()))
            s.add(visitor)
          }
        }
      }
    }
    records.sort((x, y) => x.time! - y.time!)
    const d = new TestDriver(plan.topology, { parallelism: 2 })
    for (let i = 0; i < records.length; i += 10_000) d.pushRecords('visits', records.slice(i, i + 10_000))
    d.end()
    const rows = d.values<{ window_start: number; window_end: number; site: string; visitors: number }>('out')
    // 9 windows per site end at minutes 1 … 9.
    expect(rows).toHaveLength(18)
    let largest = 0
    for (const r of rows) {
      expect(r.window_end - r.window_start).toBe(240_000)
      const truth = exact.get(`${r.site} ${r.window_end}`)!.size
      largest = Math.max(largest, truth)
      const error = Math.abs(r.visitors - truth) / truth
      expect(error, `${r.site} window ending ${r.window_end}: ${r.visitors} for ${truth}`).toBeLessThan(
        3 * SE,
      )
    }
    expect(largest).toBe(130_000)
  }, 30_000)
})

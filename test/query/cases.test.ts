import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import type { SourceSpec } from '../../src/core/source.ts'
import { collect } from '../../src/plugins/outputs/collect.ts'
import { ChangelogTable } from '../../src/query/changelog.ts'
import { type Catalog, planQuery, type QueryPlan, timeReader } from '../../src/query/planner.ts'
import { TestDriver } from '../../src/runtime/test-driver.ts'

// Each cases/<name>.sql starts with `-- tables: a@time, b` (tables read from cases/<table>.jsonl,
// `@col` makes col the event time) and is checked against cases/<name>.expected.jsonl: the rows of
// an append-only query, or the final table of an updating one, compared as multisets — or, when
// the SQL has a line `-- ordered`, as sequences (for ORDER BY). A script of several INSERTs has
// one cases/<name>.<table>.expected.jsonl per table it writes instead, each checked the same way.
const DIR = join(import.meta.dirname, 'cases')
const idle: SourceSpec = { kind: 'case', bounded: true, create: () => ({ nextBatch: () => null }) }

interface Case {
  name: string
  sql: string
  ordered: boolean
  tables: { name: string; time?: string; rows: object[] }[]
  /** The tables its INSERTs write, for a script of several; undefined for one result. */
  written?: string[]
}

function loadCase(name: string): Case {
  const sql = readFileSync(join(DIR, `${name}.sql`), 'utf8')
  const header = /^--\s*tables:\s*(.+)$/m.exec(sql)
  if (!header) throw new Error(`${name}.sql: first line must be "-- tables: ..."`)
  const tables = header[1]!.split(',').map((t) => {
    const [table, time] = t.trim().split('@') as [string, string | undefined]
    const rows = readFileSync(join(DIR, `${table}.jsonl`), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as object)
    return { name: table, ...(time ? { time } : {}), rows }
  })
  const perTable = new RegExp(`^${name}\\.(.+)\\.expected\\.jsonl$`)
  const written = readdirSync(DIR)
    .map((f) => perTable.exec(f)?.[1])
    .filter((t) => t !== undefined)
    .sort()
  return {
    name,
    sql,
    ordered: /^--\s*ordered\s*$/m.test(sql),
    tables,
    ...(written.length > 0 ? { written } : {}),
  }
}

function plan(c: Case): QueryPlan {
  const catalog: Catalog = Object.fromEntries(
    c.tables.map((t) => [
      t.name,
      {
        source: idle,
        sample: t.rows,
        ...(t.time ? { eventTime: { column: t.time, watermarkDelayMs: 0 } } : {}),
      },
    ]),
  )
  // A script of several INSERTs ends in one sink per table, named after it.
  return planQuery(c.sql, catalog, {
    sink: c.written ? { spec: () => collect() } : { spec: collect(), name: 'out' },
  })
}

/** The results to check, by the sink node they end in and the file they are checked against. */
function results(c: Case, p: QueryPlan): { sink: string; updating: boolean; expected: string }[] {
  if (c.written === undefined)
    return [{ sink: 'out', updating: p.updating, expected: `${c.name}.expected.jsonl` }]
  expect(p.inserts.map((i) => i.table).sort()).toEqual(c.written)
  return p.inserts.map((i) => ({
    sink: i.sink!,
    updating: i.updating,
    expected: `${c.name}.${i.table}.expected.jsonl`,
  }))
}

/** Pushes the rows of every table, interleaved by event time, from `from` to `to` (fractions). */
function push(d: TestDriver, c: Case, from: number, to: number): void {
  const all: { table: string; value: object; time: number }[] = []
  for (const t of c.tables) {
    const read = t.time ? timeReader(t.time) : () => 0
    for (const value of t.rows) all.push({ table: t.name, value, time: read(value) ?? 0 })
  }
  all.sort((a, b) => a.time - b.time)
  const part = all.slice(Math.floor(all.length * from), Math.floor(all.length * to))
  for (const r of part) d.pushRecords(r.table, [{ value: r.value, time: r.time }])
}

function finalRows(c: Case, p: { readonly updating: boolean }, values: unknown[]): string[] {
  if (!p.updating) {
    const rows = values.map((v) => JSON.stringify(v))
    return c.ordered ? rows : rows.sort()
  }
  const table = new ChangelogTable()
  for (const v of values) table.apply(v as never)
  expect(table.unmatched).toBe(0)
  return table
    .toRows()
    .map((r) => JSON.stringify(r))
    .sort()
}

function expected(c: Case, file: string): string[] {
  const rows = readFileSync(join(DIR, file), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.stringify(JSON.parse(l)))
  return c.ordered ? rows : rows.sort()
}

const names = readdirSync(DIR)
  .filter((f) => f.endsWith('.sql'))
  .map((f) => f.slice(0, -4))
  .sort()

describe('SQL cases', () => {
  test('there are at least 12 cases', () => {
    expect(names.length).toBeGreaterThanOrEqual(12)
  })

  for (const name of names) {
    test(`${name}: runs straight through to the expected rows`, () => {
      const c = loadCase(name)
      const p = plan(c)
      const d = new TestDriver(p.topology, { parallelism: 1 })
      push(d, c, 0, 1)
      d.end()
      for (const r of results(c, p)) {
        const got = finalRows(c, r, d.values(r.sink))
        if (process.env.SQUALL_WRITE_CASES) writeFileSync(join(DIR, r.expected), `${got.join('\n')}\n`)
        expect(got, r.expected).toEqual(expected(c, r.expected))
      }
    })

    test(`${name}: snapshotted halfway and resumed at parallelism 3 gives the same rows`, () => {
      const c = loadCase(name)
      const first = plan(c)
      const d1 = new TestDriver(first.topology, { parallelism: 1 })
      push(d1, c, 0, 0.5)
      const before = results(c, first).map((r) => d1.values(r.sink))
      const snap = d1.snapshot()
      const second = plan(c)
      const d2 = new TestDriver(second.topology, { parallelism: 3 }).restore(snap)
      push(d2, c, 0.5, 1)
      d2.end()
      results(c, second).forEach((r, i) => {
        const got = finalRows(c, r, [...before[i]!, ...d2.values(r.sink)])
        expect(got, r.expected).toEqual(expected(c, r.expected))
      })
    })
  }
})

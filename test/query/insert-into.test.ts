// INSERT INTO a table declared with CREATE TABLE: the query's columns are checked against the
// table's by position and count, types must be assignable, and rows leave named after the table.

import { describe, expect, it } from 'vitest'
import { SquallError } from '../../src/core/errors.ts'
import { type Catalog, planQuery } from '../../src/query/planner.ts'
import { collect } from '../../src/plugins/outputs/collect.ts'
import { runToEnd } from '../../src/runtime/embedded/runner.ts'

const rows = [
  { id: 1, name: 'a', price: 10 },
  { id: 2, name: 'b', price: 25 },
]

function catalog(): Catalog {
  return {
    items: {
      schema: { id: 'BIGINT', name: 'STRING', price: 'INT' },
      source: {
        kind: 'array',
        bounded: true,
        maxPartitions: 1,
        create: () => {
          let done = false
          return {
            nextBatch: () => {
              if (done) return null
              done = true
              return rows.map((value) => ({ value, key: undefined, time: 0, tag: '' }))
            },
            snapshot: () => done,
            restore: (p: unknown) => {
              done = p as boolean
            },
          }
        },
      },
    },
  }
}

function planError(sql: string): SquallError {
  try {
    planQuery(sql, catalog())
  } catch (err) {
    expect(err).toBeInstanceOf(SquallError)
    return err as SquallError
  }
  throw new Error('expected the plan to fail')
}

describe('INSERT INTO a declared result table', () => {
  it('names the rows after the table by position, widens INT to DECIMAL, and sends them to a sink named after it', async () => {
    const sink = collect<unknown>()
    const plan = planQuery(
      `CREATE TABLE cheap (item_id BIGINT, label VARCHAR, cost DECIMAL(10, 2)) WITH ('connector' = 'blackhole');
       INSERT INTO cheap SELECT id, UPPER(name), price FROM items WHERE price < 20`,
      catalog(),
      { sink: { spec: sink } },
    )
    expect(plan.columns).toEqual(['item_id', 'label', 'cost'])
    expect(plan.topology.node('cheap')).toBeDefined()
    expect(plan.explain()).toContain('INSERT INTO cheap (id AS item_id')
    await runToEnd(plan.topology, { log: () => {} })
    expect(sink.values).toEqual([{ item_id: 1, label: 'A', cost: 10 }])
  })

  it('with a column list, fills the listed columns in that order and the others with NULL', async () => {
    const sink = collect<unknown>()
    const plan = planQuery(
      `CREATE TABLE t (a BIGINT, b VARCHAR, c BIGINT) WITH ('connector' = 'blackhole');
       INSERT INTO t (c, b) SELECT price, name FROM items`,
      catalog(),
      { sink: { spec: sink, name: 'out' } },
    )
    expect(plan.topology.node('out')).toBeDefined()
    await runToEnd(plan.topology, { log: () => {} })
    expect(sink.values).toEqual([
      { a: null, b: 'a', c: 10 },
      { a: null, b: 'b', c: 25 },
    ])
  })

  it('an unknown table is an ERR_SQL_PLAN naming line, column and the closest declared table', () => {
    const err = planError(`CREATE TABLE results (id BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO result SELECT id FROM items`)
    expect(err.code).toBe('ERR_SQL_PLAN')
    expect(err.message).toContain(
      'line 2, column 13: unknown table "result" in INSERT INTO (did you mean results?)',
    )
    expect(err.message).toContain('\n  INSERT INTO result SELECT id FROM items\n              ^')
  })

  it('a different number of columns is refused, listing both sides', () => {
    const err = planError(`CREATE TABLE r (id BIGINT, name VARCHAR) WITH ('connector' = 'blackhole');
INSERT INTO r SELECT id FROM items`)
    expect(err.code).toBe('ERR_SQL_PLAN')
    expect(err.message).toContain(
      'line 2, column 15: INSERT INTO r: the query gives 1 column (id) but the table takes 2 (id, name)',
    )
  })

  it('a type that does not fit names the column and both types, with a caret under the select item', () => {
    const err = planError(`CREATE TABLE r (id BIGINT, name BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO r SELECT id, name FROM items`)
    expect(err.code).toBe('ERR_SQL_TYPE')
    expect(err.message).toContain(
      'line 2, column 26: INSERT INTO r: column 2 "name" is BIGINT, but the query gives',
    )
    expect(err.message).toMatch(/gives (VARCHAR|STRING)[^ ]* \("name"\)/)
    expect(err.message).toContain(
      '\n  INSERT INTO r SELECT id, name FROM items\n                           ^',
    )
  })

  it('a result table may not reuse the name of a source, nor be declared twice', () => {
    expect(
      planError(`CREATE TABLE items (id BIGINT) WITH ('connector' = 'blackhole'); SELECT 1 FROM items`)
        .message,
    ).toMatch(/table "items" is already a source of the job/)
    expect(
      planError(`CREATE TABLE r (id BIGINT) WITH ('connector' = 'blackhole');
CREATE TABLE r (id BIGINT) WITH ('connector' = 'blackhole'); INSERT INTO r SELECT id FROM items`).message,
    ).toMatch(/^line 2, column 1: table "r" is declared twice/)
  })
})

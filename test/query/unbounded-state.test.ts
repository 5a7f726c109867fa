import { describe, expect, test } from 'vitest'
import type { SourceSpec } from '../../src/core/source.ts'
import { type Catalog, planQuery } from '../../src/query/planner.ts'
import { collect } from '../../src/plugins/outputs/collect.ts'
import { TestDriver } from '../../src/runtime/test-driver.ts'

// A regular join of two unbounded inputs keeps every row for ever: the planner accepts it with a
// warning naming that state, or refuses it when planning is strict.

const idle: SourceSpec = { kind: 'test', bounded: true, create: () => ({ nextBatch: () => null }) }
const catalog: Catalog = {
  orders: {
    source: idle,
    schema: { id: 'BIGINT', item: 'STRING', ts: 'TIMESTAMP(3)' },
    eventTime: { column: 'ts', watermarkDelayMs: 0 },
  },
  shipments: {
    source: idle,
    schema: { order_id: 'BIGINT', ts: 'TIMESTAMP(3)' },
    eventTime: { column: 'ts', watermarkDelayMs: 0 },
  },
}

const REGULAR = 'SELECT o.id, o.item, s.ts AS shipped FROM orders o JOIN shipments s ON o.id = s.order_id'
const INTERVAL = `SELECT o.id, o.item FROM orders o JOIN shipments s
  ON o.id = s.order_id AND s.ts BETWEEN o.ts AND o.ts + INTERVAL '1' HOUR`
const JOIN_WARNING =
  'the regular join on o.id = s.order_id keeps every row of both inputs for ever; its state grows with the input (an interval join on the time attributes, or a window join, bounds it)'

describe('a regular join on unbounded inputs', () => {
  test('is planned with a warning naming the join and the state that grows, also in explain', () => {
    const plan = planQuery(REGULAR, catalog, { sink: { spec: collect() }, timestamps: 'ms' })
    expect(plan.warnings).toEqual([JOIN_WARNING])
    const text = plan.explain()
    expect(text).toMatch(
      /Join\s+join-1\n\s+INNER on o\.id = s\.order_id\n\s+state: every row of both sides, for ever/,
    )
    expect(text).toContain(`Warning: ${JOIN_WARNING}`)

    const d = new TestDriver(plan.topology)
    d.pushRecords('orders', [{ value: { id: 1, item: 'pen', ts: 1000 }, time: 1000 }])
    d.pushRecords('shipments', [{ value: { order_id: 1, ts: 9_000_000 }, time: 9_000_000 }])
    d.end()
    expect(d.values('sink')).toEqual([{ id: 1, item: 'pen', shipped: 9_000_000 }])
  })

  test('is refused under strict planning with ERR_SQL_UNBOUNDED_STATE and the same explanation', () => {
    let error: { code?: string; message?: string } = {}
    try {
      planQuery(REGULAR, catalog, { strict: true })
    } catch (e) {
      error = e as typeof error
    }
    expect(error.code).toBe('ERR_SQL_UNBOUNDED_STATE')
    expect(error.message).toBe(`${JOIN_WARNING}; refused because the query is planned with strict: true`)
  })

  test('bounded by the time attributes (an interval join) it is planned under strict without a warning', () => {
    const plan = planQuery(INTERVAL, catalog, { strict: true })
    expect(plan.warnings).toEqual([])
    expect(plan.explain()).toMatch(/IntervalJoin\s+join-1/)
    expect(plan.explain()).not.toMatch(/Warning/)
  })
})

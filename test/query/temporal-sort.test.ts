import { describe, expect, test } from 'vitest'
import type { SourceSpec } from '../../src/core/source.ts'
import { type Catalog, planQuery } from '../../src/query/planner.ts'
import { collect } from '../../src/plugins/outputs/collect.ts'
import { TestDriver } from '../../src/runtime/test-driver.ts'

// ORDER BY on the time attribute (Flink's temporal sort): rows wait until the watermark passes
// them, then leave in event-time order; LIMIT and OFFSET keep the first rows of that order (or of
// arrival); other orderings, and either over an updating result, are refused.

const idle: SourceSpec = { kind: 'test', bounded: true, create: () => ({ nextBatch: () => null }) }

const catalog: Catalog = {
  bids: {
    source: idle,
    schema: { auction: 'BIGINT', price: 'BIGINT', ts: 'TIMESTAMP(3)' },
    eventTime: { column: 'ts', watermarkDelayMs: 5_000 },
  },
}

type Row = { auction: number; price: number | null; ts: number }

const bid = (auction: number, price: number | null, ts: number) => ({
  value: { auction, price, ts },
  time: ts,
})

/** Plans `sql` with a sink `sink` and a sink `late` on the sort's late output. */
function driver(sql: string) {
  const plan = planQuery(sql, catalog, { sink: { spec: collect() }, timestamps: 'ms' })
  plan.topology.addSink('late', collect(), [{ from: plan.output, sideOutput: 'late' }], { parallelism: 1 })
  return { plan, d: new TestDriver(plan.topology) }
}

const auctions = (rows: Row[]) => rows.map((r) => r.auction)

describe('ORDER BY the time attribute', () => {
  test('out-of-order rows within the watermark delay leave sorted by time, each once the watermark passes it', () => {
    const { plan, d } = driver('SELECT auction, price, ts FROM bids ORDER BY ts')
    expect(plan.updating).toBe(false)
    d.pushRecords('bids', [bid(1, 10, 3000), bid(2, 20, 1000), bid(3, 30, 2000)])
    expect(d.values('sink')).toEqual([])
    d.pushRecords('bids', [bid(4, 40, 7500)]) // watermark 7500 − 5000 − 1 = 2499
    expect(auctions(d.values<Row>('sink'))).toEqual([2, 3])
    d.pushRecords('bids', [bid(5, 50, 2600), bid(6, 60, 9000)]) // 2600 is not late; watermark 3999
    expect(auctions(d.values<Row>('sink'))).toEqual([2, 3, 5, 1])
    d.end()
    const out = d.values<Row>('sink')
    expect(auctions(out)).toEqual([2, 3, 5, 1, 4, 6])
    expect(out.map((r) => r.ts)).toEqual([1000, 2000, 2600, 3000, 7500, 9000])
    expect(d.metrics()[plan.output]?.late ?? 0).toBe(0)
  })

  test('a row the watermark has passed goes to the late output and is counted, like a window aggregate’s', () => {
    const { plan, d } = driver('SELECT auction, price, ts FROM bids ORDER BY ts')
    d.pushRecords('bids', [bid(1, 10, 10_000)]) // watermark 4999
    d.pushRecords('bids', [bid(2, 20, 4000), bid(3, 30, 4999), bid(9, 90, 5000)])
    d.end()
    expect(auctions(d.values<Row>('sink'))).toEqual([9, 1])
    expect(d.values<Row>('late')).toEqual([
      { auction: 2, price: 20, ts: 4000 },
      { auction: 3, price: 30, ts: 4999 },
    ])
    expect(d.metrics()[plan.output]?.late).toBe(2)

    const window = planQuery(
      "SELECT window_start, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '5' SECOND)) GROUP BY window_start, window_end",
      catalog,
      { sink: { spec: collect() }, timestamps: 'ms' },
    )
    const w = new TestDriver(window.topology)
    w.pushRecords('bids', [bid(1, 10, 10_000)])
    w.pushRecords('bids', [bid(2, 20, 4000), bid(3, 30, 4999), bid(9, 90, 5000)])
    w.end()
    expect(w.values('sink')).toEqual([
      { window_start: 5000, n: 1 },
      { window_start: 10_000, n: 1 },
    ])
    expect(w.metrics()['window-aggregate-1']?.late).toBe(2)
  })

  test('rows of one time are ordered by the other ORDER BY items, then by arrival', () => {
    const { d } = driver('SELECT auction, price, ts FROM bids ORDER BY ts, price DESC')
    d.pushRecords('bids', [
      bid(1, 5, 2000),
      bid(2, 9, 2000),
      bid(3, 5, 1000),
      bid(4, 7, 2000),
      bid(5, 9, 2000),
      bid(6, 1, 1000),
      bid(7, 8, 1000),
    ])
    d.end()
    expect(auctions(d.values<Row>('sink'))).toEqual([7, 3, 6, 2, 5, 4, 1])

    const asc = driver('SELECT auction, price, ts FROM bids ORDER BY ts ASC, price ASC')
    asc.d.pushRecords('bids', [bid(1, 5, 2000), bid(2, 9, 1000), bid(3, 4, 2000), bid(4, 5, 2000)])
    asc.d.end()
    expect(auctions(asc.d.values<Row>('sink'))).toEqual([2, 3, 1, 4])
  })

  test('NULLs sort first ascending and last descending, unless NULLS FIRST | LAST says otherwise', () => {
    const rows = [bid(1, 5, 1000), bid(2, null, 1000), bid(3, 7, 1000)]
    const order = (by: string) => {
      const { d } = driver(`SELECT auction, price, ts FROM bids ORDER BY ts, ${by}`)
      d.pushRecords('bids', rows)
      d.end()
      return auctions(d.values<Row>('sink'))
    }
    expect(order('price')).toEqual([2, 1, 3])
    expect(order('price DESC')).toEqual([3, 1, 2])
    expect(order('price NULLS LAST')).toEqual([1, 3, 2])
    expect(order('price DESC NULLS FIRST')).toEqual([2, 3, 1])
  })

  test('the rows waiting for the watermark are in the checkpoint: snapshot, restore, continue gives the same rows', () => {
    const sql = 'SELECT auction, price, ts FROM bids ORDER BY ts, price'
    const input = [bid(1, 3, 3000), bid(2, 2, 1000), bid(3, 1, 3000), bid(4, 9, 8000), bid(5, 4, 6000)]
    const more = [bid(6, 0, 6000), bid(7, 5, 12_000), bid(8, 1, 9000)]

    const straight = driver(sql).d
    straight.pushRecords('bids', input)
    straight.pushRecords('bids', more)
    straight.end()

    const first = driver(sql)
    first.d.pushRecords('bids', input)
    const before = first.d.values<Row>('sink')
    expect(auctions(before)).toEqual([2]) // watermark 2999: the rest wait in state
    expect(first.d.stateSize(first.plan.output)).toBeGreaterThan(0)
    const snap = first.d.snapshot()
    const second = driver(sql)
    const d2 = new TestDriver(second.plan.topology, { parallelism: 3 }).restore(snap)
    d2.pushRecords('bids', more)
    d2.end()
    const resumed = [...before, ...d2.values<Row>('sink')]
    expect(resumed).toEqual(straight.values('sink'))
    expect(auctions(resumed)).toEqual([2, 3, 1, 6, 5, 4, 8, 7])
  })

  test('explain names the sort, its order and its state', () => {
    const text = planQuery('SELECT auction, ts FROM bids ORDER BY ts, auction DESC', catalog).explain()
    expect(text).toMatch(/TemporalSort\s+temporal-sort-1/)
    expect(text).toMatch(/ORDER BY ts, auction DESC/)
    expect(text).toMatch(/state: the rows the watermark has not passed yet/)
  })
})

describe('LIMIT and OFFSET', () => {
  test('ORDER BY the time attribute with LIMIT keeps the first rows in event time, then nothing', () => {
    const { plan, d } = driver('SELECT auction, price, ts FROM bids ORDER BY ts LIMIT 3')
    expect(plan.updating).toBe(false)
    d.pushRecords('bids', [bid(1, 10, 3000), bid(2, 20, 1000), bid(3, 30, 2000), bid(4, 40, 2500)])
    d.pushRecords('bids', [bid(5, 50, 9000)]) // watermark 3999: 1000, 2000, 2500, 3000 leave
    expect(auctions(d.values<Row>('sink'))).toEqual([2, 3, 4])
    d.pushRecords('bids', [bid(6, 60, 20_000)])
    d.end()
    expect(auctions(d.values<Row>('sink'))).toEqual([2, 3, 4])
  })

  test('without ORDER BY, LIMIT, FETCH FIRST and OFFSET count rows in arrival order', () => {
    const input = [bid(1, 1, 5000), bid(2, 2, 1000), bid(3, 3, 3000), bid(4, 4, 2000), bid(5, 5, 9000)]
    const run = (sql: string) => {
      const { d } = driver(sql)
      d.pushRecords('bids', input)
      d.end()
      return auctions(d.values<Row>('sink'))
    }
    expect(run('SELECT * FROM bids LIMIT 2')).toEqual([1, 2])
    expect(run('SELECT * FROM bids FETCH FIRST 3 ROWS ONLY')).toEqual([1, 2, 3])
    expect(run('SELECT * FROM bids LIMIT 2 OFFSET 1')).toEqual([2, 3])
    expect(run('SELECT * FROM bids OFFSET 3')).toEqual([4, 5])
    expect(run('SELECT * FROM bids LIMIT 0')).toEqual([])
    expect(run('SELECT auction, ts FROM bids ORDER BY ts LIMIT 2 OFFSET 2')).toEqual([3, 1])
  })

  test('the count of rows seen is in the checkpoint: a restored job emits no row twice and stops at the limit', () => {
    const sql = 'SELECT auction, price, ts FROM bids LIMIT 4 OFFSET 1'
    const input = [bid(1, 1, 1000), bid(2, 2, 2000), bid(3, 3, 3000)]
    const more = [bid(4, 4, 4000), bid(5, 5, 5000), bid(6, 6, 6000)]
    const first = driver(sql)
    first.d.pushRecords('bids', input)
    const before = auctions(first.d.values<Row>('sink'))
    expect(before).toEqual([2, 3])
    const second = driver(sql)
    const d2 = new TestDriver(second.plan.topology, { parallelism: 2 }).restore(first.d.snapshot())
    d2.pushRecords('bids', more)
    d2.end()
    expect([...before, ...auctions(d2.values<Row>('sink'))]).toEqual([2, 3, 4, 5])
  })

  test('explain names the limit, its order and its state', () => {
    const text = planQuery('SELECT auction, ts FROM bids ORDER BY ts LIMIT 5', catalog).explain()
    expect(text).toMatch(/TemporalSort\s+temporal-sort-1/)
    expect(text).toMatch(/Limit\s+limit-1/)
    expect(text).toMatch(/LIMIT 5: the first 5 row\(s\) in event-time order/)
    expect(text).toMatch(/state: the number of rows seen/)
  })
})

describe('ORDER BY and LIMIT that a stream cannot run', () => {
  const refused = (sql: string) => {
    try {
      planQuery(sql, catalog)
    } catch (e) {
      return e as { code: string; message: string }
    }
    throw new Error(`planned: ${sql}`)
  }

  test('ORDER BY a column other than the time attribute is refused, naming the time attribute', () => {
    const e = refused('SELECT auction, price, ts FROM bids ORDER BY price')
    expect(e.code).toBe('ERR_SQL_PLAN')
    expect(e.message).toContain(
      'ORDER BY price: an unbounded stream can only be sorted by its time attribute ts ascending',
    )
    expect(e.message).toMatch(/ROW_NUMBER\(\) OVER \(PARTITION BY \.\.\. ORDER BY \.\.\.\) AS rownum/)
  })

  test('ORDER BY the time attribute descending is refused', () => {
    expect(refused('SELECT auction, ts FROM bids ORDER BY ts DESC').message).toMatch(
      /^ORDER BY ts DESC: an unbounded stream can only be sorted by its time attribute ts ascending/,
    )
  })

  test('ORDER BY the time attribute when it is not selected says to select it', () => {
    expect(refused('SELECT auction FROM bids ORDER BY ts').message).toContain(
      'select the event-time column, or window_time of a window aggregate',
    )
  })

  test('LIMIT with an ORDER BY other than the time attribute ascending is refused with the Top-N way out', () => {
    const e = refused('SELECT * FROM bids ORDER BY price DESC LIMIT 3')
    expect(e.code).toBe('ERR_SQL_PLAN')
    expect(e.message).toMatch(
      /^ORDER BY price DESC LIMIT 3: an unbounded stream can only be sorted by its time attribute/,
    )
    expect(e.message).toMatch(/WHERE rownum <= N/)
  })

  test('LIMIT over an updating result is refused', () => {
    const e = refused('SELECT auction, COUNT(*) AS n FROM bids GROUP BY auction LIMIT 3')
    expect(e.code).toBe('ERR_SQL_PLAN')
    expect(e.message).toMatch(/^LIMIT 3: the result updates earlier rows .* or cut by LIMIT/)
  })

  test('ORDER BY over an updating result is refused', () => {
    const e = refused('SELECT auction, COUNT(*) AS n FROM bids GROUP BY auction ORDER BY auction')
    expect(e.code).toBe('ERR_SQL_PLAN')
    expect(e.message).toMatch(/the result updates earlier rows/)
  })
})

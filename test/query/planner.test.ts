import { describe, expect, test } from 'vitest'
import type { SquallError } from '../../src/core/errors.ts'
import type { SourceSpec } from '../../src/core/source.ts'
import { ChangelogTable } from '../../src/query/changelog.ts'
import { type Catalog, planQuery, requireAppendOnly } from '../../src/query/planner.ts'
import { TestDriver } from '../../src/runtime/test-driver.ts'
import { collect } from '../../src/plugins/outputs/collect.ts'

const idle: SourceSpec = { kind: 'test', bounded: true, create: () => ({ nextBatch: () => null }) }
const T0 = Date.UTC(2024, 0, 1)
const at = (s: number) => T0 + s * 1000

const catalog: Catalog = {
  bids: {
    source: idle,
    schema: { auction: 'BIGINT', bidder: 'BIGINT', price: 'BIGINT', ts: 'TIMESTAMP(3)' },
    eventTime: { column: 'ts', watermarkDelayMs: 0 },
  },
  people: { source: idle, schema: { id: 'BIGINT', name: 'STRING', city: 'STRING' } },
}

function bid(auction: number, bidder: number, price: number, s: number) {
  return { value: { auction, bidder, price, ts: at(s) }, time: at(s) }
}

/** Plans `sql`, runs the records through a TestDriver and returns what the sink got. */
function run(sql: string, input: { [table: string]: { value: object; time?: number }[] }, parallelism = 1) {
  const plan = planQuery(sql, catalog, { sink: { spec: collect() } })
  const d = new TestDriver(plan.topology, { parallelism })
  for (const [table, records] of Object.entries(input)) d.pushRecords(table, records)
  d.end()
  return { plan, values: d.values<Record<string, unknown>>('sink') }
}

const BIDS = [bid(1, 10, 5, 1), bid(1, 11, 50, 2), bid(2, 10, 20, 12), bid(1, 12, 7, 14), bid(2, 11, 30, 25)]

describe('planQuery', () => {
  test('projection and filter compute columns per row and keep the append-only shape', () => {
    const { plan, values } = run('SELECT auction, price * 2 AS doubled FROM bids WHERE price > 10', {
      bids: BIDS,
    })
    expect(plan.updating).toBe(false)
    expect(plan.columns).toEqual(['auction', 'doubled'])
    expect(values).toEqual([
      { auction: 1, doubled: 100 },
      { auction: 2, doubled: 40 },
      { auction: 2, doubled: 60 },
    ])
  })

  test('a TUMBLE aggregation emits one final row per key and window once the watermark passes', () => {
    const sql = `SELECT auction, window_start, window_end, COUNT(*) AS n, MAX(price) AS top
      FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND))
      GROUP BY auction, window_start, window_end`
    const { plan, values } = run(sql, { bids: BIDS })
    expect(plan.updating).toBe(false)
    const rows = values.map((v) => `${v.auction} ${v.window_start} ${v.n} ${v.top}`).sort()
    expect(rows).toEqual([
      '1 2024-01-01 00:00:00.000 2 50',
      '1 2024-01-01 00:00:10.000 1 7',
      '2 2024-01-01 00:00:10.000 1 20',
      '2 2024-01-01 00:00:20.000 1 30',
    ])
  })

  test('a window fires only when the watermark passes its end, not before', () => {
    const plan = planQuery(
      "SELECT window_start, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end",
      catalog,
      { sink: { spec: collect() } },
    )
    const d = new TestDriver(plan.topology)
    d.pushRecords('bids', [bid(1, 1, 1, 1), bid(1, 1, 1, 9)])
    expect(d.values('sink')).toEqual([])
    d.pushRecords('bids', [bid(1, 1, 1, 10)])
    expect(d.values('sink')).toEqual([{ window_start: '2024-01-01 00:00:00.000', n: 2 }])
  })

  test('a HOP aggregation counts each row in every window it falls in', () => {
    const sql = `SELECT window_start, COUNT(*) AS n FROM TABLE(HOP(TABLE bids, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND))
      GROUP BY window_start, window_end`
    const { values } = run(sql, { bids: BIDS })
    const got = Object.fromEntries(values.map((v) => [String(v.window_start).slice(11, 19), v.n]))
    const expected: Record<string, number> = {}
    for (const b of BIDS) {
      const s = (b.time - T0) / 1000
      for (let w = Math.floor(s / 5) * 5; w > s - 10; w -= 5) {
        if (w < -5) continue
        const key = new Date(T0 + w * 1000).toISOString().slice(11, 19)
        expected[key] = (expected[key] ?? 0) + 1
      }
    }
    expect(got).toEqual(expected)
  })

  test('a GROUP BY without a window is updating: +I, then -U/+U as the group changes', () => {
    const { plan, values } = run(
      'SELECT auction, COUNT(*) AS n, SUM(price) AS total FROM bids GROUP BY auction',
      {
        bids: BIDS.slice(0, 3),
      },
    )
    expect(plan.updating).toBe(true)
    expect(plan.key).toEqual(['auction'])
    expect(plan.warnings.join()).toMatch(/state grows/)
    expect(values).toEqual([
      { op: '+I', row: { auction: 1, n: 1, total: 5 } },
      { op: '-U', row: { auction: 1, n: 1, total: 5 } },
      { op: '+U', row: { auction: 1, n: 2, total: 55 } },
      { op: '+I', row: { auction: 2, n: 1, total: 20 } },
    ])
  })

  test('an aggregate over an updating input retracts old rows: the count of auctions per bid count', () => {
    const sql =
      'SELECT n, COUNT(*) AS auctions FROM (SELECT auction, COUNT(*) AS n FROM bids GROUP BY auction) GROUP BY n'
    const { values } = run(sql, { bids: BIDS })
    const table = new ChangelogTable()
    for (const v of values) table.apply(v as never)
    // auction 1 has 3 bids, auction 2 has 2
    expect(table.toRows().sort((a, b) => (a.n as number) - (b.n as number))).toEqual([
      { n: 2, auctions: 1 },
      { n: 3, auctions: 1 },
    ])
    expect(table.unmatched).toBe(0)
  })

  test('HAVING filters groups after aggregation', () => {
    const sql = 'SELECT auction, MAX(price) AS top FROM bids GROUP BY auction HAVING COUNT(*) >= 3'
    const { values } = run(sql, { bids: BIDS })
    const table = new ChangelogTable()
    for (const v of values) table.apply(v as never)
    expect(table.toRows()).toEqual([{ auction: 1, top: 50 }])
  })

  test('strict planning refuses a GROUP BY whose state grows without bound', () => {
    expect(() =>
      planQuery('SELECT auction, COUNT(*) FROM bids GROUP BY auction', catalog, { strict: true }),
    ).toThrow(expect.objectContaining({ code: 'ERR_SQL_UNBOUNDED_STATE' }))
  })

  test('requireAppendOnly refuses an updating plan and names the sink', () => {
    const plan = planQuery('SELECT auction, COUNT(*) AS n FROM bids GROUP BY auction', catalog)
    expect(() => requireAppendOnly(plan, 'archive')).toThrow(/sink "archive" takes only appended rows/)
    expect(() =>
      planQuery('SELECT auction FROM bids', catalog, { sink: { spec: collect(), appendOnly: true } }),
    ).not.toThrow()
    try {
      planQuery('SELECT auction, COUNT(*) AS n FROM bids GROUP BY auction', catalog, {
        sink: { spec: collect(), name: 'files', appendOnly: true },
      })
      expect.unreachable()
    } catch (e) {
      expect((e as SquallError).code).toBe('ERR_SQL_UPDATING_SINK')
    }
  })

  test('ORDER BY on a non-time column is refused with a way out', () => {
    expect(() => planQuery('SELECT * FROM bids ORDER BY price DESC LIMIT 3', catalog)).toThrow(/ROW_NUMBER/)
  })

  test('an unknown table suggests the closest name', () => {
    expect(() => planQuery('SELECT * FROM bid', catalog)).toThrow(/unknown table "bid"; did you mean "bids"/)
  })

  test('a column that is neither grouped nor aggregated is named in the error', () => {
    expect(() => planQuery('SELECT auction, price FROM bids GROUP BY auction', catalog)).toThrow(
      /"price" is neither grouped nor aggregated/,
    )
  })

  test('a window TVF over a column that is not the time attribute is refused', () => {
    expect(() =>
      planQuery(
        "SELECT COUNT(*) FROM TABLE(TUMBLE(TABLE people, DESCRIPTOR(id), INTERVAL '1' SECOND)) GROUP BY window_start, window_end",
        catalog,
      ),
    ).toThrow(/not a time attribute/)
  })

  test('explain lists operators, their state and whether results update', () => {
    const plan = planQuery('SELECT auction, COUNT(*) AS n FROM bids GROUP BY auction', catalog)
    const text = plan.explain()
    expect(text).toMatch(/Source\s+bids/)
    expect(text).toMatch(/GroupAggregate/)
    expect(text).toMatch(/state: one accumulator per group/)
    expect(text).toMatch(/updating: a changelog/)
  })

  test('views are planned once and can be read by the query', () => {
    const sql = `CREATE VIEW big AS SELECT auction, price FROM bids WHERE price >= 20;
      SELECT auction, price FROM big WHERE auction = 2`
    const { values } = run(sql, { bids: BIDS })
    expect(values).toEqual([
      { auction: 2, price: 20 },
      { auction: 2, price: 30 },
    ])
  })

  test('UNION ALL merges two branches with the same columns', () => {
    const sql =
      'SELECT auction AS id FROM bids WHERE price < 10 UNION ALL SELECT bidder AS id FROM bids WHERE price > 40'
    const { values } = run(sql, { bids: BIDS })
    expect(values.map((v) => v.id).sort()).toEqual([1, 1, 11])
  })

  test('OVER w reads the window the WINDOW clause defines, for aggregates and for ROW_NUMBER', () => {
    const over = run(
      `SELECT auction, price, SUM(price) OVER w AS total, COUNT(*) OVER w AS n FROM bids
       WINDOW w AS (PARTITION BY auction ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)`,
      { bids: BIDS },
    )
    expect(over.values).toEqual([
      { auction: 1, price: 5, total: 5, n: 1 },
      { auction: 1, price: 50, total: 55, n: 2 },
      { auction: 2, price: 20, total: 20, n: 1 },
      { auction: 1, price: 7, total: 57, n: 2 },
      { auction: 2, price: 30, total: 50, n: 2 },
    ])
    const top = run(
      `SELECT auction, price FROM (SELECT auction, price, ROW_NUMBER() OVER w AS rn FROM bids
       WINDOW w AS (PARTITION BY auction ORDER BY price DESC)) WHERE rn <= 1`,
      { bids: BIDS },
    )
    const table = new ChangelogTable()
    for (const v of top.values) table.apply(v as never)
    expect(table.toRows()).toEqual([
      { auction: 1, price: 50 },
      { auction: 2, price: 30 },
    ])
    expect(() => planQuery('SELECT SUM(price) OVER v FROM bids WINDOW w AS (ORDER BY ts)', catalog)).toThrow(
      /OVER v names no window of this SELECT \(its WINDOW clause defines w\)/,
    )
  })

  test('DATE and TIME results leave as text, like TIMESTAMP ones', () => {
    const { values } = run(
      "SELECT CAST(ts AS DATE) AS d, TIME '12:30:05' AS t, ts FROM bids WHERE price = 5",
      { bids: BIDS },
    )
    expect(values).toEqual([{ d: '2024-01-01', t: '12:30:05', ts: '2024-01-01 00:00:01.000' }])
  })

  test('ROW(a, b) builds a row value', () => {
    const { values } = run('SELECT ROW(auction, price) AS r FROM bids WHERE price = 5', { bids: BIDS })
    expect(values).toEqual([{ r: { f0: 1, f1: 5 } }])
  })

  test('an event-time column that the sample rows lack, or that holds no times, is refused before running', () => {
    const sampled = (column: string): Catalog => ({
      logs: {
        source: idle,
        sample: [{ url: '/a', ts: '2024-01-01 00:00:01' }],
        eventTime: { column, watermarkDelayMs: 0 },
      },
    })
    expect(() => planQuery('SELECT url FROM logs', sampled('tss'))).toThrow(
      expect.objectContaining({
        code: 'ERR_SQL_PLAN',
        message: expect.stringMatching(
          /event-time column "tss" is not one of its columns \(url, ts\); did you mean "ts"\?/,
        ),
      }),
    )
    expect(() => planQuery('SELECT url FROM logs', sampled('url'))).toThrow(
      /event-time column "url" holds "\/a", which is not a time/,
    )
    expect(planQuery('SELECT url FROM logs', sampled('ts')).columns).toEqual(['url'])
  })

  test('a HOP slide above its size or a CUMULATE size off its step is refused in SQL terms; an offset counts modulo the size', () => {
    const tvf = (call: string) =>
      planQuery(`SELECT COUNT(*) FROM TABLE(${call}) GROUP BY window_start, window_end`, catalog)
    expect(() => tvf("HOP(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND, INTERVAL '5' SECOND)")).toThrow(
      expect.objectContaining({
        code: 'ERR_SQL_PLAN',
        message: expect.stringMatching(/HOP takes the slide first/),
      }),
    )
    expect(() =>
      tvf("CUMULATE(TABLE bids, DESCRIPTOR(ts), INTERVAL '4' SECOND, INTERVAL '10' SECOND)"),
    ).toThrow(
      expect.objectContaining({
        code: 'ERR_SQL_PLAN',
        message: expect.stringMatching(/multiple of the step/),
      }),
    )
    const { values } = run(
      `SELECT window_start, COUNT(*) AS n
       FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND, INTERVAL '-5' SECOND))
       GROUP BY window_start, window_end`,
      { bids: BIDS },
    )
    expect(values.map((v) => `${v.window_start} ${v.n}`).sort()).toEqual([
      '2023-12-31 23:59:55.000 2',
      '2024-01-01 00:00:05.000 2',
      '2024-01-01 00:00:25.000 1',
    ])
  })

  test('keyed operators give the same rows at parallelism 3 as at 1', () => {
    const sql = `SELECT auction, window_start, SUM(price) AS total FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND))
      GROUP BY auction, window_start, window_end`
    const one = run(sql, { bids: BIDS }, 1)
      .values.map((v) => JSON.stringify(v))
      .sort()
    const three = run(sql, { bids: BIDS }, 3)
      .values.map((v) => JSON.stringify(v))
      .sort()
    expect(three).toEqual(one)
  })
})

describe('outer interval joins', () => {
  test('are append-only: a pair once when it meets, an unmatched outer row once with NULLs when the watermark passes it', () => {
    const sql = `SELECT b1.price AS p1, b2.price AS p2
      FROM bids AS b1 LEFT JOIN bids AS b2
      ON b1.auction = b2.auction AND b2.ts BETWEEN b1.ts + INTERVAL '1' SECOND AND b1.ts + INTERVAL '5' SECOND
        AND b2.price > b1.price`
    // The bid of 3 at 3 s lies in the bounds of the bid of 5, but is not higher: no match.
    const bids = [...BIDS.slice(0, 2), bid(1, 13, 3, 3), ...BIDS.slice(2)]
    const { plan, values } = run(sql, { bids })
    expect(plan.updating).toBe(false)
    expect(plan.explain()).toContain('an outer row that matched nothing is emitted with NULLs when it leaves')
    const rows = values.map((v) => `${v.p1}-${v.p2}`).sort()
    expect(rows).toEqual(['20-null', '3-null', '30-null', '5-50', '50-null', '7-null'])
  })
})

describe('sqlPlanner', () => {
  test('plans over a running job’s tables, taking the time attribute from the watermark strategy', async () => {
    const { WatermarkStrategy } = await import('../../src/core/watermark.ts')
    const { schemaOf } = await import('../../src/query/row-schema.ts')
    const { sqlPlanner } = await import('../../src/query/planner.ts')
    const tables = new Map([
      [
        'bids',
        {
          name: 'bids',
          source: idle,
          watermarks: WatermarkStrategy.forBoundedOutOfOrderness<unknown>(0).withTimestamp('ts'),
          schema: schemaOf('bids', { auction: 'BIGINT', price: 'BIGINT', ts: 'TIMESTAMP(3)' }),
        },
      ],
    ])
    const plan = sqlPlanner(
      "SELECT window_start, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end",
      tables,
    )
    expect(plan.updating).toBe(false)
    expect(plan.columns).toEqual(['window_start', 'n'])
  })

  test('types a table from its sample rows and takes the catalog’s `time` column as its time attribute', async () => {
    const { WatermarkStrategy } = await import('../../src/core/watermark.ts')
    const { sqlPlanner } = await import('../../src/query/planner.ts')
    const tables = new Map([
      [
        'clicks',
        {
          name: 'clicks',
          source: idle,
          watermarks: WatermarkStrategy.forBoundedOutOfOrderness<unknown>(0),
          sample: [{ page: 'p0', seq: 1 }],
          timeColumn: 'time',
        },
      ],
    ])
    const plan = sqlPlanner(
      "SELECT window_start, window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(time), INTERVAL '1' SECOND)) GROUP BY window_start, window_end",
      tables,
    )
    expect(plan).toMatchObject({ updating: false, columns: ['window_start', 'window_end', 'n'] })
    expect(sqlPlanner('SELECT page, seq, `time` FROM clicks', tables).columns).toEqual([
      'page',
      'seq',
      'time',
    ])
    expect(() =>
      sqlPlanner(
        "SELECT COUNT(*) FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(seq), INTERVAL '1' SECOND)) GROUP BY window_start, window_end",
        tables,
      ),
    ).toThrow('the time attribute of clicks is "time": use DESCRIPTOR(time)')
  })
})

describe('result keys', () => {
  const key = (sql: string) => planQuery(sql, catalog).key

  test('a Top-N is keyed by its partition columns and its rank, when it selects them', () => {
    const inner = 'ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rn FROM bids'
    expect(key(`SELECT auction, price, rn FROM (SELECT auction, price, ${inner}) WHERE rn <= 2`)).toEqual([
      'auction',
      'rn',
    ])
    expect(key(`SELECT * FROM (SELECT *, ${inner}) WHERE rn <= 2`)).toEqual(['auction', 'rn'])
    expect(
      key(`SELECT auction AS a, rn AS r, price FROM (SELECT auction, price, ${inner}) WHERE rn <= 2`),
    ).toEqual(['a', 'r'])
    expect(key(`SELECT auction, price FROM (SELECT auction, price, ${inner}) WHERE rn <= 2`)).toBeUndefined()
    expect(key(`SELECT price, rn FROM (SELECT price, ${inner}) WHERE rn <= 2`)).toBeUndefined()
  })

  test('a window aggregate is keyed by its groups and window bounds; a join has no key', () => {
    expect(
      key(`SELECT auction, window_start, window_end, COUNT(*) AS n
           FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND))
           GROUP BY auction, window_start, window_end`),
    ).toEqual(['auction', 'window_start', 'window_end'])
    expect(key('SELECT auction, COUNT(*) AS n FROM bids GROUP BY auction')).toEqual(['auction'])
    expect(key('SELECT b.auction, p.name FROM bids b LEFT JOIN people p ON b.bidder = p.id')).toBeUndefined()
  })
})

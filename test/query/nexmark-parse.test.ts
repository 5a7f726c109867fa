// The Nexmark benchmark's Flink SQL queries q0–q8 (test/query/nexmark/*.sql, the statements as
// the Flink version of the suite writes them) parse, and their trees hold the expected parts.

import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import type { Expr, FromItem, Insert, Query, Select, Statement } from '../../src/query/ast.ts'
import { formatExpr } from '../../src/query/format-expr.ts'
import { parseScript } from '../../src/query/parser.ts'

function load(n: number): Statement[] {
  return parseScript(readFileSync(new URL(`./nexmark/q${n}.sql`, import.meta.url), 'utf8'))
}

function insertOf(n: number): Insert {
  const stmts = load(n)
  expect(stmts.map((s) => s.kind)).toEqual(['createTable', 'insert'])
  return stmts[1] as Insert
}

function selectOf(q: Query): Select {
  expect(q.body.kind).toBe('select')
  return q.body as Select
}

const items = (s: Select) =>
  s.items.map((i) => (i.alias ? `${formatExpr(i.expr)} AS ${i.alias}` : formatExpr(i.expr)))
const text = (e: Expr | undefined) => (e ? formatExpr(e) : undefined)

function subquerySelect(f: FromItem): Select {
  expect(f.kind).toBe('subquery')
  return selectOf((f as FromItem & { kind: 'subquery' }).query)
}

describe('Nexmark queries in Flink SQL', () => {
  it('q0: the sink table is declared with typed columns and options, and the insert selects five columns', () => {
    const [create, insert] = load(0)
    expect(create!.kind).toBe('createTable')
    if (create!.kind !== 'createTable') return
    expect(create.name).toEqual(['nexmark_q0'])
    expect(create.columns.map((c) => c.name)).toEqual(['auction', 'bidder', 'price', 'dateTime', 'extra'])
    expect(create.columns[3]!.type).toEqual({ kind: 'TIMESTAMP', precision: 3 })
    expect(create.options).toEqual({ connector: 'blackhole' })
    const s = selectOf((insert as Insert).query)
    expect((insert as Insert).target).toEqual(['nexmark_q0'])
    expect(items(s)).toEqual(['auction', 'bidder', 'price', 'dateTime', 'extra'])
    expect(s.from).toMatchObject({ kind: 'table', name: ['bid'] })
  })

  it('q1: a decimal literal times a column keeps its alias after a trailing comment', () => {
    const s = selectOf(insertOf(1).query)
    expect(items(s)).toEqual(['auction', 'bidder', '0.908 * price AS price', 'dateTime', 'extra'])
    expect(s.items[2]!.expr).toMatchObject({
      kind: 'binary',
      op: '*',
      left: { kind: 'literal', value: 0.908 },
    })
  })

  it('q2: the filter is a MOD call compared with zero', () => {
    const s = selectOf(insertOf(2).query)
    expect(text(s.where)).toBe('MOD(auction, 123) = 0')
  })

  it('q3: an inner join with aliases and an OR group inside AND', () => {
    const s = selectOf(insertOf(3).query)
    expect(s.from).toMatchObject({
      kind: 'join',
      type: 'inner',
      left: { kind: 'table', name: ['auction'], alias: 'A' },
      right: { kind: 'table', name: ['person'], alias: 'P' },
    })
    expect(text((s.from as FromItem & { kind: 'join' }).on)).toBe('A.seller = P.id')
    expect(text(s.where)).toBe("A.category = 10 AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA')")
  })

  it('q4: a comma join with BETWEEN in a subquery aliased without AS, grouped twice', () => {
    const outer = selectOf(insertOf(4).query)
    expect(items(outer)).toEqual(['Q.category', 'AVG(Q.final)'])
    expect(outer.groupBy.map(formatExpr)).toEqual(['Q.category'])
    expect(outer.from).toMatchObject({ kind: 'subquery', alias: 'Q' })
    const inner = subquerySelect(outer.from!)
    expect(items(inner)).toEqual(['MAX(B.price) AS final', 'A.category'])
    expect(inner.from).toMatchObject({
      kind: 'join',
      type: 'comma',
      left: { alias: 'A' },
      right: { alias: 'B' },
    })
    expect(text(inner.where)).toBe('A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND A.expires')
    expect(inner.groupBy.map(formatExpr)).toEqual(['A.id', 'A.category'])
  })

  it('q5: HOP windows take the slide first and the size second, and the two sides join on window bounds', () => {
    const s = selectOf(insertOf(5).query)
    expect(s.from!.kind).toBe('join')
    const join = s.from as FromItem & { kind: 'join' }
    expect(join.left).toMatchObject({ kind: 'subquery', alias: 'AuctionBids' })
    expect(join.right).toMatchObject({ kind: 'subquery', alias: 'MaxBids' })
    expect(text(join.on)).toBe(
      'AuctionBids.starttime = MaxBids.starttime AND AuctionBids.endtime = MaxBids.endtime AND AuctionBids.num >= MaxBids.maxn',
    )
    const bids = subquerySelect(join.left)
    expect(bids.from).toMatchObject({
      kind: 'windowTvf',
      fn: 'HOP',
      input: { kind: 'table', name: ['bid'] },
      timeColumn: 'dateTime',
      slide: { value: 2_000 },
      size: { value: 10_000 },
    })
    expect(items(bids)).toEqual([
      'auction',
      'COUNT(*) AS num',
      'window_start AS starttime',
      'window_end AS endtime',
    ])
    expect(bids.groupBy.map(formatExpr)).toEqual(['auction', 'window_start', 'window_end'])
    const maxBids = subquerySelect(join.right)
    expect(items(maxBids)[0]).toBe('MAX(CountBids.num) AS maxn')
    expect(subquerySelect(maxBids.from!).from).toMatchObject({ kind: 'windowTvf', fn: 'HOP' })
  })

  it('q6: an OVER window with a ROWS frame and ROW_NUMBER over a subquery without alias', () => {
    const s = selectOf(insertOf(6).query)
    const avg = s.items[1]!.expr
    expect(avg).toMatchObject({ kind: 'call', name: 'AVG' })
    if (avg.kind !== 'call' || typeof avg.over !== 'object') throw new Error('expected AVG(...) OVER (...)')
    expect(avg.over.partitionBy.map(formatExpr)).toEqual(['Q.seller'])
    expect(avg.over.orderBy.map((o) => formatExpr(o.expr))).toEqual(['Q.dateTime'])
    expect(avg.over.frame).toMatchObject({
      unit: 'ROWS',
      start: { kind: 'preceding', offset: { value: 10 } },
      end: { kind: 'currentRow' },
    })
    const ranked = subquerySelect(s.from!)
    expect(ranked.items[0]!.expr).toEqual({ kind: 'star', at: expect.any(Number) })
    expect(ranked.items[1]!.alias).toBe('rownum')
    const rowNumber = ranked.items[1]!.expr
    if (rowNumber.kind !== 'call' || typeof rowNumber.over !== 'object')
      throw new Error('expected ROW_NUMBER() OVER')
    expect(rowNumber.name).toBe('ROW_NUMBER')
    expect(rowNumber.over.orderBy).toMatchObject([{ desc: true }])
    expect(text(ranked.where)).toBe('rownum <= 1')
    expect(ranked.from).toMatchObject({ kind: 'subquery' })
    expect((ranked.from as { alias?: string }).alias).toBeUndefined()
  })

  it('q7: a TUMBLE window joined back to the stream with an interval arithmetic BETWEEN', () => {
    const s = selectOf(insertOf(7).query)
    const join = s.from as FromItem & { kind: 'join' }
    expect(join).toMatchObject({
      kind: 'join',
      type: 'inner',
      left: { kind: 'table', name: ['bid'], alias: 'B' },
    })
    expect(join.right).toMatchObject({ kind: 'subquery', alias: 'B1' })
    expect(subquerySelect(join.right).from).toMatchObject({
      kind: 'windowTvf',
      fn: 'TUMBLE',
      size: { value: 10_000 },
    })
    expect(text(s.where)).toBe("B.dateTime BETWEEN B1.dateTime - INTERVAL '10' SECOND AND B1.dateTime")
  })

  it('q8: two TUMBLE windows over different tables joined on id and window bounds', () => {
    const s = selectOf(insertOf(8).query)
    const join = s.from as FromItem & { kind: 'join' }
    expect(subquerySelect(join.left).from).toMatchObject({ kind: 'windowTvf', input: { name: ['person'] } })
    expect(subquerySelect(join.right).from).toMatchObject({ kind: 'windowTvf', input: { name: ['auction'] } })
    expect(text(join.on)).toBe('P.id = A.seller AND P.starttime = A.starttime AND P.endtime = A.endtime')
  })
})

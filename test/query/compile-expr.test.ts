import { describe, expect, it } from 'vitest'
import type { SquallError } from '../../src/core/errors.ts'
import { DROP } from '../../src/core/value-step.ts'
import {
  codeOfEvaluator,
  compileExpr,
  compileFilterStep,
  compilePredicate,
  compileTyped,
  inferType,
  type SqlRow,
} from '../../src/query/compile-expr.ts'
import { formatExpr } from '../../src/query/format-expr.ts'
import { parseExpression } from '../../src/query/parser.ts'
import { rowBuilder } from '../../src/query/plan/project.ts'
import { schemaOf } from '../../src/query/row-schema.ts'
import { formatType } from '../../src/query/types.ts'

const access = schemaOf('access', {
  path: 'STRING',
  status: 'INT',
  bytes: 'BIGINT',
  ok: 'BOOLEAN',
  ts: 'TIMESTAMP(3)',
  body: 'STRING',
  headers: 'MAP<STRING, STRING>',
  tags: 'ARRAY<STRING>',
  geo: 'ROW<country STRING, city STRING>',
})
const T0 = Date.UTC(2024, 2, 5, 14, 7, 9, 250)
const row = {
  path: '/index.html',
  status: 404,
  bytes: 1200,
  ok: null,
  ts: T0,
  body: '{"user":{"id":7,"name":"ann"},"items":[1,2]}',
  headers: { host: 'example.com' },
  tags: ['a', 'b'],
  geo: { country: 'FR', city: 'Lyon' },
}
const ev = (sql: string, r: SqlRow = row) => compileExpr(sql, access)(r)

function errorOf(f: () => unknown): SquallError {
  try {
    f()
  } catch (e) {
    return e as SquallError
  }
  throw new Error('expected an error')
}

describe('compileExpr: values and NULL logic', () => {
  it('follows three-valued logic for AND, OR and NOT', () => {
    expect(ev('ok AND FALSE')).toBe(false)
    expect(ev('ok AND TRUE')).toBe(null)
    expect(ev('ok OR TRUE')).toBe(true)
    expect(ev('ok OR FALSE')).toBe(null)
    expect(ev('NOT ok')).toBe(null)
    expect(ev('ok IS NULL')).toBe(true)
    expect(ev('ok IS NOT TRUE')).toBe(true)
  })

  it('gives NULL for comparisons and arithmetic with NULL, reads absent fields as NULL, and IS DISTINCT FROM treats NULLs as equal', () => {
    expect(ev('status > NULL')).toBe(null)
    expect(ev('bytes + NULL')).toBe(null)
    expect(ev('NULL IS NOT DISTINCT FROM ok')).toBe(true)
    expect(ev('status IS DISTINCT FROM 404')).toBe(false)
    expect(ev('status IS NULL', {})).toBe(true)
  })

  it('IN gives NULL rather than FALSE when the list holds a NULL and nothing matched', () => {
    expect(ev('status IN (200, 404)')).toBe(true)
    expect(ev('status NOT IN (200, 500)')).toBe(true)
    expect(ev('status IN (200, NULL)')).toBe(null)
    expect(ev('status IN (404, NULL)')).toBe(true)
    expect(ev('status IN (200, bytes)')).toBe(false)
  })

  it('divides integers as integers and fails on integer division by zero', () => {
    expect(ev('7 / 2')).toBe(3)
    expect(ev('7.0 / 2')).toBe(3.5)
    expect(ev('bytes % 7')).toBe(1200 % 7)
    const e = errorOf(() => ev('bytes / (status - 404)'))
    expect(e.code).toBe('ERR_SQL_RUNTIME')
    expect(e.message).toBe('division by zero in "bytes / (status - 404)"')
  })

  it('evaluates BETWEEN, LIKE with wildcards and ESCAPE, and SIMILAR TO', () => {
    expect(ev('status BETWEEN 400 AND 499')).toBe(true)
    expect(ev('status NOT BETWEEN 400 AND 499')).toBe(false)
    expect(ev("path LIKE '/%.html'")).toBe(true)
    expect(ev("path LIKE '/_ndex%'")).toBe(true)
    expect(ev("path LIKE '/index'")).toBe(false)
    expect(ev("path LIKE '/index.html'")).toBe(true)
    expect(ev("path LIKE '%.html'")).toBe(true)
    expect(ev("path LIKE '%dex%'")).toBe(true)
    expect(ev("path NOT LIKE '/api/%'")).toBe(true)
    expect(ev("path LIKE '%.htm'")).toBe(false)
    expect(ev("'50%' LIKE '50!%' ESCAPE '!'")).toBe(true)
    expect(ev("'500' LIKE '50!%' ESCAPE '!'")).toBe(false)
    expect(ev("'a.c' LIKE 'a.c'")).toBe(true)
    expect(ev("'abc' LIKE 'a.c'")).toBe(false)
    expect(ev("path SIMILAR TO '/(index|home)%'")).toBe(true)
  })

  it('evaluates searched and simple CASE, falling to ELSE or NULL', () => {
    expect(ev("CASE WHEN status >= 500 THEN 'error' WHEN status >= 400 THEN 'client' ELSE 'ok' END")).toBe(
      'client',
    )
    expect(ev("CASE status WHEN 200 THEN 'ok' WHEN 404 THEN 'missing' END")).toBe('missing')
    expect(ev("CASE status WHEN 200 THEN 'ok' END")).toBe(null)
    expect(ev("CASE WHEN ok THEN 'yes' ELSE 'no or unknown' END")).toBe('no or unknown')
  })

  it('casts between strings, numbers, booleans and timestamps; TRY_CAST gives NULL where CAST fails', () => {
    expect(ev("CAST('42' AS INT) + 1")).toBe(43)
    expect(ev('CAST(status AS STRING)')).toBe('404')
    expect(ev("CAST('2024-03-05 14:07:09.250' AS TIMESTAMP(3)) = ts")).toBe(true)
    expect(ev('CAST(ts AS STRING)')).toBe('2024-03-05 14:07:09.250')
    expect(ev('CAST(ts AS DATE)')).toBe(Date.UTC(2024, 2, 5))
    expect(ev("CAST('true' AS BOOLEAN)")).toBe(true)
    expect(ev('CAST(3.7 AS BIGINT)')).toBe(3)
    expect(ev('CAST(1.255 AS DECIMAL(5, 2))')).toBe(1.26)
    expect(ev("TRY_CAST('x1' AS INT)")).toBe(null)
    const e = errorOf(() => ev("CAST('x1' AS INT)"))
    expect(e.code).toBe('ERR_SQL_RUNTIME')
    expect(e.message).toBe(`CAST('x1' AS INT): cannot convert "x1" to INT; use TRY_CAST to get NULL instead`)
  })

  it('reads timestamps given as epoch ms, as zoneless text (UTC) or as zoned text', () => {
    const f = compileExpr('EXTRACT(HOUR FROM ts)', access)
    expect(f({ ts: T0 })).toBe(14)
    expect(f({ ts: '2024-03-05 14:07:09' })).toBe(14)
    expect(f({ ts: '2024-03-05T14:07:09+02:00' })).toBe(12)
    expect(ev("ts > TIMESTAMP '2024-01-01 00:00:00'")).toBe(true)
    expect(ev("ts > '2024-03-06 00:00:00'")).toBe(false)
    expect(ev("ts + INTERVAL '1' HOUR")).toBe(T0 + 3_600_000)
    expect(ev("ts - INTERVAL '1' MONTH")).toBe(Date.UTC(2024, 1, 5, 14, 7, 9, 250))
  })

  it('reads map, array and row fields', () => {
    expect(ev("headers['host']")).toBe('example.com')
    expect(ev("headers['missing']")).toBe(null)
    expect(ev('tags[2]')).toBe('b')
    expect(ev('tags[3]')).toBe(null)
    expect(ev('geo.city')).toBe('Lyon')
    expect(ev("ARRAY['x', path][2]")).toBe('/index.html')
  })

  it('concatenates with || and NULL absorbs it', () => {
    expect(ev("path || '?' || status")).toBe('/index.html?404')
    expect(ev('path || CAST(NULL AS STRING)')).toBe(null)
  })
})

describe('compileExpr: functions', () => {
  it('formats timestamps with Java-style patterns in UTC', () => {
    expect(ev("DATE_FORMAT(ts, 'yyyy-MM-dd HH:mm:ss')")).toBe('2024-03-05 14:07:09')
    expect(ev("DATE_FORMAT(ts, 'yy/M/d h:mm a, EEE MMM SSS')")).toBe('24/3/5 2:07 PM, Tue Mar 250')
    expect(ev("DATE_FORMAT('2024-03-05 01:02:03', 'HH''h''mm')")).toBe('01h02')
  })

  it('reads JSON values by path and gives NULL for absent paths or bad documents', () => {
    expect(ev("JSON_VALUE(body, '$.user.name')")).toBe('ann')
    expect(ev("JSON_VALUE(body, '$.user.id')")).toBe('7')
    expect(ev("JSON_VALUE(body, '$.items[1]')")).toBe('2')
    expect(ev("JSON_VALUE(body, '$.user.missing')")).toBe(null)
    expect(ev("JSON_VALUE(body, '$.user')")).toBe(null)
    expect(ev("JSON_QUERY(body, '$.user')")).toBe('{"id":7,"name":"ann"}')
    expect(ev("JSON_EXISTS(body, '$.items')")).toBe(true)
    expect(ev("JSON_EXISTS('not json', '$.a')")).toBe(false)
    expect(ev("JSON_VALUE(body, '$[''user''].name')")).toBe('ann')
  })

  it('JSON_VALUE ... RETURNING casts the value, with NULL or DEFAULT on empty and on error, as Flink', () => {
    expect(ev("JSON_VALUE(body, '$.user.id' RETURNING INT)")).toBe(7)
    expect(ev("JSON_VALUE(body, '$.user.id' RETURNING INT) + 1")).toBe(8)
    expect(ev("JSON_VALUE(body, '$.user.name' RETURNING INT)")).toBe(null)
    expect(ev("JSON_VALUE(body, '$.user.name' RETURNING INT DEFAULT -1 ON ERROR)")).toBe(-1)
    expect(ev("JSON_VALUE(body, '$.user.age' RETURNING INT DEFAULT 0 ON EMPTY)")).toBe(0)
    expect(ev("JSON_VALUE(body, '$.user.id' RETURNING INT DEFAULT 0 ON EMPTY)")).toBe(7)
    expect(ev("JSON_VALUE(body, '$.user.age' NULL ON EMPTY)")).toBe(null)
    expect(errorOf(() => ev("JSON_VALUE(body, '$.user.name' RETURNING INT ERROR ON ERROR)")).code).toBe(
      'ERR_SQL_RUNTIME',
    )
    expect(errorOf(() => compileExpr("JSON_VALUE(body, '$.a' ERROR ON EMPTY)", access)).message).toMatch(
      /ERROR ON EMPTY is not supported/,
    )
  })

  it('JSON_OBJECT and JSON_ARRAY build JSON text, nest each other, and drop or keep NULLs as told', () => {
    expect(ev("JSON_OBJECT(KEY 'path' VALUE path, 'status' VALUE status, 'ok' VALUE ok)")).toBe(
      '{"path":"/index.html","status":404,"ok":null}',
    )
    expect(ev("JSON_OBJECT('ok' VALUE ok ABSENT ON NULL)")).toBe('{}')
    expect(ev('JSON_OBJECT()')).toBe('{}')
    expect(ev("JSON_ARRAY(status, ok, 'x')")).toBe('[404,"x"]')
    expect(ev('JSON_ARRAY(status, ok NULL ON NULL)')).toBe('[404,null]')
    expect(ev("JSON_OBJECT('tags' VALUE JSON_ARRAY('a', 'b'), 'user' VALUE JSON_OBJECT('id' VALUE 7))")).toBe(
      '{"tags":["a","b"],"user":{"id":7}}',
    )
    expect(ev("JSON_OBJECT('body' VALUE JSON_QUERY(body, '$.items'))")).toBe('{"body":"[1,2]"}')
    expect(formatExpr(parseExpression("JSON_OBJECT(KEY 'a' VALUE 1, 'b' VALUE path ABSENT ON NULL)"))).toBe(
      "JSON_OBJECT(KEY 'a' VALUE 1, KEY 'b' VALUE path ABSENT ON NULL)",
    )
  })

  it('CARDINALITY counts an array or a map; ELEMENT takes the one element of an array', () => {
    expect(ev('CARDINALITY(tags)')).toBe(2)
    expect(ev('CARDINALITY(headers)')).toBe(1)
    expect(ev('CARDINALITY(tags)', { ...row, tags: null })).toBe(null)
    expect(ev("ELEMENT(ARRAY['x'])")).toBe('x')
    expect(errorOf(() => ev('ELEMENT(tags)')).message).toMatch(/ELEMENT: the array has 2 elements/)
    expect(errorOf(() => compileExpr('CARDINALITY(path)', access)).message).toMatch(
      /CARDINALITY: argument 1 must be an ARRAY or a MAP, got/,
    )
  })

  it('folds constant parts once and keeps volatile functions per row', () => {
    const t = compileTyped("UPPER('abc') || path", access)
    expect(t.evaluate(row)).toBe('ABC/index.html')
    const now = compileExpr('CURRENT_TIMESTAMP', access)
    const before = Date.now()
    const v = now({}) as number
    expect(v).toBeGreaterThanOrEqual(before)
    expect(v).toBeLessThanOrEqual(Date.now())
  })

  it('rounds times down and up to a unit and adds units', () => {
    expect(ev('FLOOR(ts TO MINUTE)')).toBe(Date.UTC(2024, 2, 5, 14, 7))
    expect(ev('CEIL(ts TO HOUR)')).toBe(Date.UTC(2024, 2, 5, 15))
    expect(ev('FLOOR(ts TO WEEK)')).toBe(Date.UTC(2024, 2, 4))
    expect(ev('TIMESTAMPADD(DAY, 30, ts)')).toBe(T0 + 30 * 86_400_000)
    expect(ev("TIMESTAMPDIFF(MONTH, TIMESTAMP '2024-01-31 00:00:00', ts)")).toBe(1)
  })
})

describe('type inference and type errors', () => {
  it('types arithmetic by widening, decimals by precision, and aggregates by Flink rules', () => {
    expect(formatType(inferType('status + bytes', access))).toBe('BIGINT')
    expect(formatType(inferType('0.908 * bytes', access))).toBe('DECIMAL(23, 3)')
    expect(formatType(inferType('COUNT(*)', access))).toBe('BIGINT')
    expect(formatType(inferType('AVG(bytes)', access))).toBe('BIGINT')
    expect(formatType(inferType('TOPK(path, 10)', access))).toBe('ARRAY<ROW<value STRING, count BIGINT>>')
    expect(formatType(inferType('CASE WHEN ok THEN 1 ELSE 2.5 END', access))).toBe('DECIMAL(11, 1)')
    expect(formatType(inferType("JSON_VALUE(body, '$.a')", access))).toBe('STRING')
  })

  it('names both types and the expression when a comparison does not fit', () => {
    const e = errorOf(() => inferType('path > 5', access))
    expect(e.code).toBe('ERR_SQL_TYPE')
    expect(e.message).toBe('cannot compare VARCHAR with INT in "path > 5"')
  })

  it('names the table and the closest column for an unknown column', () => {
    const e = errorOf(() => compileExpr('pth = 1', access))
    expect(e.code).toBe('ERR_SQL_UNKNOWN_COLUMN')
    expect(e.message).toBe('unknown column "pth" in table "access"; did you mean "path"?')
  })

  it('suggests the closest function name and checks arity and argument types', () => {
    const unknownFn = errorOf(() => compileExpr('UPPR(path)', access))
    expect(unknownFn.code).toBe('ERR_SQL_UNKNOWN_FUNCTION')
    expect(unknownFn.message).toBe('unknown function UPPR in "UPPR(path)"; did you mean UPPER?')
    expect(errorOf(() => compileExpr('UPPER(path, 1)', access)).message).toBe(
      'UPPER takes 1 argument, got 2 in "UPPER(path, 1)"; usage: UPPER(s)',
    )
    expect(errorOf(() => compileExpr('UPPER(status)', access)).message).toBe(
      'UPPER: argument 1 must be a string, got INT in "UPPER(status)"',
    )
  })

  it('refuses to compile aggregates per row and non-boolean predicates', () => {
    expect(errorOf(() => compileExpr('COUNT(*)', access)).message).toMatch(
      /^COUNT is an aggregate: it is computed over many rows/,
    )
    expect(errorOf(() => compilePredicate('status + 1', access)).message).toBe(
      'expected a BOOLEAN condition, got INT in "status + 1"',
    )
  })

  it('resolves qualified names per table and reports ambiguous bare names', () => {
    const joined = {
      name: 'join',
      columns: [
        { name: 'id', type: { kind: 'BIGINT' as const }, table: 'A', field: 'a_id' },
        { name: 'id', type: { kind: 'BIGINT' as const }, table: 'B', field: 'b_id' },
      ],
    }
    expect(compileExpr('A.id - B.id', joined)({ a_id: 10, b_id: 3 })).toBe(7)
    expect(errorOf(() => compileExpr('id', joined)).message).toBe(
      'column "id" is ambiguous: it is in "A" and "B"; write A.id',
    )
  })
})

describe('compilePredicate', () => {
  it('treats NULL as false, so a WHERE drops rows whose condition is unknown', () => {
    const p = compilePredicate("status >= 400 AND path LIKE '/api/%'", access)
    expect(p({ status: 500, path: '/api/x' })).toBe(true)
    expect(p({ status: 500, path: null })).toBe(false)
    expect(p({ status: 200, path: '/api/x' })).toBe(false)
  })

  it('filters a million rows in well under a second', () => {
    const p = compilePredicate("status >= 400 AND path LIKE '/api/%' AND bytes > 100", access)
    const rows = Array.from({ length: 1000 }, (_, i) => ({
      status: 200 + (i % 400),
      path: i % 3 ? '/api/x' : '/',
      bytes: i,
    }))
    const start = performance.now()
    let n = 0
    for (let k = 0; k < 1000; k++) for (const r of rows) if (p(r)) n++
    const ms = performance.now() - start
    expect(n).toBeGreaterThan(0)
    expect(ms).toBeLessThan(1000)
  })
})

const bids = schemaOf('bid', {
  auction: 'BIGINT',
  bidder: 'BIGINT',
  price: 'DOUBLE',
  ok: 'BOOLEAN',
  channel: 'STRING',
  dateTime: 'TIMESTAMP(3)',
})
const bid = { auction: 1230, bidder: 7, price: 12.5, ok: null, channel: 'web', dateTime: 1_000 }
const evBid = (sql: string, r: SqlRow = bid) => compileExpr(sql, bids)(r)

describe('generated expressions', () => {
  it('compile columns, constants, arithmetic, comparisons and logic into one function without calls', () => {
    const fn = compileExpr('auction % 123 = 0 AND NOT (price > 100.0 OR -bidder >= 0)', bids)
    expect(codeOfEvaluator(fn)).toBeDefined()
    // No closure is called per row: every part is written into the function.
    expect(fn.toString()).not.toMatch(/k\d+\(row\)/)
    expect(fn(bid)).toBe(true)
    expect(fn({ ...bid, auction: 1231 })).toBe(false)
    const step = compileFilterStep('auction % 123 = 0', bids)
    expect(step.toString()).not.toMatch(/k\d+\(row\)/)
    expect(step(bid)).toBe(bid)
    expect(step({ ...bid, auction: 5 })).toBe(DROP)
    expect(step({ ...bid, auction: null })).toBe(DROP)
  })

  it('keep three-valued logic, with the right side evaluated only when it decides', () => {
    expect(evBid('ok AND FALSE')).toBe(false)
    expect(evBid('ok AND TRUE')).toBe(null)
    expect(evBid('ok OR TRUE')).toBe(true)
    expect(evBid('ok OR FALSE')).toBe(null)
    expect(evBid('NOT ok')).toBe(null)
    // A decided left side: the division by zero on the right never runs.
    expect(evBid('bidder < 0 AND auction / (bidder - 7) = 1')).toBe(false)
    expect(evBid('bidder > 0 OR auction / (bidder - 7) = 1')).toBe(true)
    // An unknown left side decides nothing: the right side runs, and fails.
    const e = errorOf(() => evBid('ok AND auction / (bidder - 7) = 1'))
    expect(e.code).toBe('ERR_SQL_RUNTIME')
    expect(e.message).toBe('division by zero in "auction / (bidder - 7)"')
  })

  it('give NULL for NULL or absent operands without evaluating the rest', () => {
    expect(evBid('auction + bidder')).toBe(1237)
    expect(evBid('auction + bidder', { ...bid, bidder: null })).toBe(null)
    expect(evBid('auction * 2 - bidder', {})).toBe(null)
    expect(evBid('auction = bidder', { auction: 3 })).toBe(null)
    expect(evBid('-bidder')).toBe(-7)
    expect(evBid('-bidder', {})).toBe(null)
    // NULL first: the zero divisor is not looked at.
    expect(evBid('bidder / (auction - 1230)', { ...bid, bidder: null })).toBe(null)
    expect(evBid('MOD(bidder, auction - 1230)', { ...bid, bidder: null })).toBe(null)
    expect(errorOf(() => evBid('MOD(bidder, auction - 1230)')).code).toBe('ERR_SQL_RUNTIME')
  })

  it('write conditions as tests that agree with the value form, NULL and FALSE alike dropping', () => {
    const conditions = [
      'auction % 123 = 0',
      'MOD(auction, 123) = 0',
      'bidder <> 7',
      'price >= 12.5 AND NOT ok',
      'NOT (price > 100.0 OR ok)',
      'ok OR bidder < auction',
      'NOT (bidder = 7 AND ok)',
      "channel = 'web' AND (ok IS NULL OR price < 1.0)",
      'MOD(bidder, 2) = 1 OR -price < 0',
    ]
    const rows: SqlRow[] = [
      bid,
      {},
      { ...bid, ok: true },
      { ...bid, ok: false },
      { ...bid, auction: null, bidder: 8 },
      { ...bid, auction: 1231, price: null },
      { auction: 246, bidder: 7 },
      { ...bid, channel: 'app', ok: false, price: 0.5 },
    ]
    for (const c of conditions) {
      const value = compileExpr(c, bids)
      const test = compilePredicate(c, bids)
      const step = compileFilterStep(c, bids)
      for (const r of rows) {
        const expected = value(r) === true
        expect(test(r), `${c} on ${JSON.stringify(r)}`).toBe(expected)
        expect(step(r), `${c} on ${JSON.stringify(r)}`).toBe(expected ? r : DROP)
      }
    }
  })

  it('write MOD into the code, failing on a zero divisor as the function does', () => {
    const step = compileFilterStep('MOD(auction, 123) = 0', bids)
    expect(step.toString()).toMatch(/% t\d+/)
    expect(step(bid)).toBe(bid)
    expect(step({ ...bid, auction: 1231 })).toBe(DROP)
    const mod = compileExpr('MOD(auction, bidder - 7)', bids)
    expect(errorOf(() => mod(bid)).message).toBe('MOD(1230, 0): division by zero')
    expect(errorOf(() => evBid('MOD(auction, 0)')).code).toBe('ERR_SQL_RUNTIME')
    expect(evBid('MOD(-7, 3)')).toBe(-1)
    expect(evBid('MOD(price, 5.0)')).toBe(2.5)
  })

  it('divide integers as integers and doubles as doubles', () => {
    expect(evBid('auction / bidder')).toBe(175)
    expect(evBid('-auction / bidder')).toBe(-175)
    expect(evBid('price / 2')).toBe(6.25)
    expect(evBid('auction % bidder')).toBe(1230 % 7)
  })

  it('call the closures of parts without code (LIKE, CASE) from generated code', () => {
    const fn = compilePredicate(
      "auction % 123 = 0 AND channel LIKE 'w%' AND CASE WHEN ok IS NULL THEN TRUE END",
      bids,
    )
    expect(fn(bid)).toBe(true)
    expect(fn({ ...bid, channel: 'app' })).toBe(false)
    expect(fn({ ...bid, ok: false })).toBe(false)
  })

  it('read timestamps given as text in generated code', () => {
    expect(evBid("dateTime + INTERVAL '1' SECOND")).toBe(2_000)
    expect(
      evBid("dateTime > TIMESTAMP '1970-01-01 00:00:00.500'", { ...bid, dateTime: '1970-01-01 00:00:01' }),
    ).toBe(true)
    expect(
      evBid("dateTime > TIMESTAMP '1970-01-01 00:00:00.500'", {
        ...bid,
        dateTime: '1970-01-01 00:00:00.100',
      }),
    ).toBe(false)
  })

  it('build projected rows with computed columns written into the builder', () => {
    const names = ['auction', 'euro', 'cheap', 'at']
    const fns = ['auction', 'price * 0.9', 'price < 20.0 OR ok', 'dateTime'].map((e) => compileExpr(e, bids))
    const build = rowBuilder(names, fns)
    expect(build.toString()).not.toMatch(/k\d+\(row\)/)
    expect(build(bid)).toEqual({ auction: 1230, euro: 12.5 * 0.9, cheap: true, at: 1_000 })
    expect(build({ dateTime: '1970-01-01 00:00:02' })).toEqual({
      auction: null,
      euro: null,
      cheap: null,
      at: 2_000,
    })
  })
})

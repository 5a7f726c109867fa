import { describe, expect, it } from 'vitest'
import { DROP } from '../../src/core/value-step.ts'
import type { SquallError } from '../../src/core/errors.ts'
import {
  codeOfEvaluator,
  compileExpr,
  compileFilterStep,
  compilePredicate,
  type SqlRow,
} from '../../src/query/compile-expr.ts'
import { rowBuilder } from '../../src/query/plan/project.ts'
import { schemaOf } from '../../src/query/row-schema.ts'

const bids = schemaOf('bid', {
  auction: 'BIGINT',
  bidder: 'BIGINT',
  price: 'DOUBLE',
  ok: 'BOOLEAN',
  channel: 'STRING',
  dateTime: 'TIMESTAMP(3)',
})
const bid = { auction: 1230, bidder: 7, price: 12.5, ok: null, channel: 'web', dateTime: 1_000 }
const ev = (sql: string, r: SqlRow = bid) => compileExpr(sql, bids)(r)

function errorOf(f: () => unknown): SquallError {
  try {
    f()
  } catch (e) {
    return e as SquallError
  }
  throw new Error('expected an error')
}

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
    expect(ev('ok AND FALSE')).toBe(false)
    expect(ev('ok AND TRUE')).toBe(null)
    expect(ev('ok OR TRUE')).toBe(true)
    expect(ev('ok OR FALSE')).toBe(null)
    expect(ev('NOT ok')).toBe(null)
    // A decided left side: the division by zero on the right never runs.
    expect(ev('bidder < 0 AND auction / (bidder - 7) = 1')).toBe(false)
    expect(ev('bidder > 0 OR auction / (bidder - 7) = 1')).toBe(true)
    // An unknown left side decides nothing: the right side runs, and fails.
    const e = errorOf(() => ev('ok AND auction / (bidder - 7) = 1'))
    expect(e.code).toBe('ERR_SQL_RUNTIME')
    expect(e.message).toBe('division by zero in "auction / (bidder - 7)"')
  })

  it('give NULL for NULL or absent operands without evaluating the rest', () => {
    expect(ev('auction + bidder')).toBe(1237)
    expect(ev('auction + bidder', { ...bid, bidder: null })).toBe(null)
    expect(ev('auction * 2 - bidder', {})).toBe(null)
    expect(ev('auction = bidder', { auction: 3 })).toBe(null)
    expect(ev('-bidder')).toBe(-7)
    expect(ev('-bidder', {})).toBe(null)
    // NULL first: the zero divisor is not looked at.
    expect(ev('bidder / (auction - 1230)', { ...bid, bidder: null })).toBe(null)
    expect(ev('MOD(bidder, auction - 1230)', { ...bid, bidder: null })).toBe(null)
    expect(errorOf(() => ev('MOD(bidder, auction - 1230)')).code).toBe('ERR_SQL_RUNTIME')
  })

  it('divide integers as integers and doubles as doubles', () => {
    expect(ev('auction / bidder')).toBe(175)
    expect(ev('-auction / bidder')).toBe(-175)
    expect(ev('price / 2')).toBe(6.25)
    expect(ev('auction % bidder')).toBe(1230 % 7)
  })

  it('call the closures of parts without code (LIKE, CASE) from generated code', () => {
    const fn = compilePredicate("auction % 123 = 0 AND channel LIKE 'w%' AND CASE WHEN ok IS NULL THEN TRUE END", bids)
    expect(fn(bid)).toBe(true)
    expect(fn({ ...bid, channel: 'app' })).toBe(false)
    expect(fn({ ...bid, ok: false })).toBe(false)
  })

  it('read timestamps given as text in generated code', () => {
    expect(ev('dateTime + INTERVAL \'1\' SECOND')).toBe(2_000)
    expect(ev("dateTime > TIMESTAMP '1970-01-01 00:00:00.500'", { ...bid, dateTime: '1970-01-01 00:00:01' })).toBe(true)
    expect(ev("dateTime > TIMESTAMP '1970-01-01 00:00:00.500'", { ...bid, dateTime: '1970-01-01 00:00:00.100' })).toBe(false)
  })

  it('build projected rows with computed columns written into the builder', () => {
    const names = ['auction', 'euro', 'cheap', 'at']
    const fns = ['auction', 'price * 0.9', 'price < 20.0 OR ok', 'dateTime'].map((e) =>
      compileExpr(e, bids),
    )
    const build = rowBuilder(names, fns)
    expect(build.toString()).not.toMatch(/k\d+\(row\)/)
    expect(build(bid)).toEqual({ auction: 1230, euro: 12.5 * 0.9, cheap: true, at: 1_000 })
    expect(build({ dateTime: '1970-01-01 00:00:02' })).toEqual({ auction: null, euro: null, cheap: null, at: 2_000 })
  })
})

import { describe, expect, it } from 'vitest'
import type { SourceSpec } from '../../src/core/source.ts'
import { compileExpr, inferType } from '../../src/query/compile-expr.ts'
import { decimalFromText, roundDecimal } from '../../src/query/decimal.ts'
import { type Catalog, planQuery } from '../../src/query/planner.ts'
import { schemaOf } from '../../src/query/row-schema.ts'
import { formatType } from '../../src/query/types.ts'
import { collect } from '../../src/plugins/outputs/collect.ts'
import { TestDriver } from '../../src/runtime/test-driver.ts'

// DECIMAL(p, s) is exact to its scale: results are rounded half away from zero to the scale Flink
// derives for them, and sums count units of the last place.

const prices = schemaOf('prices', {
  a: 'DECIMAL(10, 2)',
  b: 'DECIMAL(10, 2)',
  q: 'INT',
  d: 'DOUBLE',
  s: 'STRING',
})
const row = { a: 0.1, b: 0.2, q: 3, d: 1.005, s: '2.675' }
const ev = (sql: string, r: { [c: string]: unknown } = row) => compileExpr(sql, prices)(r)
const type = (sql: string) => formatType(inferType(sql, prices))

describe('DECIMAL arithmetic', () => {
  it('adds, subtracts and multiplies exactly at the scale of the result', () => {
    expect(ev('CAST(0.1 AS DECIMAL(10, 2)) + CAST(0.2 AS DECIMAL(10, 2))')).toBe(0.3)
    expect(ev('a + b')).toBe(0.3)
    expect(ev('b - a - a')).toBe(0)
    expect(ev('a - b')).toBe(-0.1)
    expect(ev('a * b')).toBe(0.02)
    expect(ev('1.1 * 1.1')).toBe(1.21)
    expect(ev('a * q')).toBe(0.3)
    expect(ev('CAST(0.3 AS DECIMAL(10, 2)) % CAST(0.1 AS DECIMAL(10, 2))')).toBe(0)
    expect(ev('CAST(1.15 AS DECIMAL(5, 2)) * 3')).toBe(3.45)
  })

  it('types results by Flink’s rules for precision and scale', () => {
    expect(type('a + b')).toBe('DECIMAL(11, 2)')
    expect(type('a - q')).toBe('DECIMAL(13, 2)')
    expect(type('a * b')).toBe('DECIMAL(21, 4)')
    expect(type('a / b')).toBe('DECIMAL(23, 13)')
    expect(type('a % q')).toBe('DECIMAL(10, 2)')
    expect(type('0.908 * CAST(q AS BIGINT)')).toBe('DECIMAL(23, 3)')
    expect(type('CAST(a AS DECIMAL(38, 10)) * CAST(b AS DECIMAL(38, 10))')).toBe('DECIMAL(38, 6)')
    expect(type('a + d')).toBe('DOUBLE')
  })

  it('divides rounding half away from zero to the scale of the quotient', () => {
    expect(ev('a / b')).toBe(0.5)
    const three = 'CAST(3 AS DECIMAL(1, 0))'
    expect(type(`CAST(1 AS DECIMAL(5, 0)) / ${three}`)).toBe('DECIMAL(11, 6)')
    expect(ev(`CAST(1 AS DECIMAL(5, 0)) / ${three}`)).toBe(0.333333)
    expect(ev(`CAST(2 AS DECIMAL(5, 0)) / ${three}`)).toBe(0.666667)
    expect(ev(`CAST(-2 AS DECIMAL(5, 0)) / ${three}`)).toBe(-0.666667)
    expect(type('CAST(2 AS DECIMAL(5, 0)) / 3')).toBe('DECIMAL(16, 11)')
    expect(ev('CAST(2 AS DECIMAL(5, 0)) / 3')).toBe(0.66666666667)
    expect(ev('1 / 3.0')).toBe(0.333333)
    expect(() => ev('a / CAST(0 AS DECIMAL(5, 2))')).toThrow(/division by zero in "a \/ CAST/)
    expect(() => ev('a % CAST(0 AS DECIMAL(5, 2))')).toThrow(
      expect.objectContaining({ code: 'ERR_SQL_RUNTIME' }),
    )
  })

  it('compares by value, so sums of tenths equal their total', () => {
    expect(ev('a + b = CAST(0.3 AS DECIMAL(10, 2))')).toBe(true)
    expect(ev('a + b > 0.3')).toBe(false)
    expect(ev('a * 3 = 0.3')).toBe(true)
    expect(ev('a < b')).toBe(true)
  })

  it('computes with a constant on either side, negatives and values past 2^53 units', () => {
    expect(ev('0.908 * q')).toBe(2.724)
    expect(ev('0.908 * q', { ...row, q: -1000 })).toBe(-908)
    expect(ev('q * 0.908', { ...row, q: 7 })).toBe(6.356)
    expect(ev('a * -3')).toBe(-0.3)
    expect(ev('-1.5 - a')).toBe(-1.6)
    expect(ev('a - -1.25')).toBe(1.35)
    expect(ev('a + q')).toBe(3.1)
    expect(ev('a - 1.5')).toBe(-1.4)
    // 10^16 units of a times 1000 is past 2^53: computed in floating point, still on the grid.
    expect(ev('a * q', { ...row, a: 1e14, q: 1000 })).toBe(1e17)
    expect(Object.is(ev('a - a', { ...row, a: -0.1 }), 0)).toBe(true)
    expect(Object.is(ev('a * q', { ...row, a: -0.1, q: 0 }), 0)).toBe(true)
  })

  it('gives NULL for a NULL operand', () => {
    expect(ev('a + b', { a: null, b: 0.2 })).toBe(null)
    expect(ev('a * NULL')).toBe(null)
  })

  it('rounds a value with more decimals than its column’s scale before computing with it', () => {
    expect(ev('a + b', { a: 0.125, b: 0.004 })).toBe(0.13)
  })
})

describe('CAST to DECIMAL', () => {
  it('rounds text half away from zero on the digits as written', () => {
    expect(ev('CAST(s AS DECIMAL(10, 2))')).toBe(2.68)
    expect(ev("CAST('-2.675' AS DECIMAL(10, 2))")).toBe(-2.68)
    expect(ev("CAST('0.005' AS DECIMAL(10, 2))")).toBe(0.01)
    expect(ev("CAST('0.0049999' AS DECIMAL(10, 2))")).toBe(0)
    expect(ev("CAST(' 1.5e1 ' AS DECIMAL(10, 0))")).toBe(15)
    expect(ev("CAST('12' AS DECIMAL(10, 3))")).toBe(12)
    expect(() => ev("CAST('1.2.3' AS DECIMAL(10, 2))")).toThrow(/cannot convert "1.2.3" to DECIMAL\(10, 2\)/)
  })

  it('rounds a DOUBLE on its shortest decimal text, as Flink does', () => {
    expect(ev('CAST(d AS DECIMAL(10, 2))')).toBe(1.01)
    expect(ev('CAST(1.255 AS DECIMAL(5, 2))')).toBe(1.26)
    expect(ev('CAST(CAST(0.1 AS DOUBLE) + CAST(0.2 AS DOUBLE) AS DECIMAL(10, 2))')).toBe(0.3)
    expect(ev('CAST(-1.5 AS DECIMAL(10, 0))')).toBe(-2)
    expect(ev('CAST(2.5 AS DECIMAL(10, 0))')).toBe(3)
  })

  it('fails when the integer part does not fit the precision, and TRY_CAST gives NULL', () => {
    expect(() => ev('CAST(123.45 AS DECIMAL(4, 2))')).toThrow(/cannot convert 123.45 to DECIMAL\(4, 2\)/)
    expect(ev('TRY_CAST(123.45 AS DECIMAL(4, 2))')).toBe(null)
    expect(ev('CAST(99.994 AS DECIMAL(4, 2))')).toBe(99.99)
    expect(ev('TRY_CAST(99.995 AS DECIMAL(4, 2))')).toBe(null)
  })

  it('prints with exactly its scale', () => {
    expect(ev('CAST(a + b AS STRING)')).toBe('0.30')
  })
})

describe('the DECIMAL helpers', () => {
  it('round to the nearest double of the decimal, exactly for ties written in decimal', () => {
    expect(roundDecimal(0.1 + 0.2, 2)).toBe(0.3)
    expect(roundDecimal(1.005, 2)).toBe(1.01)
    expect(roundDecimal(-1.005, 2)).toBe(-1.01)
    expect(roundDecimal(-0.001, 2)).toBe(0)
    expect(Object.is(roundDecimal(-0.001, 2), 0)).toBe(true)
    expect(roundDecimal(123456789.125, 2)).toBe(123456789.13)
    expect(decimalFromText('1e-3', 3)).toBe(0.001)
    expect(decimalFromText('.5', 0)).toBe(1)
    expect(decimalFromText('abc', 2)).toBeUndefined()
  })
})

const idle: SourceSpec = { kind: 'test', bounded: true, create: () => ({ nextBatch: () => null }) }
const catalog: Catalog = {
  payments: {
    source: idle,
    schema: { account: 'STRING', amount: 'DECIMAL(10, 2)', ts: 'TIMESTAMP(3)' },
    eventTime: { column: 'ts', watermarkDelayMs: 0 },
  },
}

function run(sql: string, rows: { account: string; amount: number; ts: number }[]) {
  const plan = planQuery(sql, catalog, { sink: { spec: collect() }, timestamps: 'ms' })
  const d = new TestDriver(plan.topology)
  d.pushRecords(
    'payments',
    rows.map((value) => ({ value, time: value.ts })),
  )
  d.end()
  return { plan, values: d.values<{ [c: string]: unknown }>('sink') }
}

describe('SUM and AVG of DECIMAL', () => {
  // 10 000 payments of 0.01 … 0.10 (cents, in a cycle of ten): in DOUBLE the sum drifts.
  const rows = Array.from({ length: 10_000 }, (_, i) => ({
    account: i % 2 === 0 ? 'even' : 'odd',
    amount: ((i % 10) + 1) / 100,
    ts: 1000 + i,
  }))

  it('SUM counts in units of the scale, so 10 000 amounts add up exactly', () => {
    let floating = 0
    for (const r of rows) floating += r.amount
    expect(floating).not.toBe(550) // the drift the DECIMAL sum avoids
    const { plan, values } = run(
      "SELECT window_start, SUM(amount) AS total, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE payments, DESCRIPTOR(ts), INTERVAL '1' HOUR)) GROUP BY window_start, window_end",
      rows,
    )
    expect(plan.types.map(formatType)).toEqual(['TIMESTAMP(3)', 'DECIMAL(38, 2)', 'BIGINT'])
    expect(values).toEqual([{ window_start: 0, total: 550, n: 10_000 }])
  })

  it('SUM of an updating GROUP BY stays exact through retractions', () => {
    const { values } = run('SELECT account, SUM(amount) AS total FROM payments GROUP BY account', rows)
    const last = new Map<string, unknown>()
    for (const v of values as { op: string; row: { account: string; total: number } }[])
      if (v.op !== '-U') last.set(v.row.account, v.row.total)
    expect(Object.fromEntries(last)).toEqual({ even: 250, odd: 300 })
  })

  it('AVG of DECIMAL(p, s) is a DECIMAL(38, max(6, s)) rounded half away from zero', () => {
    const { plan, values } = run(
      "SELECT AVG(amount) AS mean FROM TABLE(TUMBLE(TABLE payments, DESCRIPTOR(ts), INTERVAL '1' HOUR)) GROUP BY window_start, window_end",
      [
        { account: 'x', amount: 0.1, ts: 1 },
        { account: 'x', amount: 0.2, ts: 2 },
        { account: 'x', amount: 0.2, ts: 3 },
      ],
    )
    expect(plan.types.map(formatType)).toEqual(['DECIMAL(38, 6)'])
    expect(values).toEqual([{ mean: 0.166667 }])
  })
})

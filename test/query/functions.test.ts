import { describe, expect, it } from 'vitest'
import type { SquallError } from '../../src/core/errors.ts'
import { compileExpr, type SqlRow } from '../../src/query/compile-expr.ts'
import { listFunctions, lookupFunction, registerFunction, resolveCall } from '../../src/query/functions.ts'
import { scalar, Arg } from '../../src/query/function-def.ts'
import { schemaOf } from '../../src/query/row-schema.ts'
import { formatType, SqlTypes } from '../../src/query/types.ts'

const s = schemaOf('t', { s: 'STRING', n: 'INT', d: 'DOUBLE', ts: 'TIMESTAMP(3)', x: 'STRING' })
const ev = (sql: string, row: SqlRow = {}) => compileExpr(sql, s)(row)

describe('string functions', () => {
  it('change case, trim, pad and cut strings with 1-based positions', () => {
    expect(ev("UPPER('abc')")).toBe('ABC')
    expect(ev("INITCAP('hello wORLD-foo')")).toBe('Hello World-Foo')
    expect(ev("TRIM('  a b  ')")).toBe('a b')
    expect(ev("TRIM(BOTH 'x' FROM 'xxaxx')")).toBe('a')
    expect(ev("LTRIM('  a ')")).toBe('a ')
    expect(ev("RTRIM('  a ')")).toBe('  a')
    expect(ev("SUBSTRING('hello', 2, 3)")).toBe('ell')
    expect(ev("SUBSTR('hello', 3)")).toBe('llo')
    expect(ev("SUBSTRING('hello' FROM -3)")).toBe('llo')
    expect(ev("CHAR_LENGTH('héllo')")).toBe(5)
    expect(ev("LPAD('7', 3, '0')")).toBe('007')
    expect(ev("RPAD('ab', 5, 'xy')")).toBe('abxyx')
    expect(ev("LPAD('abcdef', 3, '0')")).toBe('abc')
    expect(ev("POSITION('l' IN 'hello')")).toBe(3)
    expect(ev("POSITION('z' IN 'hello')")).toBe(0)
  })

  it('join, replace and split strings, with CONCAT_WS skipping NULLs and CONCAT giving NULL', () => {
    expect(ev("CONCAT('a', 1, 'b')")).toBe('a1b')
    expect(ev("CONCAT('a', s)", { s: null })).toBe(null)
    expect(ev("CONCAT_WS('-', 'a', s, 'c')", { s: null })).toBe('a-c')
    expect(ev("REPLACE('a.b.c', '.', '/')")).toBe('a/b/c')
    expect(ev("SPLIT_INDEX('a,b,c', ',', 1)")).toBe('b')
    expect(ev("SPLIT_INDEX('a,b,c', ',', 5)")).toBe(null)
  })

  it('extract and replace with regular expressions', () => {
    expect(ev("REGEXP_EXTRACT('user=42;id=7', 'id=(\\d+)', 1)")).toBe('7')
    expect(ev("REGEXP_EXTRACT('abc', 'z')")).toBe(null)
    expect(ev("REGEXP_REPLACE('a1b22c', '[0-9]+', '#')")).toBe('a#b#c')
    const bad = (() => {
      try {
        ev("REGEXP_EXTRACT(s, '(')", { s: 'x' })
      } catch (e) {
        return e as SquallError
      }
    })()
    expect(bad?.code).toBe('ERR_SQL_RUNTIME')
  })
})

describe('math and conditional functions', () => {
  it('compute with SQL rounding and MOD signs', () => {
    expect(ev('ABS(-3)')).toBe(3)
    expect(ev('ROUND(2.5)')).toBe(3)
    expect(ev('ROUND(-2.5)')).toBe(-3)
    expect(ev('ROUND(1.005, 2)')).toBe(1.01)
    expect(ev('CEIL(1.2)')).toBe(2)
    expect(ev('FLOOR(-1.2)')).toBe(-2)
    expect(ev('MOD(-7, 3)')).toBe(-1)
    expect(ev('POWER(2, 10)')).toBe(1024)
    expect(ev('SQRT(16)')).toBe(4)
    expect(ev('LN(EXP(2))')).toBeCloseTo(2, 12)
    expect(ev('LOG10(1000)')).toBe(3)
  })

  it('pick values by NULL rules', () => {
    expect(ev("COALESCE(s, x, 'z')", { s: null, x: 'y' })).toBe('y')
    expect(ev('NULLIF(n, 0)', { n: 0 })).toBe(null)
    expect(ev('NULLIF(n, 0)', { n: 5 })).toBe(5)
    expect(ev("IF(n > 1, 'big', 'small')", { n: null })).toBe('small')
    expect(ev('GREATEST(3, n, 7)', { n: 9 })).toBe(9)
    expect(ev('LEAST(3, n, 7)', { n: null })).toBe(null)
  })
})

describe('time functions', () => {
  const ts = Date.UTC(2023, 11, 31, 23, 59, 58, 7)
  it('format and parse with Java-style patterns in UTC', () => {
    expect(ev("DATE_FORMAT(ts, 'yyyy-MM-dd''T''HH:mm:ss.SSS')", { ts })).toBe('2023-12-31T23:59:58.007')
    expect(ev("TO_TIMESTAMP('2023-12-31 23:59:58')")).toBe(Date.UTC(2023, 11, 31, 23, 59, 58))
    expect(ev("TO_TIMESTAMP('31/12/2023 11:59 PM', 'dd/MM/yyyy hh:mm a')")).toBe(
      Date.UTC(2023, 11, 31, 23, 59),
    )
    expect(ev("TO_TIMESTAMP('garbage')")).toBe(null)
    expect(ev("UNIX_TIMESTAMP('1970-01-02 00:00:00')")).toBe(86_400)
    expect(ev('FROM_UNIXTIME(86400)')).toBe('1970-01-02 00:00:00')
    expect(ev('TO_TIMESTAMP_LTZ(1700000000, 0)')).toBe(1_700_000_000_000)
  })

  it('extract fields and count whole units between times', () => {
    expect(ev('EXTRACT(YEAR FROM ts)', { ts })).toBe(2023)
    expect(ev('EXTRACT(DOW FROM ts)', { ts })).toBe(1)
    expect(ev('EXTRACT(DOY FROM ts)', { ts })).toBe(365)
    expect(ev('EXTRACT(WEEK FROM ts)', { ts })).toBe(52)
    expect(ev('HOUR(ts)', { ts })).toBe(23)
    expect(ev("TIMESTAMPDIFF(SECOND, ts, ts + INTERVAL '90' SECOND)", { ts })).toBe(90)
    expect(ev("TIMESTAMPADD(MONTH, 2, TIMESTAMP '2024-01-31 00:00:00')")).toBe(Date.UTC(2024, 2, 31))
  })
})

describe('function registry', () => {
  it('knows aggregate, window and pattern names with their result types', () => {
    expect(lookupFunction('count')?.kind).toBe('aggregate')
    expect(lookupFunction('ROW_NUMBER')?.kind).toBe('window')
    expect(lookupFunction('MATCH_ROWTIME')?.kind).toBe('pattern')
    expect(formatType(resolveCall('SUM', [SqlTypes.decimal(10, 2)], 'SUM(x)').type)).toBe('DECIMAL(38, 2)')
    expect(formatType(resolveCall('LISTAGG', [SqlTypes.STRING], 'LISTAGG(x)').type)).toBe('STRING')
    expect(formatType(resolveCall('COLLECT', [SqlTypes.INT], 'COLLECT(x)').type)).toBe('ARRAY<INT>')
    expect(() => resolveCall('SUM', [SqlTypes.STRING], 'SUM(s)')).toThrow(
      'SUM: argument 1 must be a number, got VARCHAR in "SUM(s)"',
    )
  })

  it('gives every function a signature and a summary for the docs', () => {
    for (const f of listFunctions()) {
      expect(f.signature.startsWith(`${f.name}(`), f.name).toBe(true)
      expect(f.summary.length, f.name).toBeGreaterThan(5)
    }
  })

  it('registers a user function that queries can call, and refuses to overwrite one silently', () => {
    registerFunction(scalar('DOUBLE_IT(x)', 'Twice x.', [Arg.numeric], SqlTypes.DOUBLE, (x: number) => 2 * x))
    expect(ev('DOUBLE_IT(n) + 1', { n: 4 })).toBe(9)
    expect(() => registerFunction(scalar('UPPER(s)', 'x', [], SqlTypes.STRING, () => ''))).toThrow(
      /already exists/,
    )
  })
})

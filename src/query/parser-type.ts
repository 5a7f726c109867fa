// Parses the typed fragments of SQL: data types (`DECIMAL(10, 2)`, `ROW<a INT>`), time units and
// interval literals (`INTERVAL '1:30' MINUTE TO SECOND`, in milliseconds or months).

import type { IntervalLiteral, TimeUnit } from './ast.ts'
import type { Cursor } from './parser-cursor.ts'
import { MAX_LENGTH, type RowField, type SqlType, SqlTypes } from './types.ts'

const TIME_UNITS: readonly TimeUnit[] = [
  'YEAR',
  'QUARTER',
  'MONTH',
  'WEEK',
  'DAY',
  'HOUR',
  'MINUTE',
  'SECOND',
  'MILLISECOND',
  'DOW',
  'DOY',
  'EPOCH',
]
const PLURAL_UNITS: { readonly [w: string]: TimeUnit } = {
  YEARS: 'YEAR',
  MONTHS: 'MONTH',
  WEEKS: 'WEEK',
  DAYS: 'DAY',
  HOURS: 'HOUR',
  MINUTES: 'MINUTE',
  SECONDS: 'SECOND',
  MILLISECONDS: 'MILLISECOND',
}

/** Reads a time unit word (`SECOND`, `MINUTE`, ...; plural forms are accepted). */
export function parseTimeUnit(c: Cursor): TimeUnit {
  const t = c.peek()
  const unit = t.kind === 'word' ? (PLURAL_UNITS[t.upper] ?? t.upper) : ''
  if (!(TIME_UNITS as readonly string[]).includes(unit))
    c.failExpected('a time unit such as SECOND or MINUTE', TIME_UNITS)
  c.next()
  return unit as TimeUnit
}

const DAY_TIME_MS: { readonly [u: string]: number } = {
  DAY: 86_400_000,
  HOUR: 3_600_000,
  MINUTE: 60_000,
  SECOND: 1_000,
  MILLISECOND: 1,
  WEEK: 604_800_000,
}
const DAY_TIME_ORDER = ['DAY', 'HOUR', 'MINUTE', 'SECOND']

/**
 * Reads `INTERVAL '10' SECOND`, `INTERVAL '1:30' MINUTE TO SECOND`, `INTERVAL '1-6' YEAR TO MONTH`
 * (a bare number instead of the quoted text is accepted too).
 */
export function parseInterval(c: Cursor): IntervalLiteral {
  const at = c.expectWord('INTERVAL').offset
  let negative = false
  if (c.isOp('-')) {
    c.next()
    negative = true
  }
  const valueTok = c.peek()
  if (valueTok.kind !== 'string' && valueTok.kind !== 'number')
    c.failExpected("a quoted interval value such as '10'")
  c.next()
  const unit = parseTimeUnit(c)
  if (c.acceptOp('(')) {
    c.next()
    c.expectOp(')')
  }
  const toUnit = c.acceptWord('TO') ? parseTimeUnit(c) : undefined
  const yearMonth = unit === 'YEAR' || unit === 'MONTH' || unit === 'QUARTER'
  let text = valueTok.text.trim()
  if (text.startsWith('-')) {
    negative = !negative
    text = text.slice(1).trim()
  } else if (text.startsWith('+')) text = text.slice(1).trim()
  const bad = (): never =>
    c.fail(
      `interval: cannot read '${valueTok.text}' as ${unit}${toUnit ? ` TO ${toUnit}` : ''}; write e.g. INTERVAL '10' SECOND or INTERVAL '1:30' MINUTE TO SECOND`,
      valueTok,
    )
  let value: number
  if (yearMonth) {
    const parts = text.split('-')
    if (toUnit === 'MONTH' && unit === 'YEAR' && parts.length === 2)
      value = Number(parts[0]) * 12 + Number(parts[1])
    else if (!toUnit && parts.length === 1)
      value = Number(parts[0]) * (unit === 'YEAR' ? 12 : unit === 'QUARTER' ? 3 : 1)
    else value = bad()
  } else {
    if (DAY_TIME_MS[unit] === undefined) bad()
    const from = DAY_TIME_ORDER.indexOf(unit)
    const to = toUnit ? DAY_TIME_ORDER.indexOf(toUnit) : from
    if (toUnit && (from < 0 || to <= from)) bad()
    const parts = toUnit ? text.split(/[\s:]+/) : [text]
    if (parts.length !== to - from + 1) bad()
    value = 0
    for (let k = 0; k < parts.length; k++) {
      const u = toUnit ? DAY_TIME_ORDER[from + k]! : unit
      value += Number(parts[k]) * DAY_TIME_MS[u]!
    }
  }
  if (!Number.isFinite(value)) bad()
  const src = c.sql.slice(at, c.peek(-1).end)
  return {
    kind: 'interval',
    at,
    value: negative ? -value : value,
    text: src,
    unit,
    yearMonth,
    ...(toUnit ? { toUnit } : {}),
  }
}

const SIMPLE_TYPES: { readonly [w: string]: SqlType } = {
  BOOLEAN: SqlTypes.BOOLEAN,
  TINYINT: SqlTypes.TINYINT,
  SMALLINT: SqlTypes.SMALLINT,
  INT: SqlTypes.INT,
  INTEGER: SqlTypes.INT,
  BIGINT: SqlTypes.BIGINT,
  FLOAT: SqlTypes.FLOAT,
  REAL: SqlTypes.FLOAT,
  DOUBLE: SqlTypes.DOUBLE,
  DATE: SqlTypes.DATE,
  STRING: SqlTypes.STRING,
}
const TYPE_NAMES = [
  ...Object.keys(SIMPLE_TYPES),
  'DECIMAL',
  'VARCHAR',
  'CHAR',
  'TIMESTAMP',
  'TIMESTAMP_LTZ',
  'TIME',
  'ARRAY',
  'MAP',
  'ROW',
]

function optionalParams(c: Cursor): number[] {
  if (!c.acceptOp('(')) return []
  const out: number[] = []
  do {
    const t = c.peek()
    if (t.kind !== 'number') c.failExpected('a number')
    out.push(Number(c.next().text))
  } while (c.acceptOp(','))
  c.expectOp(')')
  return out
}

/**
 * Reads a data type: BIGINT, INT, INTEGER, SMALLINT, TINYINT, DOUBLE [PRECISION], FLOAT,
 * DECIMAL(p, s), VARCHAR(n), STRING, CHAR(n), BOOLEAN, TIMESTAMP(p) [WITH LOCAL TIME ZONE],
 * TIMESTAMP_LTZ(p), DATE, TIME(p), ARRAY<T>, MAP<K, V>, ROW<name T, ...>, each with an optional
 * NOT NULL. `VARCHAR` without a length is STRING.
 */
export function parseType(c: Cursor): SqlType {
  const t = c.peek()
  if (
    t.kind !== 'word' ||
    !TYPE_NAMES.includes(t.upper === 'DEC' || t.upper === 'NUMERIC' ? 'DECIMAL' : t.upper)
  ) {
    c.failExpected('a data type', TYPE_NAMES)
  }
  c.next()
  const w = t.upper === 'DEC' || t.upper === 'NUMERIC' ? 'DECIMAL' : t.upper
  let type: SqlType
  const simple = SIMPLE_TYPES[w]
  if (simple) {
    if (w === 'DOUBLE') c.acceptWord('PRECISION')
    type = simple
  } else if (w === 'DECIMAL') {
    const p = optionalParams(c)
    type = SqlTypes.decimal(p[0] ?? 10, p[1] ?? 0)
  } else if (w === 'VARCHAR' || w === 'CHAR') {
    const p = optionalParams(c)
    type = w === 'VARCHAR' ? SqlTypes.varchar(p[0] ?? MAX_LENGTH) : SqlTypes.char(p[0] ?? 1)
  } else if (w === 'TIMESTAMP' || w === 'TIMESTAMP_LTZ' || w === 'TIME') {
    const p = optionalParams(c)
    const precision = p[0] ?? (w === 'TIME' ? 0 : 6)
    if (w === 'TIMESTAMP' && c.acceptWords('WITH', 'LOCAL', 'TIME', 'ZONE'))
      type = SqlTypes.timestampLtz(precision)
    else {
      if (w !== 'TIMESTAMP_LTZ') c.acceptWords('WITHOUT', 'TIME', 'ZONE')
      type =
        w === 'TIME'
          ? SqlTypes.time(precision)
          : w === 'TIMESTAMP'
            ? SqlTypes.timestamp(precision)
            : SqlTypes.timestampLtz(precision)
    }
  } else if (w === 'ARRAY') {
    c.expectOp('<')
    const element = parseType(c)
    c.expectOp('>')
    type = SqlTypes.array(element)
  } else if (w === 'MAP') {
    c.expectOp('<')
    const key = parseType(c)
    c.expectOp(',')
    const value = parseType(c)
    c.expectOp('>')
    type = SqlTypes.map(key, value)
  } else {
    let close = '>'
    if (!c.acceptOp('<')) {
      c.expectOp('(')
      close = ')'
    }
    const fields: RowField[] = []
    if (!c.isOp(close)) {
      do {
        const name = c.name('a field name')
        fields.push({ name, type: parseType(c) })
        if (c.peek().kind === 'string') c.next()
      } while (c.acceptOp(','))
    }
    c.expectOp(close)
    type = SqlTypes.row(fields)
  }
  if (c.acceptWords('NOT', 'NULL')) return { ...type, notNull: true }
  c.acceptWord('NULL')
  return type
}

// SQL data types as Flink names them, how they print, and the rules that relate them
// (which types compare, which arithmetic result a pair gives, which casts are allowed).

/** The integer kinds, narrowest first. */
export type IntegerKind = 'TINYINT' | 'SMALLINT' | 'INT' | 'BIGINT'

/** Every type kind Squall knows. `NULL` is the type of the literal NULL; it fits any other type. */
export type TypeKind =
  | 'BOOLEAN'
  | IntegerKind
  | 'FLOAT'
  | 'DOUBLE'
  | 'DECIMAL'
  | 'CHAR'
  | 'VARCHAR'
  | 'DATE'
  | 'TIME'
  | 'TIMESTAMP'
  | 'TIMESTAMP_LTZ'
  | 'INTERVAL_DAY_TIME'
  | 'INTERVAL_YEAR_MONTH'
  | 'ARRAY'
  | 'MAP'
  | 'ROW'
  | 'NULL'

/** A type without parameters. */
export interface SimpleType {
  readonly kind: 'BOOLEAN' | IntegerKind | 'FLOAT' | 'DOUBLE' | 'DATE' | 'NULL'
  readonly notNull?: boolean
}
/**
 * DECIMAL(precision, scale); held at run time as a JS number: the double nearest to a decimal with
 * at most `scale` fraction digits, exact up to 15 significant digits (see decimal.ts).
 */
export interface DecimalType {
  readonly kind: 'DECIMAL'
  readonly precision: number
  readonly scale: number
  readonly notNull?: boolean
}
/** CHAR(n) and VARCHAR(n); `STRING` is VARCHAR of the largest length. */
export interface StringType {
  readonly kind: 'CHAR' | 'VARCHAR'
  readonly length: number
  readonly notNull?: boolean
}
/** TIME(p), TIMESTAMP(p) and TIMESTAMP_LTZ(p); held as epoch milliseconds (TIME: ms of the day). */
export interface TemporalType {
  readonly kind: 'TIME' | 'TIMESTAMP' | 'TIMESTAMP_LTZ'
  readonly precision: number
  readonly notNull?: boolean
}
/** Intervals: day-time ones are held as milliseconds, year-month ones as a number of months. */
export interface IntervalType {
  readonly kind: 'INTERVAL_DAY_TIME' | 'INTERVAL_YEAR_MONTH'
  readonly notNull?: boolean
}
/** ARRAY<element>, held as a JS array (SQL indexes from 1). */
export interface ArrayType {
  readonly kind: 'ARRAY'
  readonly element: SqlType
  readonly notNull?: boolean
}
/** MAP<key, value>, held as a plain object or a JS Map. */
export interface MapType {
  readonly kind: 'MAP'
  readonly key: SqlType
  readonly value: SqlType
  readonly notNull?: boolean
}
/** One field of a ROW type. */
export interface RowField {
  readonly name: string
  readonly type: SqlType
}
/** ROW<name type, ...>, held as a plain object keyed by field name. */
export interface RowType {
  readonly kind: 'ROW'
  readonly fields: readonly RowField[]
  readonly notNull?: boolean
}

/** A SQL data type. Values are immutable; build them with the constructors of `SqlTypes`. */
export type SqlType =
  | SimpleType
  | DecimalType
  | StringType
  | TemporalType
  | IntervalType
  | ArrayType
  | MapType
  | RowType

/** The length of `STRING` (Java's Integer.MAX_VALUE, as in Flink). */
export const MAX_LENGTH = 2147483647

/** Named constructors of the common types. */
export const SqlTypes = {
  BOOLEAN: { kind: 'BOOLEAN' } as SqlType,
  TINYINT: { kind: 'TINYINT' } as SqlType,
  SMALLINT: { kind: 'SMALLINT' } as SqlType,
  INT: { kind: 'INT' } as SqlType,
  BIGINT: { kind: 'BIGINT' } as SqlType,
  FLOAT: { kind: 'FLOAT' } as SqlType,
  DOUBLE: { kind: 'DOUBLE' } as SqlType,
  DATE: { kind: 'DATE' } as SqlType,
  NULL: { kind: 'NULL' } as SqlType,
  STRING: { kind: 'VARCHAR', length: MAX_LENGTH } as SqlType,
  TIMESTAMP3: { kind: 'TIMESTAMP', precision: 3 } as SqlType,
  TIMESTAMP_LTZ3: { kind: 'TIMESTAMP_LTZ', precision: 3 } as SqlType,
  INTERVAL_DAY_TIME: { kind: 'INTERVAL_DAY_TIME' } as SqlType,
  INTERVAL_YEAR_MONTH: { kind: 'INTERVAL_YEAR_MONTH' } as SqlType,
  decimal: (precision: number, scale: number): SqlType => ({ kind: 'DECIMAL', precision, scale }),
  varchar: (length: number): SqlType => ({ kind: 'VARCHAR', length }),
  char: (length: number): SqlType => ({ kind: 'CHAR', length }),
  timestamp: (precision = 3): SqlType => ({ kind: 'TIMESTAMP', precision }),
  timestampLtz: (precision = 3): SqlType => ({ kind: 'TIMESTAMP_LTZ', precision }),
  time: (precision = 0): SqlType => ({ kind: 'TIME', precision }),
  array: (element: SqlType): SqlType => ({ kind: 'ARRAY', element }),
  map: (key: SqlType, value: SqlType): SqlType => ({ kind: 'MAP', key, value }),
  row: (fields: readonly RowField[]): SqlType => ({ kind: 'ROW', fields }),
} as const

/** Prints a type as SQL writes it: `BIGINT`, `VARCHAR(10)`, `STRING`, `ROW<a INT, b STRING>`. */
export function formatType(t: SqlType): string {
  const nn = t.notNull ? ' NOT NULL' : ''
  switch (t.kind) {
    case 'DECIMAL':
      return `DECIMAL(${t.precision}, ${t.scale})${nn}`
    case 'CHAR':
    case 'VARCHAR':
      return (
        (t.length === MAX_LENGTH ? (t.kind === 'VARCHAR' ? 'STRING' : 'CHAR') : `${t.kind}(${t.length})`) + nn
      )
    case 'TIME':
    case 'TIMESTAMP':
    case 'TIMESTAMP_LTZ':
      return `${t.kind}(${t.precision})${nn}`
    case 'INTERVAL_DAY_TIME':
      return `INTERVAL DAY TO SECOND${nn}`
    case 'INTERVAL_YEAR_MONTH':
      return `INTERVAL YEAR TO MONTH${nn}`
    case 'ARRAY':
      return `ARRAY<${formatType(t.element)}>${nn}`
    case 'MAP':
      return `MAP<${formatType(t.key)}, ${formatType(t.value)}>${nn}`
    case 'ROW':
      return `ROW<${t.fields.map((f) => `${f.name} ${formatType(f.type)}`).join(', ')}>${nn}`
    default:
      return t.kind + nn
  }
}

const INTEGER_RANK: { readonly [k: string]: number } = { TINYINT: 1, SMALLINT: 2, INT: 3, BIGINT: 4 }

/** True for TINYINT, SMALLINT, INT and BIGINT. */
export function isInteger(t: SqlType): boolean {
  return INTEGER_RANK[t.kind] !== undefined
}
/** True for the integer kinds, DECIMAL, FLOAT and DOUBLE. */
export function isNumeric(t: SqlType): boolean {
  return isInteger(t) || t.kind === 'DECIMAL' || t.kind === 'FLOAT' || t.kind === 'DOUBLE'
}
/** True for CHAR and VARCHAR. */
export function isString(t: SqlType): boolean {
  return t.kind === 'CHAR' || t.kind === 'VARCHAR'
}
/** True for TIMESTAMP and TIMESTAMP_LTZ (values are epoch milliseconds). */
export function isTimestamp(t: SqlType): boolean {
  return t.kind === 'TIMESTAMP' || t.kind === 'TIMESTAMP_LTZ'
}
/** True for DATE, TIME, TIMESTAMP and TIMESTAMP_LTZ. */
export function isTemporal(t: SqlType): boolean {
  return isTimestamp(t) || t.kind === 'DATE' || t.kind === 'TIME'
}
/** True for both interval kinds. */
export function isInterval(t: SqlType): boolean {
  return t.kind === 'INTERVAL_DAY_TIME' || t.kind === 'INTERVAL_YEAR_MONTH'
}

/**
 * The type both operands of an arithmetic operator are widened to, or undefined when they are
 * not both numeric. Integers widen to the larger integer, anything with DOUBLE/FLOAT gives
 * DOUBLE, anything with DECIMAL gives DECIMAL (Flink's rules, with DECIMAL precision capped at 38).
 */
export function numericCommonType(a: SqlType, b: SqlType): SqlType | undefined {
  if (a.kind === 'NULL')
    return isNumeric(b) || b.kind === 'NULL' ? (b.kind === 'NULL' ? SqlTypes.INT : b) : undefined
  if (b.kind === 'NULL') return isNumeric(a) ? a : undefined
  if (!isNumeric(a) || !isNumeric(b)) return undefined
  if (a.kind === 'DOUBLE' || b.kind === 'DOUBLE' || a.kind === 'FLOAT' || b.kind === 'FLOAT')
    return SqlTypes.DOUBLE
  if (a.kind === 'DECIMAL' || b.kind === 'DECIMAL') {
    const pa = decimalOf(a)
    const pb = decimalOf(b)
    const scale = Math.max(pa.scale, pb.scale)
    const whole = Math.max(pa.precision - pa.scale, pb.precision - pb.scale)
    return SqlTypes.decimal(Math.min(38, whole + scale), scale)
  }
  return INTEGER_RANK[a.kind]! >= INTEGER_RANK[b.kind]! ? a : b
}

/** The largest DECIMAL precision, as in Flink. */
export const MAX_DECIMAL_PRECISION = 38

/**
 * Flink's cap on a derived DECIMAL type: above precision 38 the scale gives way (keeping at least
 * min(scale, 6) fraction digits) so the integer part still fits.
 */
function adjustedDecimal(precision: number, scale: number): SqlType {
  if (precision <= MAX_DECIMAL_PRECISION) return SqlTypes.decimal(precision, scale)
  const whole = precision - scale
  return SqlTypes.decimal(MAX_DECIMAL_PRECISION, Math.max(MAX_DECIMAL_PRECISION - whole, Math.min(scale, 6)))
}

/**
 * The result type of `a op b` for two numeric operands of which at least one is DECIMAL and none
 * FLOAT or DOUBLE, by Flink's rules (an integer operand counts as DECIMAL(3|5|10|19, 0)):
 * `+ -` give DECIMAL(max(s1, s2) + max(p1 − s1, p2 − s2) + 1, max(s1, s2)); `*` gives
 * DECIMAL(p1 + p2 + 1, s1 + s2); `/` gives DECIMAL(p1 − s1 + s2 + s, s) with
 * s = max(6, s1 + p2 + 1); `%` gives DECIMAL(min(p1 − s1, p2 − s2) + max(s1, s2), max(s1, s2));
 * each capped at precision 38 as `adjustedDecimal` does.
 */
export function decimalArithmeticType(op: '+' | '-' | '*' | '/' | '%', a: SqlType, b: SqlType): SqlType {
  const { precision: p1, scale: s1 } = decimalOf(a)
  const { precision: p2, scale: s2 } = decimalOf(b)
  switch (op) {
    case '+':
    case '-': {
      const s = Math.max(s1, s2)
      return adjustedDecimal(Math.max(p1 - s1, p2 - s2) + s + 1, s)
    }
    case '*':
      return adjustedDecimal(p1 + p2 + 1, s1 + s2)
    case '/': {
      const s = Math.max(6, s1 + p2 + 1)
      return adjustedDecimal(p1 - s1 + s2 + s, s)
    }
    case '%': {
      const s = Math.max(s1, s2)
      return adjustedDecimal(Math.min(p1 - s1, p2 - s2) + s, s)
    }
  }
}

/** Flink's SUM of a DECIMAL(p, s): DECIMAL(38, s). */
export function decimalSumType(t: DecimalType): SqlType {
  return SqlTypes.decimal(MAX_DECIMAL_PRECISION, t.scale)
}

/** Flink's AVG of a DECIMAL(p, s): DECIMAL(38, max(6, s)). */
export function decimalAvgType(t: DecimalType): SqlType {
  return SqlTypes.decimal(MAX_DECIMAL_PRECISION, Math.max(6, t.scale))
}

function decimalOf(t: SqlType): { precision: number; scale: number } {
  if (t.kind === 'DECIMAL') return t
  const digits: { readonly [k: string]: number } = { TINYINT: 3, SMALLINT: 5, INT: 10, BIGINT: 19 }
  return { precision: digits[t.kind] ?? 19, scale: 0 }
}

/**
 * The common type of values that meet in one column (CASE branches, COALESCE, UNION, IN lists),
 * or undefined when there is none. NULL fits anything; strings give the longer VARCHAR;
 * timestamps give the larger precision; otherwise the kinds must match.
 */
export function commonType(a: SqlType, b: SqlType): SqlType | undefined {
  if (a.kind === 'NULL') return b
  if (b.kind === 'NULL') return a
  const num = numericCommonType(a, b)
  if (num) return num
  if (isString(a) && isString(b)) {
    const la = (a as StringType).length
    const lb = (b as StringType).length
    return SqlTypes.varchar(Math.max(la, lb))
  }
  if (isTimestamp(a) && isTimestamp(b)) {
    const p = Math.max((a as TemporalType).precision, (b as TemporalType).precision)
    return a.kind === 'TIMESTAMP_LTZ' || b.kind === 'TIMESTAMP_LTZ'
      ? SqlTypes.timestampLtz(p)
      : SqlTypes.timestamp(p)
  }
  if (a.kind !== b.kind) return undefined
  if (a.kind === 'ARRAY' && b.kind === 'ARRAY') {
    const e = commonType(a.element, b.element)
    return e ? SqlTypes.array(e) : undefined
  }
  return a
}

/** True when values of `a` and `b` can be compared with `=`, `<` and the like. */
export function comparable(a: SqlType, b: SqlType): boolean {
  if (a.kind === 'NULL' || b.kind === 'NULL') return true
  if (isNumeric(a) && isNumeric(b)) return true
  if (isString(a) && isString(b)) return true
  if (isTimestamp(a) && isTimestamp(b)) return true
  if (a.kind === b.kind)
    return a.kind !== 'MAP' && a.kind !== 'ROW' && a.kind !== 'ARRAY' ? true : a.kind === 'ARRAY'
  return false
}

/** True when `CAST(x AS to)` is allowed for an `x` of type `from` (it may still fail on a value). */
export function castable(from: SqlType, to: SqlType): boolean {
  if (from.kind === 'NULL' || isString(from) || isString(to)) return true
  if (from.kind === to.kind) return true
  if (isNumeric(from) && (isNumeric(to) || to.kind === 'BOOLEAN')) return true
  if (from.kind === 'BOOLEAN' && isNumeric(to)) return true
  if (isTemporal(from) && isTemporal(to)) return !(from.kind === 'DATE' && to.kind === 'TIME')
  if (isNumeric(from) && isTimestamp(to)) return true
  if (isTimestamp(from) && isNumeric(to)) return true
  if (from.kind === 'ARRAY' && to.kind === 'ARRAY') return castable(from.element, to.element)
  return false
}

/** True when two types are the same, parameters included. */
export function sameType(a: SqlType, b: SqlType): boolean {
  return formatType(a) === formatType(b)
}

/**
 * True when a value of type `from` may be written to a column of type `to` without an explicit
 * CAST, as Flink checks `INSERT INTO`: NULL fits anything; integers widen to larger integers,
 * DECIMAL, FLOAT and DOUBLE; DECIMAL goes to any DECIMAL, FLOAT and DOUBLE; FLOAT to DOUBLE;
 * strings to strings; timestamps to timestamps; arrays by element; otherwise the kinds must match.
 */
export function assignable(from: SqlType, to: SqlType): boolean {
  if (from.kind === 'NULL') return true
  if (isInteger(from)) {
    if (isInteger(to)) return INTEGER_RANK[from.kind]! <= INTEGER_RANK[to.kind]!
    return to.kind === 'DECIMAL' || to.kind === 'FLOAT' || to.kind === 'DOUBLE'
  }
  if (from.kind === 'DECIMAL') return to.kind === 'DECIMAL' || to.kind === 'FLOAT' || to.kind === 'DOUBLE'
  if (from.kind === 'FLOAT') return to.kind === 'FLOAT' || to.kind === 'DOUBLE'
  if (isString(from)) return isString(to)
  if (isTimestamp(from)) return isTimestamp(to)
  if (from.kind === 'ARRAY') return to.kind === 'ARRAY' && assignable(from.element, to.element)
  return from.kind === to.kind
}

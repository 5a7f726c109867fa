// CAST and TRY_CAST between SQL types, as closures built once per cast expression. Times are
// epoch milliseconds both ways (CAST(ts AS BIGINT) gives ms); text without a zone is UTC.

import { SquallError } from '../core/errors.ts'
import { decimalFromText, fitsDecimal, roundDecimal } from './decimal.ts'
import { toText } from './functions-string.ts'
import {
  formatDate,
  formatTimeOfDay,
  formatTimestamp,
  parseTimeOfDay,
  parseTimestamp,
  startOfDay,
} from './sql-time.ts'
import {
  type DecimalType,
  formatType,
  isInteger,
  isString,
  isTemporal,
  MAX_LENGTH,
  type SqlType,
} from './types.ts'

/** Marks a value that does not convert; the cast closure turns it into an error or NULL. */
const FAIL = Symbol('cast-fail')
type Converter = (v: unknown) => unknown

const INTEGER_TEXT = /^\s*[+-]?\d+\s*$/
const NUMBER_TEXT = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/

function toInteger(from: SqlType): Converter {
  if (isString(from))
    return (v) =>
      INTEGER_TEXT.test(v as string)
        ? Number(v)
        : NUMBER_TEXT.test(v as string)
          ? Math.trunc(Number(v))
          : FAIL
  if (from.kind === 'BOOLEAN') return (v) => (v ? 1 : 0)
  return (v) => (typeof v === 'number' ? Math.trunc(v) : FAIL)
}

function toFractional(from: SqlType): Converter {
  if (isString(from)) return (v) => (NUMBER_TEXT.test(v as string) ? Number(v) : FAIL)
  if (from.kind === 'BOOLEAN') return (v) => (v ? 1 : 0)
  return (v) => (typeof v === 'number' ? v : FAIL)
}

/**
 * To DECIMAL(p, s): rounded half away from zero to s digits — text on its digits as written, a
 * number on its shortest decimal text (as Flink reads a DOUBLE) — failing when more than p − s
 * digits remain before the point.
 */
function toDecimal(from: SqlType, to: DecimalType): Converter {
  const { precision, scale } = to
  const fitted = (x: number | undefined) =>
    x !== undefined && Number.isFinite(x) && fitsDecimal(x, precision, scale) ? x : FAIL
  if (isString(from)) return (v) => fitted(decimalFromText(v as string, scale))
  if (from.kind === 'BOOLEAN') return (v) => fitted(v ? 1 : 0)
  return (v) => (typeof v === 'number' ? fitted(roundDecimal(v, scale)) : FAIL)
}

const TRUE_TEXT = new Set(['true', 't', 'yes', 'y', '1'])
const FALSE_TEXT = new Set(['false', 'f', 'no', 'n', '0'])

function toBoolean(from: SqlType): Converter {
  if (isString(from)) {
    return (v) => {
      const s = (v as string).trim().toLowerCase()
      return TRUE_TEXT.has(s) ? true : FALSE_TEXT.has(s) ? false : FAIL
    }
  }
  return (v) => (typeof v === 'number' ? v !== 0 : typeof v === 'boolean' ? v : FAIL)
}

function toStringOf(from: SqlType, length: number): Converter {
  let f: Converter
  switch (from.kind) {
    case 'TIMESTAMP':
    case 'TIMESTAMP_LTZ': {
      const p = from.precision
      f = (v) => formatTimestamp(v as number, p)
      break
    }
    case 'DATE':
      f = (v) => formatDate(v as number)
      break
    case 'TIME':
      f = (v) => formatTimeOfDay(v as number)
      break
    case 'DECIMAL': {
      const s = from.scale
      f = (v) => (v as number).toFixed(s)
      break
    }
    case 'BOOLEAN':
      f = (v) => (v ? 'TRUE' : 'FALSE')
      break
    default:
      f = toText
  }
  if (length >= MAX_LENGTH) return f
  return (v) => {
    const s = f(v) as string
    return s.length > length ? s.slice(0, length) : s
  }
}

function toTemporal(from: SqlType, to: SqlType): Converter {
  const day = to.kind === 'DATE'
  if (to.kind === 'TIME') {
    if (isString(from)) return (v) => parseTimeOfDay(v as string) ?? FAIL
    if (from.kind === 'TIME') return (v) => v
    return (v) => (typeof v === 'number' ? v - startOfDay(v) : FAIL)
  }
  if (isString(from)) {
    return (v) => {
      const ms = parseTimestamp(v as string)
      return ms === undefined ? FAIL : day ? startOfDay(ms) : ms
    }
  }
  return (v) => (typeof v === 'number' ? (day ? startOfDay(v) : v) : FAIL)
}

function converter(from: SqlType, to: SqlType): Converter {
  if (from.kind === 'NULL') return () => null
  switch (to.kind) {
    case 'TINYINT':
    case 'SMALLINT':
    case 'INT':
    case 'BIGINT':
      return isInteger(from) ? (v) => v : toInteger(from)
    case 'FLOAT':
    case 'DOUBLE':
      return toFractional(from)
    case 'DECIMAL':
      return toDecimal(from, to)
    case 'BOOLEAN':
      return toBoolean(from)
    case 'CHAR':
    case 'VARCHAR':
      return toStringOf(from, to.length)
    case 'DATE':
    case 'TIME':
    case 'TIMESTAMP':
    case 'TIMESTAMP_LTZ':
      return isTemporal(from) ||
        isString(from) ||
        isInteger(from) ||
        from.kind === 'DOUBLE' ||
        from.kind === 'DECIMAL'
        ? toTemporal(from, to)
        : () => FAIL
    case 'ARRAY': {
      if (from.kind !== 'ARRAY') return (v) => (Array.isArray(v) ? v : FAIL)
      const inner = converter(from.element, to.element)
      return (v) => {
        const a = v as unknown[]
        const out = new Array<unknown>(a.length)
        for (let i = 0; i < a.length; i++) {
          const x = a[i] == null ? null : inner(a[i])
          if (x === FAIL) return FAIL
          out[i] = x
        }
        return out
      }
    }
    default:
      return (v) => v
  }
}

/**
 * Builds the conversion of values of type `from` to type `to`. NULL gives NULL. A value that does
 * not convert gives NULL when `safe` (TRY_CAST), otherwise throws ERR_SQL_RUNTIME naming the value
 * and both types; `text` is the cast as written, for that message.
 */
export function makeCast(from: SqlType, to: SqlType, safe: boolean, text: string): (v: unknown) => unknown {
  const f = converter(from, to)
  if (safe) {
    return (v) => {
      if (v == null) return null
      const r = f(v)
      return r === FAIL ? null : r
    }
  }
  return (v) => {
    if (v == null) return null
    const r = f(v)
    if (r === FAIL) {
      throw new SquallError(
        'ERR_SQL_RUNTIME',
        `${text}: cannot convert ${JSON.stringify(v)} to ${formatType(to)}; use TRY_CAST to get NULL instead`,
      )
    }
    return r
  }
}

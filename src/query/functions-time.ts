// Time functions over epoch-millisecond values, all in UTC: formatting and parsing with Java-style
// patterns, Unix seconds, the current time, EXTRACT, FLOOR/CEIL ... TO, TIMESTAMPADD/DIFF.

import { SquallError } from '../core/errors.ts'
import type { TimeUnit } from './ast.ts'
import { Arg, type ScalarFunction, scalar } from './function-def.ts'
import { formatWithPattern, parseTimestamp, parseWithPattern, startOfDay } from './sql-time.ts'
import { SqlTypes } from './types.ts'

const DEFAULT_FORMAT = 'yyyy-MM-dd HH:mm:ss'
const UNIT_MS: { readonly [u: string]: number } = {
  WEEK: 604_800_000,
  DAY: 86_400_000,
  HOUR: 3_600_000,
  MINUTE: 60_000,
  SECOND: 1_000,
  MILLISECOND: 1,
}

/** Reads a TIMESTAMP argument given as epoch ms or as text (UTC unless zoned); undefined if neither. */
export function toEpochMillis(v: unknown): number | undefined {
  if (typeof v === 'number') return v
  if (typeof v === 'string') return parseTimestamp(v)
  if (v instanceof Date) return v.getTime()
  return undefined
}

/** `ms` plus `months` calendar months; the day is clamped to the end of a shorter month. */
export function addMonths(ms: number, months: number): number {
  const d = new Date(ms)
  const y = d.getUTCFullYear()
  const m = d.getUTCMonth() + months
  const target = new Date(Date.UTC(y, m, 1))
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate()
  return (
    Date.UTC(target.getUTCFullYear(), target.getUTCMonth(), Math.min(d.getUTCDate(), lastDay)) +
    (ms - startOfDay(ms))
  )
}

function isoWeek(ms: number): number {
  const d = new Date(startOfDay(ms))
  d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7) + 3)
  return Math.floor((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / 604_800_000) + 1
}

/**
 * The field `unit` of a time value (epoch ms; TIME values are ms of the day). DOW is 1 (Sunday)
 * to 7, DOY counts from 1, EPOCH is seconds, MILLISECOND is seconds * 1000 + milliseconds.
 */
export function extractField(unit: TimeUnit, ms: number): number {
  const d = new Date(ms)
  switch (unit) {
    case 'YEAR':
      return d.getUTCFullYear()
    case 'QUARTER':
      return Math.floor(d.getUTCMonth() / 3) + 1
    case 'MONTH':
      return d.getUTCMonth() + 1
    case 'WEEK':
      return isoWeek(ms)
    case 'DAY':
      return d.getUTCDate()
    case 'HOUR':
      return d.getUTCHours()
    case 'MINUTE':
      return d.getUTCMinutes()
    case 'SECOND':
      return d.getUTCSeconds()
    case 'MILLISECOND':
      return d.getUTCSeconds() * 1000 + d.getUTCMilliseconds()
    case 'DOW':
      return d.getUTCDay() + 1
    case 'DOY':
      return Math.floor((startOfDay(ms) - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1
    case 'EPOCH':
      return Math.floor(ms / 1000)
  }
}

/** `ms` rounded down to the start of its `unit` (weeks start on Monday). */
export function floorTime(unit: string, ms: number): number {
  const d = new Date(ms)
  switch (unit) {
    case 'YEAR':
      return Date.UTC(d.getUTCFullYear(), 0, 1)
    case 'QUARTER':
      return Date.UTC(d.getUTCFullYear(), Math.floor(d.getUTCMonth() / 3) * 3, 1)
    case 'MONTH':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)
    case 'WEEK':
      return startOfDay(ms) - ((d.getUTCDay() + 6) % 7) * 86_400_000
    default: {
      const size = UNIT_MS[unit]
      if (size === undefined) throw new SquallError('ERR_SQL_RUNTIME', `cannot round a time to ${unit}`)
      return Math.floor(ms / size) * size
    }
  }
}

/** `ms` rounded up to the start of the next `unit`, unless already at one. */
export function ceilTime(unit: string, ms: number): number {
  const f = floorTime(unit, ms)
  return f === ms ? ms : timestampAdd(unit, 1, f)
}

/** `ms` plus `n` units. */
export function timestampAdd(unit: string, n: number, ms: number): number {
  if (unit === 'YEAR') return addMonths(ms, 12 * n)
  if (unit === 'QUARTER') return addMonths(ms, 3 * n)
  if (unit === 'MONTH') return addMonths(ms, n)
  const size = UNIT_MS[unit]
  if (size === undefined) throw new SquallError('ERR_SQL_RUNTIME', `TIMESTAMPADD: unsupported unit ${unit}`)
  return ms + n * size
}

/** Whole `unit`s from `a` to `b` (negative when b is earlier), truncated toward zero. */
export function timestampDiff(unit: string, a: number, b: number): number {
  if (unit === 'YEAR' || unit === 'QUARTER' || unit === 'MONTH') {
    const da = new Date(a)
    const db = new Date(b)
    let months = (db.getUTCFullYear() - da.getUTCFullYear()) * 12 + db.getUTCMonth() - da.getUTCMonth()
    if (months > 0 && addMonths(a, months) > b) months--
    else if (months < 0 && addMonths(a, months) < b) months++
    return Math.trunc(months / (unit === 'YEAR' ? 12 : unit === 'QUARTER' ? 3 : 1))
  }
  const size = UNIT_MS[unit]
  if (size === undefined) throw new SquallError('ERR_SQL_RUNTIME', `TIMESTAMPDIFF: unsupported unit ${unit}`)
  return Math.trunc((b - a) / size)
}

function nullable(v: number | undefined): number | null {
  return v === undefined || Number.isNaN(v) ? null : v
}

const TS = SqlTypes.TIMESTAMP3
const LTZ = SqlTypes.TIMESTAMP_LTZ3

/** The time functions. Text without a zone is read as UTC; formatting prints UTC. */
export const TIME_FUNCTIONS: readonly ScalarFunction[] = [
  scalar(
    'DATE_FORMAT(ts, format)',
    "ts (a TIMESTAMP or timestamp text) printed with a Java-style pattern such as 'yyyy-MM-dd HH:mm:ss'.",
    [Arg.timeOrString, Arg.string],
    SqlTypes.STRING,
    (ts: number | string, fmt: string) => {
      const ms = toEpochMillis(ts)
      return ms === undefined ? null : formatWithPattern(ms, fmt)
    },
  ),
  scalar(
    'TO_TIMESTAMP(s [, format])',
    "The text s read as a TIMESTAMP(3) with a Java-style pattern (default 'yyyy-MM-dd HH:mm:ss'); NULL when it does not match.",
    [Arg.string, Arg.string],
    TS,
    (s: string, fmt?: string) =>
      nullable(
        fmt === undefined
          ? (parseWithPattern(s, DEFAULT_FORMAT) ?? parseTimestamp(s))
          : parseWithPattern(s, fmt),
      ),
  ),
  scalar(
    'TO_DATE(s [, format])',
    "The text s read as a DATE (default pattern 'yyyy-MM-dd').",
    [Arg.string, Arg.string],
    SqlTypes.DATE,
    (s: string, fmt = 'yyyy-MM-dd') => {
      const ms = parseWithPattern(s, fmt)
      return ms === undefined ? null : startOfDay(ms)
    },
  ),
  scalar(
    'TO_TIMESTAMP_LTZ(n [, precision])',
    'Epoch seconds (precision 0) or milliseconds (precision 3, the default) as a TIMESTAMP_LTZ(3).',
    [Arg.numeric, Arg.integer],
    LTZ,
    (n: number, p = 3) => (p === 0 ? n * 1000 : n),
  ),
  scalar(
    'UNIX_TIMESTAMP([s [, format]])',
    'Epoch seconds: now, or of the text s read with the pattern (default yyyy-MM-dd HH:mm:ss).',
    [Arg.string, Arg.string],
    SqlTypes.BIGINT,
    (s?: string | null, fmt?: string | null) => {
      if (s === undefined) return Math.floor(Date.now() / 1000)
      if (s === null || fmt === null) return null
      const ms = parseWithPattern(s, fmt ?? DEFAULT_FORMAT)
      return ms === undefined ? null : Math.floor(ms / 1000)
    },
    { volatile: true, nullAware: true },
  ),
  scalar(
    'FROM_UNIXTIME(seconds [, format])',
    "Epoch seconds printed with the pattern (default 'yyyy-MM-dd HH:mm:ss').",
    [Arg.numeric, Arg.string],
    SqlTypes.STRING,
    (n: number, fmt = DEFAULT_FORMAT) => formatWithPattern(n * 1000, fmt),
  ),
  scalar('CURRENT_TIMESTAMP()', 'The wall-clock time now, as TIMESTAMP_LTZ(3).', [], LTZ, () => Date.now(), {
    volatile: true,
  }),
  scalar('NOW()', 'Same as CURRENT_TIMESTAMP.', [], LTZ, () => Date.now(), { volatile: true }),
  scalar(
    'CURRENT_ROW_TIMESTAMP()',
    'The wall-clock time when the row is processed.',
    [],
    LTZ,
    () => Date.now(),
    { volatile: true },
  ),
  scalar(
    'PROCTIME()',
    'The processing time of the row, a processing-time attribute.',
    [],
    LTZ,
    () => Date.now(),
    {
      volatile: true,
    },
  ),
  scalar('LOCALTIMESTAMP()', 'The wall-clock time now, as TIMESTAMP(3) (UTC).', [], TS, () => Date.now(), {
    volatile: true,
  }),
  scalar('CURRENT_DATE()', 'Today (UTC) as a DATE.', [], SqlTypes.DATE, () => startOfDay(Date.now()), {
    volatile: true,
  }),
  scalar(
    'CURRENT_TIME()',
    'The time of day now (UTC).',
    [],
    SqlTypes.time(0),
    () => Date.now() - startOfDay(Date.now()),
    {
      volatile: true,
    },
  ),
  scalar(
    'LOCALTIME()',
    'Same as CURRENT_TIME.',
    [],
    SqlTypes.time(0),
    () => Date.now() - startOfDay(Date.now()),
    { volatile: true },
  ),
  scalar(
    'FLOOR_TO(unit, ts)',
    'FLOOR(ts TO unit): ts rounded down to the unit.',
    [Arg.string, Arg.temporal],
    (a) => a[1]!,
    floorTime,
  ),
  scalar(
    'CEIL_TO(unit, ts)',
    'CEIL(ts TO unit): ts rounded up to the unit.',
    [Arg.string, Arg.temporal],
    (a) => a[1]!,
    ceilTime,
  ),
  scalar(
    'TIMESTAMPADD(unit, n, ts)',
    'ts plus n units, e.g. TIMESTAMPADD(HOUR, 1, ts).',
    [Arg.string, Arg.integer, Arg.temporal],
    (a) => a[2]!,
    timestampAdd,
  ),
  scalar(
    'TIMESTAMPDIFF(unit, a, b)',
    'Whole units from a to b, e.g. TIMESTAMPDIFF(SECOND, a, b).',
    [Arg.string, Arg.temporal, Arg.temporal],
    SqlTypes.INT,
    timestampDiff,
  ),
  ...(['YEAR', 'QUARTER', 'MONTH', 'WEEK', 'HOUR', 'MINUTE', 'SECOND'] as const).map((u) =>
    scalar(`${u}(ts)`, `EXTRACT(${u} FROM ts).`, [Arg.temporal], SqlTypes.BIGINT, (ms: number) =>
      extractField(u, ms),
    ),
  ),
  scalar('DAYOFMONTH(ts)', 'EXTRACT(DAY FROM ts).', [Arg.temporal], SqlTypes.BIGINT, (ms: number) =>
    extractField('DAY', ms),
  ),
  scalar(
    'DAYOFWEEK(ts)',
    'EXTRACT(DOW FROM ts): 1 (Sunday) to 7.',
    [Arg.temporal],
    SqlTypes.BIGINT,
    (ms: number) => extractField('DOW', ms),
  ),
  scalar('DAYOFYEAR(ts)', 'EXTRACT(DOY FROM ts).', [Arg.temporal], SqlTypes.BIGINT, (ms: number) =>
    extractField('DOY', ms),
  ),
]

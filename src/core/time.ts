// Event time: reading a record's time, in ms since the epoch, from epoch numbers, ISO-8601 strings
// or strftime-style formats (fluentd's `time_type` and `time_format`), compiled once per format.

import { SquallError } from './errors.ts'
import {
  compileLooseTime,
  compileTimeFormat,
  daysFromCivil,
  daysInMonth,
  localToUtc,
  readZone,
  type ZoneOffset,
  zoneEndIndex,
  zoneOffset,
} from './time-format.ts'

/**
 * How a time is written. Besides a strftime-style format such as `%d/%b/%Y:%H:%M:%S %z`:
 * - `iso8601` (or fluentd's `%iso8601`): `2013-02-28T12:00:00.003+09:00`, zone optional;
 * - `unix` / `float`: seconds since the epoch, fraction allowed; `unixtime`: whole seconds;
 * - `unix_ms`: milliseconds since the epoch.
 * Without a format, numbers are epoch values (see {@link TimeOptions.numbers}) and strings are
 * ISO-8601 (also `2013/02/28 12:00:00`) or digits read as an epoch value.
 */
export type TimeFormat = 'iso8601' | 'unix' | 'float' | 'unixtime' | 'unix_ms' | (string & {})

export interface TimeOptions {
  /**
   * How the time is written; see {@link TimeFormat}. A list is tried in order, the first format that
   * fits wins (fluentd's `time_format_fallbacks`). Default: numbers and ISO-8601 strings.
   */
  format?: TimeFormat | readonly TimeFormat[] | undefined
  /** Zone of times written without one: `UTC` (default), `+09:00`, or an IANA name. */
  timezone?: string | undefined
  /** Unit of epoch numbers when the format does not say: `ms` (default) or `s` (fluentd's habit). */
  numbers?: 'ms' | 's' | undefined
}

/** Converts one field value into ms since the epoch, or `undefined` when it is missing or unparsable. */
export type TimeConverter = (value: unknown) => number | undefined

const DAY_MS = 86_400_000

function digits(text: string, i: number, n: number): number {
  let v = 0
  for (let k = 0; k < n; k++) {
    const d = text.charCodeAt(i + k) - 48
    if (d < 0 || d > 9) return -1
    v = v * 10 + d
  }
  return v
}

/**
 * Parses `YYYY-MM-DD`, optionally followed by `T` or a space, `hh:mm[:ss[.fraction]]` and a zone
 * (`Z`, `+09:00`, `+0900`, `+09`, `UTC`); `/` is accepted as the date separator. A time without a
 * zone is read in `offset` (UTC by default). Returns ms since the epoch or `undefined`; never throws.
 */
export function parseIso8601(text: string, offset?: ZoneOffset): number | undefined {
  const len = text.length
  if (len < 10) return undefined
  const year = digits(text, 0, 4)
  const sep = text.charCodeAt(4)
  if (year < 0 || (sep !== 45 && sep !== 47) || text.charCodeAt(7) !== sep) return undefined
  const month = digits(text, 5, 2)
  const day = digits(text, 8, 2)
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined
  let ms = daysFromCivil(year, month, day) * DAY_MS
  let i = 10
  if (i < len) {
    const t = text.charCodeAt(i)
    if (t !== 84 && t !== 116 && t !== 32) return undefined
    i++
    const hour = digits(text, i, 2)
    const minute = text.charCodeAt(i + 2) === 58 ? digits(text, i + 3, 2) : -1
    if (hour < 0 || hour > 24 || minute < 0 || minute > 59) return undefined
    ms += hour * 3_600_000 + minute * 60_000
    i += 5
    if (text.charCodeAt(i) === 58) {
      const second = digits(text, i + 1, 2)
      if (second < 0 || second > 60) return undefined
      ms += second * 1000
      i += 3
      const dot = text.charCodeAt(i)
      if (dot === 46 || dot === 44) {
        i++
        let scale = 100
        const start = i
        while (i < len) {
          const d = text.charCodeAt(i) - 48
          if (d < 0 || d > 9) break
          if (scale >= 1) ms += d * scale
          scale /= 10
          i++
        }
        if (i === start) return undefined
      }
    }
    while (text.charCodeAt(i) === 32) i++
    if (i < len) {
      const zone = readZone(text, i)
      if (Number.isNaN(zone) || zoneEndIndex() !== len) return undefined
      return ms - zone * 60_000
    }
  }
  return offset === undefined ? ms : localToUtc(ms, offset)
}

const NUMERIC = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/

function epochConverter(scale: number, truncate: boolean): TimeConverter {
  return (value) => {
    let n: number
    if (typeof value === 'number') n = value
    else if (typeof value === 'string' && NUMERIC.test(value)) n = Number(value)
    else if (typeof value === 'bigint') n = Number(value)
    else return undefined
    if (!Number.isFinite(n)) return undefined
    return Math.floor((truncate ? Math.trunc(n) : n) * scale)
  }
}

/**
 * Compiles a converter from field values to ms since the epoch. Numbers, numeric strings, `Date`
 * objects and strings in the format are accepted; anything else gives `undefined`. Throws
 * ERR_ARGUMENT at compile time for an unknown strftime directive or time zone; the converter never
 * throws. Results are whole milliseconds (sub-millisecond digits are dropped).
 */
export function compileTime(options: TimeOptions = {}): TimeConverter {
  const { format, timezone } = options
  if (Array.isArray(format)) {
    if (format.length === 0)
      throw new SquallError('ERR_ARGUMENT', 'timeFormat: expected at least one format, got []')
    const each = format.map((f) => compileTime({ ...options, format: f }))
    if (each.length === 1) return each[0]!
    return (value) => {
      for (let i = 0; i < each.length; i++) {
        const t = each[i]!(value)
        if (t !== undefined) return t
      }
      return undefined
    }
  }
  if (options.numbers !== undefined && options.numbers !== 'ms' && options.numbers !== 's') {
    throw new SquallError(
      'ERR_ARGUMENT',
      `numbers: expected "ms" or "s", got ${JSON.stringify(options.numbers)}`,
    )
  }
  const numberScale = options.numbers === 's' ? 1000 : 1
  switch (format) {
    case 'unix':
    case 'float':
      return epochConverter(1000, false)
    case 'unixtime':
      return epochConverter(1000, true)
    case 'unix_ms':
      return epochConverter(1, false)
  }
  const offset = timezone === undefined ? undefined : zoneOffset(timezone)
  const epoch = epochConverter(numberScale, false)
  let parseString: (text: string) => number | undefined
  if (format === undefined) {
    let loose: ((text: string) => number | undefined) | undefined
    parseString = (text) => {
      const t = parseIso8601(text, offset)
      if (t !== undefined) return t
      if (NUMERIC.test(text)) return epoch(text)
      loose ??= compileLooseTime(timezone)
      const l = loose(text)
      return l === undefined ? undefined : Math.floor(l)
    }
  } else if (format === 'iso8601' || format === '%iso8601') {
    parseString = (text) => parseIso8601(text, offset)
  } else {
    if (typeof format !== 'string' || format === '') {
      throw new SquallError(
        'ERR_ARGUMENT',
        `timeFormat: expected "iso8601", "unix", "unix_ms" or a strftime format like "%d/%b/%Y:%H:%M:%S %z", got ${JSON.stringify(format)}`,
      )
    }
    const parser = compileTimeFormat(format, timezone)
    parseString = (text) => {
      const t = parser(text)
      return t === undefined ? undefined : Math.floor(t)
    }
  }
  return (value) => {
    if (typeof value === 'string') return parseString(value)
    if (typeof value === 'number' || typeof value === 'bigint') return epoch(value)
    if (value instanceof Date) {
      const t = value.getTime()
      return Number.isNaN(t) ? undefined : t
    }
    return undefined
  }
}

const compiled = new Map<string, TimeConverter>()

/**
 * Parses one time (string or epoch number) with an optional format; see {@link TimeFormat}. Returns
 * ms since the epoch or `undefined` when it does not fit. Compiled formats are cached, so repeated
 * calls with the same format cost one map lookup; throws ERR_ARGUMENT for an invalid format.
 */
export function parseTime(
  text: string | number,
  format?: TimeFormat | readonly TimeFormat[],
  timezone?: string,
): number | undefined {
  const id = `${Array.isArray(format) ? format.join('\u0001') : (format ?? '')}\u0000${timezone ?? ''}`
  let convert = compiled.get(id)
  if (convert === undefined) {
    convert = compileTime({ format, timezone })
    if (compiled.size > 256) compiled.clear()
    compiled.set(id, convert)
  }
  return convert(text)
}

/** Returns a getter for a field path: `a.b.c` reads nested objects; a plain name reads one field. */
export function fieldGetter(path: string): (value: unknown) => unknown {
  const parts = path.split('.')
  if (parts.length === 1) {
    return (value) =>
      value !== null && typeof value === 'object' ? (value as { [k: string]: unknown })[path] : undefined
  }
  return (value) => {
    let v = value
    for (let i = 0; i < parts.length; i++) {
      if (v === null || typeof v !== 'object') return undefined
      v = (v as { [k: string]: unknown })[parts[i]!]
    }
    return v
  }
}

export interface TimeExtractorOptions extends TimeOptions {
  /** The field holding the event time; a dotted path (`request.time`) reads nested objects. */
  field: string
}

/**
 * Builds a fast function reading a record value's event time from `field`: ms since the epoch, or
 * `undefined` when the field is missing or unparsable (callers then use ingestion time or count the
 * record as bad). Compiles the format once; throws ERR_ARGUMENT for an empty field or bad format.
 */
export function timeExtractor(options: TimeExtractorOptions): (value: unknown) => number | undefined {
  if (typeof options?.field !== 'string' || options.field === '') {
    throw new SquallError(
      'ERR_ARGUMENT',
      `field: expected a field name or dotted path like "time", got ${JSON.stringify(options?.field)}`,
    )
  }
  const get = fieldGetter(options.field)
  const convert = compileTime(options)
  return (value) => {
    const v = get(value)
    return v === undefined || v === null ? undefined : convert(v)
  }
}

const MONTH_ABBR = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
/** English month names, January first (also used by SQL's date patterns). */
export const MONTH_FULL = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
]
/** English day names, Sunday first. */
export const DAY_FULL = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday']

/** Calendar fields of one instant as seen in one zone. */
interface Civil {
  utc: number
  offset: number
  days: number
  year: number
  month: number
  day: number
  hour: number
  minute: number
  second: number
  millis: number
}

function toCivil(utc: number, offset: number): Civil {
  const local = utc + offset * 60_000
  const days = Math.floor(local / DAY_MS)
  let rest = local - days * DAY_MS
  const hour = Math.floor(rest / 3_600_000)
  rest -= hour * 3_600_000
  const minute = Math.floor(rest / 60_000)
  rest -= minute * 60_000
  const second = Math.floor(rest / 1000)
  const millis = Math.floor(rest - second * 1000)
  const z = days + 719_468
  const era = Math.floor(z / 146_097)
  const doe = z - era * 146_097
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  )
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1
  const month = mp < 10 ? mp + 3 : mp - 9
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0)
  return { utc, offset, days, year, month, day, hour, minute, second, millis }
}

const pad2 = (v: number): string => (v < 10 ? `0${v}` : String(v))
const pad3 = (v: number): string => String(v).padStart(3, '0')

function offsetText(minutes: number, colon: boolean): string {
  const abs = Math.abs(minutes)
  return `${minutes < 0 ? '-' : '+'}${pad2(Math.floor(abs / 60))}${colon ? ':' : ''}${pad2(abs % 60)}`
}

type Piece = (c: Civil) => string

const PIECES: { [directive: string]: Piece } = {
  Y: (c) => String(c.year),
  y: (c) => pad2(c.year % 100),
  m: (c) => pad2(c.month),
  d: (c) => pad2(c.day),
  e: (c) => String(c.day).padStart(2, ' '),
  j: (c) => pad3(c.days - daysFromCivil(c.year, 1, 1) + 1),
  H: (c) => pad2(c.hour),
  k: (c) => String(c.hour).padStart(2, ' '),
  I: (c) => pad2(c.hour % 12 || 12),
  l: (c) => String(c.hour % 12 || 12).padStart(2, ' '),
  p: (c) => (c.hour < 12 ? 'AM' : 'PM'),
  P: (c) => (c.hour < 12 ? 'am' : 'pm'),
  M: (c) => pad2(c.minute),
  S: (c) => pad2(c.second),
  z: (c) => offsetText(c.offset, false),
  Z: (c) => (c.offset === 0 ? 'UTC' : offsetText(c.offset, true)),
  b: (c) => MONTH_ABBR[c.month - 1]!,
  h: (c) => MONTH_ABBR[c.month - 1]!,
  B: (c) => MONTH_FULL[c.month - 1]!,
  a: (c) => DAY_FULL[(((c.days + 4) % 7) + 7) % 7]!.slice(0, 3),
  A: (c) => DAY_FULL[(((c.days + 4) % 7) + 7) % 7]!,
  s: (c) => String(Math.floor(c.utc / 1000)),
  Q: (c) => String(Math.floor(c.utc)),
  '%': () => '%',
  t: () => '\t',
  n: () => '\n',
}
const COMPOSITE: { [directive: string]: string } = {
  T: '%H:%M:%S',
  D: '%m/%d/%y',
  F: '%Y-%m-%d',
  R: '%H:%M',
  r: '%I:%M:%S %p',
}

function compilePieces(format: string, pieces: Piece[]): void {
  for (let i = 0; i < format.length; i++) {
    const ch = format[i]!
    if (ch !== '%') {
      pieces.push(() => ch)
      continue
    }
    let d = format[++i]
    let width = 0
    while (d !== undefined && d >= '0' && d <= '9') {
      width = width * 10 + Number(d)
      d = format[++i]
    }
    if (d === ':' && format[i + 1] === 'z') {
      i++
      pieces.push((c) => offsetText(c.offset, true))
      continue
    }
    if (d === 'L' || d === 'N') {
      const n = width || (d === 'L' ? 3 : 9)
      pieces.push((c) => pad3(c.millis).padEnd(n, '0').slice(0, n))
      continue
    }
    if (d !== undefined && COMPOSITE[d] !== undefined) {
      compilePieces(COMPOSITE[d]!, pieces)
      continue
    }
    const piece = d === undefined ? undefined : PIECES[d]
    if (piece === undefined) {
      throw new SquallError(
        'ERR_ARGUMENT',
        `timeFormat: unknown directive "%${d ?? ''}" in ${JSON.stringify(format)}; see docs/time-formats.md for the supported directives`,
      )
    }
    pieces.push(piece)
  }
}

/**
 * Compiles a formatter of ms since the epoch into text: `iso8601` (`2013-02-28T12:00:00.000Z`, or
 * with the zone's offset), or a strftime format with the directives {@link compileTime} reads
 * (`%z` prints `+0900`, `%:z` `+09:00`, `%L` milliseconds, `%N` nanoseconds). Times are shown in
 * `timezone` (default UTC). Throws ERR_ARGUMENT for an unknown directive or zone.
 */
export function compileTimeFormatter(format: string, timezone?: string): (ms: number) => string {
  const zone = timezone === undefined ? 0 : zoneOffset(timezone)
  const offsetAt = (utc: number): number =>
    typeof zone === 'number' ? zone : Math.round((localToUtc(utc, zone) - utc) / -60_000)
  if (format === 'iso8601' || format === '%iso8601') {
    format = timezone === undefined ? '%Y-%m-%dT%H:%M:%S.%LZ' : '%Y-%m-%dT%H:%M:%S.%L%:z'
  }
  const pieces: Piece[] = []
  compilePieces(format, pieces)
  return (ms) => {
    const c = toCivil(ms, offsetAt(ms))
    let out = ''
    for (let i = 0; i < pieces.length; i++) out += pieces[i]!(c)
    return out
  }
}

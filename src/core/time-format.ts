// strftime-style time formats (fluentd's `time_format`, Ruby's strptime) compiled once into a
// parser that reads a string with char codes only: no regexp and no allocation per call.

import { SquallError } from './errors.ts'

/** Parses one string into ms since the epoch, or `undefined` when the text does not fit the format. */
export type TimeParser = (text: string) => number | undefined

/**
 * A zone for times written without one: a fixed offset in minutes east of UTC, or an IANA zone
 * (`Europe/Paris`) whose offset depends on the date.
 */
export type ZoneOffset = number | IanaZone

/** An IANA zone, read through `Intl`; the last offset found is cached per hour. */
export interface IanaZone {
  readonly name: string
  readonly format: Intl.DateTimeFormat
  hour: number
  minutes: number
}

const Op = {
  Literal: 0,
  Space: 1,
  Year: 2,
  Year2: 3,
  Month: 4,
  Day: 5,
  DayOfYear: 6,
  Hour: 7,
  Hour12: 8,
  Minute: 9,
  Second: 10,
  Fraction: 11,
  Zone: 12,
  MonthName: 13,
  WeekdayName: 14,
  AmPm: 15,
  EpochSeconds: 16,
  EpochMillis: 17,
} as const
type Op = (typeof Op)[keyof typeof Op]

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']
const MONTHS_FULL = [
  'january',
  'february',
  'march',
  'april',
  'may',
  'june',
  'july',
  'august',
  'september',
  'october',
  'november',
  'december',
]
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat']
const WEEKDAYS_FULL = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday']

/** Zone names `%Z` and `%z` accept besides numeric offsets, with their offset in minutes. */
const ZONE_NAMES: { readonly [name: string]: number } = {
  UTC: 0,
  GMT: 0,
  UT: 0,
  Z: 0,
  EST: -300,
  EDT: -240,
  CST: -360,
  CDT: -300,
  MST: -420,
  MDT: -360,
  PST: -480,
  PDT: -420,
  CET: 60,
  CEST: 120,
  JST: 540,
}

const COMPOSITES: { readonly [directive: string]: string } = {
  T: '%H:%M:%S',
  R: '%H:%M',
  D: '%m/%d/%y',
  F: '%Y-%m-%d',
  r: '%I:%M:%S %p',
  X: '%H:%M:%S',
  x: '%m/%d/%y',
  c: '%a %b %e %H:%M:%S %Y',
  v: '%e-%b-%Y',
}

const SIMPLE: { readonly [directive: string]: Op } = {
  Y: Op.Year,
  y: Op.Year2,
  m: Op.Month,
  d: Op.Day,
  e: Op.Day,
  j: Op.DayOfYear,
  H: Op.Hour,
  k: Op.Hour,
  I: Op.Hour12,
  l: Op.Hour12,
  M: Op.Minute,
  S: Op.Second,
  L: Op.Fraction,
  N: Op.Fraction,
  z: Op.Zone,
  Z: Op.Zone,
  b: Op.MonthName,
  h: Op.MonthName,
  B: Op.MonthName,
  a: Op.WeekdayName,
  A: Op.WeekdayName,
  p: Op.AmPm,
  P: Op.AmPm,
  s: Op.EpochSeconds,
  Q: Op.EpochMillis,
}

/** Days from 1970-01-01 to the given proleptic Gregorian date (month 1–12). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const mp = month > 2 ? month - 3 : month + 9
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
}

/** Days in `month` (1–12) of `year`. */
export function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
}

let lastZoneEnd = 0

/** The position just after the zone read by the last successful {@link readZone} call. */
export function zoneEndIndex(): number {
  return lastZoneEnd
}

/**
 * Parses a zone at `i` in `text`: `Z`, `±HH`, `±HHMM`, `±HH:MM` or a name such as `UTC`, `GMT`,
 * `PST`. Returns the offset in minutes east of UTC, or NaN when there is none; on success
 * {@link zoneEndIndex} tells where the zone ends. Single-threaded use only (it keeps that position).
 */
export function readZone(text: string, i: number): number {
  const c = text.charCodeAt(i)
  if (c === 43 || c === 45) {
    const h1 = text.charCodeAt(i + 1) - 48
    const h2 = text.charCodeAt(i + 2) - 48
    if (!(h1 >= 0 && h1 <= 9 && h2 >= 0 && h2 <= 9)) return Number.NaN
    let j = i + 3
    let minutes = 0
    if (text.charCodeAt(j) === 58) j++
    const m1 = text.charCodeAt(j) - 48
    const m2 = text.charCodeAt(j + 1) - 48
    if (m1 >= 0 && m1 <= 5 && m2 >= 0 && m2 <= 9) {
      minutes = m1 * 10 + m2
      j += 2
    } else if (j !== i + 3) {
      return Number.NaN
    }
    lastZoneEnd = j
    const total = (h1 * 10 + h2) * 60 + minutes
    return c === 45 ? -total : total
  }
  let j = i
  while (j < text.length && j - i < 5) {
    const u = text.charCodeAt(j) & ~32
    if (u < 65 || u > 90) break
    j++
  }
  if (j === i) return Number.NaN
  const offset = ZONE_NAMES[text.slice(i, j).toUpperCase()]
  if (offset === undefined) return Number.NaN
  lastZoneEnd = j
  return offset
}

/**
 * Resolves a zone given in a config: `UTC`, `Z`, `+09:00`, `-0700` or an IANA name such as
 * `Asia/Tokyo`. Throws ERR_ARGUMENT naming `what` when it is none of these.
 */
export function zoneOffset(zone: string, what = 'timezone'): ZoneOffset {
  const minutes = readZone(zone, 0)
  if (!Number.isNaN(minutes) && lastZoneEnd === zone.length) return minutes
  try {
    const format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
    return { name: zone, format, hour: Number.NaN, minutes: 0 }
  } catch {
    throw new SquallError(
      'ERR_ARGUMENT',
      `${what}: expected "UTC", an offset like "+09:00" or an IANA zone like "Asia/Tokyo", got ${JSON.stringify(zone)}`,
    )
  }
}

function ianaOffsetAt(zone: IanaZone, utcMs: number): number {
  const hour = Math.floor(utcMs / 3_600_000)
  if (hour === zone.hour) return zone.minutes
  const parts = zone.format.formatToParts(new Date(hour * 3_600_000))
  let y = 0
  let mo = 0
  let d = 0
  let h = 0
  let mi = 0
  for (const p of parts) {
    if (p.type === 'year') y = Number(p.value)
    else if (p.type === 'month') mo = Number(p.value)
    else if (p.type === 'day') d = Number(p.value)
    else if (p.type === 'hour') h = Number(p.value)
    else if (p.type === 'minute') mi = Number(p.value)
  }
  const local = daysFromCivil(y, mo, d) * 86_400_000 + h * 3_600_000 + mi * 60_000
  zone.hour = hour
  zone.minutes = Math.round((local - hour * 3_600_000) / 60_000)
  return zone.minutes
}

/**
 * Converts a wall-clock time in `zone` (ms since the epoch as if the wall clock were UTC) into
 * real ms since the epoch. For an IANA zone, a wall-clock time skipped by a daylight saving change
 * is read with the offset before the change; one that occurs twice is read as the later occurrence.
 */
export function localToUtc(localMs: number, zone: ZoneOffset): number {
  if (typeof zone === 'number') return localMs - zone * 60_000
  const first = localMs - ianaOffsetAt(zone, localMs) * 60_000
  return localMs - ianaOffsetAt(zone, first) * 60_000
}

/** Matches a month or weekday name (full or abbreviated, any case) at `i`; returns index and end. */
function readName(
  text: string,
  i: number,
  short: readonly string[],
  full: readonly string[],
  end: Int32Array,
): number {
  const c0 = text.charCodeAt(i) | 32
  const c1 = text.charCodeAt(i + 1) | 32
  const c2 = text.charCodeAt(i + 2) | 32
  let n = -1
  for (let k = 0; k < short.length; k++) {
    const s = short[k]!
    if (s.charCodeAt(0) === c0 && s.charCodeAt(1) === c1 && s.charCodeAt(2) === c2) {
      n = k
      break
    }
  }
  if (n < 0) return -1
  const long = full[n]!
  let j = 3
  while (j < long.length && (text.charCodeAt(i + j) | 32) === long.charCodeAt(j)) j++
  end[0] = j === long.length ? i + j : i + 3
  return n
}

/** Splits a format into ops and literals; throws ERR_ARGUMENT on an unknown directive. */
function compileOps(format: string, ops: Op[], literals: string[], depth: number): void {
  let literal = ''
  const flush = () => {
    if (literal !== '') {
      ops.push(Op.Literal)
      literals.push(literal)
      literal = ''
    }
  }
  for (let i = 0; i < format.length; i++) {
    const ch = format[i]!
    if (ch === ' ' || ch === '\t' || ch === '\n') {
      flush()
      if (ops[ops.length - 1] !== Op.Space) {
        ops.push(Op.Space)
        literals.push('')
      }
      continue
    }
    if (ch !== '%') {
      literal += ch
      continue
    }
    let d = format[++i]
    while (d === '-' || d === '_' || d === '0' || d === '^' || d === '#') d = format[++i]
    if (d === ':' && format[i + 1] === 'z') d = format[++i]
    if (d === '%') {
      literal += '%'
      continue
    }
    if (d === 'n' || d === 't') {
      flush()
      ops.push(Op.Space)
      literals.push('')
      continue
    }
    const composite = d === undefined ? undefined : COMPOSITES[d]
    if (composite !== undefined && depth === 0) {
      flush()
      compileOps(composite, ops, literals, 1)
      continue
    }
    const op = d === undefined ? undefined : SIMPLE[d]
    if (op === undefined) {
      throw new SquallError(
        'ERR_ARGUMENT',
        `timeFormat: unknown directive "%${d ?? ''}" in "${format}"; see docs/time-formats.md for the supported ones`,
      )
    }
    flush()
    ops.push(op)
    literals.push('')
  }
  flush()
}

/**
 * Compiles a strftime-style format (`%d/%b/%Y:%H:%M:%S %z`) into a parser. Compile once, call per
 * record: the parser walks the text by char codes and remembers the last text and result, so
 * repeated timestamps cost one string comparison. Throws ERR_ARGUMENT on an unknown directive.
 *
 * Like Ruby's strptime: whitespace in the format matches any run of whitespace (including none),
 * `%d`/`%e` accept a leading space, `%L` and `%N` read a fraction of any length (truncated to whole
 * ms), and a missing year is the current year. Text without `%z`/`%Z` is in `timezone` (UTC by
 * default; an offset like `+09:00` or an IANA name). Throws ERR_ARGUMENT for an unknown timezone.
 * Text left over after the format, or an out-of-range field, gives `undefined`.
 */
export function compileTimeFormat(format: string, timezone?: string): TimeParser {
  const opList: Op[] = []
  const literals: string[] = []
  compileOps(format, opList, literals, 0)
  const ops = Int32Array.from(opList)
  const count = ops.length
  const zone = timezone === undefined ? 0 : zoneOffset(timezone)
  const end = new Int32Array(1)
  let lastText = ''
  let lastResult: number | undefined

  const parse = (text: string): number | undefined => {
    let pos = 0
    let year = Number.NaN
    let month = 0
    let day = 0
    let yday = 0
    let hour = 0
    let minute = 0
    let second = 0
    let millis = 0
    let pm = -1
    let offset = Number.NaN
    let epoch = Number.NaN
    const len = text.length
    for (let k = 0; k < count; k++) {
      const op = ops[k]!
      if (op === Op.Literal) {
        const lit = literals[k]!
        if (!text.startsWith(lit, pos)) return undefined
        pos += lit.length
        continue
      }
      if (op === Op.Space) {
        let c = text.charCodeAt(pos)
        while (c === 32 || c === 9 || c === 10 || c === 13) c = text.charCodeAt(++pos)
        continue
      }
      if (op === Op.Zone) {
        const z = readZone(text, pos)
        if (Number.isNaN(z)) return undefined
        offset = z
        pos = lastZoneEnd
        continue
      }
      if (op === Op.MonthName) {
        const n = readName(text, pos, MONTHS, MONTHS_FULL, end)
        if (n < 0) return undefined
        month = n + 1
        pos = end[0]!
        continue
      }
      if (op === Op.WeekdayName) {
        if (readName(text, pos, WEEKDAYS, WEEKDAYS_FULL, end) < 0) return undefined
        pos = end[0]!
        continue
      }
      if (op === Op.AmPm) {
        const a = text.charCodeAt(pos) | 32
        if ((a !== 97 && a !== 112) || (text.charCodeAt(pos + 1) | 32) !== 109) {
          if (
            (a === 97 || a === 112) &&
            text.charCodeAt(pos + 1) === 46 &&
            (text.charCodeAt(pos + 2) | 32) === 109
          ) {
            pos += 4
            pm = a === 112 ? 1 : 0
            continue
          }
          return undefined
        }
        pm = a === 112 ? 1 : 0
        pos += 2
        continue
      }
      let negative = false
      if (op === Op.Day || op === Op.Hour || op === Op.Hour12) {
        if (text.charCodeAt(pos) === 32) pos++
      } else if (op === Op.EpochSeconds || op === Op.EpochMillis || op === Op.Year) {
        if (text.charCodeAt(pos) === 45) {
          negative = true
          pos++
        }
      }
      const maxDigits =
        op === Op.Fraction || op === Op.EpochSeconds || op === Op.EpochMillis
          ? 20
          : op === Op.Year
            ? 4
            : op === Op.DayOfYear
              ? 3
              : 2
      const start = pos
      let n = 0
      while (pos < len && pos - start < maxDigits) {
        const digit = text.charCodeAt(pos) - 48
        if (digit < 0 || digit > 9) break
        n = n * 10 + digit
        pos++
      }
      const digits = pos - start
      if (digits === 0) return undefined
      switch (op) {
        case Op.Year:
          year = negative ? -n : n
          break
        case Op.Year2:
          year = n < 69 ? 2000 + n : 1900 + n
          break
        case Op.Month:
          month = n
          break
        case Op.Day:
          day = n
          break
        case Op.DayOfYear:
          yday = n
          break
        case Op.Hour:
        case Op.Hour12:
          hour = n
          break
        case Op.Minute:
          minute = n
          break
        case Op.Second:
          second = n
          break
        case Op.Fraction:
          millis = digits <= 3 ? n * 10 ** (3 - digits) : Math.floor(n / 10 ** (digits - 3))
          break
        case Op.EpochSeconds:
          epoch = (negative ? -n : n) * 1000
          break
        case Op.EpochMillis:
          epoch = negative ? -n : n
          break
      }
    }
    while (pos < len) {
      const c = text.charCodeAt(pos++)
      if (c !== 32 && c !== 9 && c !== 10 && c !== 13) return undefined
    }
    if (!Number.isNaN(epoch)) return epoch + millis
    if (pm >= 0) {
      if (hour < 1 || hour > 12) return undefined
      hour = (hour % 12) + pm * 12
    }
    if (Number.isNaN(year)) {
      const now = new Date()
      year = now.getUTCFullYear()
      if (month === 0 && day === 0 && yday === 0) {
        month = now.getUTCMonth() + 1
        day = now.getUTCDate()
      }
    }
    let days: number
    if (yday > 0 && month === 0) {
      if (yday > 366) return undefined
      days = daysFromCivil(year, 1, 1) + yday - 1
    } else {
      if (month === 0) month = 1
      if (day === 0) day = 1
      if (month > 12 || day > daysInMonth(year, month)) return undefined
      days = daysFromCivil(year, month, day)
    }
    if (hour > 24 || minute > 59 || second > 60) return undefined
    const local = days * 86_400_000 + hour * 3_600_000 + minute * 60_000 + second * 1000 + millis
    if (Number.isNaN(offset)) return zone === 0 ? local : localToUtc(local, zone)
    return local - offset * 60_000
  }

  return (text: string): number | undefined => {
    if (text === lastText) return lastResult
    const result = parse(text)
    lastText = text
    lastResult = result
    return result
  }
}

function looseFormats(): string[] {
  const formats: string[] = []
  for (const date of ['%Y-%m-%d', '%Y/%m/%d']) {
    for (const sep of [' ', 'T']) {
      for (const time of ['%H:%M:%S.%N', '%H:%M:%S', '%H:%M']) {
        formats.push(`${date}${sep}${time} %z`, `${date}${sep}${time}`)
      }
    }
    formats.push(date)
  }
  formats.push(
    '%d/%b/%Y:%H:%M:%S %z',
    '%d/%b/%Y:%H:%M:%S',
    '%a, %d %b %Y %H:%M:%S %z',
    '%d %b %Y %H:%M:%S %z',
    '%a %b %d %H:%M:%S.%N %Y',
    '%a %b %d %H:%M:%S %Y',
    '%a %b %d %H:%M:%S %z %Y',
    '%b %d %H:%M:%S.%N %Y',
    '%b %d %H:%M:%S %Y',
    '%b %d %Y %H:%M:%S',
    '%b %d %H:%M:%S.%N',
    '%b %d %H:%M:%S',
  )
  return formats
}

/**
 * Compiles a lenient reader for times written without a declared format, in the spirit of Ruby's
 * `Time.parse` (which fluentd uses when `time_format` is absent): `2013-3-3 14:27:33`,
 * `2013/02/28 12:00:00.5 +09:00`, `28/Feb/2013:12:00:00 +0900` (also inside `[...]`),
 * `Thu, 28 Feb 2013 12:00:00 +0900`, `Wed Oct 11 14:32:52 2000`, `Feb  3 12:00:01`. The layouts
 * are tried in turn, each failing at its first mismatch; use an explicit format on hot paths.
 * Times without a zone are in `timezone` (UTC by default). Throws ERR_ARGUMENT for an unknown zone.
 */
export function compileLooseTime(timezone?: string): TimeParser {
  const parsers = looseFormats().map((f) => compileTimeFormat(f, timezone))
  const count = parsers.length
  return (text: string): number | undefined => {
    let s = text.trim()
    const first = s.charCodeAt(0)
    if (
      (first === 91 && s.charCodeAt(s.length - 1) === 93) ||
      (first === 34 && s.charCodeAt(s.length - 1) === 34)
    ) {
      s = s.slice(1, -1).trim()
    }
    for (let i = 0; i < count; i++) {
      const t = parsers[i]!(s)
      if (t !== undefined) return t
    }
    return undefined
  }
}

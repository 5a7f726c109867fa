// What every parser is (a line in, a record value and optional event time out) and the steps they
// share with fluentd's `<parse>` section: time key, `types`, null values, config problems.

import { ConfigError, type ConfigIssue, SquallError } from '../../core/errors.ts'
import { compileTime, type TimeFormat } from '../../core/time.ts'

/** A parsed record's fields. */
export type Fields = { [field: string]: unknown }

/** The result of parsing one line: the record value and, when the line carries one, its event time (ms). */
export interface ParsedRecord {
  value: Fields
  time?: number
}

/**
 * A parser: created once from its config, then `parse` is called per line on the hot path.
 * `parse` returns `undefined` when the line does not match the format (callers count and skip it;
 * {@link parseOrThrow} turns that into an ERR_PARSE error). It never throws for bad input and keeps
 * no state between lines, so one instance may serve many sources.
 */
export interface Parser {
  readonly type: string
  parse(line: string): ParsedRecord | undefined
  /**
   * The fields of its records and their SQL types, when the format fixes them (`apache2`): what a
   * pipeline's SQL queries see as the source's columns. Absent when fields depend on the input.
   */
  readonly columns?: { readonly [field: string]: string }
}

/** Options shared by the parsers, after fluentd's `<parse>` parameters (camelCase). */
export interface ParseOptions {
  /** Field holding the event time; it is removed from the record unless `keepTimeKey`. */
  timeKey?: string | undefined
  /** How the time field is written (strftime format, `iso8601`, `unix`, `unix_ms`; a list tries each). */
  timeFormat?: TimeFormat | readonly TimeFormat[] | undefined
  /** Zone of times written without one: `UTC` (default), `+09:00` or an IANA name. */
  timezone?: string | undefined
  /** Keep the time field in the record (as the original text). Default false. */
  keepTimeKey?: boolean | undefined
  /** Field conversions: `"code:integer,size:integer,at:time:%d/%m/%Y"` or `{ code: 'integer' }`. */
  types?: string | { [field: string]: string } | undefined
  /** Values matching this pattern entirely become `null` (fluentd's `null_value_pattern`). */
  nullValuePattern?: string | RegExp | undefined
  /** Empty string values become `null`. Default false. */
  nullEmptyString?: boolean | undefined
}

/** Collects config problems so that all are reported together in one ConfigError. */
export type Issues = ConfigIssue[]

/** Shortens a line for an error message. */
export function excerpt(line: string): string {
  return JSON.stringify(line.length > 120 ? `${line.slice(0, 117)}...` : line)
}

/** The ERR_PARSE error for a line a parser of `type` could not read; `reason` says what failed. */
export function parseError(
  type: string,
  line: string,
  reason = 'the line does not match the format',
): SquallError {
  return new SquallError('ERR_PARSE', `parser ${type}: ${reason}: ${excerpt(line)}`)
}

/** Parses `line` or throws ERR_PARSE naming the parser type and the (truncated) line. */
export function parseOrThrow(parser: Parser, line: string): ParsedRecord {
  const parsed = parser.parse(line)
  if (parsed === undefined) throw parseError(parser.type, line)
  return parsed
}

type Convert = (value: string) => unknown

/** Ruby's `String#to_i`: leading integer, 0 when there is none. */
export function toInteger(value: string): number {
  const n = Number.parseInt(value, 10)
  return Number.isNaN(n) ? 0 : n
}

/** Ruby's `String#to_f`: leading decimal number, 0 when there is none. */
export function toFloat(value: string): number {
  const n = Number.parseFloat(value)
  return Number.isNaN(n) ? 0 : n
}

const INVALID = Symbol('invalid')

function typeConverter(
  spec: string,
  path: string,
  issues: Issues,
  timezone: string | undefined,
): Convert | undefined {
  const colon = spec.indexOf(':')
  const name = colon < 0 ? spec : spec.slice(0, colon)
  const option = colon < 0 ? undefined : spec.slice(colon + 1)
  switch (name) {
    case 'string':
      return (v) => v
    case 'integer':
      return toInteger
    case 'float':
      return toFloat
    case 'bool':
      return (v) => v === 'true' || v === 'yes' || v === '1'
    case 'array': {
      const delimiter = option || ','
      return (v) => v.split(delimiter)
    }
    case 'time': {
      try {
        const convert = compileTime({ format: option || undefined, timezone, numbers: 's' })
        return (v) => convert(v) ?? INVALID
      } catch (e) {
        issues.push({ path, message: (e as Error).message })
        return undefined
      }
    }
    default:
      issues.push({
        path,
        message: `expected one of "string", "integer", "float", "bool", "time", "array", got ${JSON.stringify(name)}`,
      })
      return undefined
  }
}

/** Reads `types` into converters by field; problems go to `issues` under `path`. */
function typeConverters(
  options: ParseOptions,
  path: string,
  issues: Issues,
): Map<string, Convert> | undefined {
  const types = options.types
  if (types === undefined) return undefined
  const entries: [string, string][] = []
  if (typeof types === 'string') {
    for (const item of types.split(',')) {
      const s = item.trim()
      if (s === '') continue
      const colon = s.indexOf(':')
      if (colon <= 0) {
        issues.push({
          path: `${path}.types`,
          message: `expected "field:type" like "code:integer", got ${JSON.stringify(s)}`,
        })
        continue
      }
      entries.push([s.slice(0, colon), s.slice(colon + 1)])
    }
  } else if (typeof types === 'object' && types !== null) {
    for (const [field, spec] of Object.entries(types)) entries.push([field, String(spec)])
  } else {
    issues.push({
      path: `${path}.types`,
      message: `expected a string like "code:integer" or an object, got ${JSON.stringify(types)}`,
    })
  }
  const out = new Map<string, Convert>()
  for (const [field, spec] of entries) {
    const c = typeConverter(spec, `${path}.types.${field}`, issues, options.timezone)
    if (c) out.set(field, c)
  }
  return out.size > 0 ? out : undefined
}

/**
 * Builds the step that turns raw string fields into a ParsedRecord: takes the event time from
 * `timeKey` (default `defaultTimeKey`), applies null values and `types`. Config problems go to
 * `issues`. The step returns `undefined` when the time or a `time` type does not parse, as fluentd
 * rejects such lines. It mutates and keeps the fields object it is given.
 */
export function recordBuilder(
  options: ParseOptions,
  path: string,
  issues: Issues,
  defaults: { timeKey?: string; timeFormat?: TimeFormat | readonly TimeFormat[]; numbers?: 'ms' | 's' } = {},
): (fields: Fields) => ParsedRecord | undefined {
  const timeKey = options.timeKey ?? defaults.timeKey
  const keep = options.keepTimeKey === true
  let convertTime: ((v: unknown) => number | undefined) | undefined
  try {
    convertTime = compileTime({
      format: options.timeFormat ?? defaults.timeFormat,
      timezone: options.timezone,
      numbers: defaults.numbers ?? 's',
    })
  } catch (e) {
    issues.push({ path: `${path}.timeFormat`, message: (e as Error).message })
  }
  const converters = typeConverters(options, path, issues)
  let nullPattern: RegExp | undefined
  if (options.nullValuePattern !== undefined) {
    const p = options.nullValuePattern
    try {
      nullPattern = new RegExp(`^(?:${p instanceof RegExp ? p.source : p})$`)
    } catch (e) {
      issues.push({
        path: `${path}.nullValuePattern`,
        message: `expected a regular expression: ${(e as Error).message}`,
      })
    }
  }
  const nullEmpty = options.nullEmptyString === true
  const convertValues = converters !== undefined || nullPattern !== undefined || nullEmpty

  return (fields) => {
    let time: number | undefined
    if (timeKey !== undefined) {
      const raw = fields[timeKey]
      if (raw !== undefined && raw !== null) {
        time = convertTime!(raw)
        if (time === undefined) return undefined
        if (!keep) delete fields[timeKey]
      }
    }
    if (convertValues) {
      for (const key in fields) {
        const v = fields[key]
        if (typeof v !== 'string') continue
        if ((nullEmpty && v === '') || nullPattern?.test(v)) {
          fields[key] = null
          continue
        }
        const c = converters?.get(key)
        if (c !== undefined) {
          const converted = c(v)
          if (converted === INVALID) return undefined
          fields[key] = converted
        }
      }
    }
    return time === undefined ? { value: fields } : { value: fields, time }
  }
}

/** Levenshtein distance, for "did you mean" suggestions. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    prev = row
  }
  return prev[b.length]!
}

/** The closest of `names` to `word` when it is close enough to be a likely typo. */
export function closestName(word: string, names: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Number.POSITIVE_INFINITY
  for (const name of names) {
    const d = distance(word.toLowerCase(), name)
    if (d < bestDistance) {
      bestDistance = d
      best = name
    }
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined
}

/** The message for an unknown `type`: the choices, and a suggestion when one is close. */
export function unknownTypeMessage(type: unknown, names: readonly string[]): string {
  const hint = typeof type === 'string' ? closestName(type, names) : undefined
  const choices = names.map((n) => JSON.stringify(n)).join(', ')
  return `expected one of ${choices}, got ${JSON.stringify(type)}${hint ? `; did you mean "${hint}"?` : ''}`
}

/** Throws one ConfigError listing every collected problem, if there are any. */
export function throwIfIssues(issues: Issues): void {
  if (issues.length > 0) throw new ConfigError(issues)
}

// What every formatter is (a record in, text or bytes out) and the steps they share with fluentd's
// `<format>` and `<inject>` sections: adding the time and tag, the trailing newline.

import { type ConfigIssue, SquallError } from '../../core/errors.ts'
import type { Record } from '../../core/record.ts'
import { compileTimeFormatter } from '../../core/time.ts'

/**
 * A formatter: created once from its config, then `format` is called per record on the hot path.
 * It does not mutate the record. It throws ERR_FORMAT when a record cannot be written in its format
 * (callers apply their node's error policy), and never keeps state between records.
 */
export interface Formatter {
  readonly type: string
  format(record: Record): string | Uint8Array
}

/** Options for adding the record's time and tag to the written fields (fluentd's `<inject>`). */
export interface InjectOptions {
  /** Add the event time as `timeKey`. Default false. */
  includeTimeKey?: boolean | undefined
  /** Field for the time. Default `time`. */
  timeKey?: string | undefined
  /** How the time is written: `unix` (seconds, default), `unix_ms`, `iso8601` or a strftime format. */
  timeFormat?: string | undefined
  /** Zone in which `iso8601` and strftime formats show the time. Default UTC. */
  timezone?: string | undefined
  /** Add the record's tag as `tagKey`. Default false. */
  includeTagKey?: boolean | undefined
  /** Field for the tag. Default `tag`. */
  tagKey?: string | undefined
}

/** Options of the text formatters. */
export interface TextOptions {
  /** End each output with `\n`. Default true, as in fluentd. */
  addNewline?: boolean | undefined
}

export type Fields = { [field: string]: unknown }

/** The ERR_FORMAT error for a record a formatter of `type` cannot write. */
export function formatError(type: string, reason: string, value: unknown): SquallError {
  let shown: string
  try {
    shown = JSON.stringify(value) ?? String(value)
  } catch {
    shown = String(value)
  }
  if (shown.length > 120) shown = `${shown.slice(0, 117)}...`
  return new SquallError('ERR_FORMAT', `formatter ${type}: ${reason}, got ${shown}`)
}

/**
 * Compiles the step giving the fields a formatter writes: the record value itself when nothing is
 * injected (no copy), else a shallow copy with the time and tag added. Values that are not plain
 * objects are written under `messageKey` when something is injected. Config problems go to `issues`.
 */
export function fieldsOf(
  options: InjectOptions,
  path: string,
  issues: ConfigIssue[],
  messageKey = 'message',
): (record: Record) => unknown {
  const addTime = options.includeTimeKey === true
  const addTag = options.includeTagKey === true
  if (!addTime && !addTag) return (record) => record.value
  const timeKey = options.timeKey ?? 'time'
  const tagKey = options.tagKey ?? 'tag'
  const timeFormat = options.timeFormat ?? 'unix'
  let time: (ms: number) => unknown = (ms) => ms / 1000
  if (timeFormat === 'unix_ms') time = (ms) => ms
  else if (timeFormat !== 'unix') {
    try {
      time = compileTimeFormatter(timeFormat, options.timezone)
    } catch (e) {
      issues.push({ path: `${path}.timeFormat`, message: (e as Error).message })
    }
  }
  return (record) => {
    const v = record.value
    const out: Fields =
      v !== null && typeof v === 'object' && !Array.isArray(v) ? { ...(v as Fields) } : { [messageKey]: v }
    if (addTag) out[tagKey] = record.tag
    if (addTime) out[timeKey] = time(record.time)
    return out
  }
}

/** True for values `ltsv` and `csv` can write as fields. */
export function isFields(value: unknown): value is Fields {
  return (
    value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Uint8Array)
  )
}

/** Text of one field value: strings as they are, null/undefined empty, objects as JSON. */
export function fieldText(value: unknown): string {
  if (typeof value === 'string') return value
  if (value === null || value === undefined) return ''
  if (typeof value === 'object') return JSON.stringify(value)
  return String(value)
}

// The json formatter: one JSON document per record, as fluentd's `json` formatter.

import type { ConfigIssue } from '../../core/errors.ts'
import { ConfigError } from '../../core/errors.ts'
import { type Formatter, fieldsOf, formatError, type InjectOptions, type TextOptions } from './formatter.ts'

export interface JsonFormatterOptions extends InjectOptions, TextOptions {}

/**
 * Writes the record value as JSON (with the time and tag added when asked), one line per record.
 * Throws ERR_FORMAT for values JSON cannot represent (cycles, BigInt, undefined).
 */
export function jsonFormatter(options: JsonFormatterOptions = {}, path = 'formatter'): Formatter {
  const issues: ConfigIssue[] = []
  const fields = fieldsOf(options, path, issues)
  if (issues.length > 0) throw new ConfigError(issues)
  const newline = options.addNewline !== false
  return {
    type: 'json',
    format(record) {
      const value = fields(record)
      let text: string | undefined
      try {
        text = JSON.stringify(value)
      } catch (e) {
        throw formatError(
          'json',
          `the value cannot be written as JSON (${(e as Error).message})`,
          String(value),
        )
      }
      if (text === undefined) throw formatError('json', 'the value cannot be written as JSON', String(value))
      return newline ? `${text}\n` : text
    },
  }
}

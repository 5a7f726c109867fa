// The single_value formatter: one field of each record as plain text, as fluentd's `single_value`.

import { type Formatter, fieldText, isFields, type TextOptions } from './formatter.ts'

export interface SingleValueFormatterOptions extends TextOptions {
  /** The field written. Default `message`. */
  messageKey?: string | undefined
}

/**
 * Writes `value[messageKey]` as text (a missing field is an empty line; nested values are JSON).
 * A value that is itself a string is written as it is. Never throws.
 */
export function singleValueFormatter(options: SingleValueFormatterOptions = {}): Formatter {
  const key = options.messageKey ?? 'message'
  const newline = options.addNewline !== false
  return {
    type: 'single_value',
    format(record) {
      const v = record.value
      const text = typeof v === 'string' ? v : isFields(v) ? fieldText(v[key]) : fieldText(v)
      return newline ? `${text}\n` : text
    },
  }
}

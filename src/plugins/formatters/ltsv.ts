// The ltsv formatter: `label:value` pairs separated by tabs, as fluentd's `ltsv` formatter.

import type { ConfigIssue } from '../../core/errors.ts'
import { ConfigError } from '../../core/errors.ts'
import {
  type Formatter,
  fieldsOf,
  fieldText,
  formatError,
  type InjectOptions,
  isFields,
  type TextOptions,
} from './formatter.ts'

export interface LtsvFormatterOptions extends InjectOptions, TextOptions {
  /** Separator between pairs. Default a tab. */
  delimiter?: string | undefined
  /** Separator between label and value. Default `:`. */
  labelDelimiter?: string | undefined
  /** Written instead of a delimiter found inside a value, so the output stays valid LTSV. Default a space. */
  replacement?: string | undefined
}

/**
 * Writes the fields of the record value as LTSV, in their insertion order; nested values are JSON,
 * null is empty. Throws ERR_FORMAT when the value is not an object.
 */
export function ltsvFormatter(options: LtsvFormatterOptions = {}, path = 'formatter'): Formatter {
  const issues: ConfigIssue[] = []
  const fields = fieldsOf(options, path, issues)
  if (issues.length > 0) throw new ConfigError(issues)
  const delimiter = options.delimiter ?? '\t'
  const label = options.labelDelimiter ?? ':'
  const replacement = options.replacement ?? ' '
  const newline = options.addNewline !== false
  return {
    type: 'ltsv',
    format(record) {
      const value = fields(record)
      if (!isFields(value)) throw formatError('ltsv', 'expected an object value', value)
      let out = ''
      let first = true
      for (const key in value) {
        let text = fieldText(value[key])
        if (text.includes(delimiter)) text = text.split(delimiter).join(replacement)
        out += first ? `${key}${label}${text}` : `${delimiter}${key}${label}${text}`
        first = false
      }
      return newline ? `${out}\n` : out
    },
  }
}

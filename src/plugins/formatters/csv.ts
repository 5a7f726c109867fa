// The csv formatter: the chosen fields of each record as one CSV line, as fluentd's `csv` formatter.

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

export interface CsvFormatterOptions extends InjectOptions, TextOptions {
  /** Fields to write, in order: `['host', 'code']` or `"host,code"`. Required. */
  fields: readonly string[] | string
  /** Column separator. Default `,`. */
  delimiter?: string | undefined
  /** Quote every value (fluentd's default, true); when false only values that need it are quoted. */
  forceQuotes?: boolean | undefined
}

/**
 * Writes the listed fields of the record value as one CSV line (RFC 4180 quoting, `"` doubled);
 * a missing field is an empty value. Throws ConfigError without `fields`, ERR_FORMAT when the value
 * is not an object.
 */
export function csvFormatter(options: CsvFormatterOptions, path = 'formatter'): Formatter {
  const issues: ConfigIssue[] = []
  const raw = options?.fields
  const names =
    typeof raw === 'string' ? raw.split(',').map((f) => f.trim()) : Array.isArray(raw) ? [...raw] : []
  if (names.length === 0 || names.some((n) => typeof n !== 'string' || n === '')) {
    issues.push({
      path: `${path}.fields`,
      message: `expected field names like ["host", "code"] or "host,code", got ${JSON.stringify(raw)}`,
    })
  }
  const fields = fieldsOf(options ?? {}, path, issues)
  if (issues.length > 0) throw new ConfigError(issues)
  const delimiter = options.delimiter ?? ','
  const force = options.forceQuotes !== false
  const newline = options.addNewline !== false
  const quote = (text: string): string => {
    if (
      force ||
      text.includes(delimiter) ||
      text.includes('"') ||
      text.includes('\n') ||
      text.includes('\r')
    ) {
      return `"${text.replaceAll('"', '""')}"`
    }
    return text
  }
  return {
    type: 'csv',
    format(record) {
      const value = fields(record)
      if (!isFields(value)) throw formatError('csv', 'expected an object value', value)
      let out = ''
      for (let i = 0; i < names.length; i++) {
        if (i > 0) out += delimiter
        out += quote(fieldText(value[names[i]!]))
      }
      return newline ? `${out}\n` : out
    },
  }
}

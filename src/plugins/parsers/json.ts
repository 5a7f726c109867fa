// The json parser: one JSON object per line, as fluentd's `json` parser reads it.

import { type Issues, type ParseOptions, type Parser, recordBuilder, throwIfIssues } from './parser.ts'

/**
 * Parses a line holding one JSON object. `timeKey` (default `time`) gives the event time: a number
 * is seconds since the epoch (fluentd's habit; fractions kept to the ms), a string is read with
 * `timeFormat` (default ISO-8601). Lines that are not JSON, or JSON that is not an object, give
 * `undefined`. Throws ConfigError for invalid options.
 */
export function jsonParser(options: ParseOptions = {}, path = 'parser'): Parser {
  const issues: Issues = []
  const build = recordBuilder(options, path, issues, { timeKey: 'time' })
  throwIfIssues(issues)
  return {
    type: 'json',
    parse(line) {
      let value: unknown
      try {
        value = JSON.parse(line)
      } catch {
        return undefined
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined
      return build(value as { [field: string]: unknown })
    },
  }
}

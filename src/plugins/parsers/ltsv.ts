// The ltsv parser: Labeled Tab-Separated Values (`host:127.0.0.1<TAB>req_id:111`), as in fluentd.

import {
  type Fields,
  type Issues,
  type ParseOptions,
  type Parser,
  recordBuilder,
  throwIfIssues,
} from './parser.ts'

export interface LtsvParserOptions extends ParseOptions {
  /** Separator between pairs: a string (default a tab) or a RegExp such as `/\s+/`. */
  delimiter?: string | RegExp | undefined
  /** Separator between label and value; the first one in a pair splits it. Default `:`. */
  labelDelimiter?: string | undefined
}

/**
 * Parses LTSV: every pair containing the label delimiter becomes a string field (pairs without it
 * are skipped, as fluentd does); `timeKey` (default `time`) gives the event time, read with
 * `timeFormat` (default ISO-8601, e.g. `2013/02/28 12:00:00`). Never fails on the shape of a line;
 * gives `undefined` only when the time does not parse. Throws ConfigError for invalid options.
 */
export function ltsvParser(options: LtsvParserOptions = {}, path = 'parser'): Parser {
  const issues: Issues = []
  const delimiter = options.delimiter ?? '\t'
  const label = options.labelDelimiter ?? ':'
  if (delimiter === '')
    issues.push({ path: `${path}.delimiter`, message: 'expected a non-empty string or a RegExp, got ""' })
  if (typeof label !== 'string' || label === '') {
    issues.push({
      path: `${path}.labelDelimiter`,
      message: `expected a non-empty string, got ${JSON.stringify(label)}`,
    })
  }
  const build = recordBuilder(options, path, issues, { timeKey: 'time' })
  throwIfIssues(issues)
  return {
    type: 'ltsv',
    parse(line) {
      const fields: Fields = {}
      const pairs = line.split(delimiter)
      for (let i = 0; i < pairs.length; i++) {
        const pair = pairs[i]!
        const at = pair.indexOf(label)
        if (at < 0) continue
        fields[pair.slice(0, at)] = pair.slice(at + label.length)
      }
      return build(fields)
    },
  }
}

// The csv and tsv parsers: values separated by a delimiter, named by a list of keys, as in fluentd.

import {
  type Fields,
  type Issues,
  type ParseOptions,
  type Parser,
  recordBuilder,
  throwIfIssues,
} from './parser.ts'

export interface DelimitedParserOptions extends ParseOptions {
  /** Field names in column order: `['time', 'host']` or `"time,host"`. Required. */
  keys: readonly string[] | string
  /** Column separator: `,` for csv, a tab for tsv by default. */
  delimiter?: string | undefined
}

function readKeys(options: DelimitedParserOptions, path: string, issues: Issues): string[] {
  const raw = options.keys
  const keys =
    typeof raw === 'string' ? raw.split(',').map((k) => k.trim()) : Array.isArray(raw) ? [...raw] : []
  if (keys.length === 0 || keys.some((k) => typeof k !== 'string' || k === '')) {
    issues.push({
      path: `${path}.keys`,
      message: `expected field names like ["time", "host"] or "time,host", got ${JSON.stringify(raw)}`,
    })
  }
  return keys
}

const INVALID = 1
let status = 0

/**
 * Splits one CSV line (RFC 4180 quoting: `"a,b"`, `"say ""hi"""`) into values, like Ruby's
 * `CSV.parse_line`: an empty unquoted value is `null`, a quoted empty value is `""`. Sets `status`
 * to INVALID (and returns what it has) for a stray quote or text after a closing quote.
 */
function splitCsv(line: string, delimiter: string): (string | null)[] {
  status = 0
  const out: (string | null)[] = []
  const dlen = delimiter.length
  let i = 0
  const len = line.length
  for (;;) {
    if (line.charCodeAt(i) === 34) {
      let value = ''
      let start = i + 1
      for (;;) {
        const q = line.indexOf('"', start)
        if (q < 0) {
          status = INVALID
          return out
        }
        value += line.slice(start, q)
        if (line.charCodeAt(q + 1) === 34) {
          value += '"'
          start = q + 2
          continue
        }
        i = q + 1
        break
      }
      out.push(value)
      if (i === len) return out
      if (!line.startsWith(delimiter, i)) {
        status = INVALID
        return out
      }
      i += dlen
      continue
    }
    let end = line.indexOf(delimiter, i)
    if (end < 0) end = len
    const value = line.slice(i, end)
    if (value.includes('"')) {
      status = INVALID
      return out
    }
    out.push(value === '' ? null : value)
    if (end === len) return out
    i = end + dlen
  }
}

function delimitedParser(
  type: 'csv' | 'tsv',
  options: DelimitedParserOptions,
  path: string,
  split: (line: string, delimiter: string) => (string | null)[] | undefined,
  defaultDelimiter: string,
): Parser {
  const issues: Issues = []
  const keys = readKeys(options, path, issues)
  const delimiter = options.delimiter ?? defaultDelimiter
  if (typeof delimiter !== 'string' || delimiter === '') {
    issues.push({
      path: `${path}.delimiter`,
      message: `expected a non-empty string, got ${JSON.stringify(delimiter)}`,
    })
  }
  const build = recordBuilder(options, path, issues)
  throwIfIssues(issues)
  const n = keys.length
  return {
    type,
    parse(line) {
      const values = split(line, delimiter)
      if (values === undefined) return undefined
      const fields: Fields = {}
      for (let k = 0; k < n; k++) fields[keys[k]!] = k < values.length ? values[k] : null
      return build(fields)
    },
  }
}

/**
 * Parses CSV lines into fields named by `keys` (extra values are dropped, missing ones are `null`),
 * as fluentd's `csv`. Values are strings; `timeKey` has no default. Lines with broken quoting give
 * `undefined`. Throws ConfigError when `keys` is missing.
 */
export function csvParser(options: DelimitedParserOptions, path = 'parser'): Parser {
  return delimitedParser(
    'csv',
    options,
    path,
    (line, delimiter) => {
      const values = splitCsv(line, delimiter)
      return status === INVALID ? undefined : values
    },
    ',',
  )
}

/** Parses tab-separated lines (no quoting) into fields named by `keys`, as fluentd's `tsv`. */
export function tsvParser(options: DelimitedParserOptions, path = 'parser'): Parser {
  return delimitedParser('tsv', options, path, (line, delimiter) => line.split(delimiter), '\t')
}

// The multiline parser: records spanning several lines (stack traces, Rails logs), found by a
// first-line expression and read by joined `format` expressions, as fluentd's `multiline`.

import {
  type Issues,
  type ParsedRecord,
  type ParseOptions,
  type Parser,
  parseError,
  recordBuilder,
  throwIfIssues,
} from './parser.ts'
import { compileRubyRegExp, namedGroupsParse } from './regexp.ts'

export interface MultilineParserOptions extends ParseOptions {
  /** Expression matching the first line of a record, e.g. `/^\d{4}-\d{2}-\d{2}/`. */
  formatFirstline?: string | RegExp | undefined
  /** Expression(s) with named groups, joined in order (fluentd's `format1`…`formatN`); `.` matches newlines. */
  format: string | RegExp | readonly (string | RegExp)[]
}

/**
 * A parser that also joins lines. `parse(text)` reads text whose lines are already joined with
 * `\n`. `feed(line)` is stateful: it buffers continuation lines and returns the previous record when
 * a new first line arrives; `flush()` returns the buffered record at the end of input (or on a
 * flush timeout). Both throw ERR_PARSE when the joined text does not match `format`, or when a line
 * comes before any first line; the buffer is consistent afterwards, so callers count and go on.
 * One instance serves one stream of lines.
 */
export interface MultilineParser extends Parser {
  feed(line: string): ParsedRecord | undefined
  flush(): ParsedRecord | undefined
}

function sourceOf(expression: string | RegExp): string {
  if (expression instanceof RegExp) return expression.source
  const slashed = /^\/([\s\S]*)\/[imx]*$/.exec(expression.trim())
  return slashed ? slashed[1]! : expression
}

/** Builds a multiline parser; throws ConfigError for a missing or invalid expression. */
export function multilineParser(options: MultilineParserOptions, path = 'parser'): MultilineParser {
  const issues: Issues = []
  const formats = Array.isArray(options.format)
    ? options.format
    : options.format === undefined
      ? []
      : [options.format]
  let parseJoined: Parser['parse'] = () => undefined
  if (formats.length === 0 || formats.some((f) => typeof f !== 'string' && !(f instanceof RegExp))) {
    issues.push({
      path: `${path}.format`,
      message: `expected one or more regular expressions with named groups, got ${JSON.stringify(options.format)}`,
    })
  }
  let firstline: RegExp | undefined
  if (options.formatFirstline !== undefined) {
    try {
      firstline = compileRubyRegExp(options.formatFirstline).re
    } catch (e) {
      issues.push({
        path: `${path}.formatFirstline`,
        message: `invalid regular expression: ${(e as Error).message}`,
      })
    }
  }
  const build = recordBuilder(options, path, issues, { timeKey: 'time' })
  if (issues.length === 0) {
    try {
      parseJoined = namedGroupsParse(compileRubyRegExp(formats.map(sourceOf).join(''), 's'), build)
    } catch (e) {
      issues.push({ path: `${path}.format`, message: `invalid regular expression: ${(e as Error).message}` })
    }
  }
  throwIfIssues(issues)

  let buffer: string | undefined
  const complete = (text: string): ParsedRecord => {
    const parsed = parseJoined(text)
    if (parsed === undefined) throw parseError('multiline', text)
    return parsed
  }
  return {
    type: 'multiline',
    parse: parseJoined,
    feed(line) {
      if (firstline === undefined) {
        buffer = buffer === undefined ? line : `${buffer}\n${line}`
        const parsed = parseJoined(buffer)
        if (parsed !== undefined) buffer = undefined
        return parsed
      }
      if (firstline.test(line)) {
        const previous = buffer
        buffer = line
        return previous === undefined ? undefined : complete(previous)
      }
      if (buffer === undefined)
        throw parseError('multiline', line, 'a line comes before any line matching formatFirstline')
      buffer += `\n${line}`
      return undefined
    },
    flush() {
      const previous = buffer
      buffer = undefined
      return previous === undefined ? undefined : complete(previous)
    },
  }
}

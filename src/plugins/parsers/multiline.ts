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
 * What a {@link LineJoiner} completed: the lines of one record joined with `\n`, and the record
 * `format` reads from them.
 */
export interface JoinedText {
  readonly text: string
  /** How many lines `text` has. */
  readonly lines: number
  /** The record; `undefined` when `format` does not match `text`, or for an orphan line. */
  readonly record: ParsedRecord | undefined
  /** True for a line that came before any line matching `formatFirstline`: it starts no record. */
  readonly orphan: boolean
}

/**
 * Joins one stream of lines (one file) into records. With `formatFirstline`, `feed` holds each
 * line until the next first line arrives and then returns the record held before it; without,
 * it returns the held lines as soon as together they match `format`. `flush` returns what is held
 * (at the end of input, or when no line came for a while). Never throws: a text `format` does not
 * match, or an orphan line, comes back with `record` undefined, and the joiner goes on. Not safe
 * to share between streams: create one per stream with {@link MultilineParser.joiner}.
 */
export interface LineJoiner {
  feed(line: string): JoinedText | undefined
  flush(): JoinedText | undefined
  /** How many lines are held for the record in progress. */
  size(): number
  /** A copy of the lines held for the record in progress, oldest first. */
  held(): string[]
}

/**
 * A parser that also joins lines. `parse(text)` reads text whose lines are already joined with
 * `\n`. `joiner()` gives an independent {@link LineJoiner} per stream of lines: what the line
 * inputs (file, tail, stdin, syslog) use, one per file. `feed(line)` and `flush()` are those of one
 * joiner kept by the parser, throwing ERR_PARSE where that joiner reports a text `format` does
 * not match or a line before any first line; the buffer is consistent afterwards, so callers
 * count and go on.
 */
export interface MultilineParser extends Parser {
  joiner(): LineJoiner
  feed(line: string): ParsedRecord | undefined
  flush(): ParsedRecord | undefined
}

/** True for a parser that joins lines into records (a {@link MultilineParser}). */
export function isMultilineParser(parser: Parser | undefined): parser is MultilineParser {
  return typeof (parser as Partial<MultilineParser> | undefined)?.joiner === 'function'
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

  const joiner = (): LineJoiner => {
    let held: string[] = []
    const joined = (lines: string[], orphan: boolean): JoinedText => {
      const text = lines.length === 1 ? lines[0]! : lines.join('\n')
      return { text, lines: lines.length, record: orphan ? undefined : parseJoined(text), orphan }
    }
    return {
      feed(line) {
        if (firstline === undefined) {
          held.push(line)
          const text = held.length === 1 ? line : held.join('\n')
          const record = parseJoined(text)
          if (record === undefined) return undefined
          const lines = held.length
          held = []
          return { text, lines, record, orphan: false }
        }
        if (firstline.test(line)) {
          const previous = held
          held = [line]
          return previous.length === 0 ? undefined : joined(previous, false)
        }
        if (held.length === 0) return joined([line], true)
        held.push(line)
        return undefined
      },
      flush() {
        const previous = held
        held = []
        return previous.length === 0 ? undefined : joined(previous, false)
      },
      size: () => held.length,
      held: () => held.slice(),
    }
  }

  const own = joiner()
  const complete = (j: JoinedText | undefined): ParsedRecord | undefined => {
    if (j === undefined || j.record !== undefined) return j?.record
    throw j.orphan
      ? parseError('multiline', j.text, 'a line comes before any line matching formatFirstline')
      : parseError('multiline', j.text)
  }
  return {
    type: 'multiline',
    parse: parseJoined,
    joiner,
    feed: (line) => complete(own.feed(line)),
    flush: () => complete(own.flush()),
  }
}

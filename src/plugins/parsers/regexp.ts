// The regexp parser: named groups of a fluentd-style (Ruby) regular expression become fields. Also
// the translation of Ruby regular expressions to JavaScript that the other line parsers share.

import {
  type Fields,
  type Issues,
  type ParseOptions,
  type Parser,
  recordBuilder,
  throwIfIssues,
} from './parser.ts'

/** A compiled expression whose named groups were turned into numbered ones (no `groups` object per match). */
export interface NamedRegExp {
  readonly re: RegExp
  /** `names[i]` is the name of capture group `i + 1`, or `''` for an unnamed group. */
  readonly names: readonly string[]
}

const RUBY_ESCAPES: { [c: string]: string } = {
  A: '(?<![\\s\\S])',
  z: '(?![\\s\\S])',
  Z: '(?=\\n?(?![\\s\\S]))',
  h: '[0-9a-fA-F]',
  H: '[^0-9a-fA-F]',
}

/**
 * Compiles a Ruby-style expression: `/source/flags` (flags `i`, `m`, `x` ignored) or a bare source,
 * or a RegExp. Ruby's meanings are kept: `^`/`$` match at line boundaries, `/m` lets `.` match a
 * newline, `\A`, `\z`, `\Z`, `\h` work. Named groups become numbered groups listed in `names`.
 * Throws SyntaxError for an invalid expression.
 */
export function compileRubyRegExp(expression: string | RegExp, extraFlags = ''): NamedRegExp {
  let source: string
  let flags = 'm'
  if (expression instanceof RegExp) {
    source = expression.source
    if (expression.flags.includes('i')) flags += 'i'
    if (expression.flags.includes('s')) flags += 's'
  } else {
    const slashed = /^\/([\s\S]*)\/([imx]*)$/.exec(expression.trim())
    source = slashed ? slashed[1]! : expression
    const rubyFlags = slashed ? slashed[2]! : ''
    if (rubyFlags.includes('i')) flags += 'i'
    if (rubyFlags.includes('m')) flags += 's'
  }
  for (const f of extraFlags) if (!flags.includes(f)) flags += f
  const names: string[] = []
  let out = ''
  let inClass = false
  let keepNames = false
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!
    if (c === '\\') {
      const next = source[i + 1] ?? ''
      i++
      if (next === 'k' && source[i + 1] === '<') keepNames = true
      const ruby = inClass ? undefined : RUBY_ESCAPES[next]
      out += ruby ?? `\\${next}`
      continue
    }
    if (inClass) {
      if (c === ']') inClass = false
      out += c
      continue
    }
    if (c === '[') {
      inClass = true
      out += c
      if (source[i + 1] === '^') out += source[++i]
      continue
    }
    if (c === '(') {
      if (source[i + 1] !== '?') {
        names.push('')
        out += c
        continue
      }
      const after = source[i + 2]
      if ((after === '<' || after === "'") && source[i + 3] !== '=' && source[i + 3] !== '!') {
        const close = after === '<' ? '>' : "'"
        const end = source.indexOf(close, i + 3)
        if (end > 0) {
          names.push(source.slice(i + 3, end))
          out += keepNames ? `(?<${source.slice(i + 3, end)}>` : '('
          i = end
          continue
        }
      }
    }
    out += c
  }
  if (keepNames) {
    const re = new RegExp(source, flags)
    return { re, names: [] }
  }
  return { re: new RegExp(out, flags), names }
}

export interface RegexpParserOptions extends ParseOptions {
  /** The expression, fluentd style: `/^(?<host>[^ ]*) (?<message>.*)$/` (with `i`/`m` flags) or a RegExp. */
  expression: string | RegExp
}

/**
 * Builds a parser from named groups: each group that took part in the match becomes a string field
 * (groups that did not are left out, as fluentd does); `timeKey` (default `time`) gives the event
 * time. `path` prefixes config problems, all reported in one ConfigError.
 */
export function regexpParser(options: RegexpParserOptions, path = 'parser', type = 'regexp'): Parser {
  const issues: Issues = []
  let compiled: NamedRegExp | undefined
  if (typeof options.expression !== 'string' && !(options.expression instanceof RegExp)) {
    issues.push({
      path: `${path}.expression`,
      message: `expected a regular expression like "/^(?<key>[^ ]*)$/", got ${JSON.stringify(options.expression)}`,
    })
  } else {
    try {
      compiled = compileRubyRegExp(options.expression)
      if (!compiled.names.some((n) => n !== '') && !/\(\?<[^=!]/.test(compiled.re.source)) {
        issues.push({
          path: `${path}.expression`,
          message: 'expected at least one named group like (?<field>...)',
        })
      }
    } catch (e) {
      issues.push({
        path: `${path}.expression`,
        message: `invalid regular expression: ${(e as Error).message}`,
      })
    }
  }
  const build = recordBuilder(options, path, issues, { timeKey: 'time' })
  throwIfIssues(issues)
  return { type, parse: namedGroupsParse(compiled!, build) }
}

/** The per-line step of regexp-style parsers: match, collect the groups that matched, build the record. */
export function namedGroupsParse(
  compiled: NamedRegExp,
  build: (fields: Fields) => ReturnType<Parser['parse']>,
): Parser['parse'] {
  const { re, names } = compiled
  const n = names.length
  if (n === 0) {
    return (line) => {
      const m = re.exec(line)
      if (m === null) return undefined
      const fields: Fields = {}
      for (const [k, v] of Object.entries(m.groups ?? {})) if (v !== undefined) fields[k] = v
      return build(fields)
    }
  }
  return (line) => {
    const m = re.exec(line)
    if (m === null) return undefined
    const fields: Fields = {}
    for (let g = 0; g < n; g++) {
      const name = names[g]!
      if (name === '') continue
      const v = m[g + 1]
      if (v !== undefined) fields[name] = v
    }
    return build(fields)
  }
}

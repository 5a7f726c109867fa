// Splits SQL text into tokens: words (keywords and identifiers), quoted identifiers, strings,
// numbers and operators, each with its line, column and offset. Comments and spaces are skipped.

import { syntaxError } from './sql-error.ts'

/**
 * The kinds of token:
 * - `word`: an unquoted identifier or keyword; `upper` holds it in upper case for keyword tests.
 * - `ident`: a quoted identifier (`` `a b` `` or `"a b"`), never a keyword; `text` is unquoted.
 * - `string`: a string literal; `text` has `''` already turned into `'`.
 * - `number`: a numeric literal as written (`42`, `0.908`, `1e-3`).
 * - `op`: punctuation and operators (`(`, `,`, `<=`, `||`, `=>`, ...).
 * - `eof`: the end of the text.
 */
export type TokenKind = 'word' | 'ident' | 'string' | 'number' | 'op' | 'eof'

/** One token. `offset` and `end` are 0-based offsets into the text; line and column are 1-based. */
export interface Token {
  readonly kind: TokenKind
  readonly text: string
  readonly upper: string
  readonly offset: number
  readonly end: number
  readonly line: number
  readonly column: number
}

const THREE_CHAR_OPS = new Set(['<=>'])
const TWO_CHAR_OPS = new Set(['<=', '>=', '<>', '!=', '||', '=>', '::'])
const ONE_CHAR_OPS = '()[]{},.;*+-/%=<>?|^$'

function isWordStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c > 127
}
function isWordPart(c: number): boolean {
  return isWordStart(c) || (c >= 48 && c <= 57) || c === 36
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57
}

/**
 * Tokenizes `sql`. The result always ends with one `eof` token. Throws ERR_SQL_SYNTAX (with the
 * line, column and a caret) for an unterminated string, quoted identifier or comment, or a
 * character that starts no token.
 */
export function tokenize(sql: string): Token[] {
  const tokens: Token[] = []
  const n = sql.length
  let i = 0
  let line = 1
  let lineStart = 0
  const push = (kind: TokenKind, text: string, start: number, end: number, upper = text) => {
    tokens.push({ kind, text, upper, offset: start, end, line, column: start - lineStart + 1 })
  }
  while (i < n) {
    const c = sql.charCodeAt(i)
    if (c === 10) {
      i++
      line++
      lineStart = i
      continue
    }
    if (c === 32 || c === 9 || c === 13 || c === 12) {
      i++
      continue
    }
    if (c === 45 && sql.charCodeAt(i + 1) === 45) {
      while (i < n && sql.charCodeAt(i) !== 10) i++
      continue
    }
    if (c === 47 && sql.charCodeAt(i + 1) === 42) {
      const close = sql.indexOf('*/', i + 2)
      if (close < 0) throw syntaxError(sql, i, 'unterminated comment: "/*" has no closing "*/"')
      for (let k = i; k < close; k++) {
        if (sql.charCodeAt(k) === 10) {
          line++
          lineStart = k + 1
        }
      }
      i = close + 2
      continue
    }
    const start = i
    if (isWordStart(c)) {
      while (i < n && isWordPart(sql.charCodeAt(i))) i++
      const text = sql.slice(start, i)
      push('word', text, start, i, text.toUpperCase())
      continue
    }
    if (isDigit(c) || (c === 46 && isDigit(sql.charCodeAt(i + 1)))) {
      while (i < n && isDigit(sql.charCodeAt(i))) i++
      if (sql.charCodeAt(i) === 46 && isDigit(sql.charCodeAt(i + 1))) {
        i++
        while (i < n && isDigit(sql.charCodeAt(i))) i++
      } else if (sql.charCodeAt(i) === 46 && !isWordStart(sql.charCodeAt(i + 1))) {
        i++
      }
      const e = sql.charCodeAt(i)
      if (e === 101 || e === 69) {
        let k = i + 1
        const sign = sql.charCodeAt(k)
        if (sign === 43 || sign === 45) k++
        if (isDigit(sql.charCodeAt(k))) {
          i = k
          while (i < n && isDigit(sql.charCodeAt(i))) i++
        }
      }
      push('number', sql.slice(start, i), start, i)
      continue
    }
    if (c === 39) {
      let text = ''
      i++
      for (;;) {
        const close = sql.indexOf("'", i)
        if (close < 0) throw syntaxError(sql, start, "unterminated string: add the closing quote '")
        text += sql.slice(i, close)
        if (sql.charCodeAt(close + 1) === 39) {
          text += "'"
          i = close + 2
        } else {
          i = close + 1
          break
        }
      }
      pushMultiline('string', text, start)
      continue
    }
    if (c === 96 || c === 34) {
      const q = sql[i]!
      let text = ''
      i++
      for (;;) {
        const close = sql.indexOf(q, i)
        if (close < 0) throw syntaxError(sql, start, `unterminated quoted identifier: add the closing ${q}`)
        text += sql.slice(i, close)
        if (sql[close + 1] === q) {
          text += q
          i = close + 2
        } else {
          i = close + 1
          break
        }
      }
      pushMultiline('ident', text, start)
      continue
    }
    const three = sql.slice(i, i + 3)
    if (THREE_CHAR_OPS.has(three)) {
      i += 3
      push('op', three, start, i)
      continue
    }
    const two = sql.slice(i, i + 2)
    if (TWO_CHAR_OPS.has(two)) {
      i += 2
      push('op', two === '!=' ? '<>' : two, start, i)
      continue
    }
    if (ONE_CHAR_OPS.includes(sql[i]!)) {
      i++
      push('op', sql[start]!, start, i)
      continue
    }
    throw syntaxError(sql, i, `unexpected character ${JSON.stringify(sql[i])}`)
  }
  tokens.push({ kind: 'eof', text: '', upper: '', offset: n, end: n, line, column: n - lineStart + 1 })
  return tokens

  function pushMultiline(kind: TokenKind, text: string, start: number): void {
    push(kind, text, start, i)
    for (let k = start; k < i; k++) {
      if (sql.charCodeAt(k) === 10) {
        line++
        lineStart = k + 1
      }
    }
  }
}

/** How a token is shown in an error message: `"FORM"`, `'abc'`, `","` or `end of input`. */
export function describeToken(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'end of input'
    case 'string':
      return `'${t.text.length > 40 ? `${t.text.slice(0, 37)}...` : t.text}'`
    default:
      return JSON.stringify(t.text)
  }
}

// The token cursor the SQL parser reads from: lookahead, keyword tests, and syntax errors that
// say what was expected, what came instead and which keyword a misspelled word probably meant.

import { describeToken, type Token, tokenize } from './lexer.ts'
import { closestName, syntaxError } from './sql-error.ts'

/**
 * Words that cannot be used unquoted as a column name or an alias, because they start or end a
 * clause. Quote them (`` `from` ``) to use them as names.
 */
export const RESERVED_WORDS: ReadonlySet<string> = new Set([
  'ALL',
  'AND',
  'AS',
  'BETWEEN',
  'BY',
  'CASE',
  'CAST',
  'CREATE',
  'CROSS',
  'DISTINCT',
  'ELSE',
  'END',
  'EXCEPT',
  'EXISTS',
  'EXTRACT',
  'FALSE',
  'FETCH',
  'FOR',
  'FROM',
  'FULL',
  'GROUP',
  'HAVING',
  'IN',
  'INNER',
  'INSERT',
  'INTERSECT',
  'INTERVAL',
  'INTO',
  'IS',
  'JOIN',
  'LEFT',
  'LIKE',
  'LIMIT',
  'MATCH_RECOGNIZE',
  'NOT',
  'NULL',
  'OFFSET',
  'ON',
  'OR',
  'ORDER',
  'OUTER',
  'OVER',
  'RIGHT',
  'SELECT',
  'SIMILAR',
  'TABLE',
  'THEN',
  'TRUE',
  'TRY_CAST',
  'UNION',
  'USING',
  'WHEN',
  'WHERE',
  'WINDOW',
  'WITH',
])

/** Keywords a misspelled word is compared with when it stands where a clause may start. */
export const CLAUSE_WORDS: readonly string[] = [
  'SELECT',
  'FROM',
  'WHERE',
  'GROUP',
  'HAVING',
  'ORDER',
  'LIMIT',
  'UNION',
  'JOIN',
  'WINDOW',
  'ON',
  'INSERT',
  'CREATE',
]

/**
 * Reads tokens in order. All `expect*` methods throw ERR_SQL_SYNTAX at the current token; nothing
 * is consumed when a test (`is*`, `accept*` returning false) fails.
 */
export class Cursor {
  readonly sql: string
  readonly tokens: readonly Token[]
  pos = 0

  constructor(sql: string) {
    this.sql = sql
    this.tokens = tokenize(sql)
  }

  /** The token `k` places ahead (0: the current one); `eof` past the end. */
  peek(k = 0): Token {
    const i = this.pos + k
    return this.tokens[i < this.tokens.length ? i : this.tokens.length - 1]!
  }

  /** Consumes and returns the current token. */
  next(): Token {
    const t = this.peek()
    if (this.pos < this.tokens.length - 1) this.pos++
    return t
  }

  /** True when the token `k` ahead is the unquoted word `word` (upper case). */
  isWord(word: string, k = 0): boolean {
    const t = this.peek(k)
    return t.kind === 'word' && t.upper === word
  }

  /** True when the token `k` ahead is the operator `op`. */
  isOp(op: string, k = 0): boolean {
    const t = this.peek(k)
    return t.kind === 'op' && t.text === op
  }

  /** True at the end of the text. */
  atEnd(): boolean {
    return this.peek().kind === 'eof'
  }

  /** Consumes the word if it is next. */
  acceptWord(word: string): boolean {
    if (!this.isWord(word)) return false
    this.pos++
    return true
  }

  /** Consumes the words if they are all next, in order; otherwise consumes nothing. */
  acceptWords(...words: string[]): boolean {
    for (let k = 0; k < words.length; k++) if (!this.isWord(words[k]!, k)) return false
    this.pos += words.length
    return true
  }

  /** Consumes the operator if it is next. */
  acceptOp(op: string): boolean {
    if (!this.isOp(op)) return false
    this.pos++
    return true
  }

  /** Consumes `word` or fails with `expected WORD, got "x"` (and a suggestion for a typo). */
  expectWord(word: string): Token {
    if (!this.isWord(word)) this.failExpected(word, [word])
    return this.next()
  }

  /** Consumes `op` or fails with `expected "op", got "x"`. */
  expectOp(op: string): Token {
    if (!this.isOp(op)) this.failExpected(`"${op}"`)
    return this.next()
  }

  /**
   * Fails at the current token with `expected <what>, got "<token>"`, adding `(did you mean X?)`
   * when the token is a word close to one of `keywords`.
   */
  failExpected(what: string, keywords: readonly string[] = []): never {
    const t = this.peek()
    let hint = ''
    if ((t.kind === 'word' || t.kind === 'ident') && keywords.length > 0) {
      const guess = closestName(t.text.toUpperCase(), keywords)
      if (guess) hint = ` (did you mean ${guess}?)`
    }
    this.fail(`expected ${what}, got ${describeToken(t)}${hint}`, t)
  }

  /** Fails with `message` at `token` (default: the current one). */
  fail(message: string, token: Token = this.peek()): never {
    throw syntaxError(this.sql, token.offset, message)
  }

  /** Fails with `message` at an offset of the text. */
  failAt(offset: number, message: string): never {
    throw syntaxError(this.sql, offset, message)
  }

  /** True when the current token can be read as a name: a quoted identifier or a non-reserved word. */
  isName(k = 0): boolean {
    const t = this.peek(k)
    return t.kind === 'ident' || (t.kind === 'word' && !RESERVED_WORDS.has(t.upper))
  }

  /** Reads a name or fails with `expected <what>, got ...`. */
  name(what = 'a name'): string {
    if (!this.isName()) this.failExpected(what)
    return this.next().text
  }

  /** Reads `name [. name]*`. */
  dottedName(what = 'a name'): string[] {
    const parts = [this.name(what)]
    while (this.isOp('.') && this.isName(1)) {
      this.pos++
      parts.push(this.next().text)
    }
    return parts
  }

  /** Reads `(name, name, ...)`. */
  nameList(what = 'a column name'): string[] {
    this.expectOp('(')
    const names = [this.name(what)]
    while (this.acceptOp(',')) names.push(this.name(what))
    this.expectOp(')')
    return names
  }

  /**
   * Reads an optional alias: `AS name` or a bare name. A bare word of three letters or more that
   * looks like a misspelled clause keyword and is followed by more text (`SELECT a FORM t`) is
   * reported as that typo instead of being taken as an alias; shorter words are the usual table
   * aliases (`FROM orders o JOIN ...`), too close to `ON` to be told apart.
   */
  alias(): string | undefined {
    if (this.acceptWord('AS')) return this.name('an alias after AS')
    if (!this.isName()) return undefined
    const t = this.peek()
    if (t.kind === 'word' && t.text.length >= 3) {
      const guess = closestName(t.upper, CLAUSE_WORDS)
      const after = this.peek(1)
      if (guess && (after.kind === 'word' || after.kind === 'ident' || after.kind === 'number')) {
        this.fail(`expected ${guess}, got ${describeToken(t)} (did you mean ${guess}?)`, t)
      }
    }
    return this.next().text
  }
}

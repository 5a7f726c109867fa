import { describe, expect, it } from 'vitest'
import { SquallError } from '../../src/core/errors.ts'
import { tokenize } from '../../src/query/lexer.ts'
import { parseQuery, parseStatement } from '../../src/query/parser.ts'

function syntaxMessage(f: () => unknown): string {
  try {
    f()
  } catch (e) {
    expect(e).toBeInstanceOf(SquallError)
    expect((e as SquallError).code).toBe('ERR_SQL_SYNTAX')
    return (e as SquallError).message
  }
  throw new Error('expected a syntax error')
}

describe('SQL syntax errors', () => {
  it('a misspelled FROM is named with line, column, a caret and the keyword it probably meant', () => {
    expect(syntaxMessage(() => parseQuery('SELECT path, status FORM access'))).toBe(
      [
        'line 1, column 21: expected FROM, got "FORM" (did you mean FROM?)',
        '  SELECT path, status FORM access',
        '                      ^',
      ].join('\n'),
    )
  })

  it('a one- or two-letter table alias is an alias, not a misspelled ON', () => {
    const q = parseQuery('SELECT o.id FROM orders o JOIN shipments sh ON o.id = sh.order_id')
    expect(q.body).toMatchObject({
      from: { kind: 'join', left: { alias: 'o' }, right: { alias: 'sh' } },
    })
  })

  it('the caret lands on the right line of a multi-line query', () => {
    const sql = 'SELECT path\nFROM access\nWHER status = 500'
    expect(syntaxMessage(() => parseQuery(sql))).toBe(
      [
        'line 3, column 1: expected WHERE, got "WHER" (did you mean WHERE?)',
        '  WHER status = 500',
        '  ^',
      ].join('\n'),
    )
  })

  it('a misspelled statement keyword suggests the statement', () => {
    expect(syntaxMessage(() => parseStatement('SELCT 1'))).toBe(
      [
        'line 1, column 1: expected a statement (SELECT, WITH, INSERT INTO, CREATE VIEW, CREATE TABLE or SET), got "SELCT" (did you mean SELECT?)',
        '  SELCT 1',
        '  ^',
      ].join('\n'),
    )
  })

  it('a missing closing parenthesis points at the end of the input', () => {
    expect(syntaxMessage(() => parseQuery('SELECT a FROM t WHERE (a > 1'))).toBe(
      [
        'line 1, column 29: expected ")", got end of input',
        '  SELECT a FROM t WHERE (a > 1',
        '                              ^',
      ].join('\n'),
    )
  })

  it('a window TVF with a size that is not an interval says what to write', () => {
    expect(
      syntaxMessage(() => parseQuery('SELECT * FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(ts), 10))')),
    ).toBe(
      [
        "line 1, column 55: TUMBLE: SIZE must be a positive INTERVAL such as INTERVAL '10' SECOND",
        '  SELECT * FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(ts), 10))',
        '                                                        ^',
      ].join('\n'),
    )
  })

  it('an unterminated string is reported where it starts', () => {
    expect(syntaxMessage(() => tokenize("SELECT 'abc FROM t"))).toBe(
      [
        "line 1, column 8: unterminated string: add the closing quote '",
        "  SELECT 'abc FROM t",
        '         ^',
      ].join('\n'),
    )
  })

  it('the error carries the line in where', () => {
    try {
      parseQuery('SELECT\n  a,\n  FROM t')
    } catch (e) {
      expect((e as SquallError).where.line).toBe(3)
      expect((e as SquallError).message).toMatch(/^line 3, column 3: expected an expression, got "FROM"/)
      return
    }
    throw new Error('expected a syntax error')
  })
})

import { describe, expect, it } from 'vitest'
import { tokenize } from '../../src/query/lexer.ts'

const kinds = (sql: string) => tokenize(sql).map((t) => `${t.kind}:${t.text}`)

describe('lexer', () => {
  it('splits words, quoted identifiers, strings, numbers and operators, ending with eof', () => {
    expect(
      kinds("SELECT `my col`, \"x\", 'it''s', 42, 0.908, 1e-3, .5 FROM t WHERE a <> b || c != d"),
    ).toEqual([
      'word:SELECT',
      'ident:my col',
      'op:,',
      'ident:x',
      'op:,',
      "string:it's",
      'op:,',
      'number:42',
      'op:,',
      'number:0.908',
      'op:,',
      'number:1e-3',
      'op:,',
      'number:.5',
      'word:FROM',
      'word:t',
      'word:WHERE',
      'word:a',
      'op:<>',
      'word:b',
      'op:||',
      'word:c',
      'op:<>',
      'word:d',
      'eof:',
    ])
  })

  it('skips -- and /* */ comments and keeps line and column of every token', () => {
    const tokens = tokenize('SELECT a -- first\n  /* two\n lines */ , b')
    expect(tokens.map((t) => [t.text, t.line, t.column, t.offset])).toEqual([
      ['SELECT', 1, 1, 0],
      ['a', 1, 8, 7],
      [',', 3, 11, 37],
      ['b', 3, 13, 39],
      ['', 3, 14, 40],
    ])
  })

  it('keeps keywords case-insensitive through upper while text keeps the case written', () => {
    const [t] = tokenize('sElEcT')
    expect([t!.text, t!.upper]).toEqual(['sElEcT', 'SELECT'])
  })

  it('reads pattern quantifiers and named-argument arrows as operators', () => {
    expect(kinds('A{2,} B+? => ')).toEqual([
      'word:A',
      'op:{',
      'number:2',
      'op:,',
      'op:}',
      'word:B',
      'op:+',
      'op:?',
      'op:=>',
      'eof:',
    ])
  })
})

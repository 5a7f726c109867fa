import { describe, expect, it } from 'vitest'
import { ConfigError, SquallError } from '../../../src/core/errors.ts'
import {
  createParser,
  PARSER_TYPES,
  type ParserConfig,
  parseOrThrow,
} from '../../../src/plugins/parsers/index.ts'

describe('createParser', () => {
  it('creates a parser of every listed type', () => {
    const configs: { [type: string]: ParserConfig } = {
      csv: { type: 'csv', keys: 'a' },
      tsv: { type: 'tsv', keys: 'a' },
      regexp: { type: 'regexp', expression: '/(?<a>.*)/' },
      multiline: { type: 'multiline', format: '/(?<a>.*)/' },
    }
    for (const type of PARSER_TYPES) {
      const parser = createParser(configs[type] ?? ({ type } as ParserConfig))
      expect(parser.type).toBe(type)
    }
  })

  it('refuses an unknown type with the list of types and a suggestion', () => {
    let error: unknown
    try {
      createParser({ type: 'apach2' } as unknown as ParserConfig, 'sources[0].parser')
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).issues[0]!.path).toBe('sources[0].parser.type')
    expect((error as ConfigError).message).toMatch(/got "apach2"; did you mean "apache2"\?/)
    expect(() => createParser({ type: 'xyzzy' } as unknown as ParserConfig)).toThrowError(
      /^(?!.*did you mean)/,
    )
  })

  it('none makes a message field of the line, or of messageKey', () => {
    expect(createParser({ type: 'none' }).parse('a b c')).toEqual({ value: { message: 'a b c' } })
    expect(createParser({ type: 'none', messageKey: 'log' }).parse('x')).toEqual({ value: { log: 'x' } })
  })
})

describe('parseOrThrow', () => {
  it('throws ERR_PARSE with the parser type and a truncated line', () => {
    const line = `not json ${'x'.repeat(300)}`
    let error: unknown
    try {
      parseOrThrow(createParser({ type: 'json' }), line)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(SquallError)
    expect((error as SquallError).code).toBe('ERR_PARSE')
    expect((error as SquallError).message).toMatch(
      /^parser json: the line does not match the format: "not json x+\.\.\."$/,
    )
    expect((error as SquallError).message.length).toBeLessThan(200)
  })

  it('returns the record when the line parses', () => {
    expect(parseOrThrow(createParser({ type: 'json' }), '{"a":1}')).toEqual({ value: { a: 1 } })
  })
})

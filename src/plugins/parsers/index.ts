// Creating a parser from its config by `type`, with every config problem reported at once.

import { ConfigError } from '../../core/errors.ts'
import { type Apache2ParserOptions, apache2Parser, apacheErrorParser, nginxParser } from './apache.ts'
import { csvParser, type DelimitedParserOptions, tsvParser } from './delimited.ts'
import { jsonParser } from './json.ts'
import { type LtsvParserOptions, ltsvParser } from './ltsv.ts'
import { type MultilineParser, type MultilineParserOptions, multilineParser } from './multiline.ts'
import { type NoneParserOptions, noneParser } from './none.ts'
import { type ParseOptions, type Parser, unknownTypeMessage } from './parser.ts'
import { type RegexpParserOptions, regexpParser } from './regexp.ts'
import { type SyslogParserOptions, syslogParser } from './syslog.ts'

/** A parser config: its `type` and that parser's options (fluentd's `<parse>` section, camelCase). */
export type ParserConfig =
  | ({ type: 'json' } & ParseOptions)
  | ({ type: 'ltsv' } & LtsvParserOptions)
  | ({ type: 'csv' } & DelimitedParserOptions)
  | ({ type: 'tsv' } & DelimitedParserOptions)
  | ({ type: 'regexp' } & RegexpParserOptions)
  | ({ type: 'apache2' } & Apache2ParserOptions)
  | ({ type: 'apache_error' } & ParseOptions)
  | ({ type: 'nginx' } & ParseOptions)
  | ({ type: 'syslog' } & SyslogParserOptions)
  | ({ type: 'multiline' } & MultilineParserOptions)
  | ({ type: 'none' } & NoneParserOptions)

/** Every parser type, in the order the docs list them. */
export const PARSER_TYPES = [
  'json',
  'ltsv',
  'csv',
  'tsv',
  'regexp',
  'apache2',
  'apache_error',
  'nginx',
  'syslog',
  'multiline',
  'none',
] as const

export type ParserType = (typeof PARSER_TYPES)[number]

/**
 * Creates the parser a config names. Throws ConfigError (all problems at once, each with its path
 * under `path`) for an unknown `type` — with a "did you mean" suggestion — or invalid options.
 * A `multiline` config gives a {@link MultilineParser}.
 */
export function createParser(
  config: { type: 'multiline' } & MultilineParserOptions,
  path?: string,
): MultilineParser
export function createParser(config: ParserConfig, path?: string): Parser
export function createParser(config: ParserConfig, path = 'parser'): Parser {
  if (config === null || typeof config !== 'object') {
    throw new ConfigError([
      { path, message: `expected an object like { type: "json" }, got ${JSON.stringify(config)}` },
    ])
  }
  switch (config.type) {
    case 'json':
      return jsonParser(config, path)
    case 'ltsv':
      return ltsvParser(config, path)
    case 'csv':
      return csvParser(config, path)
    case 'tsv':
      return tsvParser(config, path)
    case 'regexp':
      return regexpParser(config, path)
    case 'apache2':
      return apache2Parser(config)
    case 'apache_error':
      return apacheErrorParser(config, path)
    case 'nginx':
      return nginxParser(config, path)
    case 'syslog':
      return syslogParser(config, path)
    case 'multiline':
      return multilineParser(config, path)
    case 'none':
      return noneParser(config)
    default:
      throw new ConfigError([
        {
          path: `${path}.type`,
          message: unknownTypeMessage((config as { type: unknown }).type, PARSER_TYPES),
        },
      ])
  }
}

export type { Apache2ParserOptions } from './apache.ts'
export { ACCESS_LOG_TIME_FORMAT, apache2Parser, apacheErrorParser, nginxParser } from './apache.ts'
export type { DelimitedParserOptions } from './delimited.ts'
export { csvParser, tsvParser } from './delimited.ts'
export { jsonParser } from './json.ts'
export type { LtsvParserOptions } from './ltsv.ts'
export { ltsvParser } from './ltsv.ts'
export type { JoinedText, LineJoiner, MultilineParser, MultilineParserOptions } from './multiline.ts'
export { isMultilineParser, multilineParser } from './multiline.ts'
export type { NoneParserOptions } from './none.ts'
export { noneParser } from './none.ts'
export type { Fields, ParsedRecord, ParseOptions, Parser } from './parser.ts'
export { parseError, parseOrThrow } from './parser.ts'
export type { RegexpParserOptions } from './regexp.ts'
export { regexpParser } from './regexp.ts'
export type { SyslogParserOptions } from './syslog.ts'
export { syslogParser } from './syslog.ts'

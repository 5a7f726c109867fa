// The none parser: the whole line as one field, as fluentd's `none`.

import type { Parser } from './parser.ts'

export interface NoneParserOptions {
  /** The field receiving the line. Default `message`. */
  messageKey?: string | undefined
}

/** Makes `{ [messageKey]: line }` from every line; never fails and sets no event time. */
export function noneParser(options: NoneParserOptions = {}): Parser {
  const key = options.messageKey ?? 'message'
  return {
    type: 'none',
    parse: (line) => ({ value: { [key]: line } }),
  }
}

// Creating a formatter from its config by `type`, with every config problem reported at once.

import { ConfigError } from '../../core/errors.ts'
import { unknownTypeMessage } from '../parsers/parser.ts'
import { type CsvFormatterOptions, csvFormatter } from './csv.ts'
import type { Formatter } from './formatter.ts'
import { type JsonFormatterOptions, jsonFormatter } from './json.ts'
import { type LtsvFormatterOptions, ltsvFormatter } from './ltsv.ts'
import { type MsgpackFormatterOptions, msgpackFormatter } from './msgpack.ts'
import { type SingleValueFormatterOptions, singleValueFormatter } from './single-value.ts'

/** A formatter config: its `type` and that formatter's options (fluentd's `<format>`, camelCase). */
export type FormatterConfig =
  | ({ type: 'json' } & JsonFormatterOptions)
  | ({ type: 'ltsv' } & LtsvFormatterOptions)
  | ({ type: 'csv' } & CsvFormatterOptions)
  | ({ type: 'msgpack' } & MsgpackFormatterOptions)
  | ({ type: 'single_value' } & SingleValueFormatterOptions)

/** Every formatter type. */
export const FORMATTER_TYPES = ['json', 'ltsv', 'csv', 'msgpack', 'single_value'] as const

export type FormatterType = (typeof FORMATTER_TYPES)[number]

/**
 * Creates the formatter a config names. Throws ConfigError (each problem with its path under
 * `path`) for an unknown `type` — with a "did you mean" suggestion — or invalid options.
 */
export function createFormatter(config: FormatterConfig, path = 'formatter'): Formatter {
  if (config === null || typeof config !== 'object') {
    throw new ConfigError([
      { path, message: `expected an object like { type: "json" }, got ${JSON.stringify(config)}` },
    ])
  }
  switch (config.type) {
    case 'json':
      return jsonFormatter(config, path)
    case 'ltsv':
      return ltsvFormatter(config, path)
    case 'csv':
      return csvFormatter(config, path)
    case 'msgpack':
      return msgpackFormatter(config, path)
    case 'single_value':
      return singleValueFormatter(config)
    default:
      throw new ConfigError([
        {
          path: `${path}.type`,
          message: unknownTypeMessage((config as { type: unknown }).type, FORMATTER_TYPES),
        },
      ])
  }
}

export type { CsvFormatterOptions } from './csv.ts'
export { csvFormatter } from './csv.ts'
export type { Formatter, InjectOptions, TextOptions } from './formatter.ts'
export type { JsonFormatterOptions } from './json.ts'
export { jsonFormatter } from './json.ts'
export type { LtsvFormatterOptions } from './ltsv.ts'
export { ltsvFormatter } from './ltsv.ts'
export type { MsgpackFormatterOptions } from './msgpack.ts'
export { msgpackFormatter } from './msgpack.ts'
export type { SingleValueFormatterOptions } from './single-value.ts'
export { singleValueFormatter } from './single-value.ts'

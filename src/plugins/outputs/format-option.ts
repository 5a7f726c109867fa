// The `format` option of text outputs: a formatter config (fluentd's `<format>`), JSON by default.

import { z } from 'zod'
import { createFormatter, type FormatterConfig } from '../formatters/index.ts'
import type { Formatter } from '../formatters/formatter.ts'

/** A formatter config such as `{ type: json }` or `{ type: ltsv, includeTimeKey: true }`. */
export const formatOption = z
  .looseObject({ type: z.string().describe('Formatter type: json, ltsv, csv, msgpack, single_value.') })
  .default({ type: 'json' })
  .describe('How each record is written (a formatter config, fluentd `<format>`); default `{ type: json }`.')

/** Creates the formatter; throws ConfigError with paths under `path` for a bad config. */
export function formatterOf(config: { type: string }, path: string): Formatter {
  return createFormatter(config as FormatterConfig, path)
}

const encoder = new TextEncoder()

/** Formats a chunk into one byte buffer (text outputs end each record with the formatter's newline). */
export function formatChunk(
  formatter: Formatter,
  records: readonly { value: unknown; key: unknown; time: number; tag: string }[],
): Uint8Array {
  const parts: Uint8Array[] = []
  let text = ''
  for (let i = 0; i < records.length; i++) {
    const out = formatter.format(records[i] as never)
    if (typeof out === 'string') text += out
    else {
      if (text) {
        parts.push(encoder.encode(text))
        text = ''
      }
      parts.push(out)
    }
  }
  if (parts.length === 0) return encoder.encode(text)
  if (text) parts.push(encoder.encode(text))
  return Buffer.concat(parts)
}

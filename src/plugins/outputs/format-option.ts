// The `format` option of text outputs: a formatter config (fluentd's `<format>`), JSON by default.

import { ConfigError } from '../../core/errors.ts'
import { formatterPlugins } from '../builtin-formats.ts'
import { typedConfig, validate } from '../config.ts'
import { createFormatter, type FormatterConfig } from '../formatters/index.ts'
import type { Formatter } from '../formatters/formatter.ts'

/** A formatter: its type (`json`, read as `{ type: json }`) or its config (`{ type: ltsv, includeTimeKey: true }`). */
export const formatOption = typedConfig('Formatter type: json, ltsv, csv, msgpack, single_value.')
  .prefault('json')
  .describe(
    'How each record is written: a formatter type (`json`) or config (`{ type: ltsv, includeTimeKey: true }`, fluentd `<format>`); default `json`.',
  )

/**
 * Creates the formatter; throws ConfigError with paths under `path` for a bad config: an unknown
 * type, or options that formatter does not take (checked against its plugin schema).
 */
export function formatterOf(config: { type: string }, path: string): Formatter {
  const plugin = formatterPlugins.find((p) => p.type === config.type)
  if (plugin) {
    const checked = validate(plugin.config, config, path)
    if (!checked.ok) throw new ConfigError(checked.issues)
  }
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

// The stdout output as a plugin: records formatted (JSON by default) on standard output.

import { z } from 'zod'
import { defineOutput } from '../define.ts'
import { formatChunk, formatOption, formatterOf } from './format-option.ts'

export const StdoutOutputConfig = z.strictObject({
  format: formatOption,
})

/** Writes each record to standard output, formatted; one task, so lines keep their order. */
export const stdoutOutput = defineOutput({
  type: 'stdout',
  summary: 'Writes each record to standard output (JSON lines by default, or any formatter).',
  config: StdoutOutputConfig,
  example: 'outputs:\n  - type: stdout\n    match: "web.**"\n    format: { type: ltsv }',
  create(config, ctx) {
    const formatter = formatterOf(config.format, `${ctx.path}.format`)
    return {
      delivery: {
        kind: 'stdout',
        // Prints each change as a line with its op.
        accepts: 'changelog',
        maxParallelism: 1,
        create: () => ({
          deliver(records) {
            const bytes = formatChunk(formatter, records)
            if (!process.stdout.write(bytes))
              return new Promise<void>((resolve) => process.stdout.once('drain', () => resolve()))
          },
        }),
      },
    }
  },
})

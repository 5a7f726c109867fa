// The file output (fluentd's out_file): records appended to files named by their event time, rolled
// by time slice and size; or, with `exactlyOnce`, published per checkpoint by the two-phase file sink.

import { mkdirSync, statSync } from 'node:fs'
import { appendFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { z } from 'zod'
import { ConfigError } from '../../core/errors.ts'
import type { Record } from '../../core/record.ts'
import { compileTimeFormatter } from '../../core/time.ts'
import { defineOutput } from '../define.ts'
import { size } from '../config.ts'
import { fileSink } from './file-sink.ts'
import { formatChunk, formatOption, formatterOf } from './format-option.ts'

export const FileOutputConfig = z.strictObject({
  path: z
    .string()
    .min(1)
    .describe(
      'File to append to, relative to the pipeline file. strftime directives (`%Y%m%d%H`) slice files by event time (UTC unless `timezone`). With `exactlyOnce`: the output directory.',
    ),
  timezone: z.string().optional().describe('Zone of the time directives in `path`; default UTC.'),
  maxFileSize: size().optional().describe('Roll to `<name>.1`, `<name>.2`, … once a file reaches this size.'),
  format: formatOption,
  exactlyOnce: z
    .boolean()
    .default(false)
    .describe(
      'Publish files per checkpoint with the two-phase file sink (needs state.dir; formats json or single_value only).',
    ),
})

type Config = z.output<typeof FileOutputConfig>

/** Appends chunks to time-sliced, size-rolled files. One task: file order is record order. */
function appendingDelivery(config: Config, path: string, formatterPath: string) {
  const formatter = formatterOf(config.format, formatterPath)
  const slice = /%[A-Za-z]/.test(path) ? compileTimeFormatter(path, config.timezone) : undefined
  const max = config.maxFileSize
  return {
    kind: 'file',
    maxParallelism: 1,
    create: () => {
      const rolls = new Map<string, number>()
      const nameOf = (base: string): string => {
        if (max === undefined) return base
        let n = rolls.get(base) ?? 0
        for (;;) {
          const name = n === 0 ? base : `${base}.${n}`
          let bytes = 0
          try {
            bytes = statSync(name).size
          } catch {}
          if (bytes < max) {
            rolls.set(base, n)
            return name
          }
          n++
        }
      }
      return {
        async deliver(records: Record[]) {
          const groups = new Map<string, Record[]>()
          if (slice === undefined) groups.set(path, records)
          else {
            for (const r of records) {
              const p = slice(r.time)
              const g = groups.get(p)
              if (g) g.push(r)
              else groups.set(p, [r])
            }
          }
          for (const [base, group] of groups) {
            const name = nameOf(base)
            mkdirSync(dirname(name), { recursive: true })
            await appendFile(name, formatChunk(formatter, group))
          }
        },
      }
    },
  }
}

export default defineOutput({
  type: 'file',
  summary:
    'Appends records to files sliced by event time and rolled by size; exactly-once per checkpoint with exactlyOnce.',
  config: FileOutputConfig,
  example:
    'outputs:\n  - type: file\n    match: "web.**"\n    path: ./out/access.%Y%m%d.log\n    maxFileSize: 100MiB',
  create(config, ctx) {
    const path = resolve(ctx.baseDir, config.path)
    if (!config.exactlyOnce) return { delivery: appendingDelivery(config, path, `${ctx.path}.format`) }
    const type = config.format.type
    if (type !== 'json' && type !== 'single_value') {
      throw new ConfigError([
        {
          path: `${ctx.path}.format.type`,
          message: `exactlyOnce writes "json" or "single_value", got ${JSON.stringify(type)}`,
        },
      ])
    }
    return { sink: fileSink({ path, format: type === 'json' ? 'jsonl' : 'lines' }) }
  },
})

// The file output (fluentd's out_file): records appended to files named by their event time, rolled
// by time slice and size; or, with `exactlyOnce`, published per checkpoint by the two-phase file sink.

import { mkdirSync, statSync } from 'node:fs'
import { appendFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { z } from 'zod'
import { type ConfigIssue, ConfigError } from '../../core/errors.ts'
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
  maxFileSize: size()
    .optional()
    .describe(
      'Roll to `<name>.1`, `<name>.2`, … once a file reaches this size (checked before each chunk is appended, so a file exceeds it by less than one chunk). Not with `exactlyOnce`.',
    ),
  format: formatOption,
  exactlyOnce: z
    .boolean()
    .default(false)
    .describe(
      'Publish files per checkpoint with the two-phase file sink (needs state.dir; formats json or single_value only; `path` is then a directory without time directives, and `maxFileSize` and `timezone` do not apply).',
    ),
})

type Config = z.output<typeof FileOutputConfig>

/** True when `path` has strftime directives, which slice files by event time. */
const sliced = (path: string) => /%[A-Za-z]/.test(path)

/** Appends chunks to time-sliced, size-rolled files. One task: file order is record order. */
function appendingDelivery(config: Config, path: string, formatterPath: string) {
  const formatter = formatterOf(config.format, formatterPath)
  const slice = sliced(path) ? compileTimeFormatter(path, config.timezone) : undefined
  const max = config.maxFileSize
  return {
    kind: 'file',
    maxParallelism: 1,
    // A file keeps every line: a retracted row would stay in it as if it were still true.
    accepts: 'inserts' as const,
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
    const issues: ConfigIssue[] = []
    if (type !== 'json' && type !== 'single_value') {
      issues.push({
        path: `${ctx.path}.format.type`,
        message: `exactlyOnce writes "json" or "single_value", got ${JSON.stringify(type)}`,
      })
    }
    if (sliced(config.path)) {
      issues.push({
        path: `${ctx.path}.path`,
        message: `exactlyOnce publishes part files into the directory \`path\` and cannot slice them by time, got ${JSON.stringify(config.path)}; remove the % directives, or exactlyOnce`,
      })
    }
    if (config.maxFileSize !== undefined) {
      issues.push({
        path: `${ctx.path}.maxFileSize`,
        message:
          'exactlyOnce publishes one part file per task and checkpoint and cannot roll by size; remove maxFileSize, or exactlyOnce',
      })
    }
    if (config.timezone !== undefined) {
      issues.push({
        path: `${ctx.path}.timezone`,
        message:
          'exactlyOnce does not slice files by time, so timezone does not apply; remove timezone, or exactlyOnce',
      })
    }
    if (issues.length > 0) throw new ConfigError(issues)
    return { sink: fileSink({ path, format: type === 'json' ? 'jsonl' : 'lines' }) }
  },
})

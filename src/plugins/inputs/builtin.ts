// The file, stdin and generator sources as plugins usable from pipeline files.

import { resolve } from 'node:path'
import { z } from 'zod'
import { defineInput } from '../define.ts'
import { duration } from '../config.ts'
import { file } from './file.ts'
import { generator } from './generator.ts'
import { multilineFlushOption, parseLines } from './lines.ts'
import { SHAPE_NAMES, SHAPES } from './shapes.ts'
import { stdin } from './stdin.ts'

/** The reason a parser cannot apply to a line input read with `format`. */
function jsonlParserConflict(config: { format: 'lines' | 'jsonl' }): string | undefined {
  return config.format === 'jsonl'
    ? 'the parser applies to lines; with format "jsonl" each line is parsed as JSON — use format "lines" with this parser, or drop the parser'
    : undefined
}

export const FileInputConfig = z.strictObject({
  path: z
    .string()
    .min(1)
    .describe(
      'The file to read once (relative to the pipeline file); cut into splits that the partitions take in turn (with a multiline parser, one partition reads them in order, since a record may span two).',
    ),
  format: z
    .enum(['lines', 'jsonl'])
    .default('lines')
    .describe(
      '`lines`: each line is text for the parser; `jsonl`: each line is a JSON value (a `parser` is then a config error).',
    ),
  chunkBytes: z.number().int().positive().optional().describe('Read buffer size in bytes (default 1 MiB).'),
  splitBytes: z
    .number()
    .int()
    .positive()
    .optional()
    .describe(
      'Bytes per split (default: the size / (32 × partitions), 1–64 MiB; at most an equal share per partition).',
    ),
})

/** Reads a file once: a bounded source; the splits read and the offset in the last are checkpointed. */
export const fileInput = defineInput({
  type: 'file',
  summary:
    'Reads a file once, as splits that parallel partitions take in turn (faster ones read more); the job ends when it is read.',
  config: FileInputConfig,
  produces: 'lines',
  parserConflict: jsonlParserConflict,
  example: 'sources:\n  - name: logs\n    type: file\n    path: ./access.log\n    parser: { type: apache2 }',
  create(config, ctx) {
    const path = resolve(ctx.baseDir, config.path)
    const spec = file({
      path,
      format: config.format,
      tag: ctx.tag,
      ...(config.chunkBytes ? { chunkBytes: config.chunkBytes } : {}),
      ...(config.splitBytes ? { splitBytes: config.splitBytes } : {}),
    })
    return parseLines(spec, ctx.parser, path)
  },
})

export const StdinInputConfig = z.strictObject({
  format: z
    .enum(['lines', 'jsonl'])
    .default('lines')
    .describe(
      '`lines`: each line is text for the parser; `jsonl`: each line is a JSON value (a `parser` is then a config error).',
    ),
  multilineFlushInterval: multilineFlushOption,
})

/** Reads standard input until it closes. */
export const stdinInput = defineInput({
  type: 'stdin',
  summary: 'Reads lines from standard input until it closes.',
  config: StdinInputConfig,
  produces: 'lines',
  parserConflict: jsonlParserConflict,
  example: 'sources:\n  - name: in\n    type: stdin\n    parser: { type: json }',
  create(config, ctx) {
    return parseLines(stdin({ format: config.format, tag: ctx.tag }), ctx.parser, 'stdin', {
      multilineFlushMs: config.multilineFlushInterval,
    })
  },
})

export const GeneratorInputConfig = z
  .strictObject({
    shape: z
      .enum(SHAPE_NAMES)
      .optional()
      .describe(
        `A built-in record shape: ${SHAPE_NAMES.map((s) => `\`${s}\` (${SHAPES[s]!.summary})`).join('; ')}.`,
      ),
    record: z
      .unknown()
      .optional()
      .describe(
        'A fixed record emitted over and over (fluentd in_dummy `dummy`), instead of a shape; a string with a `parser` (only `access-log-line` and string records are lines a parser can read).',
      ),
    count: z.number().int().min(0).optional().describe('Number of records; omit for an unbounded stream.'),
    rate: z
      .number()
      .positive()
      .optional()
      .describe('Records per second over all partitions; omit for as fast as possible.'),
    duration: duration().optional().describe('Stop after this long; the source is then bounded.'),
    seed: z.number().int().default(1).describe('Seed of the deterministic random stream.'),
    startTime: z
      .string()
      .optional()
      .describe('Event time of the first record (ISO-8601); default: the time it is generated.'),
    interval: duration('1s').describe('With startTime: event time step between records.'),
  })
  .refine((c) => c.shape !== undefined || c.record !== undefined, {
    message: 'set `shape` (e.g. "access-log") or `record`',
  })

/** Deterministic generated records: built-in shapes or a fixed record. */
export const generatorInput = defineInput({
  type: 'generator',
  summary: 'Generates deterministic records (built-in shapes or a fixed record), bounded or at a rate.',
  config: GeneratorInputConfig,
  produces: 'lines',
  parserConflict(config) {
    if (config.shape !== undefined && !SHAPES[config.shape]!.text)
      return `the parser applies to lines; shape "${config.shape}" makes records, not lines — use a text shape (access-log-line) or a string \`record\` with this parser, or drop the parser`
    if (config.shape === undefined && typeof config.record !== 'string')
      return 'the parser applies to lines; `record` is not a string — give a string `record` with this parser, or drop the parser'
    return undefined
  },
  example:
    'sources:\n  - name: demo\n    type: generator\n    shape: access-log\n    rate: 100\n    tag: web.access',
  create(config, ctx) {
    const start = config.startTime === undefined ? undefined : Date.parse(config.startTime)
    const step = config.interval
    const timeOf =
      start === undefined || Number.isNaN(start) ? undefined : (seq: number) => start + seq * step
    const fixed = config.record
    const shape = config.shape === undefined ? undefined : SHAPES[config.shape]!.make
    const spec = generator<unknown>({
      make: (seq, random) => (shape ? shape(seq, random, timeOf ? timeOf(seq) : Date.now()) : fixed),
      seed: config.seed,
      tag: ctx.tag,
      ...(config.count === undefined ? {} : { count: config.count }),
      ...(config.rate === undefined ? {} : { rate: config.rate }),
      ...(config.duration === undefined ? {} : { duration: config.duration }),
      ...(timeOf ? { time: timeOf } : {}),
    })
    return parseLines(spec, ctx.parser, 'generator')
  },
})

// The shape of a pipeline file: the keys every pipeline has, with plugin options left to each
// plugin's own schema (validated when the pipeline is compiled).

import { z } from 'zod'
import { duration, typedConfig } from '../plugins/config.ts'

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/
const name = z.string().regex(NAME, 'expected letters, digits, _ . : - (and no leading punctuation)')

/** A source entry: common keys here, the plugin's options alongside them. */
export const SourceEntry = z.looseObject({
  name: name
    .optional()
    .describe(
      'Node name; keys the source position in checkpoints. Default: the type (numbered if repeated).',
    ),
  type: z.string().describe('The input plugin (`squall describe input`).'),
  tag: z
    .string()
    .default('')
    .describe(
      "Routing tag of the records (network inputs take the sender's tag). In tail, a trailing `*` expands to the file path.",
    ),
  parser: typedConfig('The parser plugin (`squall describe parser`).')
    .optional()
    .describe(
      'How lines are parsed: a parser type (`apache2`) or config (`{ type: regexp, expression: … }`); for line inputs only.',
    ),
  eventTime: z
    .strictObject({
      field: z
        .string()
        .optional()
        .describe("Field holding the event time; default: the parser's time, else ingestion time."),
      format: z.string().optional().describe('strftime format of the field, `iso8601`, `unix`, `unix_ms`.'),
      maxOutOfOrderness: duration('0s').describe('How late a record may be and still be on time.'),
      idleness: duration()
        .optional()
        .describe('A quiet source stops holding the watermark back after this long.'),
    })
    .optional()
    .describe('Event time and watermarks of this source.'),
  columns: z
    .record(z.string(), z.string())
    .optional()
    .describe(
      "Column names and SQL types of the records, for `queries` (`{ user: STRING, bytes: BIGINT }`); default: the parser's (apache2 declares its fields).",
    ),
  onError: z
    .enum(['fail', 'skip', 'dead-letter'])
    .default('skip')
    .describe('Lines no parser matches: `skip` (count and log, default), `fail`, `dead-letter`.'),
  parallelism: z
    .number()
    .int()
    .positive()
    .optional()
    .describe('Partitions of the source (file: byte ranges).'),
})

/** An output entry: common keys here, the plugin's options alongside them. */
export const OutputEntry = z.looseObject({
  name: name.optional().describe('Node name. Default `<type>` (numbered if repeated).'),
  type: z.string().describe('The output plugin (`squall describe output`).'),
  match: z
    .string()
    .default('**')
    .describe('fluentd tag pattern selecting records: `web.*`, `web.**`, `{a,b}.c`; default all.'),
  buffer: z
    .strictObject({
      type: z
        .enum(['memory', 'file'])
        .default('memory')
        .describe('`memory`, or `file` (chunks survive a restart).'),
      path: z.string().optional().describe('Directory of a file buffer; default `<state.dir>/buffer`.'),
      chunkLimitRecords: z.number().int().positive().default(1000).describe('Records per chunk.'),
      totalLimitBytes: z
        .union([z.number(), z.string()])
        .default('64MiB')
        .describe('Queued bytes above which the job slows down.'),
      flushInterval: duration('1s').describe('A chunk that is not full is sent after this long.'),
    })
    .prefault({})
    .describe('fluentd `<buffer>`.'),
  retry: z
    .strictObject({
      maxAttempts: z
        .number()
        .int()
        .positive()
        .default(5)
        .describe('Attempts per chunk, the first included (fluentd `retry_max_times` + 1).'),
      initialInterval: duration('1s').describe('Wait before the first retry (fluentd `retry_wait`).'),
      maxInterval: duration('30s').describe('Longest wait between attempts (fluentd `retry_max_interval`).'),
    })
    .prefault({})
    .describe('Retry of retryable errors with capped exponential backoff.'),
  secondary: z
    .looseObject({ type: z.string() })
    .optional()
    .describe('Output receiving what cannot be delivered, with the reason (fluentd `<secondary>`).'),
  onError: z
    .enum(['fail', 'skip'])
    .default('fail')
    .describe(
      'Without a secondary: `fail` the job on an undeliverable chunk, or `skip` it (logged and counted).',
    ),
  parallelism: z.number().int().positive().optional().describe('Tasks of the output.'),
})

/** The whole pipeline file. */
export const PipelineSchema = z.strictObject({
  name: name.default('pipeline').describe('Job name.'),
  state: z
    .strictObject({
      dir: z
        .string()
        .describe('State directory: checkpoints and input journals (relative to the pipeline file).'),
      checkpointInterval: duration('5s').describe('Time between checkpoints.'),
      backend: z.enum(['memory', 'lmdb']).default('memory').describe('Where keyed state lives.'),
      retain: z.number().int().positive().optional().describe('Complete checkpoints kept.'),
    })
    .optional()
    .describe('Checkpoints; without it the job keeps no state across restarts.'),
  server: z
    .looseObject({
      port: z.number().int().min(0).max(65535),
      token: z.string().optional(),
      bind: z.string().optional(),
    })
    .optional()
    .describe("The job's HTTP API."),
  sources: z.array(SourceEntry).min(1).describe('Inputs.'),
  queries: z
    .array(
      z.strictObject({
        name,
        sql: z.string().min(1),
        match: z
          .string()
          .optional()
          .describe(
            'fluentd tag pattern: the tables of the query see only the records whose tag matches (`web.**`); default all.',
          ),
      }),
    )
    .default([])
    .describe('Continuous SQL queries.'),
  operators: z
    .strictObject({
      module: z.string().describe('A TypeScript or JavaScript module (relative to the pipeline file).'),
      export: z.string().optional(),
    })
    .optional()
    .describe('Custom operators: `(streams, topology) => streams | void`.'),
  outputs: z.array(OutputEntry).min(1).describe('Outputs.'),
})

export type PipelineFile = z.output<typeof PipelineSchema>
export type SourceEntryConfig = z.output<typeof SourceEntry>
export type OutputEntryConfig = z.output<typeof OutputEntry>

/** Keys of a source entry that are not plugin options. */
export const SOURCE_KEYS = [
  'name',
  'type',
  'tag',
  'parser',
  'eventTime',
  'columns',
  'onError',
  'parallelism',
] as const
/** Keys of an output entry that are not plugin options. */
export const OUTPUT_KEYS = [
  'name',
  'type',
  'match',
  'buffer',
  'retry',
  'secondary',
  'onError',
  'parallelism',
] as const

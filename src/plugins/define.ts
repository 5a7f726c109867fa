// Declaring plugins: an input, output, parser or formatter is a type name, a summary, one config
// schema (validation, defaults, the TypeScript type and the docs) and a factory.

import type { z } from 'zod'
import { check } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { Record } from '../core/record.ts'
import type { IoContext, SinkAccepts, SinkSpec, SourceSpec } from '../core/source.ts'
import type { Formatter } from './formatters/formatter.ts'
import type { IngestEndpoint } from './inputs/http-ingest.ts'
import type { Parser } from './parsers/parser.ts'

/** The four kinds of plugin. */
export type PluginKind = 'input' | 'output' | 'parser' | 'formatter'

/** What a plugin factory learns about where it is used. */
export interface PluginContext {
  /** The node name the plugin becomes (`sources[i].name`, `outputs[i].name`), or the plugin path. */
  readonly name: string
  /** Where the plugin's config sits in the pipeline (`outputs[1]`), for config errors raised by `create`. */
  readonly path: string
  /** Relative file paths in the config resolve against this directory (the pipeline file's). */
  readonly baseDir: string
  /** The job's state directory, when it has one: inputs keep their journals under it. */
  readonly stateDir: string | undefined
  readonly log: Logger
}

/** What an input gives the pipeline besides its source: how to read what it produces. */
export interface InputContext extends PluginContext {
  /** The source's routing tag (`sources[i].tag`). */
  readonly tag: string
  /** The parser configured for this source, for inputs that read text; `undefined` = none. */
  readonly parser: Parser | undefined
  /**
   * The ingest route of the job's HTTP server, for an input that accepts records there (the http
   * input without a port); `undefined` when the pipeline is built without one.
   */
  readonly ingest?: IngestEndpoint | undefined
}

/**
 * The idempotency keys of a chunk's records (`IoContext.idempotencyKey`), by index in the chunk:
 * the same for every attempt at the chunk, and, where the job's order is deterministic, for the
 * same records replayed after a restore. Computed on demand.
 */
export interface ChunkKeys {
  /** The key of record `i` of the chunk. */
  key(i: number): string
}

/**
 * One task's connection to an output's destination. `deliver` is called with one chunk at a time
 * (never concurrently on one task) and resolves once the destination has the records; a rejection
 * is retried when the error is retryable (`SquallError.retryable`, or `retryable` below says so),
 * else the chunk goes to the secondary output. Created on the task's thread; `close` releases it.
 * `keys` is absent when the chunk's records have none (a delivery driven by hand); an output
 * that uses keys then does without, as its documentation says.
 */
export interface Delivery {
  open?(): void | Promise<void>
  deliver(records: Record[], keys?: ChunkKeys): void | Promise<void>
  /** Decides whether a failure may succeed on a later attempt; default: the error's `retryable`. */
  retryable?(error: unknown): boolean
  close?(): void | Promise<void>
}

/** An output that delivers chunks: the pipeline adds match, buffer, retry and secondary around it. */
export interface DeliverySpec {
  readonly kind: string
  /** Caps the output's tasks (a single file or stdout has one). */
  readonly maxParallelism?: number
  /**
   * Whether the output can take an updating query's changes (`SinkAccepts`): a pipeline refuses to
   * route an updating query to an output that takes only `inserts`. Absent: no claim, not checked.
   */
  readonly accepts?: SinkAccepts
  create(ctx: IoContext): Delivery
}

/** What an output factory returns: chunks to deliver (buffered, retried), or a complete sink. */
export type OutputTarget = { delivery: DeliverySpec } | { sink: SinkSpec<unknown> }

interface Common<S extends z.ZodType> {
  /** The name used in configs (`type: tail`): lower case, digits, `_` and `-`. */
  readonly type: string
  /** One sentence for `squall describe` and the docs. */
  readonly summary: string
  /** The config schema; every field should carry `.describe(...)`. */
  readonly config: S
  /** A short YAML example for the docs (optional). */
  readonly example?: string
}

export interface InputPlugin<S extends z.ZodType = z.ZodType> extends Common<S> {
  readonly kind: 'input'
  /** `lines`: produces text a parser may read (default parser: none); `records`: structured values. */
  readonly produces: 'lines' | 'records'
  /** The parser used when the source names none (e.g. `syslog` for the syslog input). */
  readonly defaultParser?: string
  /**
   * Why a parser set on the source (`sources[i].parser`) cannot apply under this config — the
   * config reads something other than text lines, such as `format: jsonl` — or `undefined` when it
   * can. Called with the validated config; the pipeline reports a reason as a config error at
   * `sources[i].parser`, so a configured parser is never silently ignored. Not consulted for
   * `defaultParser`.
   */
  readonly parserConflict?: (config: z.output<S>) => string | undefined
  create(config: z.output<S>, ctx: InputContext): SourceSpec<unknown>
}

export interface OutputPlugin<S extends z.ZodType = z.ZodType> extends Common<S> {
  readonly kind: 'output'
  create(config: z.output<S>, ctx: PluginContext): OutputTarget
}

export interface ParserPlugin<S extends z.ZodType = z.ZodType> extends Common<S> {
  readonly kind: 'parser'
  create(config: z.output<S>, ctx: PluginContext): Parser
}

export interface FormatterPlugin<S extends z.ZodType = z.ZodType> extends Common<S> {
  readonly kind: 'formatter'
  create(config: z.output<S>, ctx: PluginContext): Formatter
}

/** Any plugin definition. */
export type Plugin = InputPlugin | OutputPlugin | ParserPlugin | FormatterPlugin

const TYPE = /^[a-z][a-z0-9_-]*$/

function checkCommon(kind: PluginKind, def: Common<z.ZodType> & { create: unknown }): void {
  check(
    typeof def?.type === 'string' && TYPE.test(def.type),
    `${kind} plugin type`,
    'lower-case letters, digits, _ and -',
    def?.type,
  )
  check(
    typeof def.summary === 'string' && def.summary.length > 0,
    `${kind} plugin "${def.type}".summary`,
    'a sentence',
  )
  check(
    typeof (def.config as { safeParse?: unknown })?.safeParse === 'function',
    `${kind} plugin "${def.type}".config`,
    'a zod schema',
  )
  check(
    typeof def.create === 'function',
    `${kind} plugin "${def.type}".create`,
    'a function (config, ctx) => …',
  )
}

/** Declares an input plugin. Throws ERR_ARGUMENT for a malformed definition. */
export function defineInput<S extends z.ZodType>(
  def: Omit<InputPlugin<S>, 'kind' | 'produces'> & { produces?: 'lines' | 'records' },
): InputPlugin<S> {
  checkCommon('input', def)
  return { ...def, kind: 'input', produces: def.produces ?? 'records' }
}

/** Declares an output plugin. Throws ERR_ARGUMENT for a malformed definition. */
export function defineOutput<S extends z.ZodType>(def: Omit<OutputPlugin<S>, 'kind'>): OutputPlugin<S> {
  checkCommon('output', def)
  return { ...def, kind: 'output' }
}

/** Declares a parser plugin. Throws ERR_ARGUMENT for a malformed definition. */
export function defineParser<S extends z.ZodType>(def: Omit<ParserPlugin<S>, 'kind'>): ParserPlugin<S> {
  checkCommon('parser', def)
  return { ...def, kind: 'parser' }
}

/** Declares a formatter plugin. Throws ERR_ARGUMENT for a malformed definition. */
export function defineFormatter<S extends z.ZodType>(
  def: Omit<FormatterPlugin<S>, 'kind'>,
): FormatterPlugin<S> {
  checkCommon('formatter', def)
  return { ...def, kind: 'formatter' }
}

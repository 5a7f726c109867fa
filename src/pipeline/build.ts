// Compiling a pipeline file into a Topology: every plugin looked up and validated, every problem
// collected with its path and reported together as one ConfigError before anything runs.

import { join, resolve } from 'node:path'
import { type ConfigIssue, ConfigError, SquallError } from '../core/errors.ts'
import { consoleLogger, type Logger } from '../core/logger.ts'
import type { SinkAccepts, SinkSpec, SourceSpec } from '../core/source.ts'
import type { Stream } from '../core/stream.ts'
import { compileTagPattern } from '../core/tag-match.ts'
import { Topology } from '../core/topology.ts'
import { WatermarkStrategy } from '../core/watermark.ts'
import type { JobStateOptions } from '../runtime/checkpoint-recovery.ts'
import { plugins as defaultRegistry } from '../plugins/builtin.ts'
import { toBytes, validate } from '../plugins/config.ts'
import type { OutputTarget, PluginContext } from '../plugins/define.ts'
import { BufferedWriter } from '../plugins/helpers/buffer.ts'
import { IngestEndpoint } from '../plugins/inputs/http-ingest.ts'
import type { Parser } from '../plugins/parsers/parser.ts'
import type { PluginRegistry } from '../plugins/registry.ts'
import { matchingSink } from './match.ts'
import { loadOperators } from './operators.ts'
import { type SourceTable, queryPlanner } from './queries.ts'
import {
  OUTPUT_KEYS,
  type OutputEntryConfig,
  type PipelineFile,
  SOURCE_KEYS,
  type SourceEntryConfig,
} from './schema.ts'

/** Options of {@link buildPipeline}. */
export interface BuildOptions {
  /** Relative paths resolve against this directory (the pipeline file's). Default: the working directory. */
  baseDir?: string
  registry?: PluginRegistry
  log?: Logger
  /** Problems already found in the file (by `parsePipeline`), reported together with the rest. */
  issues?: readonly ConfigIssue[]
}

/** A compiled pipeline: the topology and the job options the file asked for. */
export interface BuiltPipeline {
  readonly topology: Topology
  /** `state` with its directory resolved, as the runner takes it. */
  readonly state: JobStateOptions | undefined
  /** The `server` section, for the HTTP API. */
  readonly server: { port: number; token?: string | undefined; bind?: string | undefined } | undefined
  readonly queries: readonly { name: string; sql: string; match?: string | undefined }[]
  /**
   * The ingest route an http source without a port is waiting on; give `ingest.handler` to the
   * job's HTTP server and set `ingest.served` before the job starts. `undefined`: no such source.
   */
  readonly ingest: IngestEndpoint | undefined
}

function without(entry: { [k: string]: unknown }, keys: readonly string[]): { [k: string]: unknown } {
  const out: { [k: string]: unknown } = {}
  for (const [k, v] of Object.entries(entry)) if (!keys.includes(k)) out[k] = v
  return out
}

function issuesOf(error: unknown, path: string): ConfigIssue[] {
  if (error instanceof ConfigError) return [...error.issues]
  const message = error instanceof Error ? error.message : String(error)
  return [{ path, message }]
}

/** Unique node names: the given name, else the type, numbered when it repeats. */
function nameNodes(
  entries: readonly { name?: string | undefined; type: string }[],
  kind: string,
  taken: Set<string>,
  issues: ConfigIssue[],
): string[] {
  return entries.map((e, i) => {
    if (e.name !== undefined) {
      if (taken.has(e.name))
        issues.push({
          path: `${kind}[${i}].name`,
          message: `the name "${e.name}" is used twice; node names must be unique`,
        })
      taken.add(e.name)
      return e.name
    }
    let n = e.type
    for (let k = 2; taken.has(n); k++) n = `${e.type}-${k}`
    taken.add(n)
    return n
  })
}

/**
 * Builds the topology of a validated pipeline file. Every source, parser, query and output is
 * checked; all problems are thrown together as one ConfigError (`sources[0].parser.type: unknown
 * parser "apach2"; did you mean "apache2"?`). Plugins are created but nothing is opened: no file is
 * read and no port bound until the job runs. The operators module, if any, is imported; queries
 * are planned by the SQL engine (`planPipelineQuery`) unless another planner is registered.
 */
export async function buildPipeline(file: PipelineFile, options: BuildOptions = {}): Promise<BuiltPipeline> {
  const registry = options.registry ?? defaultRegistry
  const baseDir = options.baseDir ?? process.cwd()
  const log = options.log ?? consoleLogger()
  const issues: ConfigIssue[] = [...(options.issues ?? [])]
  const stateDir = file.state ? resolve(baseDir, file.state.dir) : undefined
  const topology = new Topology(file.name)
  const taken = new Set<string>()
  const sourceNames = nameNodes(file.sources, 'sources', taken, issues)
  const outputNames = nameNodes(file.outputs, 'outputs', taken, issues)
  const context = (name: string, path: string): PluginContext => ({ name, path, baseDir, stateDir, log })

  const ingest = new IngestEndpoint()
  const streams: { [name: string]: Stream<unknown> } = {}
  const tables: { [name: string]: SourceTable } = {}
  file.sources.forEach((entry: SourceEntryConfig, i) => {
    const path = `sources[${i}]`
    const name = sourceNames[i]!
    tables[name] = { path, ...(entry.columns === undefined ? {} : { columns: entry.columns }) }
    const plugin = registry.get('input', entry.type)
    if (!plugin) {
      issues.push({ path: `${path}.type`, message: registry.unknownMessage('input', entry.type) })
      return
    }
    const config = validate(plugin.config, without(entry, SOURCE_KEYS), path)
    let parser: Parser | undefined
    const parserConfig = entry.parser ?? (plugin.defaultParser ? { type: plugin.defaultParser } : undefined)
    if (entry.parser && plugin.produces === 'records') {
      issues.push({
        path: `${path}.parser`,
        message: `the ${entry.type} input produces records, not lines; parsers apply to line inputs (file, stdin, tail, syslog, generator, nats)`,
      })
    } else if (parserConfig) {
      const parserPlugin = registry.get('parser', parserConfig.type)
      if (!parserPlugin)
        issues.push({
          path: `${path}.parser.type`,
          message: registry.unknownMessage('parser', parserConfig.type),
        })
      else {
        const pc = validate(parserPlugin.config, parserConfig, `${path}.parser`)
        if (!pc.ok) issues.push(...pc.issues)
        else {
          try {
            parser = parserPlugin.create(pc.value, context(name, `${path}.parser`))
          } catch (e) {
            issues.push(...issuesOf(e, `${path}.parser`))
          }
        }
      }
    }
    const columns = entry.columns ?? parser?.columns
    if (columns !== undefined) tables[name] = { path, columns }
    if (!config.ok) {
      issues.push(...config.issues)
      return
    }
    const conflict = entry.parser === undefined ? undefined : plugin.parserConflict?.(config.value)
    if (conflict !== undefined) issues.push({ path: `${path}.parser`, message: conflict })
    let watermarks: WatermarkStrategy<unknown> | undefined
    const et = entry.eventTime
    if (et) {
      try {
        watermarks = WatermarkStrategy.forBoundedOutOfOrderness<unknown>(et.maxOutOfOrderness)
        if (et.field !== undefined) watermarks = watermarks.withTimestamp(et.field, et.format)
        if (et.idleness !== undefined) watermarks = watermarks.withIdleness(et.idleness)
      } catch (e) {
        issues.push(...issuesOf(e, `${path}.eventTime`))
      }
    }
    try {
      const spec = plugin.create(config.value, { ...context(name, path), tag: entry.tag, parser, ingest })
      if (issues.length === 0) {
        streams[name] = topology.source(name, spec, {
          onError: entry.onError,
          ...(entry.parallelism === undefined ? {} : { parallelism: entry.parallelism }),
          ...(watermarks ? { watermarks } : {}),
        })
      }
    } catch (e) {
      issues.push(...issuesOf(e, path))
    }
  })

  let routed: Stream<unknown>[] = Object.values(streams)
  if (file.operators && issues.length === 0) {
    try {
      const result = await loadOperators(
        resolve(baseDir, file.operators.module),
        file.operators.export,
        streams,
        topology,
      )
      if (result !== undefined) routed = result
    } catch (e) {
      issues.push(...issuesOf(e, 'operators.module'))
    }
  }

  // The SQL engine loads only for a file with queries.
  const planner =
    file.queries.length === 0
      ? undefined
      : (queryPlanner() ?? (await import('../query/pipeline-planner.ts')).planPipelineQuery)
  // With problems elsewhere the job is not built, but its queries are still checked: planned into
  // a scratch topology in which a stand-in takes the place of every source.
  const checkOnly = issues.length > 0
  const planning = checkOnly ? standInSources(file.name, sourceNames) : { topology, streams }
  const faulty = sourcesAtFault(issues)
  const updating: { index: number; name: string; because: string | undefined }[] = []
  file.queries.forEach((q, i) => {
    if (planner === undefined) return
    if (q.match !== undefined) {
      try {
        compileTagPattern(q.match)
      } catch (e) {
        issues.push(...issuesOf(e, `queries[${i}].match`))
        return
      }
    }
    try {
      const out = planner(q, { ...planning, tables, log })
      const results = out !== undefined && 'results' in out ? out.results : out
      if (out !== undefined && 'results' in out && out.updating)
        updating.push({ index: i, name: q.name, because: out.updatingBecause })
      if (results && !checkOnly) routed.push(results)
    } catch (e) {
      // A problem naming a source that has problems of its own (its columns are unknown because
      // its parser is misspelt) follows from those and is left out.
      for (const issue of issuesOf(e, `queries[${i}]`))
        if (!faulty.some((source) => issue.message.includes(source))) issues.push(issue)
    }
  })

  const sinks: { name: string; spec: SinkSpec<unknown>; parallelism: number | undefined }[] = []
  const takers: OutputTaker[] = []
  file.outputs.forEach((entry: OutputEntryConfig, i) => {
    const path = `outputs[${i}]`
    const name = outputNames[i]!
    const target = createOutput(registry, entry, path, context(name, path), issues)
    let secondary: OutputTarget | undefined
    if (entry.secondary) {
      const s = { ...entry.secondary, match: '**' } as OutputEntryConfig
      secondary = createOutput(
        registry,
        s,
        `${path}.secondary`,
        context(`${name}.secondary`, `${path}.secondary`),
        issues,
      )
      if (secondary && 'sink' in secondary) {
        issues.push({
          path: `${path}.secondary.type`,
          message: `a secondary output must deliver chunks; "${entry.secondary.type}" with these options does not`,
        })
      }
    }
    let match: ReturnType<typeof compileTagPattern> | undefined
    try {
      match = entry.match === '**' ? undefined : compileTagPattern(entry.match)
    } catch (e) {
      issues.push(...issuesOf(e, `${path}.match`))
    }
    if (target)
      takers.push({
        path,
        type: entry.type,
        match,
        accepts: 'sink' in target ? target.sink.accepts : target.delivery.accepts,
      })
    const totalLimitBytes = toBytes(entry.buffer.totalLimitBytes)
    if (totalLimitBytes === undefined)
      issues.push({
        path: `${path}.buffer.totalLimitBytes`,
        message: `expected a size like "64MiB", got ${JSON.stringify(entry.buffer.totalLimitBytes)}`,
      })
    if (!target || issues.length > 0) return
    if ('sink' in target) {
      sinks.push({ name, spec: matchingSink(target.sink, match), parallelism: entry.parallelism })
      return
    }
    const delivery = target.delivery
    const secondaryDelivery = secondary && 'delivery' in secondary ? secondary.delivery : undefined
    const bufferPath = entry.buffer.path
      ? resolve(baseDir, entry.buffer.path)
      : join(stateDir ?? resolve(baseDir, '.squall'), 'buffer')
    const spec: SinkSpec<unknown> = {
      kind: delivery.kind,
      ...(delivery.maxParallelism === undefined ? {} : { maxParallelism: delivery.maxParallelism }),
      create: (ctx) =>
        new BufferedWriter(
          delivery.create(ctx),
          {
            name,
            match,
            buffer: {
              type: entry.buffer.type,
              path: bufferPath,
              chunkLimitRecords: entry.buffer.chunkLimitRecords,
              totalLimitBytes: totalLimitBytes!,
              flushIntervalMs: entry.buffer.flushInterval,
            },
            retry: {
              maxAttempts: entry.retry.maxAttempts,
              initialIntervalMs: entry.retry.initialInterval,
              maxIntervalMs: entry.retry.maxInterval,
            },
            secondary: secondaryDelivery?.create(ctx),
            onUndeliverable: entry.onError,
          },
          ctx,
        ),
    }
    sinks.push({ name, spec, parallelism: entry.parallelism })
  })

  for (const q of updating) refuseInsertOnlyOutputs(q, takers, issues)
  if (issues.length > 0) throw new ConfigError(issues)
  for (const s of sinks) {
    topology.addSink(
      s.name,
      s.spec,
      routed.map((r) => ({
        from: r.nodeName,
        ...(r.sideOutputName ? { sideOutput: r.sideOutputName } : {}),
      })),
      s.parallelism === undefined ? {} : { parallelism: s.parallelism },
    )
  }
  try {
    topology.validate()
  } catch (e) {
    if (e instanceof SquallError) throw new ConfigError([{ path: '', message: e.message }], { cause: e })
    throw e
  }
  return {
    topology,
    state:
      file.state && stateDir
        ? {
            dir: stateDir,
            checkpointInterval: file.state.checkpointInterval,
            backend: file.state.backend,
            ...(file.state.retain === undefined ? {} : { retain: file.state.retain }),
          }
        : undefined,
    server: file.server,
    queries: file.queries,
    ingest: ingest.owner === undefined ? undefined : ingest,
  }
}

/** An output as far as routing query results goes: where it is, what it matches and takes. */
interface OutputTaker {
  readonly path: string
  readonly type: string
  /** `undefined`: every tag. */
  readonly match: ((tag: string) => boolean) | undefined
  readonly accepts: SinkAccepts | undefined
}

/**
 * Refuses an updating query whose tag (`query.<name>`) an output taking only inserts matches:
 * one issue at `queries[i]` per such output, naming it, why the query updates and what to do.
 */
function refuseInsertOnlyOutputs(
  query: { index: number; name: string; because: string | undefined },
  outputs: readonly OutputTaker[],
  issues: ConfigIssue[],
): void {
  const tag = `query.${query.name}`
  const why =
    query.because === undefined
      ? 'it updates rows it emitted earlier (changelog)'
      : `${query.because} updates rows it emitted earlier (changelog)`
  for (const o of outputs) {
    if (o.accepts !== 'inserts' || (o.match !== undefined && !o.match(tag))) continue
    issues.push({
      path: `queries[${query.index}]`,
      message: `query "${query.name}" has updating results: ${why}, but ${o.path} (${o.type}) matches its tag "${tag}" and takes only inserts, so retracted and replaced rows (-U, -D) would stay there as if they were still true; window the query (TUMBLE, HOP, CUMULATE or SESSION) so every row is final, or route "${tag}" only to outputs that take a changelog (stdout, http, nats, or redis with mode publish, xadd or lpush)`,
    })
  }
}

/** A topology with a stand-in source node for each source name, for checking queries only. */
function standInSources(
  job: string,
  names: readonly (string | undefined)[],
): { topology: Topology; streams: { [name: string]: Stream<unknown> } } {
  const topology = new Topology(job)
  const streams: { [name: string]: Stream<unknown> } = {}
  const spec: SourceSpec<unknown> = {
    kind: 'stand-in',
    bounded: true,
    create: () => {
      throw new ConfigError([
        { path: '', message: 'a stand-in source is for checking queries; it never runs' },
      ])
    },
  }
  for (const name of names)
    if (name !== undefined && !(name in streams)) streams[name] = topology.source(name, spec)
  return { topology, streams }
}

/** The sources (`sources[2]`) that `issues` are about. */
function sourcesAtFault(issues: readonly ConfigIssue[]): string[] {
  const paths = new Set<string>()
  for (const i of issues) {
    const m = /^sources\[\d+\]/.exec(i.path)
    if (m) paths.add(m[0])
  }
  return [...paths]
}

function createOutput(
  registry: PluginRegistry,
  entry: OutputEntryConfig,
  path: string,
  ctx: PluginContext,
  issues: ConfigIssue[],
): OutputTarget | undefined {
  const plugin = registry.get('output', entry.type)
  if (!plugin) {
    issues.push({ path: `${path}.type`, message: registry.unknownMessage('output', entry.type) })
    return undefined
  }
  const config = validate(plugin.config, without(entry, OUTPUT_KEYS), path)
  if (!config.ok) {
    issues.push(...config.issues)
    return undefined
  }
  try {
    return plugin.create(config.value, ctx)
  } catch (e) {
    issues.push(...issuesOf(e, path))
    return undefined
  }
}

// The QueryManager: registers, lists and drops continuous queries on a running job's tables,
// each as its own embedded job, and keeps the registered definitions across restarts.

import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { SquallError, wrapError } from '../core/errors.ts'
import { type Logger, consoleLogger } from '../core/logger.ts'
import type { SourceSpec } from '../core/source.ts'
import type { WatermarkStrategy } from '../core/watermark.ts'
import { type RowSchema, TIME_COLUMN } from './row-schema.ts'
import { SqlTypes } from './types.ts'
import { type BusBarriers, type StreamBus, busTable } from './bus.ts'
import {
  type QueryCheckpointOptions,
  QueryBarriers,
  queryRestorePoint,
  queryStateDir,
} from './query-checkpoints.ts'
import {
  type Change,
  type PlannedQuery,
  type QueryDefinition,
  type QueryInfo,
  QueryJob,
  type QueryJobOptions,
} from './query-job.ts'

export { TIME_COLUMN }

/**
 * One table a query may read: a fresh bus source of the job's stream, the event-time strategy a
 * query source on it should use (it carries the table's watermark, see `busTable`; absent when the
 * job's source declares no event time), and what
 * the planner types its columns from: the declared schema, else sample rows (the first values
 * the job published). `timeColumn` names the column holding each row's event time, the table's
 * time attribute: the declared one, else `time` (TIME_COLUMN) for a table with event time, whose
 * source then adds it to every row (and `schema`, when declared, lists it as TIMESTAMP(3)).
 */
export interface QueryCatalogTable {
  readonly name: string
  readonly source: SourceSpec
  readonly watermarks?: WatermarkStrategy<unknown>
  readonly schema?: RowSchema | { readonly [column: string]: string }
  readonly sample?: readonly object[]
  readonly timeColumn?: string
}

/**
 * What the job declares about a table, for planners that type-check: the columns of its records,
 * and the column that holds each record's event time (instead of the `time` column added to a
 * table with event time).
 */
export interface TableDeclaration {
  readonly schema?: RowSchema | { readonly [column: string]: string }
  readonly timeColumn?: string
}

/** The tables a running job exposes to queries, by name. */
export type QueryCatalog = ReadonlyMap<string, QueryCatalogTable>

/**
 * Plans SQL over a catalog into a topology (see `PlannedQuery`). Throws a SquallError for SQL that
 * does not parse or type-check (ERR_SQL_*, with line, column and caret); it must not start anything.
 */
export type QueryPlanner = (sql: string, catalog: QueryCatalog) => PlannedQuery

/** Options of a QueryManager. */
export interface QueryManagerOptions {
  bus: StreamBus
  planner: QueryPlanner
  /** Where registered queries are kept (`queries.json`), so they come back after a restart. */
  stateDir?: string
  log?: Logger
  /** Result changes buffered per query for late readers (default 1000). */
  resultBuffer?: number
  /** Schemas and time columns of tables, by table name; without one a planner infers the schema from sample rows. */
  tables?: { readonly [table: string]: TableDeclaration }
  /** Receives every query's result changes (e.g. to send them to the job's outputs, tagged `query.<name>`). */
  onResult?: (query: string, changes: readonly Change[]) => void
  /**
   * Makes every query's state part of the job's checkpoints (the job must have a state directory
   * and run the taps of `withTaps` or `withThreadTaps`): each query takes a checkpoint at each of
   * the job's, under the same id, in `<dir>/queries/<name>`; the queries restored from `stateDir`
   * resume from theirs of the checkpoint the job resumes from (`resumedFrom`). Without it, a
   * restored query starts with empty state.
   */
  checkpoints?: QueryCheckpointOptions
}

/** The first rows of each table a query was planned with, by table (tables without a declared schema). */
type Samples = { [table: string]: unknown[] }

interface Persisted {
  version: 1
  /**
   * `samples`: kept so that a restored query is planned as it was, before the job publishes
   * anything. `error`: the query failed at run time with it; it is listed as failed after a
   * restart, not run again.
   */
  queries: { name: string; sql: string; createdAt: string; samples?: Samples; error?: string }[]
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/
const FILE = 'queries.json'

/**
 * Registers continuous queries on a job's tables. Each query runs as its own embedded job reading
 * bus sources, so a bad or failing query never disturbs the job or the other queries. Calls are
 * handled one at a time in call order; persistence (with `stateDir`) is written atomically
 * (temporary file + rename) after every register and drop, before the call resolves. With
 * `checkpoints`, a query's state is in the job's checkpoints: a registered query starts empty, a
 * restored one resumes from the checkpoint the job resumes from, and a dropped one's is deleted.
 */
export class QueryManager {
  private readonly queries = new Map<string, QueryJob>()
  /** The samples each query was planned with (see Persisted). */
  private readonly samples = new Map<string, Samples>()
  /** The error of each query that failed at run time, kept across restarts (see Persisted). */
  private readonly failures = new Map<string, string>()
  private readonly log: Logger
  private queue: Promise<unknown> = Promise.resolve()
  private closed = false

  private constructor(private readonly options: QueryManagerOptions) {
    this.log = options.log ?? consoleLogger()
  }

  /**
   * Creates a manager and restarts the queries persisted under `stateDir` (with `checkpoints`,
   * each from its state at the checkpoint the job resumes from; a query without one starts empty,
   * and a warning says why). Call it before the job starts, so the queries read its records from
   * the first. A persisted query that no longer plans is listed as `failed` with the reason, until
   * dropped; so is one that had failed at run time, with its error, and it is not run again (as
   * Flink keeps a failed job failed: the same records would most likely fail it the same way).
   * Throws ERR_STATE_FORMAT for an unreadable `queries.json`.
   */
  static async open(options: QueryManagerOptions): Promise<QueryManager> {
    const m = new QueryManager(options)
    for (const q of await m.readPersisted()) {
      if (q.samples !== null && typeof q.samples === 'object') m.samples.set(q.name, q.samples)
      if (typeof q.error === 'string') {
        m.failures.set(q.name, q.error)
        m.queries.set(q.name, QueryJob.failed(q, q.error, m.jobOptions(), q.createdAt))
        continue
      }
      try {
        m.queries.set(q.name, m.start(q, q.createdAt, true))
      } catch (e) {
        m.log(
          'warn',
          `query "${q.name}" could not be restored: ${e instanceof Error ? e.message : String(e)}`,
          { query: q.name },
        )
        m.queries.set(q.name, QueryJob.failed(q, e, m.jobOptions(), q.createdAt))
      }
    }
    return m
  }

  /** The bus whose tables the queries read. */
  get bus(): StreamBus {
    return this.options.bus
  }

  /**
   * The tables of the job, each with a fresh bus source. A table whose source declares event time
   * and whose declaration names no time column gets the `time` column (see TIME_COLUMN). The
   * sources stop at the job's checkpoint markers for `barriers` when it is given. A table's sample
   * rows are those of `samples` when it has some for the table, else the bus's.
   */
  catalog(barriers?: BusBarriers, samples?: Samples): QueryCatalog {
    const { bus, tables } = this.options
    const out = new Map<string, QueryCatalogTable>()
    for (const name of bus.tables()) {
      const declared = tables?.[name]
      const eventTime = bus.watermarksOf(name) !== undefined
      const sample = (samples?.[name] ?? bus.sample(name)).filter(
        (v): v is object => v !== null && typeof v === 'object',
      )
      const recordTime = declared?.timeColumn === undefined && eventTime
      const timeColumn = declared?.timeColumn ?? (recordTime ? TIME_COLUMN : undefined)
      const schema =
        declared?.schema !== undefined && recordTime
          ? withTimeColumn(declared.schema, name)
          : declared?.schema
      const { source, watermarks } = busTable(bus, name, {
        ...(recordTime ? { recordTime: TIME_COLUMN } : {}),
        ...(barriers ? { barriers } : {}),
      })
      out.set(name, {
        name,
        source,
        ...(watermarks ? { watermarks } : {}),
        ...(schema ? { schema } : {}),
        ...(timeColumn ? { timeColumn } : {}),
        ...(sample.length > 0 ? { sample } : {}),
      })
    }
    return out
  }

  /**
   * Plans and starts a query. Throws ERR_QUERY_INVALID for a bad name or empty SQL, ERR_QUERY_EXISTS
   * when the name is taken, the planner's ERR_SQL_* error for bad SQL; nothing is started then.
   */
  register(definition: QueryDefinition): Promise<QueryInfo> {
    return this.serial(async () => {
      const { name, sql } = definition
      if (typeof name !== 'string' || !NAME.test(name)) {
        throw new SquallError(
          'ERR_QUERY_INVALID',
          `query name: expected 1 to 64 letters, digits, "_" or "-", got ${JSON.stringify(name ?? null)}`,
        )
      }
      if (typeof sql !== 'string' || sql.trim() === '') {
        throw new SquallError(
          'ERR_QUERY_INVALID',
          `query "${name}": sql: expected a SQL statement, got ${JSON.stringify(sql ?? null)}`,
        )
      }
      if (this.queries.has(name)) {
        throw new SquallError(
          'ERR_QUERY_EXISTS',
          `query "${name}" is already registered; drop it first or choose another name`,
        )
      }
      const samples = this.currentSamples()
      const job = this.start({ name, sql }, undefined, false, samples)
      this.queries.set(name, job)
      this.samples.set(name, samples)
      await this.persist()
      return job.info()
    })
  }

  /** Every registered query with its status and metrics, in registration order. */
  list(): QueryInfo[] {
    return [...this.queries.values()].map((q) => q.info())
  }

  /** The registered query `name`. Throws ERR_QUERY_NOT_FOUND. */
  get(name: string): QueryJob {
    const q = this.queries.get(name)
    if (q === undefined) {
      const known = [...this.queries.keys()]
      throw new SquallError(
        'ERR_QUERY_NOT_FOUND',
        `no query named ${JSON.stringify(name)}; registered: ${known.length > 0 ? known.map((k) => `"${k}"`).join(', ') : 'none'}`,
      )
    }
    return q
  }

  /**
   * Stops query `name`, frees its state and forgets it (also on disk: its definition, and with
   * `checkpoints` its state in every checkpoint). Throws ERR_QUERY_NOT_FOUND.
   */
  drop(name: string): Promise<void> {
    return this.serial(async () => {
      const q = this.get(name)
      this.queries.delete(name)
      this.samples.delete(name)
      this.failures.delete(name)
      await q.stop()
      await this.persist()
      const cp = this.options.checkpoints
      if (cp !== undefined) await rm(queryStateDir(cp.dir, name), { recursive: true, force: true })
    })
  }

  /**
   * Stops every query, keeping their definitions on disk for the next start. With `checkpoints`,
   * a query that has read all of its tables (the job drained or finished) finishes first and takes
   * its final checkpoint; stop the job before closing the manager, so that no checkpoint of the
   * job completes without the queries.
   */
  close(): Promise<void> {
    return this.serial(async () => {
      this.closed = true
      const all = [...this.queries.values()]
      this.queries.clear()
      await Promise.all(all.map((q) => q.close()))
    })
  }

  /** Plans and starts a query; `restored`: one persisted before, which resumes from its checkpoint. */
  private start(
    definition: QueryDefinition,
    createdAt?: string,
    restored = false,
    samples = this.samples.get(definition.name),
  ): QueryJob {
    const cp = this.options.checkpoints
    const barriers = cp === undefined ? undefined : new QueryBarriers(definition.name, this.log)
    let planned: PlannedQuery
    try {
      planned = this.options.planner(definition.sql, this.catalog(barriers, samples))
    } catch (e) {
      if (e instanceof SquallError) throw e
      throw wrapError('ERR_QUERY_INVALID', `query "${definition.name}" could not be planned`, e)
    }
    try {
      const options = this.jobOptions()
      if (cp !== undefined && barriers !== undefined) {
        const dir = queryStateDir(cp.dir, definition.name)
        let from: string | undefined
        if (restored) from = queryRestorePoint(dir, cp.resumedFrom?.id, definition.name, this.log)
        else rmSync(dir, { recursive: true, force: true })
        options.checkpoints = {
          dir,
          retain: cp.retain ?? 3,
          barriers,
          ...(from === undefined ? {} : { from }),
          ...(cp.resumedFrom?.finished === false ? { continueFinished: true } : {}),
        }
      }
      return QueryJob.start(definition, planned, options, createdAt)
    } catch (e) {
      if (e instanceof SquallError && e.code === 'ERR_QUERY_INVALID') throw e
      throw new SquallError(
        'ERR_QUERY_INVALID',
        `query "${definition.name}" cannot run: ${e instanceof Error ? e.message : String(e)}`,
        {
          cause: e,
        },
      )
    }
  }

  /** The bus's sample rows of every table that declares no schema. */
  private currentSamples(): Samples {
    const out: Samples = {}
    for (const name of this.options.bus.tables()) {
      const sample = this.options.bus.sample(name)
      if (this.options.tables?.[name]?.schema === undefined && sample.length > 0) out[name] = [...sample]
    }
    return out
  }

  private jobOptions(): QueryJobOptions {
    return {
      log: this.log,
      ...(this.options.resultBuffer !== undefined ? { resultBuffer: this.options.resultBuffer } : {}),
      ...(this.options.onResult ? { onResult: this.options.onResult } : {}),
      onFailed: (q) => this.saveFailure(q),
    }
  }

  /** Keeps the error of query `q`, which failed at run time, in `queries.json`. */
  private saveFailure(q: QueryJob): void {
    // A query dropped meanwhile (or one of the same name registered since) is not this one.
    if (this.queries.get(q.name) !== q || q.error === undefined) return
    this.failures.set(q.name, q.error)
    this.serial(() => this.persist()).catch((e: unknown) => {
      this.log(
        'warn',
        `query "${q.name}": its failure could not be saved: ${e instanceof Error ? e.message : String(e)}`,
        { query: q.name },
      )
    })
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => {
      if (this.closed)
        throw new SquallError('ERR_QUERY_INVALID', 'the query manager is closed; the job is stopping')
      return fn()
    })
    this.queue = run.catch(() => {})
    return run
  }

  private async readPersisted(): Promise<Persisted['queries']> {
    const dir = this.options.stateDir
    if (dir === undefined) return []
    let text: string
    try {
      text = await readFile(join(dir, FILE), 'utf8')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw e
    }
    let data: Persisted
    try {
      data = JSON.parse(text) as Persisted
    } catch (e) {
      throw new SquallError(
        'ERR_STATE_FORMAT',
        `${join(dir, FILE)}: not valid JSON; fix or delete the file`,
        { cause: e },
      )
    }
    if (data?.version !== 1 || !Array.isArray(data.queries)) {
      throw new SquallError(
        'ERR_STATE_FORMAT',
        `${join(dir, FILE)}: expected { "version": 1, "queries": [...] }; fix or delete the file`,
      )
    }
    return data.queries.filter((q) => typeof q?.name === 'string' && typeof q.sql === 'string')
  }

  private async persist(): Promise<void> {
    const dir = this.options.stateDir
    if (dir === undefined) return
    const data: Persisted = {
      version: 1,
      queries: [...this.queries.values()].map((q) => {
        const samples = this.samples.get(q.name)
        const error = this.failures.get(q.name)
        return {
          name: q.name,
          sql: q.definition.sql,
          createdAt: q.createdAt,
          ...(samples !== undefined && Object.keys(samples).length > 0 ? { samples } : {}),
          ...(error !== undefined ? { error } : {}),
        }
      }),
    }
    await mkdir(dir, { recursive: true })
    const path = join(dir, FILE)
    const tmp = `${path}.${process.pid}.tmp`
    await writeFile(tmp, `${JSON.stringify(data, null, 2)}\n`)
    await rename(tmp, path)
  }
}

/** A declared schema with the `time` column (TIMESTAMP(3)) last, in place of any column of that name. */
function withTimeColumn(
  schema: RowSchema | { readonly [column: string]: string },
  table: string,
): RowSchema | { readonly [column: string]: string } {
  if ('columns' in schema && Array.isArray(schema.columns)) {
    const rows = schema as RowSchema
    return {
      ...rows,
      columns: [
        ...rows.columns.filter((c) => c.name !== TIME_COLUMN),
        { name: TIME_COLUMN, type: SqlTypes.TIMESTAMP3, table },
      ],
    }
  }
  const { [TIME_COLUMN]: _replaced, ...columns } = schema as { readonly [column: string]: string }
  return { ...columns, [TIME_COLUMN]: 'TIMESTAMP(3)' }
}

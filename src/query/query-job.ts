// One registered query at run time: its own embedded job, and its results as a changelog, a ring
// buffer of recent changes for live readers, and the current result table for state reads.

import { SquallError, check } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { Record } from '../core/record.ts'
import type { SinkSpec } from '../core/source.ts'
import type { Topology } from '../core/topology.ts'
import { runEmbedded } from '../runtime/embedded/runner.ts'
import type { Job } from '../runtime/job.ts'
import type { NodeMetrics } from '../runtime/task-env.ts'
import type { QueryBarriers } from './query-checkpoints.ts'

/** A result row: column name → value. */
export type Row = { [column: string]: unknown }

/**
 * A change of a query's result, as in Flink's changelog: `+I` insert, `-U` the row before an
 * update, `+U` the row after it, `-D` delete. Append-only queries produce only `+I`.
 */
export type ChangeOp = '+I' | '-U' | '+U' | '-D'
export interface Change {
  readonly op: ChangeOp
  readonly row: Row
}

/**
 * What a planner makes of a query: a topology reading bus sources, the node whose output are the
 * result rows (default: the last node that is not a sink), whether results update earlier ones,
 * the result columns, the result's unique key (columns whose values identify one row of the
 * current result; absent or `[]` when rows have none, and the result table is then a multiset),
 * and warnings for the user. An output record's value is either a `Change` or a plain row: for an
 * updating query with a key a plain row replaces the row with the same key (an upsert); otherwise
 * it is an insert.
 */
export interface PlannedQuery {
  readonly topology: Topology
  readonly output?: string
  readonly updating: boolean
  readonly columns: readonly string[]
  readonly key?: readonly string[]
  readonly warnings: readonly string[]
}

/** A reader of a query's result changes (an SSE stream). `end` is called when the query goes away. */
export interface ResultSubscriber {
  changes(changes: readonly Change[]): void
  end(reason: string): void
}

const OPS = new Set<string>(['+I', '-U', '+U', '-D'])

/**
 * A result table's content at a checkpoint, as plain JSON data: the buffered changes (oldest
 * first), the count of changes so far and, for an updating query, the current rows (with their
 * multiplicity when the result has no key).
 */
export interface ResultTableSnapshot {
  readonly changeCount: number
  readonly recent: readonly Change[]
  readonly rows?: readonly Row[]
  readonly counted?: readonly (readonly [Row, number])[]
}

function isChange(v: unknown): v is Change {
  return (
    v !== null && typeof v === 'object' && OPS.has((v as Change).op) && typeof (v as Change).row === 'object'
  )
}

/**
 * The results of one query. `apply` turns output values into changes (in order), keeps the last
 * `capacity` changes, maintains the current table and hands each batch of changes to every
 * subscriber, synchronously. A subscriber that throws is removed.
 *
 * The current table of an updating query with a unique `key` holds one row per key: `+I` and `+U`
 * set the row of their key, `-U` and `-D` remove it, and a plain row replaces the row of its key
 * (an upsert). A `-U` and the `+U` of the same key that follows it in the batch replace the row in
 * place, so rows keep their first-insertion order. Without a key it is a multiset, as the
 * changelog describes it: `+I` and `+U` (and a plain row) add a row, `-U` and `-D` remove one equal
 * row (equal: the same JSON text). The table of an append-only query is the rows of the buffered
 * changes.
 */
export class ResultTable {
  private readonly ring: Change[]
  private next = 0
  private size = 0
  /** Updating with a key: the row of each key, in first-insertion order. */
  private readonly rowsByKey = new Map<string, Row>()
  /**
   * Updating with a key: the key of a `-U` whose `+U` has not come yet. Its entry stays in
   * `rowsByKey` until the end of the batch, so that the `+U` of the same key keeps the row's place.
   */
  private retracted: string | undefined = undefined
  /** Updating without a key: each distinct row (by its JSON text) with its count. */
  private readonly multiset = new Map<string, { row: Row; count: number }>()
  private multisetSize = 0
  private readonly subscribers = new Set<ResultSubscriber>()
  /** Changes applied since the start. */
  changeCount = 0

  /**
   * `key`: the columns that identify one row of the current result (the plan's unique key), or
   * `[]` when rows have none.
   */
  constructor(
    readonly updating: boolean,
    readonly key: readonly string[],
    readonly capacity = 1000,
  ) {
    check(Number.isInteger(capacity) && capacity >= 1, 'resultBuffer', 'an integer ≥ 1', capacity)
    this.ring = new Array<Change>(capacity)
  }

  /** The key string of a row: its key columns' values as text (the first `n` of them). */
  keyOf(row: Row, n = this.key.length): string {
    const k = this.key
    if (n === 1) return String(row[k[0]!])
    let s = ''
    for (let i = 0; i < n; i++) s += (i > 0 ? '\u001f' : '') + String(row[k[i]!])
    return s
  }

  private get keyed(): boolean {
    return this.key.length > 0
  }

  /** Applies the output values of one batch, in order. Returns the changes made. */
  apply(values: readonly unknown[]): Change[] {
    const out: Change[] = []
    for (let i = 0; i < values.length; i++) {
      const v = values[i]
      if (isChange(v)) this.change(v, out)
      else if (v !== null && typeof v === 'object') this.upsert(v as Row, out)
      else this.change({ op: '+I', row: { value: v } }, out)
    }
    this.settle()
    if (out.length > 0) this.publish(out)
    return out
  }

  private upsert(row: Row, out: Change[]): void {
    if (!this.updating || !this.keyed) {
      this.change({ op: '+I', row }, out)
      return
    }
    this.settle()
    const key = this.keyOf(row)
    const old = this.rowsByKey.get(key)
    if (old !== undefined) {
      this.record({ op: '-U', row: old }, out)
      this.record({ op: '+U', row }, out)
    } else this.record({ op: '+I', row }, out)
    this.rowsByKey.set(key, row)
  }

  private change(c: Change, out: Change[]): void {
    if (this.updating) {
      const remove = c.op === '-D' || c.op === '-U'
      if (this.keyed) {
        const key = this.keyOf(c.row)
        if (this.retracted !== key || c.op === '-D' || c.op === '-U') this.settle()
        if (c.op === '-U') this.retracted = key
        else if (remove) this.rowsByKey.delete(key)
        else {
          this.retracted = undefined
          this.rowsByKey.set(key, c.row)
        }
      } else if (remove) this.removeOne(c.row)
      else this.addOne(c.row)
    }
    this.record(c, out)
  }

  /** Removes the row of a `-U` that no `+U` of its key followed. */
  private settle(): void {
    if (this.retracted === undefined) return
    this.rowsByKey.delete(this.retracted)
    this.retracted = undefined
  }

  private addOne(row: Row): void {
    const text = JSON.stringify(row)
    const entry = this.multiset.get(text)
    if (entry === undefined) this.multiset.set(text, { row, count: 1 })
    else entry.count++
    this.multisetSize++
  }

  private removeOne(row: Row): void {
    const text = JSON.stringify(row)
    const entry = this.multiset.get(text)
    if (entry === undefined) return
    if (--entry.count === 0) this.multiset.delete(text)
    this.multisetSize--
  }

  private record(c: Change, out: Change[]): void {
    this.ring[this.next] = c
    this.next = (this.next + 1) % this.capacity
    if (this.size < this.capacity) this.size++
    this.changeCount++
    out.push(c)
  }

  private publish(changes: Change[]): void {
    for (const s of this.subscribers) {
      try {
        s.changes(changes)
      } catch {
        this.subscribers.delete(s)
      }
    }
  }

  /** The last `n` buffered changes, oldest first (at most `capacity`). */
  recent(n: number = this.capacity): Change[] {
    const count = Math.max(0, Math.min(n, this.size))
    const out: Change[] = []
    for (let i = count; i > 0; i--) out.push(this.ring[(this.next - i + this.capacity) % this.capacity]!)
    return out
  }

  /** Number of rows of the current table (equal rows of a multiset each count). */
  get rowCount(): number {
    if (!this.updating) return this.size
    return this.keyed ? this.rowsByKey.size : this.multisetSize
  }

  /**
   * The current rows from `offset`, at most `limit`: in first-insertion order (updating; the equal
   * rows of a multiset next to each other) or arrival order (append-only).
   */
  rows(offset = 0, limit = 100): Row[] {
    const out: Row[] = []
    if (!this.updating) {
      for (const c of this.recent().slice(offset, offset + limit)) out.push(c.row)
      return out
    }
    let i = 0
    for (const row of this.currentRows()) {
      if (out.length >= limit) break
      if (i++ >= offset) out.push(row)
    }
    return out
  }

  private *currentRows(): Generator<Row> {
    if (this.keyed) {
      yield* this.rowsByKey.values()
      return
    }
    for (const { row, count } of this.multiset.values()) for (let i = 0; i < count; i++) yield row
  }

  /**
   * The current rows whose first key columns equal `values` (one text value per column, at most
   * one per key column): with every key column, the row of that key. Throws ERR_ARGUMENT for more
   * values than key columns, or any value when the result has no key.
   */
  lookup(values: readonly string[]): Row[] {
    const n = values.length
    check(
      n <= this.key.length,
      'key',
      this.key.length === 0
        ? 'none: the result has no unique key'
        : `at most ${this.key.length} value(s), one per key column (${this.key.join(', ')})`,
      values,
    )
    const k = values.join('\u001f')
    if (this.updating && n === this.key.length) {
      const row = this.rowsByKey.get(k)
      return row === undefined ? [] : [row]
    }
    const rows = this.updating ? [...this.currentRows()] : this.recent().map((c) => c.row)
    return rows.filter((r) => this.keyOf(r, n) === k)
  }

  subscribe(s: ResultSubscriber): () => void {
    this.subscribers.add(s)
    return () => this.subscribers.delete(s)
  }

  get subscriberCount(): number {
    return this.subscribers.size
  }

  /**
   * The table's content now (see ResultTableSnapshot). It shares the row objects, which the table
   * never changes; it is written as JSON, so values JSON cannot hold (NaN, ±Infinity) come back as
   * null.
   */
  snapshot(): ResultTableSnapshot {
    const base = { changeCount: this.changeCount, recent: this.recent() }
    if (!this.updating) return base
    if (this.keyed) return { ...base, rows: [...this.rowsByKey.values()] }
    return { ...base, counted: [...this.multiset.values()].map((e) => [e.row, e.count] as const) }
  }

  /** Replaces the content of this (empty) table with `snapshot`; subscribers are not told. */
  restore(snapshot: ResultTableSnapshot): void {
    this.next = 0
    this.size = 0
    for (const c of snapshot.recent.slice(-this.capacity)) {
      this.ring[this.next] = c
      this.next = (this.next + 1) % this.capacity
      this.size++
    }
    this.changeCount = snapshot.changeCount
    this.rowsByKey.clear()
    this.multiset.clear()
    this.multisetSize = 0
    for (const row of snapshot.rows ?? []) this.rowsByKey.set(this.keyOf(row), row)
    for (const [row, count] of snapshot.counted ?? []) {
      this.multiset.set(JSON.stringify(row), { row, count })
      this.multisetSize += count
    }
  }

  /** Ends every subscriber with `reason`; no change is delivered after. */
  close(reason: string): void {
    const all = [...this.subscribers]
    this.subscribers.clear()
    for (const s of all) {
      try {
        s.end(reason)
      } catch {}
    }
  }
}

/** Where a query is in its life. */
export type QueryStatus = 'running' | 'finished' | 'failed' | 'stopped'

/** A query's definition, as registered and persisted. */
export interface QueryDefinition {
  readonly name: string
  readonly sql: string
}

/** What `list()` and the HTTP API report about a query. */
export interface QueryInfo {
  name: string
  sql: string
  status: QueryStatus
  updating: boolean
  columns: string[]
  key: string[]
  warnings: string[]
  error?: string
  createdAt: string
  metrics: {
    in: number
    changes: number
    rows: number
    subscribers: number
    nodes: { [node: string]: NodeMetrics }
  }
}

/** Options of a running query. */
export interface QueryJobOptions {
  log: Logger
  resultBuffer?: number
  /** Receives every batch of result changes, after the result table is updated. */
  onResult?: (query: string, changes: readonly Change[]) => void
  /** Called once when the query fails at run time (its status and error already set). */
  onFailed?: (query: QueryJob) => void
  /**
   * Checkpoints of the query: its own state directory (`dir`, complete checkpoints kept:
   * `retain`), the checkpoint it resumes from (`from`, a `chk-<n>` directory there; its final
   * one goes on running with `continueFinished`, as the job's tables go on), and the barriers of
   * its bus sources, which take a checkpoint at each marker of the job's (see `QueryBarriers`).
   * Absent: the query keeps no state across restarts.
   */
  checkpoints?: {
    readonly dir: string
    readonly retain: number
    readonly from?: string
    readonly continueFinished?: boolean
    readonly barriers: QueryBarriers
  }
}

/** The name of the sink node a query's results go to. */
export const RESULT_SINK = 'query-results'

/**
 * One registered query. `start` runs the planned topology as its own embedded job (one thread,
 * parallelism 1), so a query that fails ends alone, as `failed`, with its error kept for `info()`;
 * the job and the other queries go on. With `checkpoints`, that job has a state directory and takes
 * a checkpoint at each of the job's checkpoint markers; its result sink saves the result table in
 * each (its pre-commit data) and restores it on recovery. `failed` makes an entry for a query that could not even
 * start (a restored query whose SQL no longer plans), so it stays visible until dropped.
 */
export class QueryJob {
  status: QueryStatus
  error: string | undefined
  readonly createdAt: string
  private readonly job: Job | undefined
  private readonly barriers: QueryBarriers | undefined

  private constructor(
    readonly definition: QueryDefinition,
    readonly planned: PlannedQuery | undefined,
    readonly results: ResultTable,
    options: QueryJobOptions,
    createdAt: string | undefined,
    error?: unknown,
  ) {
    this.createdAt = createdAt ?? new Date().toISOString()
    this.barriers = options.checkpoints?.barriers
    if (planned === undefined) {
      this.status = 'failed'
      this.error = error instanceof Error ? error.message : String(error)
      this.job = undefined
      return
    }
    const topology = planned.topology
    const output = planned.output ?? [...topology.nodes].reverse().find((n) => n.kind !== 'sink')?.name
    if (
      output === undefined ||
      topology.node(output) === undefined ||
      topology.node(output)!.kind === 'sink'
    ) {
      throw new SquallError(
        'ERR_QUERY_INVALID',
        `query "${definition.name}": the plan has no output node named ${JSON.stringify(output ?? null)}`,
      )
    }
    topology.addSink(
      RESULT_SINK,
      resultSink(definition.name, results, options.onResult),
      [{ from: output }],
      { parallelism: 1 },
    )
    const cp = options.checkpoints
    this.job = runEmbedded(topology, {
      threads: 1,
      parallelism: 1,
      log: options.log,
      ...(cp === undefined
        ? {}
        : {
            state: {
              dir: cp.dir,
              checkpointInterval: 0,
              retain: cp.retain,
              ...(cp.from === undefined ? {} : { fromCheckpoint: cp.from }),
              ...(cp.continueFinished ? { continueFinished: true } : {}),
            },
          }),
    })
    cp?.barriers.attach(this.job)
    this.status = 'running'
    this.job.done.then(
      (r) => {
        if (this.status === 'running') this.status = r.status === 'finished' ? 'finished' : 'stopped'
        if (this.status !== 'stopped') results.close(`query "${definition.name}" ${this.status}`)
      },
      (e: unknown) => {
        if (this.status !== 'running') return
        this.status = 'failed'
        this.error = e instanceof Error ? e.message : String(e)
        options.log('warn', `query "${definition.name}" failed: ${this.error}`, { query: definition.name })
        results.close(`query "${definition.name}" failed: ${this.error}`)
        options.onFailed?.(this)
      },
    )
  }

  /** Runs `planned` for `definition`. Throws ERR_QUERY_INVALID (or the topology's error) if it cannot start. */
  static start(
    definition: QueryDefinition,
    planned: PlannedQuery,
    options: QueryJobOptions,
    createdAt?: string,
  ): QueryJob {
    const results = new ResultTable(planned.updating, planned.key ?? [], options.resultBuffer)
    return new QueryJob(definition, planned, results, options, createdAt)
  }

  /** An entry for a query that could not start, with the reason. */
  static failed(
    definition: QueryDefinition,
    error: unknown,
    options: QueryJobOptions,
    createdAt?: string,
  ): QueryJob {
    return new QueryJob(definition, undefined, new ResultTable(false, [], 1), options, createdAt, error)
  }

  get name(): string {
    return this.definition.name
  }

  /** Stops the query's job and ends its subscribers. Resolves once every task is closed. */
  async stop(): Promise<void> {
    if (this.status === 'running') this.status = 'stopped'
    this.results.close(`query "${this.name}" was dropped`)
    await this.job?.stop()
  }

  /**
   * Stops the query because the job it reads stops. A checkpointed query that has read all of its
   * tables (they ended: the job drained or finished) is let finish first, so that its final
   * checkpoint holds its state at the end of the job's input; any other stops at once.
   */
  async close(): Promise<void> {
    if (this.status === 'running' && this.barriers?.inputEnded) await this.ended()
    await this.stop()
  }

  /** Resolves when the query's job has ended (at once for a query that never started). */
  async ended(): Promise<void> {
    await this.job?.done.catch(() => {})
  }

  info(): QueryInfo {
    const nodes = this.job?.metrics() ?? {}
    let input = 0
    for (const n of this.planned?.topology.nodes ?? [])
      if (n.kind === 'source') input += nodes[n.name]?.out ?? 0
    return {
      name: this.name,
      sql: this.definition.sql,
      status: this.status,
      updating: this.planned?.updating ?? false,
      columns: [...(this.planned?.columns ?? [])],
      key: [...this.results.key],
      warnings: [...(this.planned?.warnings ?? [])],
      ...(this.error !== undefined ? { error: this.error } : {}),
      createdAt: this.createdAt,
      metrics: {
        in: input,
        changes: this.results.changeCount,
        rows: this.results.rowCount,
        subscribers: this.results.subscriberCount,
        nodes,
      },
    }
  }
}

/**
 * The sink of a query's results. Its pre-commit data is the result table at the barrier, and its
 * recovery restores the table from the checkpoint's: results are visible at once, and a restore
 * turns them back to the checkpoint, which the replay then brings forward again.
 */
function resultSink(query: string, results: ResultTable, onResult: QueryJobOptions['onResult']): SinkSpec {
  return {
    kind: 'query-results',
    maxParallelism: 1,
    create: () => ({
      write(records: Record[]) {
        const values = new Array<unknown>(records.length)
        for (let i = 0; i < records.length; i++) values[i] = records[i]!.value
        const changes = results.apply(values)
        if (onResult !== undefined && changes.length > 0) onResult(query, changes)
      },
      preCommit: () => results.snapshot(),
      recover(committed: unknown[]) {
        const saved = committed[0] as ResultTableSnapshot | undefined
        if (saved !== undefined) results.restore(saved)
      },
    }),
  }
}

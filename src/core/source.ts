// The source and sink contracts: how records enter and leave a topology.

import type { Clock } from './clock.ts'
import type { Logger } from './logger.ts'
import type { Record } from './record.ts'

/** What a source partition or a sink task knows about where it runs. */
export interface IoContext {
  readonly nodeName: string
  /** This partition's (or sink task's) index, from 0, and how many there are. */
  readonly partition: number
  readonly partitions: number
  readonly log: Logger
  readonly clock: Clock
  /** Adds `n` to a counter of this node, reported in the job's metrics. */
  count(metric: string, n?: number): void
  /** Sends data to the job's owner (the thread that started the job): how `collect` sinks report. */
  report(channel: string, data: unknown): void
  /**
   * Hands a record that could not be read (invalid JSON, no parser match) to the node's error
   * policy: skipped with a counter and a log line, dead-lettered, or failing the job. `error` should
   * say where (file and line); `raw` is what was read.
   */
  badRecord(error: Error, raw: unknown): void
  /**
   * Takes the next unit of the source's shared work: returns 0, 1, 2, … each exactly once over all
   * partitions of the node, on every thread. A source that cuts its input into splits hands them
   * out this way (`SourceSpec.sharedWork`), so partitions that read faster read more. Absent where
   * nothing is shared (a reader built by hand); the reader then takes p, p + P, p + 2P, ….
   */
  claim?(): number
  /**
   * Sink tasks only (absent on sources): the sequence number of record 0 of the batch that the
   * `write` call in progress received; record `i` of it has number `batchSequence() + i`. A sink
   * task numbers every record it is given, in the order `write` receives them, from 0 when its key
   * sequence begins (see `idempotencyKey`); checkpoints record where the numbering stands. Read it
   * during `write`: the next batch moves it on. Costs nothing when not called.
   */
  batchSequence?(): number
  /**
   * Sink tasks only: the idempotency key of this task's record number `seq`, `<base>.<task>.<seq>`
   * (letters, digits, `-`, `_`, `.`). `<base>` is random when the task's key sequence begins; every
   * checkpoint keeps base and number, and a restore from it with the same nodes at the same
   * parallelism goes on from there, so a replay gives each record it repeats the key it had — if
   * records reach this task in the same order: one upstream channel all the way from replayable
   * sources, or inputs whose interleaving is fixed. Where channels merge (a union, a keyed exchange
   * from several tasks, worker threads), a replay may put another record at a number; an output
   * whose destination drops messages by key alone should mix in what it sends (as the http and
   * nats outputs hash the body into theirs), so a reordered replay duplicates rather than loses.
   * Any other restore, and a crash before the first complete checkpoint, start a new sequence:
   * replayed records get new keys. A key never names two records within one sequence, and no two
   * sequences share a base.
   */
  idempotencyKey?(seq: number): string
}

/**
 * Values read by `SourceReader.nextValues` as a part of an array: `values[from]` up to
 * `values[to - 1]`, `0 ≤ from ≤ to ≤ values.length`.
 */
export interface ValuesRange<T = unknown> {
  readonly values: readonly T[]
  readonly from: number
  readonly to: number
}

/**
 * One partition of a source. Never blocks: `nextBatch` returns what is ready now.
 *
 * - `nextBatch(max)`: up to `max` records; `[]` when nothing is ready yet; `null` once the partition
 *   has ended (bounded input exhausted). After `null` it is not called again.
 * - `ready()`: resolves when data may be ready (optional; without it the runtime polls with backoff).
 * - `snapshot()`: the position *after* the last record handed out; `restore(position)` resumes there.
 * - `finish()`: called once when the partition ends (its input is exhausted, or the job drains),
 *   before the end goes downstream: returns the records the reader still holds (e.g. multi-line
 *   records in progress), which go out as a last batch. After it, `nextBatch` is not called again,
 *   and `snapshot()` must no longer include what it returned.
 */
export interface SourceReader<T = unknown> {
  open?(): void | Promise<void>
  nextBatch(max: number): Record<T>[] | null
  /**
   * Optional, for readers whose records carry nothing but a value (no key, tag `''`): the values
   * of up to `max` next records, `null` at the end, as `nextBatch` would give them. When the
   * source's WatermarkStrategy takes event time from the values (`withTimestamp`), the source task
   * reads through this instead, and makes each record itself — only for the records that
   * survive the filters fused into the source (`Topology.fuseIntoSources`). Positions
   * (`snapshot`/`restore`) are shared with `nextBatch`.
   *
   * The values come as an array, or as a part of one (`ValuesRange`). The runtime reads them
   * before `nextValues` is called again and keeps no reference to the array: a reader may refill
   * and return one array each time, or hand out parts of an array it keeps (values held in
   * memory, a decoded chunk), copying nothing.
   */
  nextValues?(max: number): T[] | ValuesRange<T> | null
  /**
   * True when every batch `nextBatch` returns is a new array of new records that the reader keeps
   * no reference to: the runtime then owns them, and a keyed exchange sets their key in place
   * instead of copying each record. Leave it unset for a reader that hands out records it also
   * keeps or shares (a queue read by several jobs, a list replayed on restore).
   */
  readonly handsOver?: boolean
  ready?(): Promise<void>
  snapshot?(): unknown
  restore?(position: unknown): void
  /**
   * Called on the reader's thread once checkpoint `checkpointId` is complete, with the position
   * this reader had at that checkpoint's barrier: input before it will never be replayed, so a
   * journal may truncate it. A throw fails the job.
   */
  onCheckpointComplete?(checkpointId: number, position: unknown): void
  finish?(): Record<T>[]
  close?(): void | Promise<void>
}

/**
 * A source as a topology holds it: a description plus a factory of partition readers.
 * `bounded` sources end by themselves; the job ends when all its sources have ended.
 * `maxPartitions` caps the parallelism (stdin has one partition).
 */
export interface SourceSpec<T = unknown> {
  readonly kind: string
  readonly bounded: boolean
  readonly maxPartitions?: number
  /**
   * Partitions take their work from one shared list (`IoContext.claim`), so one partition's
   * position means nothing without the others': a restore always passes the positions through
   * `rescale`, also at the same parallelism.
   */
  readonly sharedWork?: boolean
  create(ctx: IoContext): SourceReader<T>
  /**
   * Maps the positions of every partition of an earlier run (`positions[p]`, as `snapshot()`
   * returned them) to `partitions` new positions, such that the new partitions together read
   * exactly what the old ones had not read. Without it, a restore must keep the parallelism.
   */
  rescale?(positions: readonly unknown[], partitions: number): unknown[]
}

/**
 * One task of a sink. `write` receives batches in order; a returned promise makes the runtime wait
 * (bounded) before sending more — this is how a slow sink slows the sources down. `finish` flushes at
 * end of input; `close` releases resources.
 */
export interface SinkWriter<T = unknown> {
  open?(): void | Promise<void>
  write(records: Record<T>[]): void | Promise<void>
  /**
   * Optional: a batch of records that have no key and no tag (`''`), given as their values and
   * event times (`times[i]` is the time of `values[i]`), so that no record object is made for it.
   * A source that reads values (`SourceReader.nextValues`) hands its batches, after its fused
   * stateless steps, this way to a sink it feeds directly in the same thread, as Flink chains a
   * source to its sink; every other batch comes to `write`. The same rules as `write`: calls in
   * order, one at a time, each settled before the next and before `preCommit`.
   */
  writeValues?(values: T[], times: number[]): void | Promise<void>
  finish?(): void | Promise<void>
  /**
   * Called instead of `finish`, when `finish` would run, by a task restored from a checkpoint taken
   * after its inputs had all ended: that `finish` ran before the checkpoint and does not run again.
   * For a writer whose end tells others that its stream ended (a tap ends its table), who must
   * hear it again in this run. Writes nothing; a throw fails the job as one from `finish` does.
   */
  restoredEnded?(): void | Promise<void>
  close?(): void | Promise<void>
  /**
   * Two-phase commit, phase one: called when checkpoint `checkpointId`'s barrier reaches this sink,
   * after every earlier `write` has settled. Makes what was written so far durable but not yet
   * visible and returns the transaction data (structured-cloneable, stored in the checkpoint).
   * The data should cover everything pre-committed and not yet committed. A throw fails the job.
   */
  preCommit?(checkpointId: number): unknown | Promise<unknown>
  /**
   * Phase two: the checkpoint is complete; publish what `data` (returned by `preCommit`) names.
   * Must be idempotent: after a crash it may run again for the same data (through `recover`).
   */
  commit?(checkpointId: number, data: unknown): void | Promise<void>
  /**
   * Called once per sink node on recovery, before any task opens, on a writer created for
   * partition 0: publishes the transactions of the restored checkpoint (`committed`, from every
   * task of the earlier run) and discards any other pending output left by a crashed run.
   */
  recover?(committed: unknown[]): void | Promise<void>
}

/**
 * What a sink does with the results of an updating query, whose records are changes
 * (`{ op: '+I' | '-U' | '+U' | '-D', ...row }`): `changelog`, it passes each change on with its
 * `op` (or applies it), so a reader can rebuild the current table; `inserts`, it stores every record
 * as a fact, so a retracted or replaced row would remain as if it were still true.
 */
export type SinkAccepts = 'inserts' | 'changelog'

/** A sink as a topology holds it. `maxParallelism` caps its tasks (stdout has one). */
export interface SinkSpec<T = unknown> {
  readonly kind: string
  readonly maxParallelism?: number
  /**
   * Whether the sink can take an updating query's changes (see {@link SinkAccepts}). A pipeline
   * refuses to route an updating query to a sink that takes only `inserts`. Absent: the sink makes
   * no claim and is not checked.
   */
  readonly accepts?: SinkAccepts
  create(ctx: IoContext): SinkWriter<T>
}

// The test driver (Kafka Streams' TopologyTestDriver for Squall): runs a topology synchronously on
// records a test pushes, with a manual clock, and captures what every sink receives.

import { join } from 'node:path'
import { ManualClock } from '../core/clock.ts'
import { type Duration, toMillis } from '../core/duration.ts'
import { SquallError, check } from '../core/errors.ts'
import { keyGroupRange } from '../core/key-group.ts'
import { type LogLevel, memoryLogger } from '../core/logger.ts'
import type { Key, Record } from '../core/record.ts'
import type { SourceReader } from '../core/source.ts'
import type { Topology } from '../core/topology.ts'
import { readSnapshotFile, writeSnapshotFile } from '../state/snapshot-file.ts'
import { installStateBackend } from '../state/backend-choice.ts'
import { Executor } from './executor.ts'
import type { OperatorSnapshot } from './operator-task.ts'
import { planTopology } from './plan.ts'
import type { SourceTask } from './source-task.ts'
import type { NodeMetrics } from './task-env.ts'

/** Options of a test driver. */
export interface TestDriverOptions {
  /** Parallelism of nodes that set none (default 1). All tasks run on the calling thread. */
  parallelism?: number
  /** The manual clock's start, in ms since the epoch (default 0). */
  startTime?: number
  /** Records a source partition hands over per poll (default 1024). */
  batchSize?: number
  /**
   * Keeps keyed state in LMDB files under this directory, as a job with `state.backend: 'lmdb'`
   * does (default: in memory). TTL runs on the manual clock either way.
   */
  lmdbDir?: string
}

/** A record to push: its value, and optionally its event time (default: the clock's now), tag and key. */
export interface TestRecord<T> {
  value: T
  time?: number
  tag?: string
  key?: Key
}

/** What `snapshot()` returns: operator state and timers per node and task, and the clock. */
export interface TestSnapshot {
  readonly clock: number
  readonly operators: { readonly [node: string]: readonly OperatorSnapshot[] }
}

/**
 * What `snapshotToFiles()` returns: the directory of the task files, each node's files in task
 * order, and the clock.
 */
export interface TestFileSnapshot {
  readonly clock: number
  readonly dir: string
  readonly files: { readonly [node: string]: readonly string[] }
}

/** A source partition fed by the driver: hands out what was pushed, ends when told to. */
class ManualReader implements SourceReader {
  private queue: Record[] = []
  private ended = false

  add(records: Record[]): void {
    for (const r of records) this.queue.push(r)
  }

  end(): void {
    this.ended = true
  }

  nextBatch(max: number): Record[] | null {
    if (this.queue.length === 0) return this.ended ? null : []
    if (this.queue.length <= max) {
      const out = this.queue
      this.queue = []
      return out
    }
    return this.queue.splice(0, max)
  }
}

/**
 * Runs a topology deterministically, without threads, brokers or real timers. Sources are replaced
 * by in-memory partitions the test pushes into; sinks are replaced by recorders (`output(sink)`);
 * processing time is a `ManualClock` moved by `advanceTime`. Every call runs to quiescence before
 * it returns: after `push`, each record has gone as far through the topology as the watermark lets
 * it. A failure in any task (under the `fail` error policy) is thrown from the call that caused it.
 *
 * ```ts
 * const d = new TestDriver(topology, { parallelism: 3 })
 * d.pushRecords('clicks', [{ value: { user: 'a' }, time: 1_000 }])
 * d.watermark('clicks', 60_000)
 * expect(d.values('out')).toEqual([...])
 * ```
 */
export class TestDriver {
  readonly clock: ManualClock
  /** Everything the job logged, in order. */
  readonly log = memoryLogger()
  private readonly executor: Executor
  private readonly readers = new Map<string, ManualReader[]>()
  private readonly outputs = new Map<string, Record[]>()
  private readonly sourceTasks = new Map<string, SourceTask[]>()
  private readonly batchSize: number
  private started = false
  private failure: unknown

  constructor(
    readonly topology: Topology,
    options: TestDriverOptions = {},
  ) {
    const parallelism = options.parallelism ?? 1
    check(
      Number.isInteger(parallelism) && parallelism >= 1,
      'TestDriver.parallelism',
      'an integer ≥ 1',
      parallelism,
    )
    this.batchSize = options.batchSize ?? 1024
    this.clock = new ManualClock(options.startTime ?? 0)
    const plan = planTopology(topology, parallelism, 1)
    this.executor = new Executor(plan, 0, {
      timerSliceMs: 0,
      job: topology.name,
      log: this.log,
      clock: this.clock,
      batchSize: this.batchSize,
      report: () => {},
      readerFor: (node) => {
        const reader = new ManualReader()
        const list = this.readers.get(node.spec.name) ?? []
        list.push(reader)
        this.readers.set(node.spec.name, list)
        return reader
      },
      writerFor: (node) => {
        let out = this.outputs.get(node.spec.name)
        if (out === undefined) this.outputs.set(node.spec.name, (out = []))
        const sink = out
        return {
          write: (records) => {
            for (const r of records) sink.push(r)
          },
        }
      },
    })
    if (options.lmdbDir !== undefined)
      installStateBackend(this.executor, { dir: options.lmdbDir, backend: 'lmdb' })
    for (const s of this.executor.sources) {
      const list = this.sourceTasks.get(s.node.spec.name) ?? []
      list.push(s)
      this.sourceTasks.set(s.node.spec.name, list)
    }
    const opening = [
      ...this.executor.sinks.map((t) => t.open()),
      ...this.executor.operators.map((t) => t.open()),
      ...this.executor.sources.map((t) => t.open()),
    ]
    for (const p of opening) p.catch((e: unknown) => this.executor.fail(e))
  }

  /** Pushes values into a source partition (default 0), stamped with the clock's now, and runs them. */
  push<T>(source: string, values: readonly T[], options: { partition?: number } = {}): this {
    const now = this.clock.now()
    return this.feed(
      source,
      values.map((value) => ({ value, key: undefined, time: now, tag: '' })),
      options.partition ?? 0,
    )
  }

  /** Pushes records with their own event time, tag or key into a source partition, and runs them. */
  pushRecords<T>(
    source: string,
    records: readonly TestRecord<T>[],
    options: { partition?: number } = {},
  ): this {
    const now = this.clock.now()
    return this.feed(
      source,
      records.map((r) => ({ value: r.value, key: r.key, time: r.time ?? now, tag: r.tag ?? '' })),
      options.partition ?? 0,
    )
  }

  /**
   * Emits a watermark from every partition of `source` (or just `partition`): event time up to
   * `time` is complete there. Watermarks from the source's strategy still flow too; downstream
   * keeps the highest per channel.
   */
  watermark(source: string, time: number, options: { partition?: number } = {}): this {
    const tasks = this.tasksOf(source)
    this.step(() => {
      for (const t of tasks)
        if (options.partition === undefined || t.index === options.partition) t.router.watermark(time)
    })
    return this
  }

  /** Moves processing time forward by `ms`: processing-time timers fire, quiet partitions turn idle. */
  advanceTime(ms: Duration): this {
    this.clock.advance(toMillis(ms, 'advanceTime(ms)'))
    this.step(() => this.executor.tick(this.clock.now()))
    return this
  }

  /** Ends every source: watermarks go to +∞, windows fire, operators finish and sinks flush. */
  end(): this {
    for (const list of this.readers.values()) for (const r of list) r.end()
    this.step(() => {
      this.pump()
      for (const s of this.executor.sources) s.end()
    })
    return this
  }

  /** The records the sink `sink` has received so far, in arrival order. */
  output<T = unknown>(sink: string): Record<T>[] {
    const node = this.topology.node(sink)
    check(
      node?.kind === 'sink',
      'output(sink)',
      `the name of a sink of topology "${this.topology.name}"`,
      sink,
    )
    return [...((this.outputs.get(sink) ?? []) as Record<T>[])]
  }

  /** The values the sink `sink` has received so far. */
  values<T = unknown>(sink: string): T[] {
    return this.output<T>(sink).map((r) => r.value)
  }

  /** Counters per node (`in`, `out`, `late`, `skipped`, `side.late`, …). */
  metrics(): { [node: string]: NodeMetrics } {
    return this.executor.metrics()
  }

  /** Log lines at `level` or more severe. */
  logged(level: LogLevel = 'warn'): { level: LogLevel; message: string; fields?: object }[] {
    const rank = { error: 0, warn: 1, info: 2, debug: 3 }
    return this.log.entries.filter((e) => rank[e.level] <= rank[level])
  }

  /** Pending timers of a node, over its tasks. */
  timerCount(node: string): number {
    let n = 0
    for (const o of this.executor.operators) if (o.node.spec.name === node) n += o.timerCount()
    return n
  }

  /** Keyed state entries of a node, over its tasks and stores. */
  stateSize(node: string): number {
    let n = 0
    for (const o of this.executor.operators) if (o.node.spec.name === node) n += o.state.size()
    return n
  }

  /**
   * A copy of every operator's keyed state and timers, and of the clock. Restore it into a new
   * driver of the same topology (at any parallelism) to continue where this one stopped.
   */
  snapshot(): TestSnapshot {
    const operators: { [node: string]: OperatorSnapshot[] } = {}
    for (const o of this.executor.operators) (operators[o.node.spec.name] ??= []).push(o.snapshot())
    return structuredClone({ clock: this.clock.now(), operators })
  }

  /** Loads a snapshot; only before the first push. Each task takes the key groups it owns. */
  restore(snapshot: TestSnapshot): this {
    if (this.started)
      throw new SquallError(
        'ERR_ARGUMENT',
        'restore(snapshot): call it before pushing anything into the driver',
      )
    this.clock.set(snapshot.clock)
    const max = this.topology.maxParallelism
    for (const o of this.executor.operators) {
      const [from, to] = keyGroupRange(o.index, max, o.node.parallelism)
      o.restore(snapshot.operators[o.node.spec.name] ?? [], from, to)
    }
    return this
  }

  /**
   * Writes every operator task's keyed state and timers into `dir` as checkpoint task files
   * (`<node>-<task>.state`), captured and encoded as a running job's checkpoint does it. Restore
   * them with `restoreFromFiles` into a new driver of the same topology, at any parallelism. Push
   * nothing until the promise settles. A write error rejects it (files may be left behind).
   */
  async snapshotToFiles(dir: string): Promise<TestFileSnapshot> {
    const max = this.topology.maxParallelism
    const clock = this.clock.now()
    const files: { [node: string]: string[] } = {}
    const writes: Promise<number>[] = []
    for (const o of this.executor.operators) {
      const node = o.node.spec.name
      const file = `${node}-${o.index}.state`
      ;(files[node] ??= [])[o.index] = file
      const groups = keyGroupRange(o.index, max, o.node.parallelism)
      writes.push(writeSnapshotFile(join(dir, file), node, o.index, o.capture(), groups))
    }
    await Promise.all(writes)
    return { clock, dir, files }
  }

  /**
   * Loads task files written by `snapshotToFiles`; only before the first push. As in a job's
   * recovery, each task reads every file of its node and keeps the key groups it owns.
   */
  async restoreFromFiles(snapshot: TestFileSnapshot): Promise<this> {
    if (this.started)
      throw new SquallError(
        'ERR_ARGUMENT',
        'restoreFromFiles(snapshot): call it before pushing anything into the driver',
      )
    this.clock.set(snapshot.clock)
    const max = this.topology.maxParallelism
    for (const o of this.executor.operators) {
      const [from, to] = keyGroupRange(o.index, max, o.node.parallelism)
      const loaded = []
      for (const file of snapshot.files[o.node.spec.name] ?? [])
        loaded.push(await readSnapshotFile(join(snapshot.dir, file), from, to, max))
      o.restore(loaded, from, to)
    }
    return this
  }

  private tasksOf(source: string): SourceTask[] {
    const tasks = this.sourceTasks.get(source)
    check(tasks !== undefined, 'source', `the name of a source of topology "${this.topology.name}"`, source)
    return tasks
  }

  private feed(source: string, records: Record[], partition: number): this {
    const readers = this.readers.get(source)
    this.tasksOf(source)
    check(
      readers !== undefined && Number.isInteger(partition) && partition >= 0 && partition < readers.length,
      'partition',
      `a partition of source "${source}" in 0..${(readers?.length ?? 1) - 1}`,
      partition,
    )
    readers[partition]!.add(records)
    this.step(() => this.pump())
    return this
  }

  /** Polls every source until none has anything left. */
  private pump(): void {
    for (let moved = 1; moved > 0; ) {
      moved = 0
      for (const s of this.executor.sources) if (!s.ended) moved += s.poll(this.batchSize)
    }
  }

  private step(fn: () => void): void {
    this.started = true
    if (this.failure === undefined) this.failure = this.executor.failed
    if (this.failure !== undefined) throw this.failure
    try {
      fn()
    } catch (e) {
      this.executor.fail(e)
    }
    if (this.executor.failed !== undefined) {
      this.failure = this.executor.failed
      throw this.failure
    }
  }
}

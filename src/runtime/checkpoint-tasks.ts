// The checkpoint work of one thread's tasks: barriers at the sources, snapshots at the operators,
// pre-commits at the sinks, acknowledgements to the coordinator, commits, and restore.

import { join } from 'node:path'
import { SquallError, wrapError } from '../core/errors.ts'
import { keyGroupRange } from '../core/key-group.ts'
import { readSnapshotFile, writeSnapshotFile } from '../state/snapshot-file.ts'
import type { Manifest } from './checkpoint-storage.ts'
import type { Executor } from './executor.ts'
import type { OperatorTask } from './operator-task.ts'
import { keysContinue, type SinkKeyPosition } from './sink-keys.ts'
import type { SinkTask } from './sink-task.ts'

/** One task's acknowledgement of a checkpoint, sent to the coordinator (plain data: it may cross threads). */
export type TaskAck =
  | { id: number; taskId: number; kind: 'source'; node: string; index: number; position: unknown }
  | {
      id: number
      taskId: number
      kind: 'operator'
      node: string
      index: number
      file: string
      bytes: number
      /** The task had finished: it holds nothing a restore needs, and restores as finished. */
      ended?: true
    }
  | {
      id: number
      taskId: number
      kind: 'sink'
      node: string
      index: number
      data: unknown
      /** Where the task's idempotency key sequence stood at the barrier. */
      keys: SinkKeyPosition
      ended?: true
    }

/** What the tasks of one thread tell the coordinator. */
export interface AckSink {
  ack(ack: TaskAck): void
  /** A checkpoint this thread cannot take (a source has ended) or failed to write. */
  decline(id: number, reason: string): void
}

/** The longest pause a barrier caused on this thread (the synchronous part of a snapshot), in ms. */
export interface CheckpointStats {
  maxPauseMs: number
  lastPauseMs: number
}

/**
 * Attaches to an executor's tasks. Operators capture their state synchronously when a barrier is
 * aligned (the only pause) and encode and write it to `<dir>/<node>-<task>.state` asynchronously;
 * sinks hand over their pre-commit data; sources record their position as they emit the barrier.
 * Every ack goes to `acks`; a failed write declines the checkpoint (the job goes on).
 */
export class TaskCheckpointer {
  readonly stats: CheckpointStats = { maxPauseMs: 0, lastPauseMs: 0 }
  private readonly dirs = new Map<number, string>()
  /** Pre-commit data per sink task and checkpoint, until committed. */
  private readonly sinkData = new Map<number, Map<number, unknown>>()
  /** Source positions per checkpoint, for the `onCheckpointComplete` hook of readers. */
  private readonly positions = new Map<number, Map<number, unknown>>()
  /** Per pending checkpoint, the operator and sink tasks of this thread that still owe an ack. */
  private readonly owed = new Map<number, Set<number>>()
  private readonly acks: AckSink

  constructor(
    private readonly executor: Executor,
    acks: AckSink,
  ) {
    // A thread that has failed acknowledges nothing more. Its tasks may still meet a barrier after
    // the failure, later in the same turn of the loop (a sink's write threw, the next batch and a
    // barrier were already on their way): a checkpoint completed with that ack would resume after
    // the records whose processing or writing failed, and they would be lost.
    this.acks = {
      ack: (a) => {
        if (executor.failed === undefined) acks.ack(a)
      },
      decline: (id, reason) => acks.decline(id, reason),
    }
    for (const o of executor.operators) {
      o.onCheckpoint = (task, id) => this.snapshotOperator(task, id)
      o.onFinished = (task) => this.finishedOwing(task)
    }
    for (const s of executor.sinks) {
      s.onCheckpoint = (task, id, data) => this.sinkPreCommitted(task, id, data)
      s.onInputEnded = (task) => this.sinkEndedOwing(task)
    }
  }

  /**
   * Starts checkpoint `id` at this thread's sources; its files go to `dir`. Tasks that have ended
   * take part, as Flink's do since FLIP-147, so a job goes on checkpointing after one of its inputs
   * is exhausted: a source partition that ended records its final position (it needs a `snapshot`);
   * a finished operator acks that it has finished (its results are downstream already: a restore
   * brings it back finished, with no state, and does not run its `finish` step again); a sink whose
   * inputs all ended pre-commits what it wrote since its last barrier, and acks as finished too.
   * `stopReading`: the sources read nothing after their barrier (see `Executor.stopReading`).
   */
  trigger(id: number, dir: string, stopReading = false): void {
    const blocker = this.endedBlocker()
    if (blocker !== undefined) {
      this.acks.decline(id, `${blocker} has ended`)
      return
    }
    this.dirs.set(id, dir)
    const positions = new Map<number, unknown>()
    this.positions.set(id, positions)
    const owed = new Set<number>()
    for (const o of this.executor.operators) if (!o.finished) owed.add(o.taskId)
    for (const s of this.executor.sinks) if (!s.ended) owed.add(s.taskId)
    this.owed.set(id, owed)
    for (const o of this.executor.operators) if (o.finished) this.ackFinished(o, id)
    for (const s of this.executor.sinks) if (s.ended) void this.ackEndedSink(s, id)
    for (const s of this.executor.sources) {
      const position = s.ended ? (s.reader.snapshot!() ?? null) : s.barrier(id)
      positions.set(s.taskId, position)
      this.acks.ack({
        id,
        taskId: s.taskId,
        kind: 'source',
        node: s.node.spec.name,
        index: s.index,
        position: position ?? null,
      })
    }
    if (stopReading) this.executor.stopReading()
  }

  /** The first task of this thread that has ended and cannot take part in a checkpoint, if any. */
  private endedBlocker(): string | undefined {
    for (const s of this.executor.sources) {
      if (s.ended && s.reader.snapshot === undefined)
        return `source "${s.node.spec.name}" (partition ${s.index}), which cannot record a position,`
    }
    return undefined
  }

  /** A finished operator's ack: nothing to restore, and it restores finished. */
  private ackFinished(task: OperatorTask, id: number): void {
    this.acks.ack({
      id,
      taskId: task.taskId,
      kind: 'operator',
      node: task.node.spec.name,
      index: task.index,
      file: '',
      bytes: 0,
      ended: true,
    })
  }

  /**
   * A sink whose inputs all ended: once it has written everything and finished, pre-commits what
   * it wrote since its last barrier (its last records, what `finish` flushed) for checkpoint `id`.
   */
  private async ackEndedSink(task: SinkTask, id: number): Promise<void> {
    let data: unknown
    try {
      await task.done
      if (!this.dirs.has(id)) return
      data = await task.preCommitNow(id)
    } catch (e) {
      this.acks.decline(id, (e as Error).message)
      return
    }
    this.sinkPreCommitted(task, id, data, true)
  }

  /** An operator finished before the barrier of a pending checkpoint reached it (none will). */
  private finishedOwing(task: OperatorTask): void {
    for (const [id, owed] of this.owed) if (owed.delete(task.taskId)) this.ackFinished(task, id)
  }

  /** Every input of a sink ended before the barrier of a pending checkpoint reached it. */
  private sinkEndedOwing(task: SinkTask): void {
    for (const [id, owed] of this.owed) {
      if (id <= task.lastBarrier || !owed.delete(task.taskId)) continue
      void this.ackEndedSink(task, id)
    }
  }

  private snapshotOperator(task: OperatorTask, id: number): void {
    this.owed.get(id)?.delete(task.taskId)
    const dir = this.dirs.get(id)
    if (dir === undefined) return
    const t0 = performance.now()
    const capture = task.capture()
    const pause = performance.now() - t0
    this.stats.lastPauseMs = pause
    if (pause > this.stats.maxPauseMs) this.stats.maxPauseMs = pause
    void this.writeOperator(task, id, dir, capture)
  }

  private async writeOperator(
    task: OperatorTask,
    id: number,
    dir: string,
    capture: ReturnType<OperatorTask['capture']>,
  ): Promise<void> {
    const node = task.node.spec.name
    if (
      capture.state.stores.length === 0 &&
      capture.eventTimers.length === 0 &&
      capture.processingTimers.length === 0
    ) {
      capture.state.release()
      return this.acks.ack({
        id,
        taskId: task.taskId,
        kind: 'operator',
        node,
        index: task.index,
        file: '',
        bytes: 0,
      })
    }
    const file = `${node}-${task.index}.state`
    try {
      const bytes = await writeSnapshotFile(
        join(dir, file),
        node,
        task.index,
        capture,
        keyGroupRange(task.index, this.executor.plan.maxParallelism, task.node.parallelism),
      )
      this.acks.ack({ id, taskId: task.taskId, kind: 'operator', node, index: task.index, file, bytes })
    } catch (e) {
      this.acks.decline(
        id,
        `writing the state of "${node}" (task ${task.index}) failed: ${(e as Error).message}`,
      )
    }
  }

  private sinkPreCommitted(task: SinkTask, id: number, data: unknown, ended = false): void {
    this.owed.get(id)?.delete(task.taskId)
    if (!this.dirs.has(id)) return
    let m = this.sinkData.get(task.taskId)
    if (m === undefined) this.sinkData.set(task.taskId, (m = new Map()))
    m.set(id, data)
    this.acks.ack({
      id,
      taskId: task.taskId,
      kind: 'sink',
      node: task.node.spec.name,
      index: task.index,
      data: data ?? null,
      keys: task.keys.position(),
      ...(ended ? { ended: true as const } : {}),
    })
  }

  /**
   * The final checkpoint, once every local task has finished: records source positions, writes
   * operator state, pre-commits every sink, and acks all of them.
   */
  async final(id: number, dir: string): Promise<void> {
    this.dirs.set(id, dir)
    const positions = new Map<number, unknown>()
    this.positions.set(id, positions)
    for (const s of this.executor.sources) {
      const position = s.reader.snapshot?.() ?? null
      positions.set(s.taskId, position)
      this.acks.ack({
        id,
        taskId: s.taskId,
        kind: 'source',
        node: s.node.spec.name,
        index: s.index,
        position,
      })
    }
    await Promise.all(this.executor.operators.map((o) => this.writeOperator(o, id, dir, o.capture())))
    for (const s of this.executor.sinks) this.sinkPreCommitted(s, id, await s.preCommitNow(id))
  }

  /**
   * Checkpoint `id` is complete: commits every local sink's data of `id` (and forgets older data)
   * and tells source readers (journals truncate here). A commit failure fails the job: the data is
   * in the checkpoint, and recovery publishes it.
   */
  async commit(id: number): Promise<void> {
    for (const d of [...this.dirs.keys()]) if (d <= id) this.dirs.delete(d)
    for (const d of [...this.owed.keys()]) if (d <= id) this.owed.delete(d)
    for (const s of this.executor.sinks) {
      const m = this.sinkData.get(s.taskId)
      if (m === undefined || !m.has(id)) continue
      const data = m.get(id)
      for (const k of [...m.keys()]) if (k <= id) m.delete(k)
      await s.commit(id, data)
    }
    const positions = this.positions.get(id)
    for (const k of [...this.positions.keys()]) if (k <= id) this.positions.delete(k)
    if (positions === undefined) return
    for (const s of this.executor.sources) {
      const hook = s.reader.onCheckpointComplete
      if (hook === undefined) continue
      try {
        hook.call(s.reader, id, positions.get(s.taskId))
      } catch (e) {
        this.executor.fail(
          wrapError('ERR_SOURCE_FAILED', `source "${s.node.spec.name}" failed after checkpoint ${id}`, e, {
            node: s.node.spec.name,
          }),
        )
      }
    }
  }

  /** Forgets an aborted checkpoint (its files are deleted by the coordinator). */
  abort(id: number): void {
    this.dirs.delete(id)
    this.positions.delete(id)
    this.owed.delete(id)
  }

  /** Without checkpoints, two-phase sinks publish what they wrote when the job ends. */
  async publishAtEnd(): Promise<void> {
    for (const s of this.executor.sinks) await s.commit(0, await s.preCommitNow(0))
  }

  /**
   * Restores every local task from a checkpoint: operators load the key groups they own from the
   * files of every task of their node (so parallelism may differ), sources resume at their
   * position (rescaled by the source when the parallelism changed), and sink tasks go on with
   * their idempotency key sequences when `keysContinue` allows it. Call after `open`, before `run`.
   */
  async restore(manifest: Manifest, dir: string): Promise<void> {
    const max = this.executor.plan.maxParallelism
    if (manifest.maxParallelism !== max) {
      throw new SquallError(
        'ERR_STATE_FORMAT',
        `checkpoint ${manifest.id} was taken with maxParallelism ${manifest.maxParallelism}, the topology has ${max}; key groups cannot be mapped (keep maxParallelism unchanged)`,
      )
    }
    for (const o of this.executor.operators) {
      if (restoresEnded(manifest, o.node.spec.name, o.node.parallelism, o.index)) o.restoreEnded()
      const files = manifest.stores[o.node.spec.name]
      if (files === undefined || files.length === 0) continue
      const [from, to] = keyGroupRange(o.index, max, o.node.parallelism)
      const snapshots = []
      for (const f of files) snapshots.push(await readSnapshotFile(join(dir, f.file), from, to, max))
      o.restore(snapshots, from, to)
    }
    const plan = this.executor.plan
    const continued = keysContinue(manifest, {
      nodes: plan.nodes.map((n) => n.spec.name),
      parallelism: Object.fromEntries(plan.nodes.map((n) => [n.spec.name, n.parallelism])),
    })
    for (const s of this.executor.sinks) {
      if (restoresEnded(manifest, s.node.spec.name, s.node.parallelism, s.index)) s.restoreEnded()
      const keys = continued ? manifest.sinkKeys?.[s.node.spec.name]?.[s.index] : undefined
      if (keys) s.keys.restore(keys)
    }
    const rescaled = new Map<string, unknown[]>()
    for (const s of this.executor.sources) {
      const name = s.node.spec.name
      const old = manifest.sources[name]
      if (old === undefined) continue
      let positions = old
      if (old.length !== s.node.parallelism || s.node.spec.source!.sharedWork) {
        positions = rescaled.get(name) ?? []
        if (!rescaled.has(name)) {
          const spec = s.node.spec.source!
          if (spec.rescale === undefined) {
            throw new SquallError(
              'ERR_STATE_FORMAT',
              `source "${name}" (${spec.kind}) ran with ${old.length} partitions in checkpoint ${manifest.id} and cannot be restored with ${s.node.parallelism}; keep its parallelism`,
            )
          }
          positions = spec.rescale(old, s.node.parallelism)
          rescaled.set(name, positions)
        }
      }
      const p = positions[s.index]
      if (p !== null && p !== undefined) s.reader.restore?.(p)
    }
  }
}

/**
 * True when task `index` of `node` (now at `parallelism`) is restored finished: at the checkpoint's
 * parallelism, when that task had finished; at another, when every task of the node had.
 */
function restoresEnded(manifest: Manifest, node: string, parallelism: number, index: number): boolean {
  const ended = manifest.ended?.[node]
  if (ended === undefined) return false
  const before = manifest.parallelism[node]
  return before === parallelism ? ended.includes(index) : ended.length === before
}

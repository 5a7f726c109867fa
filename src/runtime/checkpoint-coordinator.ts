// The checkpoint coordinator, in the thread that owns the job: triggers checkpoints on a timer,
// collects every task's acknowledgement, writes the checkpoint atomically, then has sinks commit.

import { rmSync } from 'node:fs'
import { SquallError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import {
  beginCheckpoint,
  completeCheckpoint,
  type Manifest,
  pruneCheckpoints,
  STATE_FORMAT_VERSION,
} from './checkpoint-storage.ts'
import type { AckSink, TaskAck } from './checkpoint-tasks.ts'
import type { CheckpointStatus } from './job.ts'
import type { ExecutionPlan } from './plan.ts'

/** How the coordinator reaches the tasks of one thread (directly, or by message to a worker). */
export interface ThreadPort {
  /** Starts checkpoint `id`; with `stopReading`, the sources read nothing after their barrier. */
  trigger(id: number, dir: string, stopReading: boolean): void
  /** The final checkpoint: every task of the thread has finished. */
  final(id: number, dir: string): void
  commit(id: number): void
  abort(id: number): void
}

/** Counters of the coordinator, reported in the job's metrics under `checkpoints`. */
export interface CheckpointCounters {
  completed: number
  failed: number
  lastId: number
  lastDurationMs: number
  lastBytes: number
}

interface Pending {
  id: number
  dir: string
  started: number
  final: boolean
  finished: boolean
  acks: Map<number, TaskAck>
  timeout: ReturnType<typeof setTimeout> | undefined
  /** Called once it has completed or failed (`checkpoint()` waiting to take the next one). */
  settled: (() => void)[]
  resolve?: () => void
  reject?: (e: unknown) => void
}

/**
 * Triggers checkpoint n every `intervalMs`, one at a time (a trigger while one is pending is
 * skipped). A checkpoint is complete when every task of the plan has acknowledged it; it is then
 * written (MANIFEST.json last, by rename) and every thread is told to commit. A checkpoint that
 * fails (a write error, a declined barrier, no completion within `timeoutMs`) is deleted, logged
 * and counted; the job goes on and the next trigger retries. Once a task that cannot take part
 * after ending has ended (see `TaskCheckpointer.trigger`), a thread declines with a reason saying
 * it "has ended" and periodic checkpoints stop: the final checkpoint at the end of the job covers
 * the rest.
 */
export class CheckpointCoordinator implements AckSink {
  readonly counters: CheckpointCounters = {
    completed: 0,
    failed: 0,
    lastId: 0,
    lastDurationMs: 0,
    lastBytes: 0,
  }
  /** The latest checkpoint this coordinator completed: its id and the time in its manifest. */
  lastCompleted: { id: number; time: number } | undefined
  private pending: Pending | undefined
  private timer: ReturnType<typeof setInterval> | undefined
  private stopped = false
  /** Deletion of old checkpoints, one after another, off the hot path. */
  private pruning: Promise<void> = Promise.resolve()
  private nextId: number

  constructor(
    private readonly stateDir: string,
    private readonly job: string,
    private readonly plan: ExecutionPlan,
    private readonly ports: ThreadPort[],
    private readonly log: Logger,
    private readonly options: { intervalMs: number; keep: number; firstId: number; timeoutMs?: number },
  ) {
    this.nextId = options.firstId
  }

  /** Starts the periodic trigger. */
  start(): void {
    if (this.options.intervalMs <= 0) return
    this.timer = setInterval(() => this.trigger(), this.options.intervalMs)
    this.timer.unref?.()
  }

  /** Stops triggering; a pending periodic checkpoint is abandoned. */
  stop(): void {
    this.stopped = true
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    if (this.pending && !this.pending.final) this.fail(this.pending, 'the job is ending', false)
  }

  /** Triggers a checkpoint now unless one is pending. Returns its id, or undefined. */
  trigger(): number | undefined {
    if (this.stopped || this.pending !== undefined) return undefined
    const p = this.begin(false, false)
    if (p === undefined) return undefined
    for (const port of this.ports) port.trigger(p.id, p.dir, false)
    return p.id
  }

  /**
   * Takes checkpoint `id` now, as `trigger` does, and resolves once it is complete (written, and
   * every thread told to commit). `id` must be above every id this coordinator has used; the ids
   * after it follow it. Rejects with ERR_CHECKPOINT_FAILED when a checkpoint is pending, the
   * coordinator has stopped, `id` is too low, or the checkpoint fails. Without `id`: the next
   * checkpoint, taken once the pending one (if any) has completed or failed. `stopReading`: the
   * sources read nothing after their barrier (a stop with a last checkpoint, see `Job.stop`).
   */
  checkpoint(id?: number, stopReading = false): Promise<void> {
    const pending = this.pending
    if (id === undefined) {
      if (pending !== undefined && !pending.final && !this.stopped)
        return new Promise<void>((resolve) => pending.settled.push(resolve)).then(() =>
          this.checkpoint(undefined, stopReading),
        )
      id = this.nextId
    }
    const refuse = (reason: string) =>
      Promise.reject(new SquallError('ERR_CHECKPOINT_FAILED', `checkpoint ${id} not taken: ${reason}`))
    if (this.stopped) return refuse('checkpoints have stopped (the job is ending)')
    if (this.pending !== undefined) return refuse(`checkpoint ${this.pending.id} is pending`)
    if (!Number.isInteger(id) || id < this.nextId) return refuse(`expected an id of at least ${this.nextId}`)
    this.nextId = id
    const p = this.begin(false, false)
    if (p === undefined) return refuse('its directory could not be created')
    const done = new Promise<void>((resolve, reject) => {
      p.resolve = resolve
      p.reject = reject
    })
    for (const port of this.ports) port.trigger(p.id, p.dir, stopReading)
    return done
  }

  private begin(final: boolean, finished: boolean): Pending | undefined {
    const id = this.nextId++
    let dir: string
    try {
      dir = beginCheckpoint(this.stateDir, id)
    } catch (e) {
      this.counters.failed++
      this.log('warn', `checkpoint ${id} failed: cannot create its directory: ${(e as Error).message}`, {
        checkpoint: id,
      })
      return undefined
    }
    const p: Pending = {
      id,
      dir,
      started: Date.now(),
      final,
      finished,
      acks: new Map(),
      timeout: undefined,
      settled: [],
    }
    const timeoutMs = this.options.timeoutMs ?? Math.max(60_000, this.options.intervalMs * 10)
    if (!final) {
      p.timeout = setTimeout(
        () => this.fail(p, `not acknowledged by every task within ${timeoutMs} ms`, true),
        timeoutMs,
      )
      p.timeout.unref?.()
    }
    this.pending = p
    return p
  }

  /**
   * Takes the final checkpoint after every task has finished and resolves once it is written and
   * committed. `finished`: every source ended by itself (the job is done; a restart has nothing
   * to do). Rejects with ERR_CHECKPOINT_FAILED when it cannot be written.
   */
  final(finished: boolean): Promise<void> {
    this.stop()
    const p = this.begin(true, finished)
    if (p === undefined)
      return Promise.reject(
        new SquallError('ERR_CHECKPOINT_FAILED', 'the final checkpoint could not be started'),
      )
    const done = new Promise<void>((resolve, reject) => {
      p.resolve = resolve
      p.reject = reject
    })
    for (const port of this.ports) port.final(p.id, p.dir)
    return done
  }

  ack(a: TaskAck): void {
    const p = this.pending
    if (p === undefined || a.id !== p.id) return
    p.acks.set(a.taskId, a)
    if (p.acks.size === this.plan.taskCount) this.complete(p)
  }

  decline(id: number, reason: string, retry = true): void {
    const p = this.pending
    if (p === undefined || p.id !== id) return
    const ended = /has ended/.test(reason)
    if (!retry || ended) this.stopped = !p.final
    this.fail(p, reason, !p.final && !ended)
  }

  private fail(p: Pending, reason: string, count: boolean): void {
    if (this.pending === p) this.pending = undefined
    if (p.timeout) clearTimeout(p.timeout)
    if (count) {
      this.counters.failed++
      this.log('warn', `checkpoint ${p.id} failed (${this.counters.failed} so far): ${reason}`, {
        checkpoint: p.id,
        code: 'ERR_CHECKPOINT_FAILED',
      })
    } else this.log('debug', `checkpoint ${p.id} abandoned: ${reason}`, { checkpoint: p.id })
    for (const port of this.ports) port.abort(p.id)
    try {
      rmSync(p.dir, { recursive: true, force: true })
    } catch {
      // Pruned later.
    }
    p.reject?.(new SquallError('ERR_CHECKPOINT_FAILED', `checkpoint ${p.id} failed: ${reason}`))
    for (const f of p.settled) f()
  }

  private manifest(p: Pending): Manifest {
    const m: Manifest = {
      formatVersion: STATE_FORMAT_VERSION,
      id: p.id,
      time: Date.now(),
      job: this.job,
      finished: p.finished,
      nodes: this.plan.nodes.map((n) => n.spec.name),
      parallelism: Object.fromEntries(this.plan.nodes.map((n) => [n.spec.name, n.parallelism])),
      maxParallelism: this.plan.maxParallelism,
      sources: {},
      stores: {},
      sinks: {},
      bytes: 0,
    }
    for (const n of this.plan.nodes) {
      if (n.spec.kind === 'source') m.sources[n.spec.name] = new Array(n.parallelism).fill(null)
      else if (n.spec.kind === 'sink') {
        m.sinks[n.spec.name] = new Array(n.parallelism).fill(null)
        ;(m.sinkKeys ??= {})[n.spec.name] = new Array(n.parallelism).fill(null)
      } else m.stores[n.spec.name] = []
    }
    for (const a of p.acks.values()) {
      if (a.kind === 'source') m.sources[a.node]![a.index] = a.position
      else if (a.kind === 'sink') {
        m.sinks[a.node]![a.index] = a.data
        m.sinkKeys![a.node]![a.index] = a.keys
      } else if (a.file !== '') {
        m.stores[a.node]!.push({ task: a.index, file: a.file, bytes: a.bytes })
        m.bytes += a.bytes
      }
      if (a.kind !== 'source' && a.ended) ((m.ended ??= {})[a.node] ??= []).push(a.index)
    }
    for (const tasks of Object.values(m.ended ?? {})) tasks.sort((x, y) => x - y)
    for (const files of Object.values(m.stores)) files.sort((a, b) => a.task - b.task)
    return m
  }

  private complete(p: Pending): void {
    if (p.timeout) clearTimeout(p.timeout)
    const manifest = this.manifest(p)
    try {
      completeCheckpoint(this.stateDir, p.dir, manifest)
    } catch (e) {
      this.fail(p, `writing its manifest failed: ${(e as Error).message}`, true)
      return
    }
    this.pending = undefined
    this.counters.completed++
    this.counters.lastId = p.id
    this.counters.lastDurationMs = Date.now() - p.started
    this.counters.lastBytes = manifest.bytes
    this.lastCompleted = { id: p.id, time: manifest.time }
    this.log('debug', `checkpoint ${p.id} complete`, {
      checkpoint: p.id,
      ms: this.counters.lastDurationMs,
      bytes: manifest.bytes,
    })
    for (const port of this.ports) port.commit(p.id)
    this.pruning = this.pruning.then(() => pruneCheckpoints(this.stateDir, this.options.keep, this.log))
    // The final checkpoint resolves once old ones are gone, so an ended job leaves `keep` behind.
    if (p.final) void this.pruning.then(() => p.resolve?.())
    else p.resolve?.()
    for (const f of p.settled) f()
  }
}

/**
 * A job's checkpoint status from its recovery (the restored checkpoint's id) and its coordinator
 * (the latest completed checkpoint); fields are absent when there is nothing to report.
 */
export function checkpointStatus(
  recovery: { restore: { manifest: { id: number } } | undefined } | undefined,
  coordinator: CheckpointCoordinator | undefined,
): CheckpointStatus {
  const status: CheckpointStatus = {}
  const restored = recovery?.restore?.manifest.id
  if (restored !== undefined) status.restoredFrom = restored
  const last = coordinator?.lastCompleted
  if (last !== undefined) status.lastCompleted = { ...last }
  return status
}

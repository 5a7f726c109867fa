// Checkpoints of a job on worker threads: the owner thread's coordinator talks to each worker's
// tasks by messages (trigger, final, commit, abort ↔ ack, decline), and recovery happens first.

import type { Worker } from 'node:worker_threads'
import type { Logger } from '../core/logger.ts'
import { SquallError } from '../core/errors.ts'
import type { Topology } from '../core/topology.ts'
import { CheckpointCoordinator, checkpointStatus } from './checkpoint-coordinator.ts'
import { type Recovery, type ResolvedStateOptions, recoverJob } from './checkpoint-recovery.ts'
import { type Manifest, openStateDir } from './checkpoint-storage.ts'
import type { AckSink, TaskAck, TaskCheckpointer } from './checkpoint-tasks.ts'
import type { CheckpointStatus } from './job.ts'
import { planTopology } from './plan.ts'

/** Messages from the owner to a worker about checkpoints. */
export type ToWorkerCheckpoint =
  | { k: 'cp-trigger'; id: number; dir: string; stopReading: boolean }
  | { k: 'cp-final'; id: number; dir: string }
  | { k: 'cp-commit'; id: number }
  | { k: 'cp-abort'; id: number }

/** Messages from a worker to the owner about checkpoints. */
export type FromWorkerCheckpoint =
  | { k: 'cp-ack'; ack: TaskAck }
  | { k: 'cp-decline'; id: number; reason: string }

/** What a worker needs to restore, sent with the `start` message. */
export interface RestoreData {
  dir: string
  manifest: Manifest
}

/**
 * The owner's side. `recover()` runs while the workers load; `start(workers)` wires the
 * coordinator to them; `final(finished)` takes the final checkpoint once every worker's run ended
 * (its commit message tells each worker to close). When `recovered` resolves true the job starts
 * nothing: it tells each worker to close its tasks, then calls `release`. When it rejects (the
 * directory is locked, no checkpoint to restore) or the job fails later, the job calls `stop`, has
 * every worker close its tasks and, once `recovered` has settled, calls `release`. Without state
 * options it does nothing.
 */
export class ThreadCheckpoints {
  private recovery: Recovery | undefined
  private coordinator: CheckpointCoordinator | undefined
  readonly recovered: Promise<boolean>
  /**
   * Set when the state directory could not be opened and locked (ERR_STATE_LOCKED,
   * ERR_STATE_FORMAT): the job then starts no worker and fails with it (`recovered` rejects too).
   */
  readonly lockError: unknown = undefined

  constructor(
    private readonly topology: Topology,
    private readonly threads: number,
    private readonly parallelism: number,
    private readonly state: (ResolvedStateOptions & { fromCheckpoint?: string | undefined }) | undefined,
    private readonly log: Logger,
  ) {
    // The lock is taken now, before any worker thread starts: a worker builds its tasks (and an
    // LMDB backend clears its working directory) while recovery runs, which must not happen in a
    // directory another live job holds.
    let locked: (() => void) | undefined
    try {
      locked = state === undefined ? undefined : openStateDir(state.dir, topology.name)
    } catch (e) {
      this.lockError = e
    }
    this.recovered = this.lockError === undefined ? this.recover(locked) : Promise.reject(this.lockError)
    // The job reads the outcome once its workers are ready (or when it fails before): a failure
    // meanwhile is handled then, not an unhandled rejection.
    this.recovered.catch(() => {})
  }

  get enabled(): boolean {
    return this.state !== undefined
  }

  /** True when the restored checkpoint says the job had already finished. */
  private async recover(locked: (() => void) | undefined): Promise<boolean> {
    if (this.state === undefined) return false
    this.recovery = await recoverJob(this.topology, this.state, this.log, locked)
    if (this.recovery.finished) {
      this.log(
        'info',
        `job "${this.topology.name}" already finished at checkpoint ${this.recovery.firstId - 1}; nothing to run`,
      )
    }
    return this.recovery.finished
  }

  /** The checkpoint each worker restores from, if any. */
  get restore(): RestoreData | undefined {
    return this.recovery?.restore
  }

  /** Creates the coordinator over the workers and starts its timer. */
  start(workers: Worker[]): void {
    const state = this.state
    if (state === undefined || this.recovery === undefined) return
    const post = (m: ToWorkerCheckpoint) => {
      for (const w of workers) w.postMessage(m)
    }
    const plan = planTopology(this.topology, this.parallelism, this.threads)
    this.coordinator = new CheckpointCoordinator(
      state.dir,
      this.topology.name,
      plan,
      [
        {
          trigger: (id, dir, stopReading) => post({ k: 'cp-trigger', id, dir, stopReading }),
          final: (id, dir) => post({ k: 'cp-final', id, dir }),
          commit: (id) => post({ k: 'cp-commit', id }),
          abort: (id) => post({ k: 'cp-abort', id }),
        },
      ],
      this.log,
      { intervalMs: state.intervalMs, keep: state.retain, firstId: this.recovery.firstId },
    )
    this.coordinator.start()
  }

  /** Handles a checkpoint message from a worker; returns false for other messages. */
  receive(m: { k: string }): boolean {
    if (m.k === 'cp-ack') this.coordinator?.ack((m as unknown as { ack: TaskAck }).ack)
    else if (m.k === 'cp-decline') {
      const d = m as unknown as { id: number; reason: string }
      this.coordinator?.decline(d.id, d.reason)
    } else return false
    return true
  }

  /**
   * Takes a checkpoint now (see `CheckpointCoordinator.checkpoint`): the workers' sources emit its
   * barriers as soon as they receive the trigger. Rejects with ERR_CHECKPOINT_FAILED without a
   * state directory, before the job runs, or as the coordinator does.
   */
  checkpoint(id?: number, stopReading = false): Promise<void> {
    if (this.coordinator === undefined)
      return Promise.reject(
        new SquallError(
          'ERR_CHECKPOINT_FAILED',
          this.state === undefined
            ? 'no checkpoint taken: the job has no state directory'
            : 'no checkpoint taken: the job is not running yet',
        ),
      )
    return this.coordinator.checkpoint(id, stopReading)
  }

  /** The final checkpoint; resolves once it is written (the workers then commit and close). */
  final(finished: boolean): Promise<void> {
    return this.coordinator ? this.coordinator.final(finished) : Promise.resolve()
  }

  stop(): void {
    this.coordinator?.stop()
  }

  release(): void {
    this.recovery?.release()
  }

  /** The checkpoint restored at start and the latest completed one (empty without state). */
  status(): CheckpointStatus {
    return checkpointStatus(this.recovery, this.coordinator)
  }

  counters(): { [metric: string]: number } | undefined {
    return this.coordinator ? { ...this.coordinator.counters } : undefined
  }
}

/** The acks of a worker's tasks, posted to the owner. */
export function postingAcks(post: (m: FromWorkerCheckpoint) => void): AckSink {
  return {
    ack: (ack) => post({ k: 'cp-ack', ack }),
    decline: (id, reason) => post({ k: 'cp-decline', id, reason }),
  }
}

/**
 * The worker's side of one checkpoint message. Returns a promise for `cp-commit` (the caller
 * closes the worker after the final checkpoint's commit), undefined otherwise.
 */
export function handleCheckpointMessage(
  tasks: TaskCheckpointer,
  m: ToWorkerCheckpoint,
  onError: (e: unknown) => void,
  decline: (id: number, reason: string) => void,
): Promise<void> | undefined {
  switch (m.k) {
    case 'cp-trigger':
      tasks.trigger(m.id, m.dir, m.stopReading)
      return undefined
    case 'cp-final':
      tasks.final(m.id, m.dir).catch((e) => decline(m.id, (e as Error).message))
      return undefined
    case 'cp-commit':
      return tasks.commit(m.id).catch(onError)
    case 'cp-abort':
      tasks.abort(m.id)
      return undefined
  }
}

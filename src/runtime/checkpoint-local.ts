// Checkpoints of a job that runs every task on the calling thread: recovery, the coordinator wired
// directly to the thread's tasks, the final checkpoint and the commits, in job order.

import { SquallError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { Topology } from '../core/topology.ts'
import { installStateBackend } from '../state/backend-choice.ts'
import { CheckpointCoordinator, checkpointStatus } from './checkpoint-coordinator.ts'
import { type Recovery, type ResolvedStateOptions, recoverJob } from './checkpoint-recovery.ts'
import { TaskCheckpointer } from './checkpoint-tasks.ts'
import type { Executor } from './executor.ts'
import type { CheckpointStatus } from './job.ts'
import type { NodeMetrics } from './task-env.ts'

/**
 * The checkpoint side of a single-thread job, called by the job in this order: `recover` (true
 * when the job had already finished) → executor open → `restore` → `start` → executor run →
 * `finish` (final checkpoint and commits) → `stop` → executor close → `release`; after a `recover`
 * that returned true, straight to `stop` → executor close → `release`. Without state options it
 * only publishes two-phase sinks at `finish`.
 */
export class LocalCheckpoints {
  private recovery: Recovery | undefined
  private coordinator: CheckpointCoordinator | undefined
  private readonly tasks: TaskCheckpointer
  private commits: Promise<void>[] = []

  constructor(
    private readonly topology: Topology,
    private readonly executor: Executor,
    private readonly state: (ResolvedStateOptions & { fromCheckpoint?: string | undefined }) | undefined,
    private readonly log: Logger,
  ) {
    this.tasks = new TaskCheckpointer(executor, {
      ack: (a) => this.coordinator?.ack(a),
      decline: (id, reason) => this.coordinator?.decline(id, reason),
    })
  }

  /** Locks the state directory and recovers sinks. Returns true when there is nothing left to run. */
  async recover(): Promise<boolean> {
    const state = this.state
    if (state === undefined) return false
    const recovery = await recoverJob(this.topology, state, this.log)
    this.recovery = recovery
    if (recovery.finished) {
      this.log(
        'info',
        `job "${this.topology.name}" already finished at checkpoint ${recovery.firstId - 1}; nothing to run`,
      )
      return true
    }
    installStateBackend(this.executor, state)
    const ex = this.executor
    const tasks = this.tasks
    this.coordinator = new CheckpointCoordinator(
      state.dir,
      this.topology.name,
      ex.plan,
      [
        {
          trigger: (id, dir, stopReading) => tasks.trigger(id, dir, stopReading),
          final: (id, dir) =>
            void tasks
              .final(id, dir)
              .catch((e) => this.coordinator?.decline(id, (e as Error).message, false)),
          commit: (id) => void this.commits.push(tasks.commit(id).catch((e) => ex.fail(e))),
          abort: (id) => tasks.abort(id),
        },
      ],
      this.log,
      { intervalMs: state.intervalMs, keep: state.retain, firstId: recovery.firstId },
    )
    return false
  }

  /** Loads the restored checkpoint into the opened tasks. */
  async restore(): Promise<void> {
    const r = this.recovery?.restore
    if (r) await this.tasks.restore(r.manifest, r.dir)
  }

  start(): void {
    this.coordinator?.start()
  }

  /** Takes checkpoint `id` now (see `CheckpointCoordinator.checkpoint`); the barriers leave the sources before it returns. */
  checkpoint(id?: number, stopReading = false): Promise<void> {
    if (this.coordinator === undefined)
      return Promise.reject(
        new SquallError('ERR_CHECKPOINT_FAILED', 'no checkpoint taken: the job has no state directory'),
      )
    return this.coordinator.checkpoint(id, stopReading)
  }

  /** After the run: the final checkpoint and its commits (or, without state, publishing). */
  async finish(finished: boolean): Promise<void> {
    if (this.coordinator === undefined) return this.tasks.publishAtEnd()
    await this.coordinator.final(finished)
    await Promise.all(this.commits)
    if (this.executor.failed !== undefined) throw this.executor.failed
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

  /** The executor's metrics plus a `checkpoints` entry when checkpointing. */
  metrics(metrics: { [node: string]: NodeMetrics }): { [node: string]: NodeMetrics } {
    if (this.coordinator === undefined) return metrics
    return {
      ...metrics,
      checkpoints: { ...this.coordinator.counters, maxPauseMs: this.tasks.stats.maxPauseMs },
    }
  }
}

// A running job: status, metrics, drain and stop, and the promise of its end.

import type { NodeMetrics } from './task-env.ts'

/** Where a job is in its life. */
export type JobStatus = 'starting' | 'running' | 'draining' | 'finished' | 'failed' | 'cancelled'

/** What a job ended with. */
export interface JobResult {
  status: 'finished' | 'failed' | 'cancelled'
  /** Counters per node, summed over tasks and threads. */
  metrics: { [node: string]: NodeMetrics }
  /** Wall time from start to end, including opening tasks and starting worker threads. */
  durationMs: number
  /** Wall time from the moment every task was open and processing began, to the end. */
  runningMs: number
  error?: unknown
}

/** What `Job.checkpointStatus()` reports. */
export interface CheckpointStatus {
  restoredFrom?: number
  lastCompleted?: { id: number; time: number }
}

/** A topology running under a runner. */
export interface Job {
  readonly name: string
  status(): JobStatus
  /** Counters per node so far (approximate while running on worker threads). */
  metrics(): { [node: string]: NodeMetrics }
  /**
   * Stops reading the sources; records already read flow through, operators finish (windows fire
   * at end of input), sinks flush, and the job ends as `finished`. What SIGTERM does.
   */
  drain(): void
  /** Stops at once; the job ends as `cancelled`. */
  stop(): Promise<void>
  /**
   * Checkpoint progress, for jobs with a state directory: the checkpoint the job was restored
   * from at start (if any) and the latest completed one.
   */
  checkpointStatus?(): CheckpointStatus
  /**
   * Takes a checkpoint now, for a job with a state directory: checkpoint `id` (above every id the
   * job has used; the job's next ids follow it), or without `id` the next one. On one thread the
   * sources emit their barriers before the call returns; on worker threads, as each worker gets
   * the trigger. Resolves once the checkpoint is complete; rejects with ERR_CHECKPOINT_FAILED when
   * it is not taken (one is pending, the job is ending or not running yet) or fails. The job goes
   * on either way: `stop()` after it is Flink's stop with a savepoint.
   */
  triggerCheckpoint?(id?: number): Promise<void>
  /** Resolves when the job has ended and every task is closed. Rejects if the job failed. */
  readonly done: Promise<JobResult>
}

/** Sums per-node counters from several threads. */
export function mergeMetrics(parts: { [node: string]: NodeMetrics }[]): { [node: string]: NodeMetrics } {
  const out: { [node: string]: NodeMetrics } = {}
  for (const part of parts) {
    for (const [node, m] of Object.entries(part)) {
      const o = (out[node] ??= {})
      for (const [k, v] of Object.entries(m)) o[k] = (o[k] ?? 0) + v
    }
  }
  return out
}

// A running job: status, metrics, drain and stop, and the promise of its end.

import { SquallError } from '../core/errors.ts'
import type { NodeMetrics } from './task-env.ts'

/** Where a job is in its life. */
export type JobStatus = 'starting' | 'running' | 'draining' | 'finished' | 'failed' | 'cancelled'

/** What a job ended with. */
export interface JobResult {
  status: 'finished' | 'failed' | 'cancelled'
  /** Counters per node, summed over tasks and threads. */
  metrics: { [node: string]: NodeMetrics }
  /**
   * Wall time from start to end, including opening tasks and starting worker threads (ms, on the
   * monotonic clock, to a fraction of a ms).
   */
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

/** Options of `Job.stop`. */
export interface StopOptions {
  /**
   * Takes a last checkpoint first, as Flink's stop with a savepoint: the sources read nothing after
   * its barrier, what they read before it is processed and in it, and a run restored from it starts
   * exactly where this one stopped. The job stops whether the checkpoint completes or not; if it
   * does not, `stop` rejects with ERR_CHECKPOINT_FAILED naming why (no state directory, the job not
   * running, a failure, or `timeoutMs` passing first). A plain `stop()` meanwhile stops at once.
   */
  checkpoint?: boolean
  /** Longest wait for that checkpoint, in ms (default 60 000). */
  timeoutMs?: number
}

/** A topology running under a runner. */
export interface Job {
  readonly name: string
  status(): JobStatus
  /**
   * When processing began (ms since the epoch): every task open and its state restored, the
   * moment `status()` turns `running`. Undefined until then. A rate over the job's run counts
   * from here, not from the start-up before.
   */
  runningSince(): number | undefined
  /** Counters per node so far (approximate while running on worker threads). */
  metrics(): { [node: string]: NodeMetrics }
  /**
   * Stops reading the sources; records already read flow through, operators finish (windows fire
   * at end of input), sinks flush, and the job ends as `finished`. What SIGTERM does.
   */
  drain(): void
  /**
   * Stops; the job ends as `cancelled`. At once, or after a last checkpoint (`checkpoint: true`,
   * see {@link StopOptions}). Resolves once every task is closed.
   */
  stop(options?: StopOptions): Promise<void>
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
   * on either way (`stop({ checkpoint: true })` takes one and stops).
   */
  triggerCheckpoint?(id?: number): Promise<void>
  /** Resolves when the job has ended and every task is closed. Rejects if the job failed. */
  readonly done: Promise<JobResult>
}

/** Default of `StopOptions.timeoutMs`. */
const STOP_CHECKPOINT_TIMEOUT_MS = 60_000

/**
 * What a runner's `stop` does: with `options.checkpoint`, `take` (a checkpoint with the sources'
 * reading stopped at its barrier) waited for at most `timeoutMs`, then `stopNow` whatever happened.
 * Rejects with the checkpoint's failure (ERR_CHECKPOINT_FAILED) once stopped.
 */
export async function stopAfterCheckpoint(
  options: StopOptions | undefined,
  take: () => Promise<void>,
  stopNow: () => Promise<void>,
): Promise<void> {
  if (!options?.checkpoint) return stopNow()
  const ms = options.timeoutMs ?? STOP_CHECKPOINT_TIMEOUT_MS
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new SquallError('ERR_CHECKPOINT_FAILED', `the last checkpoint was not complete within ${ms} ms`),
        ),
      ms,
    )
  })
  let failure: unknown
  try {
    await Promise.race([take(), late])
  } catch (e) {
    failure = e
  } finally {
    clearTimeout(timer)
  }
  await stopNow()
  if (failure !== undefined) throw failure
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

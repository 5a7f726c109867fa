// What every task gets from the executor that runs it: log, clock, metrics, failure and reporting.

import type { Clock } from '../core/clock.ts'
import type { ErrorPolicy } from '../core/topology.ts'
import type { Logger } from '../core/logger.ts'
import type { Record } from '../core/record.ts'
import { SquallError } from '../core/errors.ts'
import type { OutputRouter } from './router.ts'

/** Counters of one node, summed over its tasks in the job's metrics. */
export type NodeMetrics = { [metric: string]: number }

/** The executor's services, shared by the tasks of one thread. */
export interface TaskEnv {
  readonly job: string
  readonly log: Logger
  readonly clock: Clock
  readonly maxParallelism: number
  /** Counters per node name. */
  metrics(node: string): NodeMetrics
  /** Sends data to the thread that owns the job (collect sinks, status). */
  report(channel: string, data: unknown): void
  /** Stops the job with this error. */
  fail(error: unknown): void
}

const LOG_EVERY = 1000

/**
 * Applies a node's error policy to a record whose processing threw: `fail` rethrows as
 * ERR_OPERATOR_FAILED naming the node; `skip` counts and logs it with its coordinates; `dead-letter`
 * also sends it to the node's `dead-letter` side output (or only counts and logs when nothing reads
 * that output). Logs the first failures and then one in every 1000, so a flood of bad records
 * cannot flood the log; counters are always exact.
 */
export function handleRecordError(
  env: TaskEnv,
  node: string,
  task: number,
  policy: ErrorPolicy,
  error: unknown,
  r: Record,
  router: OutputRouter | undefined,
  metrics: NodeMetrics,
): void {
  const message = error instanceof Error ? error.message : String(error)
  if (policy === 'fail') {
    throw new SquallError(
      'ERR_OPERATOR_FAILED',
      `node "${node}" (task ${task}) failed on a record (time ${r.time}, tag "${r.tag}", key ${JSON.stringify(r.key ?? null)}): ${message}`,
      { where: { job: env.job, node, task }, cause: error },
    )
  }
  const counter = policy === 'skip' ? 'skipped' : 'deadLettered'
  const n = (metrics[counter] = (metrics[counter] ?? 0) + 1)
  if (n <= 10 || n % LOG_EVERY === 0) {
    env.log(
      'warn',
      `node "${node}" ${policy === 'skip' ? 'skipped' : 'dead-lettered'} a record: ${message}`,
      {
        node,
        task,
        time: r.time,
        tag: r.tag,
        key: r.key,
        [counter]: n,
        ...(error instanceof SquallError && error.where.file
          ? { file: error.where.file, line: error.where.line }
          : {}),
      },
    )
  }
  if (policy === 'dead-letter' && router?.hasSide('dead-letter')) {
    router.emitSide('dead-letter', {
      value: { value: r.value, node, time: r.time, tag: r.tag, key: r.key, error: message },
      key: r.key,
      time: r.time,
      tag: r.tag,
    })
  }
}

// Sinks for tests and embedding: collect records in memory, or hand batches to a function.

import type { Record } from '../../core/record.ts'
import type { SinkSpec, SinkWriter } from '../../core/source.ts'

/** A sink that gathers every record in memory, in the thread that started the job. */
export interface CollectSink<T> extends SinkSpec<T> {
  /** The records received so far (from every task, batches in arrival order). */
  readonly records: Record<T>[]
  /** Their values. */
  readonly values: T[]
  /** Forgets what was collected (before running the topology again). */
  clear(): void
  /** Called by the runner with what the sink's tasks reported (also from worker threads). */
  receiveReport(data: unknown): void
}

/**
 * Collects records in memory. With worker threads, each task sends its batches to the job's owner
 * thread, so `records` is complete once the job is done. Unbounded: for tests and small results.
 */
export function collect<T = unknown>(): CollectSink<T> {
  const records: Record<T>[] = []
  const values: T[] = []
  return {
    kind: 'collect',
    records,
    values,
    clear() {
      records.length = 0
      values.length = 0
    },
    receiveReport(data) {
      for (const r of data as Record<T>[]) {
        records.push(r)
        values.push(r.value)
      }
    },
    create: (ctx): SinkWriter<T> => ({
      write: (batch) => ctx.report(`sink:${ctx.nodeName}`, batch),
    }),
  }
}

/**
 * A sink calling `fn` with each batch on the task's own thread. A returned promise is awaited
 * before the next batch (backpressure).
 */
export function sinkFn<T>(fn: (records: Record<T>[]) => void | Promise<void>): SinkSpec<T> {
  return { kind: 'function', create: () => ({ write: fn }) }
}

/**
 * A sink that drops everything (benchmarks, side effects done upstream), as Flink's `blackhole`
 * connector. It takes batches as values too, so a source feeding it makes no records.
 */
export function discard<T>(): SinkSpec<T> {
  return { kind: 'discard', create: () => ({ write: () => {}, writeValues: () => {} }) }
}

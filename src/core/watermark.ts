// Event time and watermarks: where a record's time comes from, and how far event time has progressed.

import { type Duration, toMillis } from './duration.ts'
import { check } from './errors.ts'
import type { Record } from './record.ts'
import { timeExtractor } from './time.ts'

/** Reads a record's event time; `undefined` when the value has no usable time. */
export type TimestampAssigner<T> = (value: T, record: Record<T>) => number | undefined

/**
 * Tracks the highest event time seen by one source partition and derives its watermark:
 * "no record with a time ≤ watermark will come any more".
 */
export interface WatermarkGenerator {
  onEvent(time: number): void
  /** The current watermark (−∞ until the first event). */
  current(): number
}

/**
 * How a source derives event time and watermarks, per partition. Built with named constructors
 * and refined by `withTimestamp` and `withIdleness`; immutable.
 *
 * ```ts
 * WatermarkStrategy.forBoundedOutOfOrderness<Access>('5s')
 *   .withTimestamp('time', '%d/%b/%Y:%H:%M:%S %z')
 *   .withIdleness('1m')
 * ```
 */
export class WatermarkStrategy<T> {
  private constructor(
    /** The largest lateness tolerated without the record being late (bounded), 0 (monotonous), or −1 (none). */
    readonly maxOutOfOrdernessMs: number,
    readonly timestamp: TimestampAssigner<T> | undefined,
    /** A partition quiet this long (processing time) stops holding back the watermark; 0 = never. */
    readonly idleTimeoutMs: number,
    /** A description of where time comes from, for errors and `explain`. */
    readonly timeSource: string,
    /** Makes each partition's generator instead of the highest-time-seen one (`withGenerator`). */
    private readonly generatorFactory?: () => WatermarkGenerator,
  ) {}

  /** Watermark = highest time seen − `bound` − 1 ms: records up to `bound` out of order are on time. */
  static forBoundedOutOfOrderness<T>(bound: Duration): WatermarkStrategy<T> {
    return new WatermarkStrategy<T>(toMillis(bound, 'maxOutOfOrderness'), undefined, 0, 'record time')
  }

  /** Times never decrease: watermark = highest time seen − 1 ms. */
  static forMonotonousTimestamps<T>(): WatermarkStrategy<T> {
    return new WatermarkStrategy<T>(0, undefined, 0, 'record time')
  }

  /** Assigns times but emits no watermark: event-time windows downstream fire only at end of input. */
  static noWatermarks<T>(): WatermarkStrategy<T> {
    return new WatermarkStrategy<T>(-1, undefined, 0, 'record time')
  }

  /** Event time = the moment the source read the record; watermarks follow it (monotonous). */
  static ingestionTime<T>(): WatermarkStrategy<T> {
    return new WatermarkStrategy<T>(0, undefined, 0, 'ingestion time')
  }

  /**
   * Reads event time from a field (dotted path) — a number of ms, an ISO-8601 string, or text in
   * `format` (strftime-style, e.g. `%d/%b/%Y:%H:%M:%S %z`) — or from a function.
   */
  withTimestamp(field: string | TimestampAssigner<T>, format?: string): WatermarkStrategy<T> {
    if (typeof field === 'function') {
      return new WatermarkStrategy(
        this.maxOutOfOrdernessMs,
        field,
        this.idleTimeoutMs,
        'a timestamp function',
        this.generatorFactory,
      )
    }
    check(
      typeof field === 'string' && field.length > 0,
      'withTimestamp(field)',
      'a field name or a function',
      field,
    )
    const extract = timeExtractor(format === undefined ? { field } : { field, format })
    return new WatermarkStrategy<T>(
      this.maxOutOfOrdernessMs,
      (value) => extract(value),
      this.idleTimeoutMs,
      `field "${field}"${format ? ` (format ${format})` : ''}`,
      this.generatorFactory,
    )
  }

  /** A partition with no record for `timeout` is idle and no longer holds the watermark back. */
  withIdleness(timeout: Duration): WatermarkStrategy<T> {
    const ms = toMillis(timeout, 'withIdleness(timeout)')
    check(ms > 0, 'withIdleness(timeout)', 'a positive duration', timeout)
    return new WatermarkStrategy(
      this.maxOutOfOrdernessMs,
      this.timestamp,
      ms,
      this.timeSource,
      this.generatorFactory,
    )
  }

  /**
   * This strategy with watermarks from `create()`, called once per source partition, instead of
   * "highest time seen − bound − 1": for a source that knows its watermark better than its records
   * tell (a table of a running job carries the job's, the minimum over the job's partitions). The
   * source task feeds the generator every record's time and emits `current()` after each batch
   * when it has advanced. `maxOutOfOrdernessMs` stays as the lateness bound others may mirror.
   */
  withGenerator(create: () => WatermarkGenerator): WatermarkStrategy<T> {
    check(typeof create === 'function', 'withGenerator(create)', 'a function', create)
    return new WatermarkStrategy(
      this.maxOutOfOrdernessMs,
      this.timestamp,
      this.idleTimeoutMs,
      this.timeSource,
      create,
    )
  }

  /** True when this strategy emits watermarks before the end of input. */
  get emitsWatermarks(): boolean {
    return this.maxOutOfOrdernessMs >= 0
  }

  /** A fresh generator for one source partition. */
  createGenerator(): WatermarkGenerator {
    if (this.generatorFactory !== undefined) return this.generatorFactory()
    const bound = this.maxOutOfOrdernessMs
    if (bound < 0) return { onEvent: () => {}, current: () => Number.NEGATIVE_INFINITY }
    return new HighestTimeSeen(bound)
  }
}

/**
 * The default generator: watermark = highest time seen − `bound` − 1. The highest time is a field,
 * not a closure variable: a field holding a number is updated in place, where a closure variable
 * would box every new time (called once per record).
 */
class HighestTimeSeen implements WatermarkGenerator {
  private max = Number.NEGATIVE_INFINITY

  constructor(private readonly bound: number) {}

  onEvent(time: number): void {
    if (time > this.max) this.max = time
  }

  current(): number {
    return this.max - this.bound - 1
  }
}

// Triggers: when a window emits before the watermark closes it (early firings). The on-time firing
// (watermark passes the window's end) and late firings (records within the grace) always happen.

import type { Duration } from '../duration.ts'
import { TopologyError, describeValue } from '../errors.ts'
import { signedMillis } from './assigners.ts'

/** Why a window result was emitted. */
export type Firing = 'early' | 'on-time' | 'late'

/**
 * An early-firing trigger, added with `.withEarlyFirings(trigger)`; immutable.
 * - `every(interval)`: in processing time, every `interval` (aligned to the clock), each window
 *   that received records since its last result emits an `early` result;
 * - `everyRecords(n)`: a window emits an `early` result every `n` records it receives.
 * Early results never replace the `on-time` result: the watermark still closes every window.
 */
export class Trigger {
  private constructor(
    readonly kind: 'processing-time' | 'count',
    /** The interval in ms (`processing-time`) or the record count (`count`). */
    readonly every: number,
  ) {}

  /** Early results every `interval` of processing time (the job's clock; a manual clock in tests). */
  static every(interval: Duration): Trigger {
    const ms = signedMillis(interval, 'Trigger.every(interval)', 'ERR_WINDOW_TRIGGER')
    if (!(ms > 0)) {
      throw new TopologyError(
        'ERR_WINDOW_TRIGGER',
        `Trigger.every(interval): expected a positive duration, got ${describeValue(interval)}`,
      )
    }
    return new Trigger('processing-time', Math.round(ms))
  }

  /** An early result each time a window has received `n` more records. */
  static everyRecords(n: number): Trigger {
    if (!(Number.isInteger(n) && n > 0)) {
      throw new TopologyError(
        'ERR_WINDOW_TRIGGER',
        `Trigger.everyRecords(n): expected an integer ≥ 1, got ${describeValue(n)}`,
      )
    }
    return new Trigger('count', n)
  }
}

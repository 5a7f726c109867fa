// The shapes a window operator emits and hands to user code: window bounds, firing kind, results.

import type { Key } from '../record.ts'
import type { Firing } from './triggers.ts'

/** A window as user code sees it: half-open `[start, end)` in event time, and why it fired. */
export interface WindowInfo {
  readonly start: number
  readonly end: number
  readonly firing: Firing
}

/**
 * One result of a windowed aggregate. Emitted as a record whose event time is `windowEnd - 1` (the
 * last instant inside the window) and whose key is `key`. A window can emit several results: any
 * number of `early` ones, one `on-time` when the watermark passes its end, then one `late` per
 * record arriving within the grace period — each carries the full, updated value (not a delta).
 */
export interface WindowResult<R> {
  key: Key
  windowStart: number
  windowEnd: number
  value: R
  firing: Firing
}

/** Where a full-window function sends its output; records get the window's last instant as time. */
export interface WindowOutput<O> {
  emit(value: O): void
}

/**
 * A full-window function: called when the window fires with every value in it (event-time slice
 * order, arrival order within a slice). `values` is read-only and only valid during the call.
 */
export type WindowFunction<T, O> = (
  key: Key,
  window: WindowInfo,
  values: readonly T[],
  out: WindowOutput<O>,
) => void

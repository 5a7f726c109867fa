// Window assigners: which windows a record's event time belongs to (tumbling, hopping, cumulating,
// session), epoch-aligned and half-open `[start, end)`, with an optional offset and grace period.

import type { Duration } from '../duration.ts'
import { type ErrorCode, TopologyError, describeValue } from '../errors.ts'

/**
 * Reads a signed duration: a number of ms, or text such as `"10s"`, `"-5s"`, `"+1m"`. Throws `code`
 * naming `what` when the text is not a duration.
 */
export function signedMillis(value: Duration, what: string, code: ErrorCode = 'ERR_ARGUMENT'): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value
  if (typeof value === 'string') {
    const s = value.trim()
    const sign = s.startsWith('-') ? -1 : 1
    const body = s.startsWith('-') || s.startsWith('+') ? s.slice(1).trim() : s
    const parts = body.match(/(\d+(?:\.\d+)?)\s*(ms|sec|min|s|m|h|d|w)?/g)
    if (body.length > 0 && parts && parts.join('').replace(/\s/g, '') === body.replace(/\s/g, '')) {
      let total = 0
      for (const p of parts) {
        const m = /(\d+(?:\.\d+)?)\s*(ms|sec|min|s|m|h|d|w)?/.exec(p)!
        total += Number(m[1]) * UNIT_MS[m[2] ?? 'ms']!
      }
      return sign * total
    }
  }
  throw new TopologyError(
    code,
    `${what}: expected a duration like "30s", "-5s" or a number of milliseconds, got ${describeValue(value)}`,
  )
}

const UNIT_MS: { [unit: string]: number } = {
  ms: 1,
  s: 1_000,
  sec: 1_000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
}

function positive(value: Duration, what: string, code: ErrorCode): number {
  const ms = signedMillis(value, what, code)
  if (!(ms > 0))
    throw new TopologyError(code, `${what}: expected a positive duration, got ${describeValue(value)}`)
  return ms
}

function nonNegative(value: Duration, what: string, code: ErrorCode): number {
  const ms = signedMillis(value, what, code)
  if (!(ms >= 0))
    throw new TopologyError(code, `${what}: expected 0 or a positive duration, got ${describeValue(value)}`)
  return ms
}

/** `x mod m` in `[0, m)`, also for negative `x`. */
export function floorMod(x: number, m: number): number {
  const r = x % m
  return r < 0 ? r + m : r
}

/** The largest `t' ≤ t` with `t' ≡ offset (mod step)`. */
export function alignDown(t: number, step: number, offset: number): number {
  return t - floorMod(t - offset, step)
}

/** The greatest common divisor of two positive integers. */
function gcd(a: number, b: number): number {
  while (b !== 0) {
    const t = a % b
    a = b
    b = t
  }
  return a
}

/**
 * A window assigner: the kind and geometry of windows, immutable. Non-merging kinds (tumbling,
 * hopping, cumulating) are cut into equal *slices* (panes): each record adds to exactly one slice,
 * and a window's result combines the slices it covers. Sessions merge instead.
 *
 * All times are ms since the epoch; windows are epoch-aligned (shifted by `offsetMs`) and half-open.
 */
export abstract class WindowAssigner {
  protected constructor(
    readonly kind: 'tumbling' | 'hopping' | 'cumulating' | 'session',
    /** How long after a window's end (in event time) late records still update it. */
    readonly graceMs: number,
  ) {}

  /** True for session windows (windows merge as records bridge them). */
  get merging(): boolean {
    return this.kind === 'session'
  }

  /** A copy with a grace period (Flink's allowed lateness): late records within it re-fire the window. */
  withGrace(grace: Duration): this {
    return this.copy(nonNegative(grace, `${this.describe()}.withGrace(grace)`, 'ERR_WINDOW_GRACE'))
  }

  /** The same as `withGrace`, under Flink's name. */
  allowedLateness(grace: Duration): this {
    return this.withGrace(grace)
  }

  /** A readable description, e.g. `HoppingWindows.of(60000, 10000)`. */
  abstract describe(): string
  protected abstract copy(graceMs: number): this
}

/**
 * The geometry of slice-based windows (tumbling, hopping, cumulating). A slice `[s, s + sliceMs)`
 * belongs to the windows whose ends are `firstEnd(s), firstEnd(s) + endStep, …, lastEnd(s)`.
 */
export abstract class SlicedWindows extends WindowAssigner {
  abstract readonly sliceMs: number
  abstract readonly offsetMs: number
  /** Distance between consecutive window ends. */
  abstract readonly endStepMs: number
  /** The slice start of event time `t`. */
  sliceOf(t: number): number {
    return alignDown(t, this.sliceMs, this.offsetMs)
  }
  /** The end of the earliest window containing the slice starting at `s`. */
  abstract firstEnd(s: number): number
  /** The end of the latest window containing the slice starting at `s`. */
  abstract lastEnd(s: number): number
  /** The start of the window ending at `end`. */
  abstract startOf(end: number): number
  /** True when some window ends at `end`. */
  isEnd(end: number): boolean {
    return (
      floorMod(end - this.offsetMs, this.endStepMs) ===
      floorMod(this.firstEnd(this.offsetMs) - this.offsetMs, this.endStepMs)
    )
  }
}

/** Hopping (sliding) windows of `size` every `slide`; tumbling windows are hopping with slide = size. */
export class HoppingWindows extends SlicedWindows {
  readonly sliceMs: number
  readonly endStepMs: number

  protected constructor(
    readonly sizeMs: number,
    readonly slideMs: number,
    readonly offsetMs: number,
    graceMs: number,
    kind: 'tumbling' | 'hopping' = 'hopping',
  ) {
    super(kind, graceMs)
    this.sliceMs = gcd(sizeMs, slideMs)
    this.endStepMs = slideMs
  }

  /**
   * Windows of `size`, one starting every `slide` (a record belongs to `size / slide` windows).
   * Throws ERR_WINDOW_SIZE / ERR_WINDOW_SLIDE naming the parameter when either is not positive, or
   * when the slide exceeds the size. Durations must be whole milliseconds.
   */
  static of(size: Duration, slide: Duration): HoppingWindows {
    const sizeMs = Math.round(positive(size, 'HoppingWindows.of(size)', 'ERR_WINDOW_SIZE'))
    const slideMs = Math.round(positive(slide, 'HoppingWindows.of(slide)', 'ERR_WINDOW_SLIDE'))
    if (slideMs > sizeMs) {
      throw new TopologyError(
        'ERR_WINDOW_SLIDE',
        `HoppingWindows.of(slide): expected a slide no larger than the size (${sizeMs} ms), got ${describeValue(slide)}`,
      )
    }
    return new HoppingWindows(sizeMs, slideMs, 0, 0)
  }

  /** Shifts window starts from the epoch by `offset` (e.g. `"-8h"` is not allowed; use `"16h"`). */
  withOffset(offset: Duration): this {
    const what = `${this.describe()}.withOffset(offset)`
    const ms = nonNegative(offset, what, 'ERR_WINDOW_OFFSET')
    if (ms >= this.slideMs) {
      throw new TopologyError(
        'ERR_WINDOW_OFFSET',
        `${what}: expected an offset below ${this.slideMs} ms, got ${describeValue(offset)}`,
      )
    }
    return new HoppingWindows(
      this.sizeMs,
      this.slideMs,
      ms,
      this.graceMs,
      this.kind as 'tumbling' | 'hopping',
    ) as this
  }

  describe(): string {
    return this.kind === 'tumbling'
      ? `TumblingWindows.of(${this.sizeMs})`
      : `HoppingWindows.of(${this.sizeMs}, ${this.slideMs})`
  }

  protected copy(graceMs: number): this {
    return new HoppingWindows(
      this.sizeMs,
      this.slideMs,
      this.offsetMs,
      graceMs,
      this.kind as 'tumbling' | 'hopping',
    ) as this
  }

  firstEnd(s: number): number {
    const earliestStart = s + this.sliceMs - this.sizeMs
    return earliestStart + floorMod(this.offsetMs - earliestStart, this.slideMs) + this.sizeMs
  }

  lastEnd(s: number): number {
    return alignDown(s, this.slideMs, this.offsetMs) + this.sizeMs
  }

  startOf(end: number): number {
    return end - this.sizeMs
  }

  /** @internal */
  static create(sizeMs: number, slideMs: number, kind: 'tumbling' | 'hopping'): HoppingWindows {
    return new HoppingWindows(sizeMs, slideMs, 0, 0, kind)
  }
}

/** Sliding windows are hopping windows (Flink's name). */
export const SlidingWindows = HoppingWindows

/** Tumbling windows: fixed size, no overlap; each record belongs to exactly one window. */
export const TumblingWindows = {
  /** Windows `[k·size, (k+1)·size)`. Throws ERR_WINDOW_SIZE naming `size` when it is not positive. */
  of(size: Duration): HoppingWindows {
    const sizeMs = Math.round(positive(size, 'TumblingWindows.of(size)', 'ERR_WINDOW_SIZE'))
    return HoppingWindows.create(sizeMs, sizeMs, 'tumbling')
  },
}

/**
 * Cumulating windows (Flink SQL's CUMULATE): within each period of `maxSize`, windows
 * `[start, start + step)`, `[start, start + 2·step)`, … `[start, start + maxSize)` — a running
 * total emitted every `step`, reset every `maxSize`.
 */
export class CumulatingWindows extends SlicedWindows {
  readonly sliceMs: number
  readonly endStepMs: number

  private constructor(
    readonly stepMs: number,
    readonly maxSizeMs: number,
    readonly offsetMs: number,
    graceMs: number,
  ) {
    super('cumulating', graceMs)
    this.sliceMs = stepMs
    this.endStepMs = stepMs
  }

  /** Throws ERR_WINDOW_SIZE naming the parameter unless both are positive and `maxSize` is a multiple of `step`. */
  static of(step: Duration, maxSize: Duration): CumulatingWindows {
    const stepMs = Math.round(positive(step, 'CumulatingWindows.of(step)', 'ERR_WINDOW_SIZE'))
    const maxMs = Math.round(positive(maxSize, 'CumulatingWindows.of(maxSize)', 'ERR_WINDOW_SIZE'))
    if (maxMs % stepMs !== 0) {
      throw new TopologyError(
        'ERR_WINDOW_SIZE',
        `CumulatingWindows.of(maxSize): expected a multiple of the step (${stepMs} ms), got ${describeValue(maxSize)}`,
      )
    }
    return new CumulatingWindows(stepMs, maxMs, 0, 0)
  }

  /** Shifts the periods from the epoch by `offset`, below `maxSize`. */
  withOffset(offset: Duration): this {
    const what = `${this.describe()}.withOffset(offset)`
    const ms = nonNegative(offset, what, 'ERR_WINDOW_OFFSET')
    if (ms >= this.maxSizeMs) {
      throw new TopologyError(
        'ERR_WINDOW_OFFSET',
        `${what}: expected an offset below ${this.maxSizeMs} ms, got ${describeValue(offset)}`,
      )
    }
    return new CumulatingWindows(this.stepMs, this.maxSizeMs, ms, this.graceMs) as this
  }

  describe(): string {
    return `CumulatingWindows.of(${this.stepMs}, ${this.maxSizeMs})`
  }

  protected copy(graceMs: number): this {
    return new CumulatingWindows(this.stepMs, this.maxSizeMs, this.offsetMs, graceMs) as this
  }

  firstEnd(s: number): number {
    return s + this.stepMs
  }

  lastEnd(s: number): number {
    return alignDown(s, this.maxSizeMs, this.offsetMs) + this.maxSizeMs
  }

  startOf(end: number): number {
    return alignDown(end - 1, this.maxSizeMs, this.offsetMs)
  }
}

/**
 * Session windows: a key's records closer than `gap` to each other form one window
 * `[first, last + gap)`. A record bridging two sessions merges them (as in Flink, windows that
 * touch merge too: a record exactly `gap` after the last one extends the session).
 */
export class SessionWindows extends WindowAssigner {
  private constructor(
    readonly gapMs: number,
    graceMs: number,
  ) {
    super('session', graceMs)
  }

  /** Throws ERR_WINDOW_GAP naming `gap` when it is not positive. */
  static withGap(gap: Duration): SessionWindows {
    return new SessionWindows(Math.round(positive(gap, 'SessionWindows.withGap(gap)', 'ERR_WINDOW_GAP')), 0)
  }

  describe(): string {
    return `SessionWindows.withGap(${this.gapMs})`
  }

  protected copy(graceMs: number): this {
    return new SessionWindows(this.gapMs, graceMs) as this
  }
}

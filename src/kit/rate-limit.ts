// Per-key throttling driven by event time: a sliding-window counter and a token bucket.
// State per key is a few numbers, forgotten after an idle time; snapshots are plain data.

import { type Duration, toMillis } from '../core/duration.ts'
import { check } from '../core/errors.ts'
import { type Action, type Decision, formatMillis, formatNumber } from './decision.ts'
import { arrayField, float64Bytes, float64Field, openSnapshot, snapshotError } from './snapshot.ts'

/** Options of `SlidingWindowLimiter.create`. */
export interface SlidingWindowOptions {
  /** Requests allowed per window. */
  readonly limit: number
  /** The window length. Default 1 minute. */
  readonly window?: Duration
  /** Requests per window above which the key is blocked rather than throttled. Default: none. */
  readonly blockAbove?: number
  /** A key with no request for this long is forgotten by `evictIdle`. Default: 2 windows. */
  readonly idle?: Duration
}

/** The plain-data form of a SlidingWindowLimiter. */
export interface SlidingWindowSnapshot {
  readonly kind: 'sliding-window-limiter'
  readonly version: 1
  readonly keys: string[]
  /** Per key: window start, current count, previous count, last time; the bytes of a Float64Array. */
  readonly state: Uint8Array
}

class WindowState {
  constructor(
    public start: number,
    public curr: number,
    public prev: number,
    public last: number,
  ) {}
}

/**
 * Sliding-window rate limiter, approximate: the "sliding window counter" that keeps two fixed
 * windows per key (current and previous) and estimates the requests in the last `window` as
 * `previous × (1 − elapsed/window) + current`, assuming the previous window's requests were spread
 * evenly. It errs by at most the previous window's count, is exact for evenly spread traffic, and
 * costs two numbers per key.
 *
 * - Every request counts, allowed or not, so a client that keeps hammering stays throttled
 *   (and crosses `blockAbove`) instead of getting through every time the estimate dips.
 * - Requests must arrive in roughly event-time order per key; a late request counts in the
 *   current window.
 */
export class SlidingWindowLimiter {
  readonly limit: number
  readonly window: number
  readonly blockAbove: number
  readonly idle: number
  private readonly states = new Map<string, WindowState>()
  private estimate = 0

  private constructor(limit: number, window: number, blockAbove: number, idle: number) {
    this.limit = limit
    this.window = window
    this.blockAbove = blockAbove
    this.idle = idle
  }

  /** A limiter of `limit` requests per `window`. Throws ERR_ARGUMENT on a bad option. */
  static create(options: SlidingWindowOptions): SlidingWindowLimiter {
    check(options.limit > 0, 'slidingWindow.limit', 'a number > 0', options.limit)
    const window = toMillis(options.window ?? '1m', 'slidingWindow.window')
    check(window > 0, 'slidingWindow.window', 'a positive duration', options.window)
    const blockAbove = options.blockAbove ?? Number.POSITIVE_INFINITY
    check(
      blockAbove >= options.limit,
      'slidingWindow.blockAbove',
      `a number ≥ limit (${options.limit})`,
      blockAbove,
    )
    const idle = toMillis(options.idle ?? 2 * window, 'slidingWindow.idle')
    return new SlidingWindowLimiter(options.limit, window, blockAbove, idle)
  }

  /** Rebuilds a limiter with `options` and the per-key state of `snapshot()` output. */
  static restore(options: SlidingWindowOptions, data: unknown): SlidingWindowLimiter {
    const limiter = SlidingWindowLimiter.create(options)
    const d = openSnapshot(data, 'sliding-window-limiter', 1)
    const keys = arrayField(d, 'sliding-window-limiter', 'keys')
    const s = float64Field(d, 'sliding-window-limiter', 'state', keys.length * 4)
    keys.forEach((key, i) => {
      if (typeof key !== 'string')
        throw snapshotError('sliding-window-limiter', `keys[${i}]`, 'a string', key)
      limiter.states.set(key, new WindowState(s[4 * i]!, s[4 * i + 1]!, s[4 * i + 2]!, s[4 * i + 3]!))
    })
    return limiter
  }

  /** The number of keys with state. */
  get size(): number {
    return this.states.size
  }

  /** Counts one request of `key` at event time `time` and returns the action; allocates nothing for known keys. */
  admit(key: string, time: number): Action {
    const w = this.window
    const start = time - (time % w)
    let s = this.states.get(key)
    if (s === undefined) {
      s = new WindowState(start, 0, 0, time)
      this.states.set(key, s)
    } else if (start > s.start) {
      s.prev = start - s.start === w ? s.curr : 0
      s.curr = 0
      s.start = start
    }
    if (time > s.last) s.last = time
    const elapsed = Math.max(0, Math.min(w, time - s.start))
    const estimate = s.prev * (1 - elapsed / w) + s.curr + 1
    s.curr++
    this.estimate = estimate
    if (estimate <= this.limit) return 'allow'
    return estimate > this.blockAbove ? 'block' : 'throttle'
  }

  /** `admit` with the verdict as a Decision whose reason names the estimated count and the limit. */
  decide(key: string, time: number): Decision {
    const action = this.admit(key, time)
    if (action === 'allow') return { action, key, reason: '' }
    const bar =
      action === 'block'
        ? `block above ${formatNumber(this.blockAbove)}`
        : `limit ${formatNumber(this.limit)}`
    const reason = `${formatNumber(this.estimate)} requests in the last ${formatMillis(this.window)} (${bar})`
    return { action, key, reason }
  }

  /** Forgets keys with no request since `now − idle`; returns how many were forgotten. */
  evictIdle(now: number): number {
    let n = 0
    for (const [key, s] of this.states) {
      if (s.last <= now - this.idle) {
        this.states.delete(key)
        n++
      }
    }
    return n
  }

  /** Plain data for a checkpoint: keys and 4 numbers per key. */
  snapshot(): SlidingWindowSnapshot {
    const keys = [...this.states.keys()]
    const state = new Float64Array(keys.length * 4)
    keys.forEach((key, i) => {
      const s = this.states.get(key)!
      state.set([s.start, s.curr, s.prev, s.last], 4 * i)
    })
    return { kind: 'sliding-window-limiter', version: 1, keys, state: float64Bytes(state) }
  }
}

/** Options of `TokenBucketLimiter.create`. */
export interface TokenBucketOptions {
  /** Tokens a full bucket holds: the largest burst allowed. */
  readonly capacity: number
  /** Tokens added per second of event time. */
  readonly refillPerSecond: number
  /** Consecutive refused requests after which a key is blocked rather than throttled. Default: never. */
  readonly blockAfter?: number
  /** A key idle this long is forgotten by `evictIdle`. Default: the time to refill a bucket. */
  readonly idle?: Duration
}

/** The plain-data form of a TokenBucketLimiter. */
export interface TokenBucketSnapshot {
  readonly kind: 'token-bucket-limiter'
  readonly version: 1
  readonly keys: string[]
  /** Per key: tokens, last time, consecutive refusals; the bytes of a Float64Array. */
  readonly state: Uint8Array
}

class BucketState {
  constructor(
    public tokens: number,
    public last: number,
    public refused: number,
  ) {}
}

/**
 * Token-bucket rate limiter per key, refilled by event time: a new key starts full; each request
 * takes `cost` tokens (default 1) when available and is allowed, else it is refused (throttled,
 * or blocked after `blockAfter` consecutive refusals) and takes nothing. Allows bursts up to
 * `capacity` and a sustained rate of `refillPerSecond`. A request earlier than the key's last one
 * refills nothing (time never runs backwards for a bucket).
 */
export class TokenBucketLimiter {
  readonly capacity: number
  readonly refillPerSecond: number
  readonly blockAfter: number
  readonly idle: number
  private readonly states = new Map<string, BucketState>()
  private readonly perMs: number

  private constructor(capacity: number, refillPerSecond: number, blockAfter: number, idle: number) {
    this.capacity = capacity
    this.refillPerSecond = refillPerSecond
    this.blockAfter = blockAfter
    this.idle = idle
    this.perMs = refillPerSecond / 1000
  }

  /** A limiter with the given bucket. Throws ERR_ARGUMENT on a bad option. */
  static create(options: TokenBucketOptions): TokenBucketLimiter {
    check(options.capacity > 0, 'tokenBucket.capacity', 'a number > 0', options.capacity)
    check(options.refillPerSecond > 0, 'tokenBucket.refillPerSecond', 'a number > 0', options.refillPerSecond)
    const blockAfter = options.blockAfter ?? Number.POSITIVE_INFINITY
    check(blockAfter >= 1, 'tokenBucket.blockAfter', 'a number ≥ 1', blockAfter)
    const idle = toMillis(
      options.idle ?? Math.ceil((options.capacity / options.refillPerSecond) * 1000),
      'tokenBucket.idle',
    )
    return new TokenBucketLimiter(options.capacity, options.refillPerSecond, blockAfter, idle)
  }

  /** Rebuilds a limiter with `options` and the per-key state of `snapshot()` output. */
  static restore(options: TokenBucketOptions, data: unknown): TokenBucketLimiter {
    const limiter = TokenBucketLimiter.create(options)
    const d = openSnapshot(data, 'token-bucket-limiter', 1)
    const keys = arrayField(d, 'token-bucket-limiter', 'keys')
    const s = float64Field(d, 'token-bucket-limiter', 'state', keys.length * 3)
    keys.forEach((key, i) => {
      if (typeof key !== 'string') throw snapshotError('token-bucket-limiter', `keys[${i}]`, 'a string', key)
      limiter.states.set(key, new BucketState(s[3 * i]!, s[3 * i + 1]!, s[3 * i + 2]!))
    })
    return limiter
  }

  /** The number of keys with state. */
  get size(): number {
    return this.states.size
  }

  /** Tokens left for `key` at its last request (`capacity` for an unknown key). */
  tokens(key: string): number {
    return this.states.get(key)?.tokens ?? this.capacity
  }

  /** Takes `cost` tokens from `key`'s bucket at event time `time` if it can, and returns the action. */
  admit(key: string, time: number, cost = 1): Action {
    let s = this.states.get(key)
    if (s === undefined) {
      s = new BucketState(this.capacity, time, 0)
      this.states.set(key, s)
    } else if (time > s.last) {
      s.tokens = Math.min(this.capacity, s.tokens + (time - s.last) * this.perMs)
      s.last = time
    }
    if (s.tokens >= cost) {
      s.tokens -= cost
      s.refused = 0
      return 'allow'
    }
    s.refused++
    return s.refused >= this.blockAfter ? 'block' : 'throttle'
  }

  /** `admit` with the verdict as a Decision whose reason names the tokens left and the refill rate. */
  decide(key: string, time: number, cost = 1): Decision {
    const action = this.admit(key, time, cost)
    if (action === 'allow') return { action, key, reason: '' }
    const s = this.states.get(key)!
    const base = `${formatNumber(s.tokens)} of ${formatNumber(this.capacity)} tokens left, refill ${formatNumber(this.refillPerSecond)}/s`
    const reason = action === 'block' ? `${base}; ${s.refused} refused requests in a row` : base
    return { action, key, reason }
  }

  /** Forgets keys with no request since `now − idle`; returns how many were forgotten. */
  evictIdle(now: number): number {
    let n = 0
    for (const [key, s] of this.states) {
      if (s.last <= now - this.idle) {
        this.states.delete(key)
        n++
      }
    }
    return n
  }

  /** Plain data for a checkpoint: keys and 3 numbers per key. */
  snapshot(): TokenBucketSnapshot {
    const keys = [...this.states.keys()]
    const state = new Float64Array(keys.length * 3)
    keys.forEach((key, i) => {
      const s = this.states.get(key)!
      state.set([s.tokens, s.last, s.refused], 3 * i)
    })
    return { kind: 'token-bucket-limiter', version: 1, keys, state: float64Bytes(state) }
  }
}

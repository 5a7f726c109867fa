// Password brute-force detection: N failed logins within T for one IP or user, optionally followed by
// a success (the attack worked). Per-key state is the recent failure times, forgotten when idle.

import { type Duration, toMillis } from '../core/duration.ts'
import { check } from '../core/errors.ts'
import { formatMillis } from './decision.ts'
import { arrayField, openSnapshot, snapshotError } from './snapshot.ts'

/** One login attempt. */
export interface LoginEvent {
  /** Event time, ms. */
  readonly time: number
  readonly ip: string
  readonly user: string
  readonly success: boolean
}

/** Options of `BruteForceDetector.create`. */
export interface BruteForceOptions {
  /** Failures needed. Default 5. */
  readonly failures?: number
  /** The failures (and the success, with `then: 'success'`) lie within this span. Default 60 s. */
  readonly within?: Duration
  /** `'success'`: alert only when a success follows the failures; undefined: alert on the failures. */
  readonly then?: 'success'
  /** What identifies an attacker: the source IP (default) or the target user. */
  readonly by?: 'ip' | 'user'
  /** A key with no attempt for this long is forgotten by `evictIdle`. Default: `within`. */
  readonly idle?: Duration
  /** Failure times kept per key; `failures` in alerts saturates there. Default 1000. */
  readonly maxTracked?: number
}

/** A brute-force alert: block the key. */
export interface BruteForceAlert {
  readonly action: 'block'
  /** The IP or user, per `by`. */
  readonly key: string
  /** E.g. `"5 failed logins within 60s followed by a success"`. */
  readonly reason: string
  /** Time of the first failure counted. */
  readonly firstTime: number
  /** Time of the success, or of the last failure when `then` is undefined. */
  readonly lastTime: number
  /** Failures counted within the span (at least `failures`). */
  readonly failures: number
  /** The event that completed the pattern. */
  readonly event: LoginEvent
}

/** The plain-data form of a BruteForceDetector: failure times per key. */
export interface BruteForceSnapshot {
  readonly kind: 'brute-force'
  readonly version: 1
  readonly keys: string[]
  readonly times: number[][]
}

/**
 * The brute-force pattern with its options resolved and checked, applied to one key's failure times
 * (a sorted array the caller keeps: in a detector's map, or in an engine's keyed state).
 *
 * - With `then: 'success'`: a success at time t alerts when at least N failures of the same key lie
 *   in (t − T, t]. Every success clears the key's failures, alert or not.
 * - Without `then`: the N-th failure within T alerts, and clears the key's failures, so a
 *   continuing attack alerts once per N further failures.
 * - Events must arrive in event-time order per key; a failure older than the key's latest is kept in
 *   order but counts only if it is within T of the decision.
 */
export class BruteForceRule {
  readonly failures: number
  readonly within: number
  /** Whether a success must follow the failures (the `then: 'success'` option). */
  readonly requireSuccess: boolean
  readonly by: 'ip' | 'user'
  /** A key with no attempt for this long can be forgotten. */
  readonly idle: number
  /** Failure times kept per key; `failures` in alerts saturates there. */
  readonly maxTracked: number
  private readonly reasonText: string

  /** Checks and resolves `options`. Throws ERR_ARGUMENT naming a bad option. */
  constructor(options: BruteForceOptions = {}) {
    const failures = options.failures ?? 5
    const by = options.by ?? 'ip'
    const maxTracked = options.maxTracked ?? 1000
    check(Number.isInteger(failures) && failures >= 1, 'bruteForce.failures', 'a positive integer', failures)
    check(by === 'ip' || by === 'user', 'bruteForce.by', 'one of "ip", "user"', by)
    check(
      options.then === undefined || options.then === 'success',
      'bruteForce.then',
      '"success" or undefined',
      options.then,
    )
    check(
      Number.isInteger(maxTracked) && maxTracked >= failures,
      'bruteForce.maxTracked',
      `an integer ≥ failures (${failures})`,
      maxTracked,
    )
    this.failures = failures
    this.within = toMillis(options.within ?? 60_000, 'bruteForce.within')
    this.requireSuccess = options.then === 'success'
    this.by = by
    this.idle = toMillis(options.idle ?? this.within, 'bruteForce.idle')
    this.maxTracked = maxTracked
    this.reasonText = ` failed logins within ${formatMillis(this.within)}${this.requireSuccess ? ' followed by a success' : ''}`
  }

  /** The key an event counts for: its IP or its user. */
  keyOf(event: LoginEvent): string {
    return this.by === 'ip' ? event.ip : event.user
  }

  /**
   * Applies one attempt to `times`, the key's sorted failure times, changing it in place. Returns
   * the alert when the attempt completes the pattern. An empty `times` afterwards means the key
   * has nothing left to remember.
   */
  apply(times: number[], event: LoginEvent, key: string): BruteForceAlert | undefined {
    const t = event.time
    if (!event.success) {
      let i = times.length
      while (i > 0 && times[i - 1]! > t) i--
      if (i === times.length) times.push(t)
      else times.splice(i, 0, t)
      prune(times, t - this.within)
      if (times.length > this.maxTracked) times.splice(0, times.length - this.maxTracked)
      if (!this.requireSuccess && times.length >= this.failures) {
        const alert = this.alert(key, event, times.slice(), t)
        times.length = 0
        return alert
      }
      return undefined
    }
    if (!this.requireSuccess) {
      times.length = 0
      return undefined
    }
    prune(times, t - this.within)
    let n = times.length
    while (n > 0 && times[n - 1]! > t) n--
    const alert = n < this.failures ? undefined : this.alert(key, event, times.slice(0, n), t)
    times.length = 0
    return alert
  }

  /** True when a key whose latest failure is `last` can be forgotten at `now`. */
  isIdle(last: number, now: number): boolean {
    return last <= now - this.idle
  }

  private alert(key: string, event: LoginEvent, times: number[], last: number): BruteForceAlert {
    return {
      action: 'block',
      key,
      reason: `${times.length}${this.reasonText}`,
      firstTime: times[0]!,
      lastTime: last,
      failures: times.length,
      event,
    }
  }
}

/**
 * Detects N failed logins within T per IP or per user (see `BruteForceRule` for the exact rule),
 * keeping every key's recent failures in one map: at most `maxTracked` failure times per key;
 * `evictIdle(now)` forgets keys idle for `idle`.
 */
export class BruteForceDetector {
  private readonly times = new Map<string, number[]>()

  private constructor(readonly rule: BruteForceRule) {}

  /** A detector with the given pattern. Throws ERR_ARGUMENT on a bad option. */
  static create(options: BruteForceOptions = {}): BruteForceDetector {
    return new BruteForceDetector(new BruteForceRule(options))
  }

  /** Rebuilds a detector with `options` and the per-key state of `snapshot()` output. */
  static restore(options: BruteForceOptions, data: unknown): BruteForceDetector {
    const detector = BruteForceDetector.create(options)
    const d = openSnapshot(data, 'brute-force', 1)
    const keys = arrayField(d, 'brute-force', 'keys')
    const times = arrayField(d, 'brute-force', 'times')
    if (times.length !== keys.length)
      throw snapshotError('brute-force', 'times', `${keys.length} lists`, times.length)
    keys.forEach((key, i) => {
      const t = times[i]
      if (typeof key !== 'string' || !Array.isArray(t) || t.some((x) => typeof x !== 'number')) {
        throw snapshotError('brute-force', `keys[${i}]`, 'a string key with a list of times', key)
      }
      detector.times.set(key, t.slice() as number[])
    })
    return detector
  }

  get failures(): number {
    return this.rule.failures
  }
  get within(): number {
    return this.rule.within
  }
  get requireSuccess(): boolean {
    return this.rule.requireSuccess
  }
  get by(): 'ip' | 'user' {
    return this.rule.by
  }
  get idle(): number {
    return this.rule.idle
  }
  get maxTracked(): number {
    return this.rule.maxTracked
  }

  /** The number of keys with recent failures. */
  get size(): number {
    return this.times.size
  }

  /** Processes one login attempt; returns an alert when it completes the pattern, else undefined. */
  observe(event: LoginEvent): BruteForceAlert | undefined {
    const key = this.rule.keyOf(event)
    let times = this.times.get(key)
    if (times === undefined) {
      if (event.success) return undefined
      times = []
      this.times.set(key, times)
    }
    const alert = this.rule.apply(times, event, key)
    if (times.length === 0) this.times.delete(key)
    return alert
  }

  /** Forgets keys whose latest failure is at or before `now − idle`; returns how many were forgotten. */
  evictIdle(now: number): number {
    let n = 0
    for (const [key, times] of this.times) {
      if (times.length === 0 || this.rule.isIdle(times[times.length - 1]!, now)) {
        this.times.delete(key)
        n++
      }
    }
    return n
  }

  /** Plain data for a checkpoint (copies). */
  snapshot(): BruteForceSnapshot {
    const keys = [...this.times.keys()]
    return { kind: 'brute-force', version: 1, keys, times: keys.map((k) => this.times.get(k)!.slice()) }
  }
}

/** Drops the times at or before `bound` from the front of a sorted list. */
function prune(times: number[], bound: number): void {
  let i = 0
  while (i < times.length && times[i]! <= bound) i++
  if (i > 0) times.splice(0, i)
}

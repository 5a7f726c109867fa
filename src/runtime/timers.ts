// Keyed timers of one task: deduplicated per (key, time), fired in time order.

import type { Key } from '../core/record.ts'

/** A timer queue for one time domain. Times are kept sorted; keys per time in a Set (dedup). */
export class TimerQueue {
  private readonly byTime = new Map<number, Set<Key | undefined>>()
  private times: number[] = []

  get size(): number {
    let n = 0
    for (const s of this.byTime.values()) n += s.size
    return n
  }

  add(time: number, key: Key | undefined): void {
    let keys = this.byTime.get(time)
    if (keys === undefined) {
      keys = new Set()
      this.byTime.set(time, keys)
      // Binary insertion: most timers land at or near the end (window ends move forward).
      const t = this.times
      let lo = 0
      let hi = t.length
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if (t[mid]! < time) lo = mid + 1
        else hi = mid
      }
      t.splice(lo, 0, time)
    }
    keys.add(key)
  }

  delete(time: number, key: Key | undefined): void {
    const keys = this.byTime.get(time)
    if (keys === undefined) return
    keys.delete(key)
    if (keys.size === 0) {
      this.byTime.delete(time)
      const i = this.times.indexOf(time)
      if (i >= 0) this.times.splice(i, 1)
    }
  }

  /** The earliest pending time, or +∞. */
  peek(): number {
    return this.times.length > 0 ? this.times[0]! : Number.POSITIVE_INFINITY
  }

  /**
   * Removes and returns the timers with time ≤ `upTo`, earliest first, as [time, key] pairs.
   * Timers registered while the caller handles them are picked up by calling again.
   */
  popUpTo(upTo: number): [number, Key | undefined][] {
    const out: [number, Key | undefined][] = []
    let n = 0
    const t = this.times
    while (n < t.length && t[n]! <= upTo) {
      const time = t[n]!
      for (const k of this.byTime.get(time)!) out.push([time, k])
      this.byTime.delete(time)
      n++
    }
    if (n > 0) this.times = t.slice(n)
    return out
  }

  /** All pending timers, for snapshots. */
  toArray(): [number, (Key | undefined)[]][] {
    return this.times.map((time) => [time, [...this.byTime.get(time)!]])
  }

  load(entries: readonly [number, (Key | undefined)[]][], keep: (key: Key | undefined) => boolean): void {
    for (const [time, keys] of entries) for (const k of keys) if (keep(k)) this.add(time, k)
  }
}

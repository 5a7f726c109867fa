// Keyed timers of one task: deduplicated per (key, time), fired in time order.

import type { Key } from '../core/record.ts'

/**
 * A timer queue for one time domain: the keys of each time in a Set (dedup), the times in a binary
 * min-heap, as Flink keeps its timers. Adding a timer at a new time and taking the earliest cost
 * O(log n) in the number of distinct times, so many keys with times of their own (session ends,
 * cleanups spread over a period) cost no more than many keys sharing a few times. A time whose
 * last key is deleted leaves its heap entry behind, skipped when it reaches the top.
 */
export class TimerQueue {
  private readonly byTime = new Map<number, Set<Key | undefined>>()
  private heap: number[] = []

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
      this.push(time)
    }
    keys.add(key)
  }

  delete(time: number, key: Key | undefined): void {
    const keys = this.byTime.get(time)
    if (keys === undefined) return
    keys.delete(key)
    if (keys.size === 0) this.byTime.delete(time)
  }

  /** The earliest pending time, or +∞. */
  peek(): number {
    this.dropStale()
    return this.heap.length > 0 ? this.heap[0]! : Number.POSITIVE_INFINITY
  }

  /**
   * Removes and returns the timers with time ≤ `upTo`, earliest first, as [time, key] pairs.
   * Timers registered while the caller handles them are picked up by calling again.
   */
  popUpTo(upTo: number): [number, Key | undefined][] {
    const out: [number, Key | undefined][] = []
    for (;;) {
      this.dropStale()
      if (this.heap.length === 0 || this.heap[0]! > upTo) return out
      const time = this.pop()
      for (const k of this.byTime.get(time)!) out.push([time, k])
      this.byTime.delete(time)
    }
  }

  /** All pending timers, earliest first, for snapshots. */
  toArray(): [number, (Key | undefined)[]][] {
    return [...this.byTime.keys()].sort((a, b) => a - b).map((time) => [time, [...this.byTime.get(time)!]])
  }

  load(entries: readonly [number, (Key | undefined)[]][], keep: (key: Key | undefined) => boolean): void {
    for (const [time, keys] of entries) for (const k of keys) if (keep(k)) this.add(time, k)
  }

  /** Pops heap tops whose time has no timer any more (all its keys were deleted). */
  private dropStale(): void {
    const h = this.heap
    while (h.length > 0 && !this.byTime.has(h[0]!)) this.pop()
  }

  private push(time: number): void {
    const h = this.heap
    let i = h.length
    h.push(time)
    while (i > 0) {
      const parent = (i - 1) >>> 1
      if (h[parent]! <= time) break
      h[i] = h[parent]!
      i = parent
    }
    h[i] = time
  }

  private pop(): number {
    const h = this.heap
    const top = h[0]!
    const last = h.pop()!
    const n = h.length
    if (n > 0) {
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= n) break
        const r = l + 1
        const c = r < n && h[r]! < h[l]! ? r : l
        if (h[c]! >= last) break
        h[i] = h[c]!
        i = c
      }
      h[i] = last
    }
    return top
  }
}

// Heavy hitters in bounded memory: Space-Saving (the frequent keys themselves, with error bounds)
// and Count-Min (a frequency estimate for any key). Both are mergeable and snapshot to plain data.

import { check } from '../core/errors.ts'
import { type Hashable, hashLow, hashNumber, hashString } from './hash.ts'
import {
  arrayField,
  float64Bytes,
  float64Field,
  numberField,
  openSnapshot,
  snapshotError,
} from './snapshot.ts'
import { compareRanked, type RankKey } from './top-k.ts'

/** One monitored key of a Space-Saving summary. */
export interface HeavyHitter<K extends RankKey = RankKey> {
  readonly key: K
  /** The estimated frequency: never below the true one. */
  readonly count: number
  /** How much `count` may overestimate: true frequency ≥ count − error. Never above N/capacity. */
  readonly error: number
}

/** The plain-data form of a SpaceSaving summary (heap order). */
export interface SpaceSavingSnapshot {
  readonly kind: 'space-saving'
  readonly version: 1
  readonly capacity: number
  readonly total: number
  readonly keys: RankKey[]
  /** The counts, as the bytes of a Float64Array. */
  readonly counts: Uint8Array
  /** The errors, as the bytes of a Float64Array. */
  readonly errors: Uint8Array
}

/**
 * Space-Saving (Metwally, Agrawal, El Abbadi, 2005) with `capacity` m counters, kept in a min-heap.
 *
 * Guarantees, with N the total weight added (and merged):
 * - every key whose true frequency exceeds N/m is monitored;
 * - for every monitored key, `count − error ≤ true frequency ≤ count`, and `error ≤ N/m`;
 * - a key that is not monitored has a true frequency of at most `minCount` (≤ N/m).
 *
 * `add` costs one Map lookup and a heap sift (usually zero or one step). `merge` follows the
 * mergeable-summaries construction (Cafaro et al.; Agarwal et al.): a key missing from one summary
 * is charged that summary's minimum counter as count and error, the sums are ranked and the best m
 * kept. The three guarantees above hold for the merged summary with N = N₁ + N₂, and keep holding
 * as adds continue. Keys are strings or numbers; weights are positive numbers.
 */
export class SpaceSaving<K extends RankKey = RankKey> {
  /** The number of counters m. */
  readonly capacity: number
  private readonly keys: K[] = []
  private readonly counts: Float64Array
  private readonly errors: Float64Array
  private readonly index = new Map<K, number>()
  private n = 0

  private constructor(capacity: number) {
    this.capacity = capacity
    this.counts = new Float64Array(capacity)
    this.errors = new Float64Array(capacity)
  }

  /** An empty summary with `capacity` counters. Throws ERR_ARGUMENT unless it is a positive integer. */
  static create<K extends RankKey = RankKey>(capacity: number): SpaceSaving<K> {
    check(Number.isInteger(capacity) && capacity > 0, 'spaceSaving.capacity', 'a positive integer', capacity)
    return new SpaceSaving<K>(capacity)
  }

  /** Rebuilds a summary from `snapshot()` output. Throws ERR_KIT_SNAPSHOT on a malformed snapshot. */
  static restore<K extends RankKey = RankKey>(data: unknown): SpaceSaving<K> {
    const d = openSnapshot(data, 'space-saving', 1)
    const capacity = numberField(d, 'space-saving', 'capacity')
    if (!Number.isInteger(capacity) || capacity <= 0) {
      throw snapshotError('space-saving', 'capacity', 'a positive integer', capacity)
    }
    const keys = arrayField(d, 'space-saving', 'keys')
    if (keys.length > capacity)
      throw snapshotError('space-saving', 'keys', `at most ${capacity} keys`, keys.length)
    const counts = float64Field(d, 'space-saving', 'counts', keys.length)
    const errors = float64Field(d, 'space-saving', 'errors', keys.length)
    const s = new SpaceSaving<K>(capacity)
    s.n = numberField(d, 'space-saving', 'total')
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]
      if (typeof key !== 'string' && typeof key !== 'number') {
        throw snapshotError('space-saving', `keys[${i}]`, 'a string or number', key)
      }
      s.push(key as K, counts[i]!, errors[i]!)
    }
    return s
  }

  /** N: the total weight added and merged. */
  get total(): number {
    return this.n
  }

  /** The number of monitored keys (at most `capacity`). */
  get size(): number {
    return this.keys.length
  }

  /** The smallest counter once all counters are in use, else 0: an upper bound for unmonitored keys. */
  get minCount(): number {
    return this.keys.length < this.capacity ? 0 : this.counts[0]!
  }

  /** Counts `weight` (default 1, must be > 0) occurrences of `key`. */
  add(key: K, weight = 1): void {
    this.n += weight
    const at = this.index.get(key)
    if (at !== undefined) {
      this.counts[at] += weight
      this.siftDown(at)
    } else if (this.keys.length < this.capacity) {
      this.push(key, weight, 0)
    } else {
      this.index.delete(this.keys[0]!)
      const min = this.counts[0]!
      this.keys[0] = key
      this.errors[0] = min
      this.counts[0] = min + weight
      this.index.set(key, 0)
      this.siftDown(0)
    }
  }

  /** The monitored entry of `key`, or undefined when it is not monitored. */
  get(key: K): HeavyHitter<K> | undefined {
    const at = this.index.get(key)
    return at === undefined ? undefined : { key, count: this.counts[at]!, error: this.errors[at]! }
  }

  /** An upper bound of `key`'s true frequency: its count when monitored, else `minCount`. */
  upperBound(key: K): number {
    const at = this.index.get(key)
    return at === undefined ? this.minCount : this.counts[at]!
  }

  /** Every monitored key, by count descending then key ascending. */
  entries(): HeavyHitter<K>[] {
    const out: HeavyHitter<K>[] = this.keys.map((key, i) => ({
      key,
      count: this.counts[i]!,
      error: this.errors[i]!,
    }))
    return out.sort((a, b) => compareRanked(a.key, a.count, b.key, b.count))
  }

  /** The k most frequent monitored keys, by count descending then key ascending. */
  top(k: number): HeavyHitter<K>[] {
    return this.entries().slice(0, k)
  }

  /**
   * The keys whose count exceeds `fraction`·N. When `fraction` ≥ 1/capacity this includes every key
   * whose true frequency exceeds `fraction`·N (there may be false positives: check `count − error`).
   */
  frequent(fraction: number): HeavyHitter<K>[] {
    const bar = fraction * this.n
    return this.entries().filter((e) => e.count > bar)
  }

  /** Folds `other` into this summary (see the class contract). Throws ERR_ARGUMENT when the capacities differ. */
  merge(other: SpaceSaving<K>): this {
    check(
      other.capacity === this.capacity,
      'spaceSaving.merge(other)',
      `a SpaceSaving with capacity ${this.capacity}`,
      `capacity ${other.capacity}`,
    )
    const minA = this.minCount
    const minB = other.minCount
    const merged = new Map<K, [number, number]>()
    for (let i = 0; i < this.keys.length; i++) {
      merged.set(this.keys[i]!, [this.counts[i]! + minB, this.errors[i]! + minB])
    }
    for (let i = 0; i < other.keys.length; i++) {
      const key = other.keys[i]!
      const had = merged.get(key)
      if (had === undefined) merged.set(key, [other.counts[i]! + minA, other.errors[i]! + minA])
      else {
        had[0] += other.counts[i]! - minB
        had[1] += other.errors[i]! - minB
      }
    }
    const ranked = [...merged].sort((a, b) => compareRanked(a[0], a[1][0], b[0], b[1][0]))
    this.keys.length = 0
    this.index.clear()
    this.n += other.n
    const keep = Math.min(this.capacity, ranked.length)
    for (let i = 0; i < keep; i++) this.push(ranked[i]![0], ranked[i]![1][0], ranked[i]![1][1])
    return this
  }

  /** Plain data for a checkpoint (copies). */
  snapshot(): SpaceSavingSnapshot {
    const size = this.keys.length
    return {
      kind: 'space-saving',
      version: 1,
      capacity: this.capacity,
      total: this.n,
      keys: this.keys.slice(),
      counts: float64Bytes(this.counts.subarray(0, size)),
      errors: float64Bytes(this.errors.subarray(0, size)),
    }
  }

  private push(key: K, count: number, error: number): void {
    const at = this.keys.length
    this.keys.push(key)
    this.counts[at] = count
    this.errors[at] = error
    this.index.set(key, at)
    this.siftUp(at)
  }

  private siftUp(at: number): void {
    const keys = this.keys
    const counts = this.counts
    const errors = this.errors
    const key = keys[at]!
    const count = counts[at]!
    const error = errors[at]!
    while (at > 0) {
      const parent = (at - 1) >>> 1
      if (counts[parent]! <= count) break
      keys[at] = keys[parent]!
      counts[at] = counts[parent]!
      errors[at] = errors[parent]!
      this.index.set(keys[at]!, at)
      at = parent
    }
    keys[at] = key
    counts[at] = count
    errors[at] = error
    this.index.set(key, at)
  }

  private siftDown(at: number): void {
    const keys = this.keys
    const counts = this.counts
    const errors = this.errors
    const size = keys.length
    const count = counts[at]!
    let child = 2 * at + 1
    if (child >= size) return
    const key = keys[at]!
    const error = errors[at]!
    const start = at
    while (child < size) {
      if (child + 1 < size && counts[child + 1]! < counts[child]!) child++
      if (counts[child]! >= count) break
      keys[at] = keys[child]!
      counts[at] = counts[child]!
      errors[at] = errors[child]!
      this.index.set(keys[at]!, at)
      at = child
      child = 2 * at + 1
    }
    if (at === start) return
    keys[at] = key
    counts[at] = count
    errors[at] = error
    this.index.set(key, at)
  }
}

/** Options of `CountMinSketch.create`. */
export interface CountMinOptions {
  /** Additive error as a fraction of N: estimates exceed the truth by at most ε·N (w.p. 1 − δ). Default 0.001. */
  readonly epsilon?: number
  /** Probability that one estimate exceeds that bound. Default 0.01. */
  readonly delta?: number
}

/** The plain-data form of a CountMinSketch. */
export interface CountMinSnapshot {
  readonly kind: 'count-min'
  readonly version: 1
  readonly width: number
  readonly depth: number
  readonly total: number
  /** The counters row by row, as the bytes of a Float64Array. */
  readonly table: Uint8Array
}

/**
 * Count-Min sketch (Cormode and Muthukrishnan, 2005): `depth` rows of `width` counters.
 *
 * - `create({ epsilon, delta })` picks width = 2^⌈log₂(e/ε)⌉ and depth = ⌈ln(1/δ)⌉.
 * - With non-negative weights, `estimate(x) ≥ true(x)` always, and `estimate(x) ≤ true(x) + ε·N`
 *   with probability at least 1 − δ for each query, N being the total weight.
 * - Rows are indexed by double hashing of one 64-bit hash (h₁ + i·h₂), so `add` hashes once.
 * - `merge` adds the tables of two sketches of the same width and depth (ERR_ARGUMENT otherwise);
 *   the result equals one sketch fed both inputs.
 */
export class CountMinSketch {
  readonly width: number
  readonly depth: number
  private readonly mask: number
  private readonly table: Float64Array
  private n = 0

  private constructor(width: number, depth: number, table: Float64Array) {
    this.width = width
    this.depth = depth
    this.mask = width - 1
    this.table = table
  }

  /** A sketch sized for `epsilon` and `delta`. Throws ERR_ARGUMENT unless both lie in (0, 1). */
  static create(options: CountMinOptions = {}): CountMinSketch {
    const epsilon = options.epsilon ?? 0.001
    const delta = options.delta ?? 0.01
    check(epsilon > 0 && epsilon < 1, 'countMin.epsilon', 'a number in (0, 1)', epsilon)
    check(delta > 0 && delta < 1, 'countMin.delta', 'a number in (0, 1)', delta)
    const width = 2 ** Math.ceil(Math.log2(Math.E / epsilon))
    const depth = Math.max(1, Math.ceil(Math.log(1 / delta)))
    check(width * depth <= 2 ** 26, 'countMin.epsilon', 'a sketch of at most 2^26 counters', width * depth)
    return new CountMinSketch(width, depth, new Float64Array(width * depth))
  }

  /** Rebuilds a sketch from `snapshot()` output. Throws ERR_KIT_SNAPSHOT on a malformed snapshot. */
  static restore(data: unknown): CountMinSketch {
    const d = openSnapshot(data, 'count-min', 1)
    const width = numberField(d, 'count-min', 'width')
    const depth = numberField(d, 'count-min', 'depth')
    if (!Number.isInteger(Math.log2(width)) || width < 1) {
      throw snapshotError('count-min', 'width', 'a power of two', width)
    }
    if (!Number.isInteger(depth) || depth < 1)
      throw snapshotError('count-min', 'depth', 'a positive integer', depth)
    const sketch = new CountMinSketch(width, depth, float64Field(d, 'count-min', 'table', width * depth))
    sketch.n = numberField(d, 'count-min', 'total')
    return sketch
  }

  /** N: the total weight added and merged. */
  get total(): number {
    return this.n
  }

  /** Counts `weight` (default 1, ≥ 0) occurrences of `value`. */
  add(value: Hashable, weight = 1): void {
    if (typeof value === 'number') this.addHash(hashNumber(value), hashLow, weight)
    else this.addHash(hashString(value), hashLow, weight)
  }

  /** Adds a value already hashed to 64 bits (high and low halves). */
  addHash(hi: number, lo: number, weight = 1): void {
    this.n += weight
    const step = lo | 1
    const w = this.width
    const mask = this.mask
    const table = this.table
    let h = hi
    for (let row = 0, base = 0; row < this.depth; row++, base += w) {
      table[base + (h & mask)] += weight
      h = (h + step) | 0
    }
  }

  /** The estimated total weight of `value`: never below the truth; see the class contract for the upper bound. */
  estimate(value: Hashable): number {
    const hi = typeof value === 'number' ? hashNumber(value) : hashString(value)
    return this.estimateHash(hi, hashLow)
  }

  /** `estimate` for a value already hashed to 64 bits. */
  estimateHash(hi: number, lo: number): number {
    const step = lo | 1
    const w = this.width
    const mask = this.mask
    const table = this.table
    let h = hi
    let min = Number.POSITIVE_INFINITY
    for (let row = 0, base = 0; row < this.depth; row++, base += w) {
      const c = table[base + (h & mask)]!
      if (c < min) min = c
      h = (h + step) | 0
    }
    return min
  }

  /** Folds `other` into this sketch (counter-wise sum). Throws ERR_ARGUMENT when the dimensions differ. */
  merge(other: CountMinSketch): this {
    check(
      other.width === this.width && other.depth === this.depth,
      'countMin.merge(other)',
      `a sketch of width ${this.width} and depth ${this.depth}`,
      `width ${other.width}, depth ${other.depth}`,
    )
    const a = this.table
    const b = other.table
    for (let i = 0; i < a.length; i++) a[i] += b[i]!
    this.n += other.n
    return this
  }

  /** Plain data for a checkpoint (a copy of the table). */
  snapshot(): CountMinSnapshot {
    return {
      kind: 'count-min',
      version: 1,
      width: this.width,
      depth: this.depth,
      total: this.n,
      table: float64Bytes(this.table),
    }
  }
}

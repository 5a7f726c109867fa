// Exact top-K of (key, score) pairs with one deterministic order: score descending, then key ascending.
// Partial top-K lists of disjoint keys (one per partition) merge into the exact global top-K.

import { check } from '../core/errors.ts'
import { arrayField, numberField, openSnapshot, snapshotError } from './snapshot.ts'

/** A ranked key: strings and numbers, so keys compare and serialise exactly. */
export type RankKey = string | number

/** One entry of a ranking. */
export interface Ranked<K extends RankKey = RankKey> {
  readonly key: K
  readonly score: number
}

/**
 * The ranking order: higher score first; on equal scores the smaller key first (numbers before
 * strings, numbers numerically, strings by UTF-16 code units). Negative when `a` ranks before `b`.
 */
export function compareRanked(aKey: RankKey, aScore: number, bKey: RankKey, bScore: number): number {
  if (aScore !== bScore) return aScore > bScore ? -1 : 1
  if (aKey === bKey) return 0
  const an = typeof aKey === 'number'
  const bn = typeof bKey === 'number'
  if (an !== bn) return an ? -1 : 1
  return aKey < bKey ? -1 : 1
}

/** The plain-data form of a TopK. */
export interface TopKSnapshot {
  readonly kind: 'top-k'
  readonly version: 1
  readonly k: number
  readonly keys: RankKey[]
  readonly scores: number[]
}

/**
 * A bounded ranking that keeps the k best (key, score) pairs in `compareRanked` order.
 *
 * - `offer(key, score)` sets the key's score. It is exact when each key is offered once (ranking a
 *   map of totals), or when a key's score never decreases (running counts): a key that drops out can
 *   only come back with a higher score, and is offered again then. A score that decreases may let a
 *   key outside the top-K, which was not kept, deserve a place it does not get.
 * - `merge(other)` offers every entry of `other`. Partial rankings of disjoint key sets (each
 *   partition owns its keys and their full totals) merge into the exact global top-K; rankings of
 *   overlapping keys with partial totals do not, sum the totals first.
 * - An offer that does not enter a full ranking costs one Set lookup and one comparison, and
 *   allocates nothing.
 */
export class TopK<K extends RankKey = RankKey> {
  /** The number of entries kept. */
  readonly k: number
  private readonly keys: K[] = []
  private readonly scores: number[] = []
  private readonly members = new Set<K>()

  private constructor(k: number) {
    this.k = k
  }

  /** An empty ranking of at most `k` entries. Throws ERR_ARGUMENT unless k is a positive integer. */
  static create<K extends RankKey = RankKey>(k: number): TopK<K> {
    check(Number.isInteger(k) && k > 0, 'topK.k', 'a positive integer', k)
    return new TopK<K>(k)
  }

  /** Rebuilds a ranking from `snapshot()` output. Throws ERR_KIT_SNAPSHOT on a malformed snapshot. */
  static restore<K extends RankKey = RankKey>(data: unknown): TopK<K> {
    const d = openSnapshot(data, 'top-k', 1)
    const k = numberField(d, 'top-k', 'k')
    if (!Number.isInteger(k) || k <= 0) throw snapshotError('top-k', 'k', 'a positive integer', k)
    const keys = arrayField(d, 'top-k', 'keys')
    const scores = arrayField(d, 'top-k', 'scores')
    if (keys.length !== scores.length || keys.length > k) {
      throw snapshotError('top-k', 'scores', `${keys.length} scores, at most k`, scores.length)
    }
    const top = new TopK<K>(k)
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]
      const score = scores[i]
      if ((typeof key !== 'string' && typeof key !== 'number') || typeof score !== 'number') {
        throw snapshotError('top-k', `keys[${i}]`, 'a string or number key with a number score', key)
      }
      top.offer(key as K, score)
    }
    return top
  }

  /** The number of entries held (at most k). */
  get size(): number {
    return this.keys.length
  }

  /** The score an offer must beat to enter a full ranking; -Infinity while it is not full. */
  get threshold(): number {
    return this.keys.length < this.k ? Number.NEGATIVE_INFINITY : this.scores[this.keys.length - 1]!
  }

  /** Sets `key`'s score; returns whether the key is in the ranking afterwards. */
  offer(key: K, score: number): boolean {
    const keys = this.keys
    const scores = this.scores
    const n = keys.length
    const present = this.members.has(key)
    if (n === this.k && compareRanked(key, score, keys[n - 1]!, scores[n - 1]!) >= 0) {
      if (!present) return false
      this.remove(keys.indexOf(key))
      this.insert(key, score)
      return true
    }
    if (present) this.remove(keys.indexOf(key))
    else if (n === this.k) this.remove(n - 1)
    this.insert(key, score)
    return true
  }

  private remove(at: number): void {
    this.members.delete(this.keys[at]!)
    this.keys.splice(at, 1)
    this.scores.splice(at, 1)
  }

  private insert(key: K, score: number): void {
    const keys = this.keys
    const scores = this.scores
    let lo = 0
    let hi = keys.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (compareRanked(keys[mid]!, scores[mid]!, key, score) < 0) lo = mid + 1
      else hi = mid
    }
    keys.splice(lo, 0, key)
    scores.splice(lo, 0, score)
    this.members.add(key)
  }

  /** Offers every entry of `other`; see the class contract for when the result is exact. */
  merge(other: TopK<K>): this {
    for (let i = 0; i < other.keys.length; i++) this.offer(other.keys[i]!, other.scores[i]!)
    return this
  }

  /** The ranking, best first, as fresh objects. */
  entries(): Ranked<K>[] {
    const out: Ranked<K>[] = new Array(this.keys.length)
    for (let i = 0; i < out.length; i++) out[i] = { key: this.keys[i]!, score: this.scores[i]! }
    return out
  }

  /** Plain data for a checkpoint (copies). */
  snapshot(): TopKSnapshot {
    return { kind: 'top-k', version: 1, k: this.k, keys: this.keys.slice(), scores: this.scores.slice() }
  }
}

/**
 * The k best entries of a map (or any iterable of [key, score] pairs), best first, in
 * `compareRanked` order. Each key should appear once. Throws ERR_ARGUMENT unless k is a positive integer.
 */
export function topK<K extends RankKey>(entries: Iterable<readonly [K, number]>, k: number): Ranked<K>[] {
  const top = TopK.create<K>(k)
  for (const [key, score] of entries) top.offer(key, score)
  return top.entries()
}

/**
 * Merges partial rankings (for example one per partition, over disjoint keys) into the k best, in
 * `compareRanked` order. When a key appears in several lists, its highest score counts.
 */
export function mergeTopK<K extends RankKey>(lists: Iterable<readonly Ranked<K>[]>, k: number): Ranked<K>[] {
  const best = new Map<K, number>()
  for (const list of lists) {
    for (const e of list) {
      const had = best.get(e.key)
      if (had === undefined || e.score > had) best.set(e.key, e.score)
    }
  }
  return topK(best, k)
}

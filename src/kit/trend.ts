// Trend detection: which keys (terms, hashtags, pages) are rising now compared with their own past.
// Each key keeps bucketed counts over a recent window and a longer baseline window, by event time.

import { check } from '../core/errors.ts'
import { type Duration, toMillis } from '../core/duration.ts'
import {
  arrayField,
  float64Bytes,
  float64Field,
  numberField,
  openSnapshot,
  snapshotError,
} from './snapshot.ts'
import { compareRanked, type RankKey } from './top-k.ts'

/** Options of `TrendTracker.create`. Durations are multiples of `slide`. */
export interface TrendOptions {
  /** The window whose rate is judged. Default 5 minutes. */
  readonly recent?: Duration
  /** The window just before `recent` that gives each key's normal rate. Default 1 hour. */
  readonly baseline?: Duration
  /** The bucket size: counts are kept per slide. Default 1 minute. */
  readonly slide?: Duration
  /** Keys with fewer observations in the recent window never trend. Default 10. */
  readonly minCount?: number
  /** The smoothed ratio recent / expected must reach this. Default 2. */
  readonly minRatio?: number
  /** The Poisson z-score must reach this. Default 3. */
  readonly minZ?: number
  /** The smoothing pseudo-count α. Default 1. */
  readonly alpha?: number
  /** History (from the first observation) needed before anything trends. Default: the recent window. */
  readonly warmup?: Duration
}

/** One key's trend at a point in time. */
export interface TrendScore {
  readonly key: RankKey
  /** The Poisson z-score (recent − expected) / √(expected + α): how unusual the recent count is. */
  readonly score: number
  /** The smoothed ratio (recent + α) / (expected + α): how much faster than usual. */
  readonly ratio: number
  /** Observations in the recent window. */
  readonly recent: number
  /** Observations in the baseline window. */
  readonly baseline: number
  /** The recent count the baseline predicts: baseline rate × recent length. */
  readonly expected: number
}

/** The plain-data form of a TrendTracker. */
export interface TrendSnapshot {
  readonly kind: 'trend'
  readonly version: 1
  readonly options: Required<{ [K in keyof TrendOptions]: number }>
  /** The first and latest bucket observed; null before any observation. */
  readonly firstBucket: number | null
  readonly lastBucket: number | null
  readonly keys: RankKey[]
  /** Per key, its latest bucket; the bytes of a Float64Array. */
  readonly lasts: Uint8Array
  /** Per key, its ring of bucket counts (one after the other); the bytes of a Float64Array. */
  readonly counts: Uint8Array
}

interface Series {
  last: number
  readonly counts: Float64Array
}

/**
 * Per-key trend scores from event-time observations.
 *
 * - Time is cut in buckets of `slide`. At time `now`, the recent window is the `recent / slide`
 *   buckets ending with `now`'s bucket; the baseline is the `baseline / slide` buckets before them
 *   (shorter while less history exists, counted from the tracker's first observation).
 * - expected = baseline count × recent length / baseline length. A key trends when
 *   recent ≥ `minCount`, ratio = (recent + α)/(expected + α) ≥ `minRatio` and
 *   z = (recent − expected)/√(expected + α) ≥ `minZ`. The ratio alone favours tiny keys (2 → 6),
 *   the z-score alone favours huge keys whose noise is large in absolute terms (10 000 → 10 400);
 *   requiring both, and ranking by z, surfaces keys that are both clearly faster than their own
 *   normal and statistically far from it. Keys that are always popular have ratio ≈ 1; falling keys
 *   have z < 0.
 * - Memory: one Float64Array of (recent + baseline)/slide counters per live key. Observations older
 *   than the whole span (behind the latest bucket seen) are dropped and reported by `observe`.
 * - Snapshots hold every counter; `restore` continues exactly where the snapshot was taken.
 */
export class TrendTracker {
  private readonly slide: number
  private readonly r: number
  private readonly l: number
  private readonly span: number
  private readonly minCount: number
  private readonly minRatio: number
  private readonly minZ: number
  private readonly alpha: number
  private readonly warmup: number
  private readonly series = new Map<RankKey, Series>()
  private firstBucket = Number.POSITIVE_INFINITY
  private lastBucket = Number.NEGATIVE_INFINITY

  private constructor(o: Required<{ [K in keyof TrendOptions]: number }>) {
    this.slide = o.slide
    this.r = o.recent / o.slide
    this.l = o.baseline / o.slide
    this.span = this.r + this.l
    this.minCount = o.minCount
    this.minRatio = o.minRatio
    this.minZ = o.minZ
    this.alpha = o.alpha
    this.warmup = Math.ceil(o.warmup / o.slide)
  }

  /** A tracker with the given windows and thresholds. Throws ERR_ARGUMENT on a bad option. */
  static create(options: TrendOptions = {}): TrendTracker {
    const slide = toMillis(options.slide ?? '1m', 'trend.slide')
    const recent = toMillis(options.recent ?? '5m', 'trend.recent')
    const baseline = toMillis(options.baseline ?? '1h', 'trend.baseline')
    check(slide > 0, 'trend.slide', 'a positive duration', options.slide)
    check(
      recent > 0 && recent % slide === 0,
      'trend.recent',
      `a positive multiple of slide (${slide} ms)`,
      recent,
    )
    check(
      baseline > 0 && baseline % slide === 0,
      'trend.baseline',
      `a positive multiple of slide (${slide} ms)`,
      baseline,
    )
    const o = {
      slide,
      recent,
      baseline,
      minCount: options.minCount ?? 10,
      minRatio: options.minRatio ?? 2,
      minZ: options.minZ ?? 3,
      alpha: options.alpha ?? 1,
      warmup: toMillis(options.warmup ?? recent, 'trend.warmup'),
    }
    check(o.warmup <= baseline, 'trend.warmup', `at most the baseline window (${baseline} ms)`, o.warmup)
    check(o.minCount >= 0, 'trend.minCount', 'a number ≥ 0', o.minCount)
    check(o.alpha > 0, 'trend.alpha', 'a number > 0', o.alpha)
    return new TrendTracker(o)
  }

  /** Rebuilds a tracker from `snapshot()` output. Throws ERR_KIT_SNAPSHOT on a malformed snapshot. */
  static restore(data: unknown): TrendTracker {
    const d = openSnapshot(data, 'trend', 1)
    const o = d['options'] as { [k: string]: unknown } | undefined
    if (typeof o !== 'object' || o === null) throw snapshotError('trend', 'options', 'an object', o)
    const names = ['slide', 'recent', 'baseline', 'minCount', 'minRatio', 'minZ', 'alpha', 'warmup'] as const
    const opts = {} as { [K in (typeof names)[number]]: number }
    for (const name of names) {
      const v = o[name]
      if (typeof v !== 'number' || !Number.isFinite(v))
        throw snapshotError('trend', `options.${name}`, 'a finite number', v)
      opts[name] = v
    }
    const t = new TrendTracker(opts)
    t.firstBucket =
      d['firstBucket'] === null ? Number.POSITIVE_INFINITY : numberField(d, 'trend', 'firstBucket')
    t.lastBucket = d['lastBucket'] === null ? Number.NEGATIVE_INFINITY : numberField(d, 'trend', 'lastBucket')
    const keys = arrayField(d, 'trend', 'keys')
    const lasts = float64Field(d, 'trend', 'lasts', keys.length)
    const counts = float64Field(d, 'trend', 'counts', keys.length * t.span)
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]
      if (typeof key !== 'string' && typeof key !== 'number')
        throw snapshotError('trend', `keys[${i}]`, 'a key', key)
      t.series.set(key, { last: lasts[i]!, counts: counts.slice(i * t.span, (i + 1) * t.span) })
    }
    return t
  }

  /** The number of keys with counts in the tracked span. */
  get size(): number {
    return this.series.size
  }

  /**
   * Counts `weight` (default 1) observations of `key` at event time `time` (ms). Returns false, and
   * counts nothing, when `time` lies before the tracked span (older than recent + baseline behind the
   * latest observation).
   */
  observe(key: RankKey, time: number, weight = 1): boolean {
    const b = Math.floor(time / this.slide)
    if (b > this.lastBucket) this.lastBucket = b
    else if (b <= this.lastBucket - this.span) return false
    if (b < this.firstBucket) this.firstBucket = b
    let s = this.series.get(key)
    if (s === undefined) {
      s = { last: b, counts: new Float64Array(this.span) }
      this.series.set(key, s)
    } else if (b > s.last) {
      const n = this.span
      if (b - s.last >= n) s.counts.fill(0)
      else for (let j = s.last + 1; j <= b; j++) s.counts[j % n] = 0
      s.last = b
    }
    s.counts[b % this.span] += weight
    return true
  }

  /** Sums `key`'s counts over buckets (from, to]. */
  private sum(s: Series, from: number, to: number): number {
    const lo = Math.max(from, s.last - this.span)
    const hi = Math.min(to, s.last)
    let total = 0
    for (let j = lo + 1; j <= hi; j++) total += s.counts[j % this.span]!
    return total
  }

  private score(key: RankKey, s: Series, nowBucket: number, baselineLen: number): TrendScore {
    const recent = this.sum(s, nowBucket - this.r, nowBucket)
    const baseline = this.sum(s, nowBucket - this.r - baselineLen, nowBucket - this.r)
    const expected = baselineLen > 0 ? (baseline * this.r) / baselineLen : 0
    const a = this.alpha
    return {
      key,
      score: (recent - expected) / Math.sqrt(expected + a),
      ratio: (recent + a) / (expected + a),
      recent,
      baseline,
      expected,
    }
  }

  private baselineLength(nowBucket: number): number {
    return Math.max(0, Math.min(this.l, nowBucket - this.r - this.firstBucket + 1))
  }

  /** Every tracked key's trend at `now`, best score first (ties by key). Does not change state. */
  scores(now: number): TrendScore[] {
    const nb = Math.floor(now / this.slide)
    const len = this.baselineLength(nb)
    const out: TrendScore[] = []
    for (const [key, s] of this.series) out.push(this.score(key, s, nb, len))
    return out.sort((x, y) => compareRanked(x.key, x.score, y.key, y.score))
  }

  /**
   * The at most `k` keys trending at `now` (see the class contract), best z-score first, ties by key.
   * Empty until `warmup` of history lies before the recent window.
   */
  trending(now: number, k = 10): TrendScore[] {
    const nb = Math.floor(now / this.slide)
    const len = this.baselineLength(nb)
    if (len < this.warmup) return []
    const out: TrendScore[] = []
    for (const [key, s] of this.series) {
      if (s.last <= nb - this.r) continue
      const t = this.score(key, s, nb, len)
      if (t.recent >= this.minCount && t.ratio >= this.minRatio && t.score >= this.minZ) out.push(t)
    }
    return out.sort((x, y) => compareRanked(x.key, x.score, y.key, y.score)).slice(0, k)
  }

  /** Forgets keys with no observation in the span ending at `now`; returns how many were forgotten. */
  evictIdle(now: number): number {
    const nb = Math.floor(now / this.slide)
    let n = 0
    for (const [key, s] of this.series) {
      if (s.last <= nb - this.span) {
        this.series.delete(key)
        n++
      }
    }
    return n
  }

  /** Plain data for a checkpoint: all counters in one byte array (copies). */
  snapshot(): TrendSnapshot {
    const keys = [...this.series.keys()]
    const lasts = new Float64Array(keys.length)
    const counts = new Float64Array(keys.length * this.span)
    keys.forEach((key, i) => {
      const s = this.series.get(key)!
      lasts[i] = s.last
      counts.set(s.counts, i * this.span)
    })
    return {
      kind: 'trend',
      version: 1,
      options: {
        slide: this.slide,
        recent: this.r * this.slide,
        baseline: this.l * this.slide,
        minCount: this.minCount,
        minRatio: this.minRatio,
        minZ: this.minZ,
        alpha: this.alpha,
        warmup: this.warmup * this.slide,
      },
      firstBucket: Number.isFinite(this.firstBucket) ? this.firstBucket : null,
      lastBucket: Number.isFinite(this.lastBucket) ? this.lastBucket : null,
      keys,
      lasts: float64Bytes(lasts),
      counts: float64Bytes(counts),
    }
  }
}

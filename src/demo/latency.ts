// A fixed-bucket latency histogram: constant memory, percentiles to within 5 %.

/**
 * Records latencies in ms into log-spaced buckets (about 5 % wide, from 0.05 ms to ~10 min), so any
 * number of samples costs the same memory and a percentile is exact to one bucket. `reset()`
 * starts a new measurement period.
 */
export class LatencyHistogram {
  private static readonly BASE = 1.05
  private static readonly MIN = 0.05
  private readonly buckets = new Float64Array(340)
  private total = 0
  private maxSeen = 0

  record(ms: number): void {
    const v = Math.max(ms, LatencyHistogram.MIN)
    let i = Math.floor(Math.log(v / LatencyHistogram.MIN) / Math.log(LatencyHistogram.BASE))
    if (i >= this.buckets.length) i = this.buckets.length - 1
    this.buckets[i]!++
    this.total++
    if (ms > this.maxSeen) this.maxSeen = ms
  }

  get count(): number {
    return this.total
  }

  get max(): number {
    return this.maxSeen
  }

  /** The latency below which a fraction `p` (0..1) of samples fall (upper edge of its bucket). */
  percentile(p: number): number {
    if (this.total === 0) return 0
    const want = Math.ceil(p * this.total)
    let seen = 0
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i]!
      if (seen >= want) return Math.min(this.maxSeen, LatencyHistogram.MIN * LatencyHistogram.BASE ** (i + 1))
    }
    return this.maxSeen
  }

  /** Adds another histogram's samples (e.g. from another thread). */
  merge(counts: ArrayLike<number>, max: number): void {
    for (let i = 0; i < counts.length && i < this.buckets.length; i++) {
      this.buckets[i]! += counts[i]!
      this.total += counts[i]!
    }
    if (max > this.maxSeen) this.maxSeen = max
  }

  /** The raw bucket counts and max, to send to another thread. */
  export(): { counts: number[]; max: number } {
    return { counts: Array.from(this.buckets), max: this.maxSeen }
  }

  reset(): void {
    this.buckets.fill(0)
    this.total = 0
    this.maxSeen = 0
  }
}

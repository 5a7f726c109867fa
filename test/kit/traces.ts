// Deterministic random inputs for the kit's tests: a seeded generator and a Zipf sampler.

/** A seeded uniform generator in [0, 1) (mulberry32): the same seed gives the same sequence. */
export function seeded(seed: number): () => number {
  let s = seed | 0
  return () => {
    s = (s + 0x6d2b79f5) | 0
    let t = Math.imul(s ^ (s >>> 15), s | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Draws `n` ranks in [0, keys) with P(rank r) ∝ 1/(r+1)^s, by inverting the cumulative distribution. */
export function zipf(n: number, keys: number, s: number, seed: number): Int32Array {
  const cdf = new Float64Array(keys)
  let total = 0
  for (let r = 0; r < keys; r++) {
    total += 1 / (r + 1) ** s
    cdf[r] = total
  }
  const random = seeded(seed)
  const out = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    const u = random() * total
    let lo = 0
    let hi = keys - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (cdf[mid]! < u) lo = mid + 1
      else hi = mid
    }
    out[i] = lo
  }
  return out
}

/** Exact frequencies of a sample. */
export function frequencies(sample: ArrayLike<number>): Map<number, number> {
  const counts = new Map<number, number>()
  for (let i = 0; i < sample.length; i++) counts.set(sample[i]!, (counts.get(sample[i]!) ?? 0) + 1)
  return counts
}

import { describe, expect, it } from 'vitest'
import { LatencyHistogram } from '../../src/demo/latency.ts'

describe('latency histogram', () => {
  it('percentiles are within 5 % of the exact ones', () => {
    const h = new LatencyHistogram()
    const samples: number[] = []
    for (let i = 0; i < 10_000; i++) {
      const v = ((i * 7919) % 1000) / 10 + 0.1
      samples.push(v)
      h.record(v)
    }
    samples.sort((a, b) => a - b)
    for (const p of [0.5, 0.9, 0.99]) {
      const exact = samples[Math.ceil(p * samples.length) - 1]!
      expect(Math.abs(h.percentile(p) - exact) / exact).toBeLessThan(0.06)
    }
    expect(h.count).toBe(10_000)
    expect(h.max).toBeCloseTo(100, 0)
  })

  it('merges the buckets of another histogram', () => {
    const a = new LatencyHistogram()
    const b = new LatencyHistogram()
    for (let i = 0; i < 100; i++) a.record(1)
    for (let i = 0; i < 100; i++) b.record(100)
    const { counts, max } = b.export()
    a.merge(counts, max)
    expect(a.count).toBe(200)
    expect(a.percentile(0.25)).toBeLessThan(1.1)
    expect(a.percentile(0.99)).toBeGreaterThan(95)
  })
})

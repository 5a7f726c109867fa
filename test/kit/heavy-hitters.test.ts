import { pack, unpack } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { SquallError } from '../../src/core/errors.ts'
import { CountMinSketch, SpaceSaving } from '../../src/kit/heavy-hitters.ts'
import { frequencies, zipf } from './traces.ts'

const N = 1_000_000
const sample = zipf(N, 200_000, 1.1, 42)
const truth = frequencies(sample)

function checkSpaceSaving(s: SpaceSaving<number>, counts: Map<number, number>, total: number): void {
  const m = s.capacity
  expect(s.total).toBe(total)
  let heavy = 0
  const violations: string[] = []
  for (const [key, f] of counts) {
    const e = s.get(key)
    if (f > total / m) {
      heavy++
      if (e === undefined) violations.push(`key ${key} with frequency ${f} > N/m is missing`)
    }
    if (e === undefined) {
      if (f > s.minCount) violations.push(`unmonitored key ${key}: ${f} > minCount ${s.minCount}`)
    } else if (e.count < f || e.count - e.error > f || e.error > total / m) {
      violations.push(`key ${key}: true ${f}, count ${e.count}, error ${e.error}`)
    }
  }
  expect(violations).toEqual([])
  expect(heavy).toBeGreaterThan(10)
  expect(s.minCount).toBeLessThanOrEqual(total / m)
}

describe('Space-Saving', () => {
  it('on 1M Zipf items keeps every key above N/m, overestimating each by at most its error ≤ N/m', () => {
    const s = SpaceSaving.create<number>(500)
    for (let i = 0; i < N; i++) s.add(sample[i]!)
    checkSpaceSaving(s, truth, N)
    const top = s.top(5)
    expect(top.map((e) => e.key)).toEqual([0, 1, 2, 3, 4])
  })

  it('the merge of four partitions keeps the same guarantees for N = N₁ + … + N₄, and after further adds', () => {
    const parts = [0, 1, 2, 3].map(() => SpaceSaving.create<number>(300))
    for (let i = 0; i < N; i++) parts[i % 4]!.add(sample[i]!)
    const merged = parts.reduce((a, b) => a.merge(b))
    checkSpaceSaving(merged, truth, N)
    const more = zipf(200_000, 200_000, 1.1, 43)
    for (const key of more) merged.add(key)
    const all = frequencies(sample)
    for (const key of more) all.set(key, (all.get(key) ?? 0) + 1)
    checkSpaceSaving(merged, all, N + more.length)
  })

  it('frequent(φ) contains every key whose true share exceeds φ', () => {
    const s = SpaceSaving.create<number>(200)
    for (let i = 0; i < N; i++) s.add(sample[i]!)
    const reported = new Set(s.frequent(0.01).map((e) => e.key))
    for (const [key, f] of truth) if (f > 0.01 * N) expect(reported.has(key)).toBe(true)
  })

  it('a snapshot restored through msgpackr continues exactly like the original', () => {
    const a = SpaceSaving.create<number>(100)
    for (let i = 0; i < 100_000; i++) a.add(sample[i]!)
    const b = SpaceSaving.restore<number>(unpack(pack(a.snapshot())))
    const c = SpaceSaving.restore<number>(structuredClone(a.snapshot()))
    for (let i = 100_000; i < 150_000; i++) {
      a.add(sample[i]!)
      b.add(sample[i]!)
      c.add(sample[i]!)
    }
    expect(b.entries()).toEqual(a.entries())
    expect(c.entries()).toEqual(a.entries())
  })

  it('refuses to merge summaries of different capacities', () => {
    expect(() => SpaceSaving.create(10).merge(SpaceSaving.create(20))).toThrow(SquallError)
  })
})

describe('Count-Min', () => {
  it('never underestimates, and exceeds true + εN for at most a δ share of 200k keys', () => {
    const epsilon = 0.0005
    const delta = 0.01
    const cm = CountMinSketch.create({ epsilon, delta })
    expect(cm.width).toBeGreaterThanOrEqual(Math.E / epsilon)
    expect(cm.depth).toBe(Math.ceil(Math.log(1 / delta)))
    for (let i = 0; i < N; i++) cm.add(sample[i]!)
    let over = 0
    let under = 0
    let keys = 0
    for (let key = 0; key < 200_000; key++) {
      const f = truth.get(key) ?? 0
      const est = cm.estimate(key)
      if (est < f) under++
      if (est > f + epsilon * N) over++
      keys++
    }
    expect(under).toBe(0)
    expect(over / keys).toBeLessThanOrEqual(delta)
  })

  it('counts strings and weights', () => {
    const cm = CountMinSketch.create({ epsilon: 0.01, delta: 0.01 })
    cm.add('/index.html', 3)
    cm.add('/index.html')
    cm.add('/about')
    expect(cm.estimate('/index.html')).toBe(4)
    expect(cm.total).toBe(5)
  })

  it('merge equals one sketch fed both inputs, and snapshots survive msgpackr', () => {
    const a = CountMinSketch.create({ epsilon: 0.002 })
    const b = CountMinSketch.create({ epsilon: 0.002 })
    const both = CountMinSketch.create({ epsilon: 0.002 })
    for (let i = 0; i < 100_000; i++) {
      ;(i % 2 === 0 ? a : b).add(sample[i]!)
      both.add(sample[i]!)
    }
    a.merge(b)
    expect(a.snapshot().table).toEqual(both.snapshot().table)
    const r = CountMinSketch.restore(unpack(pack(a.snapshot())))
    expect(r.estimate(0)).toBe(both.estimate(0))
    expect(r.total).toBe(100_000)
    expect(() => a.merge(CountMinSketch.create({ epsilon: 0.1 }))).toThrow(/countMin.merge/)
    expect(() => CountMinSketch.create({ epsilon: 0 })).toThrow(/countMin.epsilon/)
  })
})

import { pack, unpack } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { compareRanked, mergeTopK, TopK, topK } from '../../src/kit/top-k.ts'
import { frequencies, seeded, zipf } from './traces.ts'

function bruteForce(map: Map<string | number, number>, k: number): { key: string | number; score: number }[] {
  return [...map]
    .map(([key, score]) => ({ key, score }))
    .sort((a, b) => compareRanked(a.key, a.score, b.key, b.score))
    .slice(0, k)
}

describe('top-K', () => {
  it('ranks by score descending, then key ascending, numbers before strings', () => {
    const map = new Map<string | number, number>([
      ['b', 5],
      ['a', 5],
      ['c', 9],
      [10, 5],
      [2, 5],
      ['d', 1],
    ])
    expect(topK(map, 4)).toEqual([
      { key: 'c', score: 9 },
      { key: 2, score: 5 },
      { key: 10, score: 5 },
      { key: 'a', score: 5 },
    ])
  })

  it('gives the same ranking whatever the order in which keys are offered', () => {
    const random = seeded(7)
    const entries: [string, number][] = []
    for (let i = 0; i < 2000; i++) entries.push([`k${i}`, Math.floor(random() * 50)])
    const expected = bruteForce(new Map(entries), 25)
    for (let round = 0; round < 5; round++) {
      const shuffled = entries.slice().sort(() => random() - 0.5)
      expect(topK(shuffled, 25)).toEqual(expected)
    }
  })

  it('is exact over running counts offered after every increment', () => {
    const sample = zipf(50_000, 5_000, 1.0, 3)
    const counts = new Map<number, number>()
    const top = TopK.create<number>(10)
    for (const key of sample) {
      const c = (counts.get(key) ?? 0) + 1
      counts.set(key, c)
      top.offer(key, c)
    }
    expect(top.entries()).toEqual(bruteForce(counts, 10))
  })

  it('merging partial rankings of key-partitioned counts gives the global top-K', () => {
    const sample = zipf(40_000, 3_000, 0.9, 11)
    const all = frequencies(sample)
    const parts = [0, 1, 2, 3].map(() => new Map<number, number>())
    for (const [key, count] of all) parts[key % 4]!.set(key, count)
    const partial = parts.map((p) => topK(p, 15))
    expect(mergeTopK(partial, 15)).toEqual(bruteForce(all, 15))
    const merged = TopK.create<number>(15)
    for (const p of parts) {
      const t = TopK.create<number>(15)
      for (const [key, count] of p) t.offer(key, count)
      merged.merge(t)
    }
    expect(merged.entries()).toEqual(bruteForce(all, 15))
  })

  it('mergeTopK keeps the highest score of a key that appears in several lists', () => {
    const merged = mergeTopK(
      [
        [{ key: 'x', score: 3 }],
        [
          { key: 'x', score: 8 },
          { key: 'y', score: 4 },
        ],
        [{ key: 'x', score: 1 }],
      ],
      2,
    )
    expect(merged).toEqual([
      { key: 'x', score: 8 },
      { key: 'y', score: 4 },
    ])
  })

  it('snapshot and restore continue with the same ranking', () => {
    const a = TopK.create<string>(3)
    for (const [k, s] of [
      ['p', 4],
      ['q', 7],
      ['r', 1],
      ['s', 9],
    ] as const)
      a.offer(k, s)
    const b = TopK.restore<string>(unpack(pack(a.snapshot())))
    a.offer('t', 8)
    b.offer('t', 8)
    expect(b.entries()).toEqual(a.entries())
    expect(a.entries().map((e) => e.key)).toEqual(['s', 't', 'q'])
    expect(() => TopK.create(0)).toThrow(/topK.k: expected a positive integer, got 0/)
  })
})

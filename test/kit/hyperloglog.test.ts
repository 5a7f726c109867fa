import { pack, unpack } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { SquallError } from '../../src/core/errors.ts'
import {
  ExactDistinct,
  HyperLogLog,
  estimateDistinct,
  estimateUnion,
  maxRegisters,
} from '../../src/kit/hyperloglog.ts'

function filled(n: number, p = 14, prefix = ''): HyperLogLog {
  const h = HyperLogLog.create({ p })
  for (let i = 0; i < n; i++) h.add(prefix === '' ? i : `${prefix}${i}`)
  return h
}

describe('HyperLogLog', () => {
  it('counts small sets exactly enough thanks to linear counting', () => {
    for (const n of [0, 1, 2, 10, 100]) {
      expect(Math.abs(filled(n).count() - n)).toBeLessThanOrEqual(n / 100 + 0.5)
    }
  })

  it('stays within four standard errors (1.04/√m) for numbers and strings from 1k to 1M', () => {
    for (const p of [10, 14]) {
      for (const n of [1_000, 20_000, 100_000, 1_000_000]) {
        for (const prefix of ['', 'user-']) {
          const h = filled(n, p, prefix)
          const relative = Math.abs(h.count() / n - 1)
          expect(relative, `p=${p} n=${n} ${prefix || 'numbers'}`).toBeLessThan(4 * h.standardError)
        }
      }
    }
  })

  it('treats repeats as one value and the number 1 and the string "1" as two', () => {
    const h = HyperLogLog.create()
    for (let r = 0; r < 50; r++) for (let i = 0; i < 500; i++) h.add(i)
    expect(Math.abs(h.count() - 500)).toBeLessThanOrEqual(5)
    const g = HyperLogLog.create()
    g.add(1)
    g.add('1')
    expect(g.count()).toBe(2)
  })

  it('merge of two overlapping counters equals one counter fed the union', () => {
    const a = HyperLogLog.create()
    const b = HyperLogLog.create()
    const union = HyperLogLog.create()
    for (let i = 0; i < 60_000; i++) {
      a.add(`k${i}`)
      union.add(`k${i}`)
    }
    for (let i = 40_000; i < 120_000; i++) {
      b.add(`k${i}`)
      union.add(`k${i}`)
    }
    expect(a.merge(b).snapshot().registers).toEqual(union.snapshot().registers)
    expect(Math.abs(a.count() / 120_000 - 1)).toBeLessThan(4 * a.standardError)
  })

  it('estimates from rank counts as the textbook estimator does register by register, and a union as the merge', () => {
    // The estimator of Flajolet et al., written out: harmonic mean, linear counting while small.
    const textbook = (regs: Uint8Array) => {
      const m = regs.length
      let sum = 0
      let zeros = 0
      for (const r of regs) {
        sum += 2 ** -r
        if (r === 0) zeros++
      }
      const raw = ((0.7213 / (1 + 1.079 / m)) * m * m) / sum
      return raw <= 2.5 * m && zeros > 0 ? Math.round(m * Math.log(m / zeros)) : Math.round(raw)
    }
    let x = 7
    const random = () => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0
      return x / 2 ** 32
    }
    // Registers from empty to full, with ranks as a hashed stream leaves them (and odd lengths).
    const sketch = (m: number, fill: number) =>
      Uint8Array.from({ length: m }, () => (random() < fill ? 1 + Math.floor(-Math.log2(1 - random())) : 0))
    for (const m of [1024, 4096, 1023]) {
      for (const fill of [0, 0.01, 0.3, 0.7, 1]) {
        const a = sketch(m, fill)
        const b = sketch(m, 1 - fill)
        if (fill > 0) expect(estimateDistinct(a)).toBe(textbook(a))
        const [a0, b0] = [a.slice(), b.slice()]
        const union = a.slice()
        maxRegisters(union, b)
        for (let i = 0; i < m; i++) expect(union[i]).toBe(Math.max(a[i]!, b[i]!))
        expect(estimateUnion(a, b)).toBe(estimateDistinct(union))
        expect([a, b]).toEqual([a0, b0])
      }
    }
    expect(estimateDistinct(new Uint8Array(1024))).toBe(0)
  })

  it('refuses to merge counters of different precisions and bad precisions', () => {
    const err = (() => {
      try {
        HyperLogLog.create({ p: 12 }).merge(HyperLogLog.create({ p: 14 }))
      } catch (e) {
        return e
      }
    })()
    expect(err).toBeInstanceOf(SquallError)
    expect((err as SquallError).code).toBe('ERR_ARGUMENT')
    expect((err as SquallError).message).toContain('p = 12')
    expect(() => HyperLogLog.create({ p: 3 })).toThrow(
      /hyperloglog.p: expected an integer from 4 to 18, got 3/,
    )
    expect(() => HyperLogLog.create({ p: 19 })).toThrow(SquallError)
  })

  it('a snapshot survives structuredClone and msgpackr and the restored counter continues identically', () => {
    const h = filled(5_000, 12, 'a')
    for (const copy of [structuredClone(h.snapshot()), unpack(pack(h.snapshot()))]) {
      const r = HyperLogLog.restore(copy)
      expect(r.count()).toBe(h.count())
      const h2 = h.clone()
      for (let i = 0; i < 5_000; i++) {
        r.add(`b${i}`)
        h2.add(`b${i}`)
      }
      expect(r.snapshot().registers).toEqual(h2.snapshot().registers)
    }
  })

  it('restore refuses a snapshot of another kind or with a truncated register array', () => {
    expect(() => HyperLogLog.restore({ kind: 'count-min', version: 1 })).toThrow(/ERR_KIT_SNAPSHOT|kind/)
    const bad = { ...HyperLogLog.create({ p: 8 }).snapshot(), registers: new Uint8Array(10) }
    try {
      HyperLogLog.restore(bad)
      expect.unreachable()
    } catch (e) {
      expect((e as SquallError).code).toBe('ERR_KIT_SNAPSHOT')
      expect((e as SquallError).message).toContain('256 bytes')
    }
  })
})

describe('ExactDistinct', () => {
  it('counts distinct values exactly and merges by union', () => {
    const a = ExactDistinct.create()
    const b = ExactDistinct.create()
    for (let i = 0; i < 1000; i++) a.add(i % 300)
    for (let i = 200; i < 500; i++) b.add(i)
    b.add('200')
    expect(a.count()).toBe(300)
    expect(a.merge(b).count()).toBe(501)
  })

  it('snapshot and restore keep every value', () => {
    const a = ExactDistinct.create()
    for (const v of ['x', 'y', 3, 4]) a.add(v)
    const r = ExactDistinct.restore(unpack(pack(a.snapshot())))
    expect(r.count()).toBe(4)
    expect(r.has('x') && r.has(3) && !r.has('3')).toBe(true)
    expect(() => ExactDistinct.restore({ kind: 'exact-distinct', version: 1, values: [{}] })).toThrow(
      SquallError,
    )
  })
})

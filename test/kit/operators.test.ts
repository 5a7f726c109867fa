import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Collector, ProcessorContext } from '../../src/core/processor.ts'
import type { SourceSpec } from '../../src/core/source.ts'
import type { Stream } from '../../src/core/stream.ts'
import { Topology } from '../../src/core/topology.ts'
import { WatermarkStrategy } from '../../src/core/watermark.ts'
import { HoppingWindows } from '../../src/core/window/assigners.ts'
import { CrawlerDetector } from '../../src/kit/crawler.ts'
import { hashLow, hashString } from '../../src/kit/hash.ts'
import { HyperLogLog } from '../../src/kit/hyperloglog.ts'
import {
  bruteForceOperator,
  crawlerOperator,
  type DistinctSketch,
  distinctCountAggregate,
  rateLimitOperator,
  topKOperator,
  trendOperator,
} from '../../src/kit/operators.ts'
import { collect } from '../../src/plugins/outputs/collect.ts'
import { TestDriver, type TestRecord } from '../../src/runtime/test-driver.ts'
import { KeyedBackend, snapshotStores } from '../../src/state/keyed-backend.ts'
import { readSnapshotFile, writeSnapshotFile } from '../../src/state/snapshot-file.ts'

const pushed: SourceSpec<never> = {
  kind: 'pushed',
  bounded: false,
  create: () => {
    throw new Error('the pushed source only runs in a TestDriver')
  },
}

function build<T>(wire: (input: Stream<T>) => Stream<unknown>): Topology {
  const t = new Topology('ops')
  const input = t.source<T>('in', pushed as SourceSpec<T>, {
    watermarks: WatermarkStrategy.forMonotonousTimestamps<T>(),
  })
  wire(input).sink(collect(), { name: 'out' })
  return t
}

/** Runs `records` straight through, and again with a snapshot → restore into a new driver → continue after `cut`. */
function straightAndResumed<T>(
  topology: () => Topology,
  records: TestRecord<T>[],
  cut: number,
  parallelism = 2,
) {
  const one = new TestDriver(topology(), { parallelism })
  one.pushRecords('in', records).end()
  const first = new TestDriver(topology(), { parallelism })
  first.pushRecords('in', records.slice(0, cut))
  const snap = first.snapshot()
  const second = new TestDriver(topology(), { parallelism: parallelism === 1 ? 2 : 1 }).restore(snap)
  second.pushRecords('in', records.slice(cut)).end()
  return { straight: one.values('out'), resumed: [...first.values('out'), ...second.values('out')] }
}

const byJson = (a: unknown, b: unknown) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)
const byNumber = (a: number, b: number) => a - b

/** The hashes an exact sketch holds, sorted; null once it is registers. */
const hashesOf = (s: DistinctSketch): number[] | null =>
  s.hashes32 === null ? null : [...s.hashes32.filter((h) => h !== 0), ...(s.zero ? [0] : [])].sort(byNumber)

describe('distinctCountAggregate', () => {
  it('counts exactly while small and equals the kit HyperLogLog once past the exact limit', () => {
    const agg = distinctCountAggregate<number>((v) => v, { p: 10, exactUpTo: 64 })
    let acc = agg.create()
    for (let i = 0; i < 50; i++) acc = agg.add(acc, i % 40)
    expect(agg.result(acc)).toBe(40)
    const hll = HyperLogLog.create({ p: 10 })
    acc = agg.create()
    for (let i = 0; i < 20_000; i++) {
      acc = agg.add(acc, i * 7)
      hll.add(i * 7)
    }
    expect(acc.registers).not.toBeNull()
    expect(agg.result(acc)).toBe(hll.count())
  })

  it('keeps 32-bit hashes in a typed table, and reads sketches checkpointed as Sets of 32-bit or 52-bit hashes', () => {
    const agg = distinctCountAggregate<string>((v) => v, { p: 12, exactUpTo: 200 })
    const fresh = agg.create()
    for (let i = 0; i < 150; i++) agg.add(fresh, `v${i}`)
    expect(fresh.size).toBe(150)
    expect(fresh.hashes32).toBeInstanceOf(Int32Array)
    // At most three quarters full: 150 hashes in 256 slots.
    expect(fresh.hashes32!.length).toBe(256)
    expect(hashesOf(fresh)).toEqual(Array.from({ length: 150 }, (_, i) => hashString(`v${i}`)).sort(byNumber))
    // The previous version's sketch of v100 … v179: a Set of the same 32-bit hashes.
    const set32 = () =>
      ({
        p: 12,
        hashes32: new Set(Array.from({ length: 80 }, (_, i) => hashString(`v${i + 100}`))),
        registers: null,
      }) as unknown as DistinctSketch
    expect(agg.result(set32())).toBe(80)
    expect(agg.mergedResult!(fresh, set32())).toBe(180)
    expect(agg.result(agg.merge!(set32(), fresh))).toBe(180)
    // An earlier version's sketch of v100 … v179, as its checkpoint restores it.
    const wide = new Set<number>()
    for (let i = 100; i < 180; i++) {
      const hi = hashString(`v${i}`)
      wide.add((hi >>> 0) * 1_048_576 + (hashLow >>> 12))
    }
    const restored = () => ({ p: 12, hashes: new Set(wide), registers: null }) as unknown as DistinctSketch
    expect(agg.result(restored())).toBe(80)
    expect(agg.mergedResult!(fresh, restored())).toBe(180)
    const merged = agg.merge!(restored(), fresh)
    expect(agg.result(merged)).toBe(180)
    expect(hashesOf(merged)).toContain(hashString('v0'))
    const added = restored()
    for (let i = 0; i < 110; i++) agg.add(added, `v${i}`)
    expect(agg.result(added)).toBe(180)
  })

  it('counts the hash 0, which has no slot in the table, like any other', () => {
    const agg = distinctCountAggregate<number>((v) => v, { p: 10, exactUpTo: 64 })
    // The hash 0 comes in with a sketch of the previous version (a Set of 32-bit hashes).
    const old = () => ({ p: 10, hashes32: new Set([0, 5, -7]), registers: null }) as unknown as DistinctSketch
    expect(agg.result(old())).toBe(3)
    const fresh = agg.create()
    for (let i = 0; i < 10; i++) agg.add(fresh, i)
    expect(agg.mergedResult!(fresh, old())).toBe(13)
    expect(agg.mergedResult!(old(), old())).toBe(3)
    const merged = agg.merge!(agg.create(), old())
    expect(merged.zero).toBe(true)
    expect(agg.result(agg.merge!(merged, old()))).toBe(3)
    expect(agg.result(agg.merge!(merged, fresh))).toBe(13)
    // Into registers, 0 is a hash like the others: the same registers as a HyperLogLog of them.
    const big = agg.create()
    for (let i = 0; i < 500; i++) agg.add(big, i)
    const withZero = agg.merge!(structuredClone(big), old())
    const registers = new Uint8Array(1 << 10)
    const hll = agg.merge!({ p: 10, hashes32: null, size: 0, zero: false, registers }, structuredClone(big))
    agg.merge!(hll, old())
    expect(withZero.registers).toEqual(hll.registers)
  })

  it('merges sparse and dense accumulators into the count of the union', () => {
    const agg = distinctCountAggregate<string>((v) => v, { p: 12, exactUpTo: 100 })
    const a = agg.create()
    const b = agg.create()
    const c = agg.create()
    for (let i = 0; i < 80; i++) agg.add(a, `a${i}`)
    for (let i = 0; i < 80; i++) agg.add(b, `a${i + 40}`)
    for (let i = 0; i < 5000; i++) agg.add(c, `c${i}`)
    const ab = agg.merge!(agg.merge!(agg.create(), a), b)
    expect(ab.registers).not.toBeNull()
    expect(Math.abs(agg.result(ab) - 120)).toBeLessThanOrEqual(3)
    const all = agg.merge!(structuredClone(ab), c)
    const truth = 5120
    expect(Math.abs(agg.result(all) - truth) / truth).toBeLessThan(4 * (1.04 / 64))
    expect(agg.result(b)).toBe(80)
  })

  it('mergedResult gives exactly the result of the merge, in every pair of forms, without changing either', () => {
    const agg = distinctCountAggregate<number>((v) => v, { p: 10, exactUpTo: 64 })
    const filled = (from: number, count: number) => {
      let acc = agg.create()
      for (let i = 0; i < count; i++) acc = agg.add(acc, from + i)
      return acc
    }
    // Sets that stay exact together, sets whose union passes the limit, a set and registers, registers.
    const forms = [filled(0, 20), filled(10, 30), filled(40, 50), filled(0, 3000), filled(2500, 4000)]
    for (const a of forms) {
      for (const b of forms) {
        const before = [structuredClone(a), structuredClone(b)]
        const merged = agg.result(agg.merge!(agg.merge!(agg.create(), a), b))
        expect(agg.mergedResult!(a, b)).toBe(merged)
        expect([a, b]).toEqual(before)
        // Either way round, the same union: the same registers, or the same set.
        // A merge changes only its first argument, whichever is larger (a set merged with a larger
        // one starts from a copy of the larger one's table).
        const ab = agg.merge!(structuredClone(a), b)
        const ba = agg.merge!(structuredClone(b), a)
        expect([a, b]).toEqual(before)
        expect(ab.registers).toEqual(ba.registers)
        expect(hashesOf(ab)).toEqual(hashesOf(ba))
        expect(agg.result(ab)).toBe(merged)
      }
    }
    expect(agg.mergedResult!(forms[0]!, forms[1]!)).toBe(40)
  })

  it("packs a key's sketches into one block of bytes and reads back the same sketches", () => {
    const agg = distinctCountAggregate<number>((v) => v, { p: 8, exactUpTo: 40 })
    const filled = (values: number[]) => {
      const acc = agg.create()
      for (const v of values) agg.add(acc, v)
      return acc
    }
    // Empty, exact, exact with the hash 0 (from a sketch of the earlier Set form), dense, and one
    // of the earlier form itself, which is converted as it is packed.
    const withZero = agg.merge!(filled([1, 2, 3]), {
      p: 8,
      hashes32: new Set([0, 11]),
      registers: null,
    } as unknown as DistinctSketch)
    const old = { p: 8, hashes32: new Set([5, -7, 2 ** 31 - 1, -(2 ** 31)]), registers: null }
    const accs = [
      agg.create(),
      filled([1, 2, 3, 4, 5]),
      withZero,
      filled(Array.from({ length: 500 }, (_, i) => i)),
      old as unknown as DistinctSketch,
    ]
    expect(withZero.zero).toBe(true)
    expect(accs[3]!.registers).not.toBeNull()
    const bytes = agg.pack!(accs)
    // Hashes without the tables' empty slots: 8 bytes of header, 4 per sketch, 4 per exact count
    // and per hash, 2^8 registers.
    expect(bytes.length).toBe(8 + 5 * 4 + 4 * 4 + (0 + 5 + 4 + 4) * 4 + 256)
    const back = agg.unpack!(bytes)
    expect(back.length).toBe(accs.length)
    for (let i = 0; i < accs.length; i++) {
      expect(back[i]!.p).toBe(8)
      expect(back[i]!.size).toBe(accs[i]!.size)
      expect(back[i]!.zero).toBe(accs[i]!.zero)
      expect(hashesOf(back[i]!)).toEqual(hashesOf(accs[i]!))
      expect(back[i]!.registers).toEqual(accs[i]!.registers)
      expect(agg.result(back[i]!)).toBe(agg.result(accs[i]!))
    }
    // They go on as sketches: adding to a restored exact one grows its table and finds duplicates.
    for (let v = 0; v < 30; v++) agg.add(back[1]!, v)
    expect(agg.result(back[1]!)).toBe(30)
    expect(agg.result(agg.merge!(back[2]!, back[4]!))).toBe(9)
    // From bytes that do not start on a 4-byte boundary (a view into a larger buffer), too.
    const shifted = new Uint8Array(bytes.length + 1)
    shifted.set(bytes, 1)
    expect(agg.unpack!(shifted.subarray(1)).map((a) => agg.result(a))).toEqual(accs.map((a) => agg.result(a)))
    // Bytes of another form, or cut short, are refused with the kit's snapshot error.
    expect(() => agg.unpack!(bytes.subarray(0, bytes.length - 4))).toThrow(
      expect.objectContaining({ code: 'ERR_KIT_SNAPSHOT' }),
    )
    const other = new Uint8Array(bytes)
    other[0] = 9
    expect(() => agg.unpack!(other)).toThrow(expect.objectContaining({ code: 'ERR_KIT_SNAPSHOT' }))
    expect(() => agg.unpack!(new Uint8Array(3))).toThrow(
      expect.objectContaining({ code: 'ERR_KIT_SNAPSHOT' }),
    )
  })

  it('keeps the error within twice the stated standard error over hopping windows of a large input', () => {
    const p = 12
    const se = 1.04 / Math.sqrt(1 << p)
    const t = build<{ ip: string }>((s) =>
      s
        .keyBy(() => 'page')
        .window(HoppingWindows.of('4m', '1m'))
        .aggregate(
          'visitors',
          distinctCountAggregate<{ ip: string }>((e) => e.ip, { p }),
        ),
    )
    const d = new TestDriver(t)
    const records: TestRecord<{ ip: string }>[] = []
    // Minute m has visitors 30 000·m … 30 000·m + 39 999: windows overlap in visitors, too.
    for (let m = 0; m < 6; m++)
      for (let i = 0; i < 40_000; i++)
        records.push({ value: { ip: `v${30_000 * m + i}` }, time: m * 60_000 + (i % 60_000) })
    d.pushRecords('in', records).end()
    const out = d.values<{ windowStart: number; windowEnd: number; value: number }>('out')
    expect(out.length).toBeGreaterThanOrEqual(6)
    for (const r of out) {
      const first = Math.max(0, r.windowStart / 60_000)
      const last = Math.min(5, r.windowEnd / 60_000 - 1)
      const truth = 30_000 * (last - first) + 40_000
      expect(Math.abs(r.value - truth) / truth).toBeLessThan(2 * se)
    }
  })
})

describe('kit operators: snapshot → restore → continue', () => {
  it('topKOperator ranks each window once, the same after a restore', () => {
    type R = { key: string; windowStart: number; windowEnd: number; value: number; firing: 'on-time' }
    const recs: TestRecord<R>[] = []
    for (let w = 0; w < 4; w++)
      for (let i = 0; i < 20; i++)
        recs.push({
          value: {
            key: `p${i}`,
            windowStart: w * 1000,
            windowEnd: (w + 1) * 1000,
            value: (i * 7 + w) % 13,
            firing: 'on-time',
          },
          time: (w + 1) * 1000 - 1,
        })
    const topo = () => build<R>((s) => s.keyBy((r) => r.windowEnd).process('top', topKOperator({ k: 3 })))
    const { straight, resumed } = straightAndResumed(topo, recs, 30)
    expect(resumed).toEqual(straight)
    expect(straight).toHaveLength(4)
    const w0 = recs
      .slice(0, 20)
      .map((r) => r.value)
      .sort((a, b) => b.value - a.value || (a.key < b.key ? -1 : 1))
    expect((straight[0] as { top: unknown[] }).top).toEqual(
      w0.slice(0, 3).map((r) => ({ key: r.key, score: r.value })),
    )
  })

  it('trendOperator finds a burst and gives the same points after a restore', () => {
    const recs: TestRecord<string>[] = []
    for (let s = 0; s < 1200; s++) {
      recs.push({ value: 'steady', time: s * 1000 })
      if (s % 3 === 0) recs.push({ value: 'slow', time: s * 1000 + 1 })
      if (s >= 900 && s < 1000)
        for (let k = 0; k < 3; k++) recs.push({ value: 'burst', time: s * 1000 + 2 + k })
    }
    const topo = () =>
      build<string>((s) =>
        s
          .keyBy((v) => v)
          .process('trend', trendOperator<string>({ recent: '1m', baseline: '5m', slide: '10s', since: 0 })),
      )
    const { straight, resumed } = straightAndResumed(topo, recs, 2000)
    expect(resumed.sort(byJson)).toEqual(straight.sort(byJson))
    const keys = new Set((straight as { key: string }[]).map((p) => p.key))
    expect([...keys]).toEqual(['burst'])
    const times = (straight as { time: number }[]).map((p) => p.time)
    expect(Math.min(...times)).toBeGreaterThanOrEqual(900_000)
    expect(Math.min(...times)).toBeLessThan(920_000)
  })

  it('bruteForceOperator blocks only the attacker and gives the same alerts after a restore', () => {
    type L = { time: number; ip: string; user: string; success: boolean }
    const recs: TestRecord<L>[] = []
    const login = (time: number, ip: string, success: boolean) =>
      recs.push({ value: { time, ip, user: 'u', success }, time })
    for (let i = 0; i < 6; i++) login(1000 + i * 1000, '203.0.113.1', false)
    for (let i = 0; i < 4; i++) login(1500 + i * 1000, '10.0.0.1', false)
    login(8000, '10.0.0.1', true)
    login(9000, '203.0.113.1', true)
    for (let i = 0; i < 6; i++) login(20_000 + i * 30_000, '10.0.0.2', false)
    login(200_000, '10.0.0.2', true)
    recs.sort((a, b) => a.time! - b.time!)
    const topo = () =>
      // biome-ignore lint/suspicious/noThenProperty: the kit's option is named `then`
      build<L>((s) => s.keyBy((e) => e.ip).process('bf', bruteForceOperator({ then: 'success' })))
    const { straight, resumed } = straightAndResumed(topo, recs, 7)
    expect(resumed).toEqual(straight)
    expect(
      (straight as { key: string; action: string; time: number }[]).map((a) => [a.key, a.action, a.time]),
    ).toEqual([['203.0.113.1', 'block', 9000]])
  })

  it('crawlerOperator throttles the crawler, not the reader, the same after a restore', () => {
    type A = { time: number; ip: string; agent: string; path: string }
    const recs: TestRecord<A>[] = []
    for (let i = 0; i < 60; i++) {
      const t = i * 2000
      recs.push({ value: { time: t, ip: '198.51.100.7', agent: 'Mozilla/5.0', path: `/p/${i}` }, time: t })
      const page = `/p/${i % 5}`
      if (i % 4 === 0)
        for (const path of [page, '/s.css', '/a.js', '/l.png'])
          recs.push({ value: { time: t + 1, ip: '10.0.0.9', agent: 'Mozilla/5.0', path }, time: t + 1 })
    }
    const topo = () => build<A>((s) => s.keyBy((e) => e.ip).process('crawler', crawlerOperator()))
    const { straight, resumed } = straightAndResumed(topo, recs, 50)
    expect(resumed).toEqual(straight)
    const flagged = straight as { key: string; action: string }[]
    expect(flagged.map((d) => d.key)).toEqual(['198.51.100.7'])
    expect(flagged[0]!.action).toBe('throttle')
  })

  it('rateLimitOperator emits only changes of action, the same after a restore', () => {
    const recs: TestRecord<string>[] = []
    for (let i = 0; i < 40; i++) recs.push({ value: 'a', time: i * 250 })
    for (let i = 0; i < 5; i++) recs.push({ value: 'b', time: i * 4000 + 1 })
    recs.sort((a, b) => a.time! - b.time!)
    const topo = () =>
      build<string>((s) =>
        s
          .keyBy((v) => v)
          .process(
            'limit',
            rateLimitOperator<string>({ limiter: 'sliding-window', limit: 5, window: '10s', blockAbove: 15 }),
          ),
      )
    const { straight, resumed } = straightAndResumed(topo, recs, 12)
    expect(resumed).toEqual(straight)
    const decisions = straight as { key: string; action: string }[]
    expect(decisions.every((d) => d.key === 'a')).toBe(true)
    expect(decisions.map((d) => d.action)).toEqual(['throttle', 'block'])
  })

  it('rateLimitOperator with a token bucket throttles past the burst, blocks after blockAfter refusals in a row and allows again once refilled, the same after a restore', () => {
    // Bucket of 3, refilled at 1 token/s. Client a bursts 6 requests 100 ms apart, then comes back
    // at 2 s; client b sends one request every 1.5 s, within the refill rate, and is never refused.
    const recs: TestRecord<string>[] = []
    for (const t of [0, 100, 200, 300, 400, 500, 2000]) recs.push({ value: 'a', time: t })
    for (let i = 0; i < 8; i++) recs.push({ value: 'b', time: i * 1500 + 1 })
    recs.sort((x, y) => x.time! - y.time!)
    const topo = () =>
      build<string>((s) =>
        s
          .keyBy((v) => v)
          .process(
            'limit',
            rateLimitOperator<string>({
              limiter: 'token-bucket',
              capacity: 3,
              refillPerSecond: 1,
              blockAfter: 3,
            }),
          ),
      )
    const { straight, resumed } = straightAndResumed(topo, recs, 6)
    expect(resumed).toEqual(straight)
    // 0.3 tokens left at 300 ms (0 after three requests, plus 0.3 s of refill): refused, throttled;
    // the third refusal in a row (500 ms) blocks; at 2 s the bucket holds 2 tokens again.
    expect(straight).toEqual([
      { action: 'throttle', key: 'a', reason: '0.3 of 3 tokens left, refill 1/s', time: 300 },
      {
        action: 'block',
        key: 'a',
        reason: '0.5 of 3 tokens left, refill 1/s; 3 refused requests in a row',
        time: 500,
      },
      { action: 'allow', key: 'a', reason: '', time: 2000 },
    ])
  })

  it('crawlerOperator and bruteForceOperator drop idle keys within a step of their idle time, spread over it', () => {
    type A = { time: number; ip: string; agent: string; path: string; user: string; success: boolean }
    const minute = 60_000
    const cases = [
      {
        node: 'crawler',
        wire: (s: Stream<A>) =>
          s.keyBy((e) => e.ip).process('crawler', crawlerOperator({ recent: '10s', history: '1m' })),
      },
      {
        node: 'bf',
        wire: (s: Stream<A>) =>
          s.keyBy((e) => e.ip).process('bf', bruteForceOperator({ within: '1m', failures: 1_000 })),
      },
    ]
    for (const { node, wire } of cases) {
      const d = new TestDriver(build<A>(wire), { parallelism: 1 })
      // 340 clients with one failed request each within a second, and one that stays active.
      const recs: TestRecord<A>[] = []
      for (let i = 0; i < 340; i++) {
        const time = 1_000 + i * 3
        recs.push({
          value: {
            time,
            ip: `10.0.${i >> 8}.${i & 255}`,
            agent: 'curl/8',
            path: '/',
            user: 'u',
            success: false,
          },
          time,
        })
      }
      d.pushRecords('in', recs)
      const left = [d.stateSize(node)]
      // Watermarks every ~3.5 s, for two minutes after the last request; the active client sends
      // one request every 10 s meanwhile.
      for (let w = 2_000; w <= 2_000 + 2 * minute; w += 3_529) {
        d.pushRecords('in', [
          {
            value: { time: w, ip: '192.0.2.1', agent: 'curl/8', path: `/${w}`, user: 'u', success: false },
            time: w,
          },
        ])
        d.watermark('in', w)
        left.push(d.stateSize(node))
      }
      const drops = left.slice(1).map((n, i) => left[i]! - n)
      // None is dropped before it has been idle for its minute; all are within two minutes.
      expect(left.slice(0, 17).every((n) => n >= 340)).toBe(true)
      expect(left.at(-1)).toBe(1)
      // Not all at once: the 340 keys go over many watermarks, none taking more than a quarter.
      expect(drops.filter((n) => n > 0).length).toBeGreaterThanOrEqual(10)
      expect(Math.max(...drops)).toBeLessThanOrEqual(85)
    }
  })

  it('rateLimitOperator drops a token-bucket client idle for the TTL, so a client that returns starts afresh', () => {
    const d = new TestDriver(
      build<string>((s) =>
        s
          .keyBy((v) => v)
          .process(
            'limit',
            // An idle time (the state TTL) of 3 s: the time to refill the whole bucket.
            rateLimitOperator<string>({ limiter: 'token-bucket', capacity: 3, refillPerSecond: 1 }),
          ),
      ),
    )
    // Client a is throttled at 10 003 and goes quiet; client b is throttled at 10 013 and comes
    // back at 12 500, within the TTL.
    const burst = (key: string, from: number) =>
      [0, 1, 2, 3].map((i) => ({ value: key, time: from + i }) as TestRecord<string>)
    d.pushRecords('in', [...burst('a', 10_000), ...burst('b', 10_010), { value: 'b', time: 12_500 }])
    expect(d.values('out')).toEqual([
      { action: 'throttle', key: 'a', reason: '0.0 of 3 tokens left, refill 1/s', time: 10_003 },
      { action: 'throttle', key: 'b', reason: '0.0 of 3 tokens left, refill 1/s', time: 10_013 },
      { action: 'allow', key: 'b', reason: '', time: 12_500 },
    ])
    const before = d.stateSize('limit')
    expect(before).toBeGreaterThan(0)
    // Cleanup runs on coarse event-time ticks (multiples of the TTL): at 15 000 a has been idle for
    // more than 3 s, b (last seen at 12 500) has not.
    d.watermark('in', 15_000)
    const left = d.stateSize('limit')
    expect(left).toBeGreaterThan(0)
    expect(left).toBeLessThan(before)
    d.watermark('in', 18_000)
    expect(d.stateSize('limit')).toBe(0)
    expect(d.timerCount('limit')).toBe(0)
    // a's "throttle" was forgotten with its bucket: its return is a first request, allowed without
    // a decision (a remembered throttle would have given an "allow").
    d.pushRecords('in', [{ value: 'a', time: 20_000 }]).end()
    expect(d.values('out')).toHaveLength(3)
  })
})

describe('crawler state at a checkpoint', () => {
  type A = { time: number; ip: string; agent: string; path: string }
  /** A crawler operator on its own keyed state, fed request by request (as a task feeds it). */
  function crawlerTask(backend: KeyedBackend) {
    const processor = crawlerOperator({ history: '15m' })()
    const ctx = {
      state: backend,
      timers: { registerEventTimer() {}, registerProcessingTimer() {} },
      get currentKey() {
        return backend.currentKey
      },
    }
    processor.open!(ctx as unknown as ProcessorContext)
    const out = { emit() {} } as unknown as Collector<unknown>
    return (r: A) => {
      backend.currentKey = r.ip
      processor.process({ value: r, key: r.ip, time: r.time, tag: '' }, out)
    }
  }
  /** Client i's requests in round `round`: 1 to 12 of them, on paths of its own and shared ones. */
  const round = (clients: number, round: number): A[] => {
    const out: A[] = []
    for (let i = 0; i < clients; i++)
      for (let j = 0; j <= (i * 7 + round) % 12; j++)
        out.push({
          time: round * 60_000 + j * 100 + i,
          ip: `10.1.${i >> 8}.${i & 255}`,
          agent: 'Mozilla/5.0',
          path: `/p/${(i * 31 + j * 7 + round) % 97}`,
        })
    return out
  }
  /** Each client's state as the detector's plain snapshot, by key. */
  const clientsOf = (entries: Iterable<readonly [unknown, unknown]>) =>
    new Map(
      [...entries].map(([k, cell]) => [
        k,
        CrawlerDetector.restoreClient({}, (cell as { data: unknown }).data, String(k)).snapshot(),
      ]),
    )

  it('a capture keeps every client as it was at the barrier, in a task file and in a snapshot copied in memory', async () => {
    const CLIENTS = 1_500
    const backend = new KeyedBackend('crawler', 128, () => 0)
    const feed = crawlerTask(backend)
    for (let r = 0; r < 3; r++) for (const e of round(CLIENTS, r)) feed(e)
    const live = backend.value<{ data: unknown }>('crawler')
    const atBarrier = new Map<unknown, unknown>()
    for (const [k] of backend.stores.get('crawler')!.entries.shards.flatMap((s) => [...s])) {
      backend.currentKey = k
      atBarrier.set(k, CrawlerDetector.restoreClient({}, live.get()!.data, String(k)).snapshot())
    }
    expect(atBarrier.size).toBe(CLIENTS)
    // The file: captured, then every client changes before its copy is written out.
    const capture = backend.capture()
    for (const e of round(CLIENTS, 3)) feed(e)
    const dir = mkdtempSync(join(tmpdir(), 'squall-crawler-capture-'))
    try {
      const path = join(dir, 'crawler-0.state')
      await writeSnapshotFile(
        path,
        'crawler',
        0,
        { state: capture, eventTimers: [], processingTimers: [] },
        [0, 128],
      )
      const read = await readSnapshotFile(path, 0, 128, 128)
      const restored = new KeyedBackend('crawler', 128, () => 0)
      restored.restore(read.stores, 0, 128)
      const fromFile = clientsOf(restored.stores.get('crawler')!.entries.shards.flatMap((s) => [...s]))
      expect(fromFile).toEqual(atBarrier)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
    // In memory: the copy is deep-copied at once, as a test driver's snapshot is; the clients' bytes
    // (cut from shared slabs) must all be there.
    const now = new Map<unknown, unknown>()
    for (const k of atBarrier.keys()) {
      backend.currentKey = k as string
      now.set(k, CrawlerDetector.restoreClient({}, live.get()!.data, String(k)).snapshot())
    }
    const copied = structuredClone(snapshotStores(backend.capture(), 128))
    const fromMemory = clientsOf(Object.values(copied[0]!.groups).flat())
    expect(fromMemory).toEqual(now)
    expect(fromMemory).not.toEqual(atBarrier)
  })
})

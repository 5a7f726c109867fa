import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { describe, expect, it } from 'vitest'
import type { Aggregate } from '../../../src/core/operators.ts'
import { Aggregates } from '../../../src/core/window/aggregates.ts'
import { CumulatingWindows, HoppingWindows } from '../../../src/core/window/assigners.ts'
import { phaseOf, rebuildEnd } from '../../../src/core/window/sliced-operator.ts'
import type { WindowResult } from '../../../src/core/window/window.ts'
import { distinctCountAggregate } from '../../../src/kit/operators.ts'
import { TestDriver } from '../../../src/runtime/test-driver.ts'
import { type Click, atParallelism1And3, sorted, topology } from './support.ts'

// Hopping windows over many slices fire from partial merges of sealed slices. These tests compare
// every firing with windows computed directly from the input.

/** Deterministic clicks of three users over `seconds`, a little out of order (within 2 s). */
function traffic(seconds: number): { value: Click; time: number }[] {
  const out: { value: Click; time: number }[] = []
  let x = 7
  for (let ms = 0; ms < seconds * 1000; ms += 137) {
    x = (x * 1103515245 + 12345) % 2 ** 31
    if (x % 5 === 0) continue
    const at = Math.max(0, ms - (x % 2000))
    out.push({ value: { user: ['a', 'b', 'c'][x % 3]!, at, n: x % 100 }, time: at })
  }
  return out
}

/** Every window `[end - size, end)` with `end` a multiple of `slide`: sum, first and last `n` per user. */
function expected(events: Click[], sizeMs: number, slideMs: number) {
  const out: string[] = []
  const maxAt = Math.max(...events.map((e) => e.at))
  for (const user of ['a', 'b', 'c']) {
    const mine = events.filter((e) => e.user === user).sort((p, q) => p.at - q.at)
    for (let end = slideMs; end < maxAt + sizeMs + slideMs; end += slideMs) {
      const inside = mine.filter((e) => e.at >= end - sizeMs && e.at < end)
      if (inside.length === 0) continue
      const sum = inside.reduce((s, e) => s + e.n!, 0)
      out.push(`${user}[${end - sizeMs},${end}):${sum}`)
    }
  }
  return out.sort()
}

/** Per user, `aggregate` over 20 s windows every second, 2 s out of order allowed. */
const perUser20s = <A, R>(name: string, aggregate: Aggregate<Click, A, R>) =>
  topology(
    (e) =>
      e
        .keyBy((c) => c.user)
        .window(HoppingWindows.of('20s', '1s'))
        .aggregate(name, aggregate),
    2_000,
  )

/** Distinct `n` per user over 20 s windows every second (exact up to 60 values), 2 s out of order. */
const distinctCounts = () =>
  perUser20s(
    'distinct',
    distinctCountAggregate((c: Click) => c.n!, { exactUpTo: 60 }),
  )

const brief = (rs: WindowResult<number>[]) =>
  sorted(rs.map((r) => `${r.key}[${r.windowStart},${r.windowEnd}):${r.value}`))

/** 20 s windows every second summing `n` per user, 2 s out of order allowed. */
const hoppingSums = () =>
  perUser20s(
    'sums',
    Aggregates.sum((c: Click) => c.n!),
  )

/** Every firing on time, and the sums of every 20 s window every second of `input`, per user. */
function expectOnTimeSums(got: WindowResult<number>[], input: { value: Click }[]): void {
  expect(got.every((r) => r.firing === 'on-time')).toBe(true)
  expect(brief(got)).toEqual(
    expected(
      input.map((r) => r.value),
      20_000,
      1_000,
    ),
  )
}

describe('hopping windows fired from partial merges of slices', () => {
  it('20 s windows every second give the sums of a direct computation, at parallelism 1 and 3', () => {
    const input = traffic(90)
    const d = atParallelism1And3(hoppingSums, (d) => {
      d.pushRecords('events', input)
      d.end()
    })
    const got = d.values<WindowResult<number>>('out')
    expectOnTimeSums(got, input)
  })

  it('restored from a snapshot half-way, every key rebuilds its merges from a whole window of slices and fires the same sums', () => {
    const input = traffic(90)
    const half = input.filter((r) => r.time < 45_000)
    const rest = input.filter((r) => r.time >= 45_000)
    const first = new TestDriver(hoppingSums(), { parallelism: 1 })
    first.pushRecords('events', half)
    const second = new TestDriver(hoppingSums(), { parallelism: 2 }).restore(first.snapshot())
    second.pushRecords('events', rest)
    second.end()
    const got = [...first.values<WindowResult<number>>('out'), ...second.values<WindowResult<number>>('out')]
    expectOnTimeSums(got, input)
  })

  it('an aggregate with mergedResult (a distinct count) fires from the two partial merges unchanged', () => {
    const input = traffic(90)
    const d = atParallelism1And3(
      () => distinctCounts(),
      (d) => {
        d.pushRecords('events', input)
        d.end()
      },
    )
    const got = d.values<WindowResult<number>>('out')
    expect(got.length).toBeGreaterThan(200)
    for (const r of got) {
      const distinct = new Set(
        input
          .filter((e) => e.value.user === r.key && e.time >= r.windowStart && e.time < r.windowEnd)
          .map((e) => e.value.n),
      ).size
      // Exact up to 60 distinct values; past that a HyperLogLog estimate (p = 14: within 3 %).
      if (distinct <= 60) expect(r.value).toBe(distinct)
      else expect(Math.abs(r.value - distinct) / distinct).toBeLessThan(0.03)
    }
  })

  it('distinct counts kept in LMDB, written to task files half-way and resumed at another parallelism, equal a run in memory', async () => {
    // The kit's distinct count packs a key's slices into one block: LMDB's write-back and the task
    // files both write that block, and both read it back.
    const input = traffic(90)
    const build = distinctCounts
    const straight = new TestDriver(build(), { parallelism: 2 })
    straight.pushRecords('events', input).end()
    const dir = mkdtempSync(join(tmpdir(), 'squall-packed-'))
    try {
      const half = Math.floor(input.length / 2)
      const first = new TestDriver(build(), { parallelism: 2, lmdbDir: join(dir, 'first') })
      first.pushRecords('events', input.slice(0, half))
      const files = await first.snapshotToFiles(mkdtempSync(join(dir, 'files-')))
      const second = await new TestDriver(build(), {
        parallelism: 3,
        lmdbDir: join(dir, 'second'),
      }).restoreFromFiles(files)
      second.pushRecords('events', input.slice(half)).end()
      const resumed = [...first.values('out'), ...second.values('out')]
      expect(resumed.length).toBeGreaterThan(200)
      expect(sorted(resumed)).toEqual(sorted(straight.values('out')))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('order-sensitive aggregates still see slices in time order', () => {
    const input = traffic(40).sort((p, q) => p.time - q.time)
    const d = atParallelism1And3(
      () =>
        topology((e) => {
          const keyed = e.keyBy((c) => c.user)
          return keyed
            .window(HoppingWindows.of('10s', '1s'))
            .aggregate(
              'firsts',
              Aggregates.first((c: Click) => c.at),
            )
            .union(
              keyed.window(HoppingWindows.of('10s', '1s')).aggregate(
                'lasts',
                Aggregates.last((c: Click) => -c.at),
              ),
            )
        }),
      (d) => {
        d.pushRecords('events', input)
        d.end()
      },
    )
    for (const r of d.values<WindowResult<number>>('out')) {
      const inside = input.filter(
        (e) => e.value.user === r.key && e.time >= r.windowStart && e.time < r.windowEnd,
      )
      const want = r.value >= 0 ? inside[0]!.time : -inside[inside.length - 1]!.time
      expect(r.value).toBe(want)
    }
    expect(d.values('out').length).toBeGreaterThan(200)
  })

  it('a late record within the grace re-fires its windows and counts in the later ones', () => {
    const build = () =>
      topology((e) => {
        const counts = e
          .keyBy((c) => c.user)
          .window(HoppingWindows.of('10s', '1s').withGrace('30s'))
          .count('counts')
        return [counts, counts.lateData()]
      })
    const at = (...seconds: number[]) =>
      seconds.map((s) => ({ value: { user: 'a', at: s * 1000 }, time: s * 1000 }))
    const d = atParallelism1And3(build, (d) => {
      d.pushRecords('events', at(1, 2, 3, 12, 13))
      d.pushRecords('events', at(5))
      d.pushRecords('events', at(14, 25))
      d.end()
    })
    const out = d.values<WindowResult<number>>('out')
    const onTime = (end: number) =>
      out.find((r) => r.windowEnd === end * 1000 && r.firing === 'on-time')?.value
    // Before the late record: [3, 13) holds 3, 12; after it, [4, 14) holds 5, 12, 13 and [5, 15) 5, 12, 13, 14.
    expect(onTime(13)).toBe(2)
    expect(onTime(14)).toBe(3)
    expect(onTime(15)).toBe(4)
    expect(onTime(16)).toBe(3)
    const late = out.filter((r) => r.firing === 'late').map((r) => [r.windowEnd / 1000, r.value])
    expect(late).toEqual([
      [6, 4],
      [7, 4],
      [8, 4],
      [9, 4],
      [10, 4],
      [11, 4],
      [12, 3],
      [13, 3],
    ])
    expect(d.values('late')).toEqual([])
  })

  it('cumulating windows over many steps give running sums that reset each period', () => {
    const input = traffic(60).sort((p, q) => p.time - q.time)
    const d = atParallelism1And3(
      () =>
        topology((e) =>
          e
            .keyBy((c) => c.user)
            .window(CumulatingWindows.of('1s', '20s'))
            .aggregate(
              'running',
              Aggregates.sum((c: Click) => c.n!),
            ),
        ),
      (d) => {
        d.pushRecords('events', input)
        d.end()
      },
    )
    const got = d.values<WindowResult<number>>('out')
    expect(got.length).toBeGreaterThan(100)
    for (const r of got) {
      const want = input
        .filter((e) => e.value.user === r.key && e.time >= r.windowStart && e.time < r.windowEnd)
        .reduce((s, e) => s + e.value.n!, 0)
      expect(r.value).toBe(want)
    }
  })

  it('keeps no accumulator of a slice that has left every window', async () => {
    // A full collection on demand, to see which accumulators are still reachable.
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    // The slices' accumulators, in order: those a record is added to (merges make the others).
    const slices: WeakRef<{ n: number }>[] = []
    const seen = new WeakSet<object>()
    const sum = {
      create: () => ({ n: 0 }),
      add: (acc: { n: number }, c: Click) => {
        if (!seen.has(acc)) {
          seen.add(acc)
          slices.push(new WeakRef(acc))
        }
        acc.n += c.n!
        return acc
      },
      merge: (a: { n: number }, b: { n: number }) => {
        a.n += b.n
        return a
      },
      result: (acc: { n: number }) => acc.n,
    }
    const driver = new TestDriver(
      topology((e) =>
        e
          .keyBy((c) => c.user)
          .window(HoppingWindows.of('60s', '1s'))
          .aggregate('sums', sum),
      ),
      { parallelism: 1 },
    )
    const second = (s: number) => [{ value: { user: 'u', at: s * 1_000, n: 1 }, time: s * 1_000 }]
    for (let s = 0; s < 61; s++) driver.pushRecords('events', second(s))
    const early = slices.slice(0, 20)
    for (let s = 61; s < 100; s++) driver.pushRecords('events', second(s))
    // WeakRef targets made in this turn stay alive until it ends.
    await new Promise((resolve) => setTimeout(resolve, 0))
    gc()
    // Slices 0–19 left their last window by second 80: neither the window state nor the partial
    // merges may hold them.
    expect(early.filter((r) => r.deref() !== undefined)).toEqual([])
    const last = driver.values<WindowResult<number>>('out').at(-1)!
    expect(last.value).toBe(60)
  })

  it('a key rebuilds at a firing of its own among the later firings of a window, whatever slices it holds', () => {
    const slice = 1_000
    const end = 600_000
    // Phases cover the 59 later firings of a window (all but the firing at hand), evenly.
    const phases = new Map<number, number>()
    for (let h = 0; h < 5_900; h++) {
      const phase = phaseOf(rebuildEnd(h, end, slice, slice, 60), slice, 60)
      phases.set(phase, (phases.get(phase) ?? 0) + 1)
    }
    expect(phases.size).toBe(59)
    expect(phases.has((end / slice) % 60)).toBe(false)
    expect(Math.max(...phases.values())).toBe(100)
    // With a slide of two slices, the phase is one of the window's firings.
    for (let h = 0; h < 100; h++)
      expect(phaseOf(rebuildEnd(h, end, slice, 2 * slice, 60), slice, 60) % 2).toBe(0)
  })

  it('after a restore of a whole window, the keys build their partial merges over the first firings, neither all at once nor by merging whole windows until their phase', () => {
    let creates = 0
    let merges = 0
    const sum = Aggregates.sum((c: Click) => c.n!)
    const counting = {
      ...sum,
      create: () => {
        creates++
        return sum.create()
      },
      merge: (a: number, b: number) => {
        merges++
        return sum.merge!(a, b)
      },
    }
    const build = () =>
      topology((e) =>
        e
          .keyBy((c) => c.user)
          .window(HoppingWindows.of('60s', '1s'))
          .aggregate('sums', counting),
      )
    const users = Array.from({ length: 200 }, (_, i) => `u${i}`)
    const second = (s: number) =>
      users.map((user) => ({ value: { user, at: s * 1_000, n: 1 }, time: s * 1_000 }))
    const first = new TestDriver(build(), { parallelism: 1 })
    for (let s = 0; s < 70; s++) first.pushRecords('events', second(s))
    const restored = new TestDriver(build(), { parallelism: 1 }).restore(first.snapshot())
    const perSecond: number[] = []
    const mergesPerSecond: number[] = []
    for (let s = 70; s < 160; s++) {
      const before = creates
      const m0 = merges
      restored.pushRecords('events', second(s))
      perSecond.push(creates - before)
      mergesPerSecond.push(merges - m0)
    }
    restored.end()
    // Every window of 60 one-second slices sums to 60 per user once full.
    const full = restored
      .values<WindowResult<number>>('out')
      .filter((r) => r.windowStart >= 0 && r.windowEnd <= 159_000)
    expect(full.length).toBeGreaterThan(0)
    for (const r of full) expect(r.value).toBe((r.windowEnd - r.windowStart) / 1_000)
    // Rebuilding a key's merges makes an accumulator per slice it holds (60): all keys at one
    // firing would be 12 000. The keys build theirs over the first firings instead.
    expect(Math.max(...perSecond)).toBeLessThan(2_000)
    // The first firing merges every key's window (200 × 60); a key firing direct does so again at
    // each firing until it builds. Built, a firing costs each key a few merges (about 1 000 for all
    // 200 keys a second, rebuilds included): within 10 s every second is back to that, and the
    // 90 s after the restore cost less than 2 × (first firing + 90 steady seconds).
    expect(Math.max(...mergesPerSecond.slice(10))).toBeLessThan(2_000)
    const total = mergesPerSecond.reduce((a, b) => a + b, 0)
    expect(total).toBeLessThan(2 * (200 * 60 + 90 * 1_000))
  })
})

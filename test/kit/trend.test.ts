import { pack, unpack } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { TrendTracker } from '../../src/kit/trend.ts'

const MIN = 60_000
const T0 = 28_333_334 * MIN

/** Observations of `key` at `perMinute` per minute, spread evenly, for minutes [from, to). */
function steady(key: string, perMinute: number, from: number, to: number): [string, number][] {
  const out: [string, number][] = []
  for (let m = from; m < to; m++) {
    for (let i = 0; i < perMinute; i++)
      out.push([key, T0 + m * MIN + Math.floor(((i + 0.5) * MIN) / perMinute)])
  }
  return out
}

/** Two hours of search terms; only "meteor" rises sharply in the last five minutes. */
function trace(): [string, number][] {
  const events = [
    ...steady('weather', 100, 0, 120),
    ...steady('election', 5, 0, 115),
    ...steady('election', 8, 115, 120),
    ...steady('falling', 200, 0, 100),
    ...steady('falling', 50, 100, 120),
    ...steady('newcomer', 1, 117, 120),
    ...steady('meteor', 30, 115, 120),
  ]
  for (let m = 0; m < 115; m += 20) events.push(['meteor', T0 + m * MIN + 1000])
  return events.sort((a, b) => a[1] - b[1])
}

const NOW = T0 + 120 * MIN - 1

describe('TrendTracker', () => {
  it('a sudden burst of a rare term trends; steady, mildly rising, falling and tiny terms do not', () => {
    const t = TrendTracker.create({ recent: '5m', baseline: '1h', slide: '1m' })
    for (const [key, time] of trace()) t.observe(key, time)
    const trending = t.trending(NOW, 10)
    expect(trending.map((x) => x.key)).toEqual(['meteor'])
    const meteor = trending[0]!
    expect(meteor.recent).toBe(150)
    expect(meteor.baseline).toBe(3)
    expect(meteor.expected).toBeCloseTo(0.25, 5)
    expect(meteor.ratio).toBeGreaterThan(100)
    const scores = new Map(t.scores(NOW).map((s) => [s.key, s]))
    expect(scores.get('weather')!.recent).toBe(500)
    expect(scores.get('weather')!.ratio).toBeCloseTo(1, 2)
    expect(scores.get('falling')!.score).toBeLessThan(-10)
    expect(scores.get('election')!.ratio).toBeLessThan(2)
    expect(scores.get('newcomer')!.recent).toBe(3)
  })

  it('nothing trends before the warm-up: every term looks new at start', () => {
    const t = TrendTracker.create()
    for (const [key, time] of trace()) if (time < T0 + 4 * MIN) t.observe(key, time)
    expect(t.scores(T0 + 4 * MIN - 1).length).toBeGreaterThan(0)
    expect(t.trending(T0 + 4 * MIN - 1)).toEqual([])
  })

  it('an observation older than the whole span is dropped and reported', () => {
    const t = TrendTracker.create({ recent: '5m', baseline: '1h' })
    expect(t.observe('x', T0 + 100 * MIN)).toBe(true)
    expect(t.observe('x', T0 + 30 * MIN)).toBe(false)
    expect(t.observe('x', T0 + 90 * MIN)).toBe(true)
    expect(t.scores(T0 + 100 * MIN)[0]!.baseline).toBe(1)
  })

  it('snapshot, restore through msgpackr and continue gives the same result as an uninterrupted run', () => {
    const events = trace()
    const half = events.length >> 1
    const straight = TrendTracker.create()
    for (const [key, time] of events) straight.observe(key, time)
    const first = TrendTracker.create()
    for (const [key, time] of events.slice(0, half)) first.observe(key, time)
    const resumed = TrendTracker.restore(unpack(pack(first.snapshot())))
    for (const [key, time] of events.slice(half)) resumed.observe(key, time)
    expect(resumed.trending(NOW)).toEqual(straight.trending(NOW))
    expect(resumed.scores(NOW)).toEqual(straight.scores(NOW))
  })

  it('evictIdle forgets keys with nothing left in the span', () => {
    const t = TrendTracker.create({ recent: '5m', baseline: '1h' })
    t.observe('old', T0)
    t.observe('new', T0 + 64 * MIN)
    expect(t.evictIdle(T0 + 65 * MIN)).toBe(1)
    expect(t.size).toBe(1)
  })

  it('refuses windows that are not multiples of the slide', () => {
    expect(() => TrendTracker.create({ recent: '90s', slide: '1m' })).toThrow(
      /trend.recent: expected a positive multiple/,
    )
  })
})

import { pack, unpack } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { SlidingWindowLimiter, TokenBucketLimiter } from '../../src/kit/rate-limit.ts'

const T0 = 1_700_000_040_000

describe('SlidingWindowLimiter', () => {
  it('allows the limit within a window, then throttles, then blocks a client that keeps hammering', () => {
    const l = SlidingWindowLimiter.create({ limit: 10, window: '1m', blockAbove: 20 })
    const actions = Array.from({ length: 25 }, (_, i) => l.admit('1.2.3.4', T0 + i * 100))
    expect(actions.slice(0, 10).every((a) => a === 'allow')).toBe(true)
    expect(actions.slice(10, 20).every((a) => a === 'throttle')).toBe(true)
    expect(actions.slice(20).every((a) => a === 'block')).toBe(true)
    expect(l.admit('5.6.7.8', T0 + 3000)).toBe('allow')
  })

  it('weighs the previous window by its overlap with the sliding window', () => {
    const l = SlidingWindowLimiter.create({ limit: 10, window: '1m' })
    for (let i = 0; i < 10; i++) expect(l.admit('k', T0 + i * 1000)).toBe('allow')
    // 45 s into the next window a quarter of the previous window still counts: 10 × 0.25 = 2.5.
    const at = T0 + 60_000 + 45_000
    for (let i = 0; i < 7; i++) expect(l.admit('k', at + i)).toBe('allow')
    const d = l.decide('k', at + 10)
    expect(d.action).toBe('throttle')
    expect(d.reason).toBe('10.5 requests in the last 60s (limit 10)')
    // Two windows later nothing of the old ones remains.
    expect(l.admit('k', T0 + 180_000)).toBe('allow')
  })

  it('forgets idle keys and restores its state from a snapshot', () => {
    const l = SlidingWindowLimiter.create({ limit: 3, window: '10s' })
    for (let i = 0; i < 3; i++) l.admit('a', T0 + i)
    l.admit('b', T0 + 15_000)
    const r = SlidingWindowLimiter.restore({ limit: 3, window: '10s' }, unpack(pack(l.snapshot())))
    expect(r.admit('a', T0 + 5)).toBe('throttle')
    expect(r.evictIdle(T0 + 25_000)).toBe(1)
    expect(r.size).toBe(1)
    expect(() => SlidingWindowLimiter.create({ limit: 0 })).toThrow(/slidingWindow.limit/)
  })
})

describe('TokenBucketLimiter', () => {
  it('allows a burst of the capacity, then the refill rate, by event time', () => {
    const l = TokenBucketLimiter.create({ capacity: 5, refillPerSecond: 2 })
    const burst = Array.from({ length: 7 }, () => l.admit('u', T0))
    expect(burst).toEqual(['allow', 'allow', 'allow', 'allow', 'allow', 'throttle', 'throttle'])
    // One second later two tokens are back.
    expect([l.admit('u', T0 + 1000), l.admit('u', T0 + 1000), l.admit('u', T0 + 1000)]).toEqual([
      'allow',
      'allow',
      'throttle',
    ])
    // A request earlier than the last one refills nothing.
    expect(l.admit('u', T0 + 500)).toBe('throttle')
    expect(l.tokens('u')).toBe(0)
  })

  it('blocks after the given number of refusals in a row, and says why', () => {
    const l = TokenBucketLimiter.create({ capacity: 1, refillPerSecond: 1, blockAfter: 3 })
    expect(l.decide('x', T0).action).toBe('allow')
    expect(l.decide('x', T0 + 100).action).toBe('throttle')
    expect(l.decide('x', T0 + 200).action).toBe('throttle')
    const d = l.decide('x', T0 + 300)
    expect(d).toEqual({
      action: 'block',
      key: 'x',
      reason: '0.3 of 1 tokens left, refill 1/s; 3 refused requests in a row',
    })
  })

  it('evicts keys idle for the time to refill, and survives a snapshot', () => {
    const l = TokenBucketLimiter.create({ capacity: 10, refillPerSecond: 5 })
    for (let i = 0; i < 10; i++) l.admit('a', T0)
    const r = TokenBucketLimiter.restore({ capacity: 10, refillPerSecond: 5 }, structuredClone(l.snapshot()))
    expect(r.admit('a', T0)).toBe('throttle')
    expect(r.evictIdle(T0 + 1999)).toBe(0)
    expect(r.evictIdle(T0 + 2000)).toBe(1)
  })
})

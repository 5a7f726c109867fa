import { describe, expect, it } from 'vitest'
import { Random } from '../../src/plugins/inputs/generator.ts'
import { TimerQueue } from '../../src/runtime/timers.ts'

describe('TimerQueue', () => {
  it('fires timers in time order, once per (key, time), and skips deleted ones', () => {
    const q = new TimerQueue()
    q.add(30, 'a')
    q.add(10, 'b')
    q.add(20, 'a')
    q.add(10, 'b')
    q.add(10, 'c')
    q.delete(20, 'a')
    expect(q.size).toBe(3)
    expect(q.peek()).toBe(10)
    expect(q.popUpTo(25)).toEqual([
      [10, 'b'],
      [10, 'c'],
    ])
    expect(q.peek()).toBe(30)
    q.add(20, 'a')
    expect(q.toArray()).toEqual([
      [20, ['a']],
      [30, ['a']],
    ])
    expect(q.popUpTo(Number.POSITIVE_INFINITY)).toEqual([
      [20, 'a'],
      [30, 'a'],
    ])
    expect(q.peek()).toBe(Number.POSITIVE_INFINITY)
    expect(q.size).toBe(0)
  })

  it('agrees with a sorted reference over random adds, deletes and pops of many distinct times', () => {
    const rnd = new Random(7)
    const q = new TimerQueue()
    const ref = new Map<number, Set<string>>()
    const fired: [number, string][] = []
    const expected: [number, string][] = []
    let now = 0
    for (let step = 0; step < 50_000; step++) {
      const op = rnd.int(10)
      if (op < 6) {
        const time = now + rnd.int(5_000)
        const key = `k${rnd.int(2_000)}`
        q.add(time, key)
        const s = ref.get(time) ?? new Set()
        s.add(key)
        ref.set(time, s)
      } else if (op < 8) {
        const time = now + rnd.int(5_000)
        const key = `k${rnd.int(2_000)}`
        q.delete(time, key)
        ref.get(time)?.delete(key)
        if (ref.get(time)?.size === 0) ref.delete(time)
      } else {
        now += rnd.int(200)
        for (const [t, k] of q.popUpTo(now)) fired.push([t, k as string])
        for (const t of [...ref.keys()].filter((t) => t <= now).sort((a, b) => a - b)) {
          for (const k of ref.get(t)!) expected.push([t, k])
          ref.delete(t)
        }
        expect(q.peek()).toBe(ref.size === 0 ? Number.POSITIVE_INFINITY : Math.min(...ref.keys()))
      }
    }
    expect(fired).toEqual(expected)
    expect(fired.length).toBeGreaterThan(10_000)
    expect(q.size).toBe([...ref.values()].reduce((n, s) => n + s.size, 0))
  })

  it('holds 200 000 keys with times of their own and hands them back in order', () => {
    const q = new TimerQueue()
    const rnd = new Random(3)
    for (let i = 0; i < 200_000; i++) q.add(rnd.int(1_000_000_000), i)
    let last = -1
    let n = 0
    while (q.peek() !== Number.POSITIVE_INFINITY) {
      for (const [t] of q.popUpTo(q.peek())) {
        expect(t).toBeGreaterThanOrEqual(last)
        last = t
        n++
      }
    }
    expect(n).toBe(200_000)
  })
})

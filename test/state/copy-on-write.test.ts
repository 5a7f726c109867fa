import { describe, expect, it } from 'vitest'
import { KeyedBackend } from '../../src/state/keyed-backend.ts'

function entriesOf(capture: ReturnType<KeyedBackend['capture']>, store = 0): Map<unknown, unknown> {
  return new Map(capture.entries(store))
}

/** The shard of `store` that holds `key`: the part of a capture to read it in. */
function shardOfKey(b: KeyedBackend, store: string, key: string): number {
  return b.stores.get(store)!.entries.shardIndex(key)
}

describe('capturing keyed state for a checkpoint', () => {
  it('a value read, changed in place and set back is kept as it was by a capture, through clears and other keys', () => {
    const b = new KeyedBackend('op', 128, () => 0)
    const v = b.value<{ n: number[] }>('v')
    b.currentKey = 'a'
    v.set({ n: [1] })
    b.currentKey = 'b'
    v.set({ n: [5] })
    // Read just before a capture (the last read), then read anew, changed and set back after it,
    // twice: the capture must still see [1].
    b.currentKey = 'a'
    v.get()
    const capture = b.capture()
    const after = v.get()!
    after.n.push(99)
    v.set(after)
    b.currentKey = 'a'
    const again = v.get()!
    again.n.push(2)
    v.set(again)
    expect(entriesOf(capture).get('a')).toEqual({ n: [1] })
    capture.release()
    // Read, cleared, then the same object set back: it is stored again.
    const read = v.get()!
    v.clear()
    expect(v.get()).toBeUndefined()
    v.set(read)
    expect(v.get()).toEqual({ n: [1, 99, 2] })
    // The last read was another key's: setting an object read for 'b' under 'a' stores it under 'a'.
    b.currentKey = 'b'
    const fromB = v.get()!
    b.currentKey = 'a'
    v.set(fromB)
    expect(v.get()).toBe(fromB)
  })

  it('keeps the values as they were at the barrier while the task goes on changing them', () => {
    const b = new KeyedBackend('op', 128, () => 0)
    const windows = b.value<{ counts: number[] }>('windows')
    const seen = b.list<string>('seen')
    const tags = b.map<string, number>('tags')
    for (const k of ['a', 'b', 'c']) {
      b.currentKey = k
      windows.set({ counts: [1] })
      seen.add(`${k}1`)
      tags.set('x', 1)
    }
    const capture = b.capture()
    // After the barrier: in-place changes, replacements, deletions and new keys.
    b.currentKey = 'a'
    windows.get()!.counts.push(2)
    seen.add('a2')
    tags.set('x', 2)
    b.currentKey = 'b'
    windows.set({ counts: [9] })
    seen.clear()
    tags.delete('x')
    b.currentKey = 'd'
    windows.set({ counts: [4] })
    expect(entriesOf(capture, 0)).toEqual(
      new Map([
        ['a', { counts: [1] }],
        ['b', { counts: [1] }],
        ['c', { counts: [1] }],
      ]),
    )
    expect(entriesOf(capture, 1)).toEqual(
      new Map([
        ['a', ['a1']],
        ['b', ['b1']],
        ['c', ['c1']],
      ]),
    )
    expect(entriesOf(capture, 2).get('a')).toEqual(new Map([['x', 1]]))
    expect(entriesOf(capture, 2).get('b')).toEqual(new Map([['x', 1]]))
    capture.release()
    // The live state has every change.
    b.currentKey = 'a'
    expect(windows.get()).toEqual({ counts: [1, 2] })
    expect(seen.get()).toEqual(['a1', 'a2'])
    b.currentKey = 'b'
    expect(seen.get()).toEqual([])
    expect(b.capture().entries(0)).toBeDefined()
  })

  it('copies a value at most once per capture, and not at all once the capture is released', () => {
    const b = new KeyedBackend('op', 128, () => 0)
    const v = b.value<{ n: number }>('v')
    b.currentKey = 1
    v.set({ n: 0 })
    const capture = b.capture()
    const first = v.get()!
    first.n = 1
    expect(v.get()).toBe(first)
    capture.release()
    const after = v.get()!
    expect(after).toBe(first)
    expect(after.n).toBe(1)
  })

  it('serves two pending captures at once, each with the values of its own barrier', () => {
    const b = new KeyedBackend('op', 128, () => 0)
    const v = b.value<{ n: number }>('v')
    b.currentKey = 'k'
    v.set({ n: 1 })
    const one = b.capture()
    v.get()!.n = 2
    const two = b.capture()
    v.get()!.n = 3
    expect(entriesOf(one).get('k')).toEqual({ n: 1 })
    expect(entriesOf(two).get('k')).toEqual({ n: 2 })
    one.release()
    two.release()
  })

  it('keeps primitive values without copying them, also when they later turn into objects or go', () => {
    const b = new KeyedBackend('op', 128, () => 0)
    const v = b.value<unknown>('v')
    const sum = b.reducing<{ n: number } | number>('sum', (a, c) =>
      typeof a === 'number' ? { n: a + (c as number) } : { n: a.n + (c as number) },
    )
    for (const k of ['counter', 'toObject', 'removed', 'removedThenObject', 'reduced']) {
      b.currentKey = k
      v.set(5)
    }
    b.currentKey = 'reduced'
    sum.add(1)
    const capture = b.capture()
    b.currentKey = 'counter'
    v.set(6)
    v.set(7)
    b.currentKey = 'toObject'
    v.set(6)
    v.set({ n: 1 })
    ;(v.get() as { n: number }).n = 2
    b.currentKey = 'removed'
    v.clear()
    b.currentKey = 'removedThenObject'
    v.clear()
    v.set({ n: 1 })
    ;(v.get() as { n: number }).n = 3
    b.currentKey = 'fresh'
    v.set({ n: 1 })
    ;(v.get() as { n: number }).n = 4
    b.currentKey = 'reduced'
    sum.add(2)
    sum.add(3)
    expect(entriesOf(capture, 0)).toEqual(
      new Map([
        ['counter', 5],
        ['toObject', 5],
        ['removed', 5],
        ['removedThenObject', 5],
        ['reduced', 5],
      ]),
    )
    expect(entriesOf(capture, 1)).toEqual(new Map([['reduced', 1]]))
    capture.release()
    b.currentKey = 'reduced'
    expect(sum.get()).toEqual({ n: 6 })
  })

  it('counters: captures share one growing key list, each reads its own keys and numbers', () => {
    const b = new KeyedBackend('op', 128, () => 0)
    const counts = b.value<number>('counts')
    const put = (k: string, n: number) => {
      b.currentKey = k
      counts.set(n)
    }
    for (let i = 0; i < 5; i++) put(`k${i}`, i)
    const first = b.capture()
    put('k0', 100)
    put('k5', 5)
    put('k6', -0)
    const second = b.capture()
    put('k7', 7)
    put('k1', 101)
    // The numbers come as a typed array, the keys from the store's list, which has grown since.
    expect(first.columns!(0, shardOfKey(b, 'counts', 'k0')).values).toBeInstanceOf(Float64Array)
    expect(entriesOf(first)).toEqual(
      new Map([
        ['k0', 0],
        ['k1', 1],
        ['k2', 2],
        ['k3', 3],
        ['k4', 4],
      ]),
    )
    const two = entriesOf(second)
    expect([...two.keys()].sort()).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6'])
    expect(two.get('k0')).toBe(100)
    expect(Object.is(two.get('k6'), -0)).toBe(true)
    // A removal starts a new list: the earlier captures keep theirs.
    b.currentKey = 'k2'
    counts.clear()
    const third = b.capture()
    expect([...entriesOf(third).keys()].sort()).toEqual(['k0', 'k1', 'k3', 'k4', 'k5', 'k6', 'k7'])
    expect([...entriesOf(second).keys()].sort()).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6'])
    expect(entriesOf(first).size).toBe(5)
    for (const c of [first, second, third]) c.release()
    // A store that holds something else than numbers is captured as an array.
    const names = b.value<string>('names')
    b.currentKey = 'k0'
    names.set('zero')
    const fourth = b.capture()
    expect(Array.isArray(fourth.columns!(1, shardOfKey(b, 'names', 'k0')).values)).toBe(true)
    expect(entriesOf(fourth, 1)).toEqual(new Map([['k0', 'zero']]))
    fourth.release()
  })
})

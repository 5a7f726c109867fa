import { describe, expect, it } from 'vitest'
import type { Key } from '../../src/core/record.ts'
import { KEY_MAP_SHARDS, KEY_MAP_SPREAD_AT, KeyMap, shardOf } from '../../src/state/key-map.ts'

/** A deterministic xorshift generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let x = seed
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) / 2 ** 32
  }
}

/** Key `i` of a family of 40-character strings that all hash alike in a KeyMap (same sampled characters). */
function crowded(i: number): string {
  return `a${String(i).padStart(3, '0')}${'x'.repeat(36)}`
}

describe('KeyMap, the sharded map behind keyed stores', () => {
  it('answers get, has, size and iteration like a Map over a random mix of writes and removals', () => {
    const next = random(7)
    const m = new KeyMap()
    const ref = new Map<Key, unknown>()
    let removed = 0
    for (let i = 0; i < 20_000; i++) {
      const r = next()
      const k: Key =
        r < 0.4 ? `k${Math.floor(next() * 3000)}` : r < 0.8 ? Math.floor(next() * 3000) : next() < 0.5
      if (next() < 0.25) {
        const had = ref.delete(k)
        if (had) removed++
        expect(m.delete(k)).toBe(had)
      } else {
        ref.set(k, i)
        m.set(k, i)
      }
    }
    expect(m.size).toBe(ref.size)
    for (const [k, v] of ref) {
      expect(m.has(k)).toBe(true)
      expect(m.get(k)).toBe(v)
    }
    expect(m.get('absent')).toBeUndefined()
    expect(new Map(m)).toEqual(ref)
    expect([...m.keys()].length).toBe(ref.size)
    expect([...m.values()].sort()).toEqual([...ref.values()].sort())
    // Each shard counts its own removals: together, every removal that removed something.
    expect(m.removals.reduce((a, b) => a + b, 0)).toBe(removed)
  })

  it('keeps a small map in its first shard, and spreads it over the shards once it grows past the limit', () => {
    const m = new KeyMap()
    const keys = Array.from({ length: KEY_MAP_SPREAD_AT + 1 }, (_, i) => `user-${i}`)
    for (const k of keys.slice(0, KEY_MAP_SPREAD_AT)) m.set(k, 0)
    expect(m.shards[0]!.size).toBe(KEY_MAP_SPREAD_AT)
    expect(m.shardIndex('user-5')).toBe(0)
    const before = [...m.shards]
    m.set(keys.at(-1)!, 0)
    // Every entry moved to its shard, into new Maps: a capture names the old ones as other owners.
    for (let s = 0; s < KEY_MAP_SHARDS; s++) {
      expect(m.shards[s]).not.toBe(before[s])
      expect(m.shards[s]!.size).toBeLessThan((2 * keys.length) / KEY_MAP_SHARDS)
    }
    for (const k of keys) {
      expect(m.shardIndex(k)).toBe(shardOf(k))
      expect(m.shards[shardOf(k)]!.has(k)).toBe(true)
      expect(m.keyList(shardOf(k))).toContain(k)
    }
    expect(m.size).toBe(keys.length)
    // Spread for good: removing keys does not gather them again.
    for (const k of keys.slice(0, KEY_MAP_SPREAD_AT)) expect(m.delete(k)).toBe(true)
    expect(m.shardIndex('user-5')).toBe(shardOf('user-5'))
    m.set('user-5', 1)
    expect(m.shards[shardOf('user-5')]!.get('user-5')).toBe(1)
    expect(m.get('user-5')).toBe(1)
  })

  it('answers for absent keys from its filter, and stays exact through growth, removals and crowded slots', () => {
    const next = random(11)
    const m = new KeyMap()
    const ref = new Map<Key, unknown>()
    // Addresses, integers, and 40-character strings that differ only where the hash does not look,
    // so that they share one filter slot.
    const keyOf = (r: number): Key =>
      r < 0.3
        ? `ip-10.0.${Math.floor(next() * 40)}.${Math.floor(next() * 256)}`
        : r < 0.6
          ? Math.floor(next() * 600) * 65_536
          : crowded(Math.floor(next() * 400))
    for (let i = 0; i < 60_000; i++) {
      const k = keyOf(next())
      const op = next()
      if (op < 0.45) {
        expect(m.delete(k)).toBe(ref.delete(k))
      } else if (op < 0.7) {
        ref.set(k, i)
        m.set(k, i)
      } else {
        expect(m.get(k)).toBe(ref.get(k))
        expect(m.has(k)).toBe(ref.has(k))
      }
    }
    expect(m.size).toBe(ref.size)
    for (const [k, v] of ref) expect(m.get(k)).toBe(v)
    for (let i = 0; i < 2000; i++) {
      const k = keyOf(next())
      expect(m.has(k)).toBe(ref.has(k))
    }
    // 300 keys in one slot: a slot past its counting range still never denies a present key.
    const same = new KeyMap()
    const crowd = Array.from({ length: 300 }, (_, i) => crowded(i))
    for (const k of crowd) same.set(k, k)
    for (const k of crowd.slice(0, 299)) expect(same.delete(k)).toBe(true)
    expect(same.get(crowd[299]!)).toBe(crowd[299])
    expect(same.has(crowded(300))).toBe(false)
    expect(same.delete(crowded(300))).toBe(false)
  })

  it('keeps insertion order within a shard, a replaced value in its place', () => {
    const m = new KeyMap()
    const keys = Array.from({ length: KEY_MAP_SPREAD_AT + 2000 }, (_, i) => `user-${i}`)
    for (const k of keys) m.set(k, 0)
    m.set('user-5', 1)
    for (let s = 0; s < KEY_MAP_SHARDS; s++) {
      expect([...m.shards[s]!.keys()]).toEqual(keys.filter((k) => shardOf(k) === s))
    }
  })

  it("keeps each shard's key list as keys are added; a removal leaves the old list alone and starts a new one", () => {
    const m = new KeyMap()
    const keys = Array.from({ length: 500 }, (_, i) => `k${i}`)
    for (const k of keys) m.set(k, 1)
    const s = m.shardIndex('k7')
    const list = m.keyList(s)
    expect(list).toEqual(keys.filter((k) => m.shardIndex(k) === s))
    // A replaced value adds nothing; a new key is appended.
    m.set('k7', 2)
    const added = Array.from({ length: 200 }, (_, i) => `n${i}`).find((k) => m.shardIndex(k) === s)!
    m.set(added, 1)
    expect(m.keyList(s)).toBe(list)
    expect(list.at(-1)).toBe(added)
    const before = [...list]
    m.delete('k7')
    expect(list).toEqual(before)
    const fresh = m.keyList(s)
    expect(fresh).not.toBe(list)
    expect(fresh).toEqual(before.filter((k) => k !== 'k7'))
  })

  it.each([
    ['counters u<n>', (i: number) => `u${i}`],
    ['IPv4 addresses', (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`],
    ['paths', (i: number) => `/page/${i}.html`],
    ['e-mail addresses', (i: number) => `user-${i}@example.com`],
    ['integers', (i: number) => i],
    ['multiples of 32', (i: number) => i * 32],
  ])('spreads %s over the shards: none holds more than twice its share', (_, keyOf) => {
    const n = 100_000
    const counts = new Array<number>(KEY_MAP_SHARDS).fill(0)
    for (let i = 0; i < n; i++) counts[shardOf(keyOf(i))]!++
    expect(Math.max(...counts)).toBeLessThan((2 * n) / KEY_MAP_SHARDS)
  })
})

// The map behind a keyed store: split into shards so that growing never stalls the task, with a
// filter in front while it is small so that looking up an absent key costs no hash-table probe.

import { hashKey } from '../core/key-group.ts'
import type { Key } from '../core/record.ts'

/** Number of shards: a power of two. At a million keys each holds about 31 000. */
export const KEY_MAP_SHARDS = 32
/** Shift that keeps the top log2(KEY_MAP_SHARDS) bits of a 32-bit hash. */
const SHIFT = 32 - Math.log2(KEY_MAP_SHARDS)

/**
 * Keys a KeyMap holds in its first shard alone before it spreads them over all of them: about the
 * share of one shard at a million keys, so a rehash while small costs what one shard's does later.
 */
export const KEY_MAP_SPREAD_AT = 32_768

/** Slots of the absence filter of a new KeyMap; it doubles to keep 16 to 32 slots a key. */
const MIN_SLOTS = 256
/** The most slots a filter grows to (256 KiB): 8 a key at {@link KEY_MAP_SPREAD_AT} keys. */
const MAX_SLOTS = 1 << 18
/** A filter slot at this count holds that many keys or more, and is never decremented again. */
const STUCK = 255

/**
 * A 32-bit hash of a key for spreading it in this process: for a string, a multiplicative hash of
 * its length and of nine characters — the last two and one at every eighth of its length (all of
 * them up to seven characters), read independently of each other, so it costs a few nanoseconds
 * whatever the length; the part of ids, addresses, paths and e-mails that varies is somewhere in
 * there. For an integer its bits, for anything else the full key hash, mixed the same way. Nothing
 * outside this process depends on it, so it may change between versions. Its top bits are the best.
 */
function spreadHash(key: Key): number {
  let h: number
  if (typeof key === 'string') {
    const n = key.length
    if (n === 0) return 0
    h =
      n ^
      key.charCodeAt(n - 1) ^
      (key.charCodeAt(n >> 3) << 3) ^
      (key.charCodeAt((n * 2) >> 3) << 6) ^
      (key.charCodeAt((n * 3) >> 3) << 9) ^
      (key.charCodeAt((n * 4) >> 3) << 12) ^
      (key.charCodeAt((n * 5) >> 3) << 15) ^
      (key.charCodeAt((n * 6) >> 3) << 18) ^
      (key.charCodeAt((n * 7) >> 3) << 21) ^
      (key.charCodeAt(n > 1 ? n - 2 : 0) << 24)
  } else if (typeof key === 'number' && (key | 0) === key) h = key
  else h = hashKey(key)
  h ^= h >>> 16
  return Math.imul(h, 0x9e3779b1) >>> 0
}

/** The shard of a key once a KeyMap is spread: the top bits of {@link spreadHash}. */
export function shardOf(key: Key): number {
  return spreadHash(key) >>> SHIFT
}

/**
 * A `Map` of keys to values, kept as {@link KEY_MAP_SHARDS} Maps by {@link shardOf}. A JavaScript
 * Map grows by rehashing every entry at once: at half a million keys one insert takes 60–120 ms,
 * at two million about four times that, a pause in processing that no checkpoint design can hide.
 * Split, a shard rehashes at most its own share (Flink's heap state table rehashes incrementally for
 * the same reason). Each shard keeps insertion order and counts its removals, so a checkpoint can
 * reuse what it encoded of a shard whose keys only grew (see `StateCapture.order`).
 *
 * A small map needs no split: up to {@link KEY_MAP_SPREAD_AT} keys, every key lives in shard 0. The
 * insert past that size moves every entry to its shard by {@link shardOf}, into new Maps (a capture
 * taken before keeps reading the old ones, and `order` then names other owners), once: the map
 * stays spread however small it gets again. {@link KeyMap.shardIndex} says where a key lives.
 *
 * While small, the map also keeps an absence filter, as RocksDB keeps Bloom filters: a count of keys
 * per slot of {@link spreadHash}, 16 to 32 slots a key (at most 256 KiB: 8 a key at the most keys). A key whose slot counts none is not in the
 * map, and `get`, `has` and `delete` say so without probing the Map. That is most lookups of a store
 * that holds few of the keys it is asked about (state kept only for suspicious clients, for open
 * sessions): a probe compares the key with one the map holds, whose string is rarely still in the
 * CPU's cache, where the filter is one read of a small array.
 *
 * Each shard also keeps the list of its keys in map order, appended to as keys are added (8 bytes a
 * key), so that a checkpoint takes the keys without walking a million-entry map at the barrier. A
 * removal drops the shard's list (captures holding it keep reading their own length of it); the
 * next `keyList` call rebuilds it.
 */
export class KeyMap {
  readonly shards: Map<Key, unknown>[] = []
  /** Entries removed from each shard so far. */
  readonly removals = new Array<number>(KEY_MAP_SHARDS).fill(0)
  private readonly lists: (Key[] | undefined)[] = []
  /** The last key hashed and its hash: a read and a write of one key hash it once. */
  private lastKey: Key | undefined = undefined
  private lastHash = 0
  /** While small: keys per filter slot (see the class comment); undefined once spread. */
  private counts: Uint8Array | undefined = new Uint8Array(MIN_SLOTS)
  /** Shift that keeps the top log2(counts.length) bits of a hash: the filter slot. */
  private slotShift = 32 - Math.log2(MIN_SLOTS)

  constructor() {
    for (let i = 0; i < KEY_MAP_SHARDS; i++) {
      this.shards.push(new Map())
      this.lists.push([])
    }
  }

  /**
   * The keys of shard `i` in map order: a list that later inserts append to, so treat it as read
   * only and use only as many entries as the shard had when it was taken.
   */
  keyList(i: number): Key[] {
    let list = this.lists[i]
    if (list === undefined) {
      list = Array.from(this.shards[i]!.keys())
      this.lists[i] = list
    }
    return list
  }

  private hashOf(key: Key): number {
    if (key === this.lastKey) return this.lastHash
    this.lastKey = key
    this.lastHash = spreadHash(key)
    return this.lastHash
  }

  /** The shard that holds `key` (or would): 0 while the map is small, else {@link shardOf}. */
  shardIndex(key: Key): number {
    return this.counts !== undefined ? 0 : this.hashOf(key) >>> SHIFT
  }

  get(key: Key): unknown {
    const counts = this.counts
    if (counts === undefined) return this.shards[this.hashOf(key) >>> SHIFT]!.get(key)
    if (counts[this.hashOf(key) >>> this.slotShift] === 0) return undefined
    return this.shards[0]!.get(key)
  }

  has(key: Key): boolean {
    const counts = this.counts
    if (counts === undefined) return this.shards[this.hashOf(key) >>> SHIFT]!.has(key)
    if (counts[this.hashOf(key) >>> this.slotShift] === 0) return false
    return this.shards[0]!.has(key)
  }

  set(key: Key, value: unknown): this {
    const counts = this.counts
    const h = this.hashOf(key)
    const i = counts === undefined ? h >>> SHIFT : 0
    const m = this.shards[i]!
    const before = m.size
    m.set(key, value)
    if (m.size === before) return this
    this.lists[i]?.push(key)
    if (counts !== undefined) {
      if (before >= KEY_MAP_SPREAD_AT) this.spreadOut()
      else if (m.size * 16 > counts.length && counts.length < MAX_SLOTS) this.growFilter()
      else {
        const slot = h >>> this.slotShift
        if (counts[slot]! < STUCK) counts[slot]!++
      }
    }
    return this
  }

  /** Removes `key`; true when it was there. */
  delete(key: Key): boolean {
    const counts = this.counts
    const h = this.hashOf(key)
    let i = 0
    if (counts === undefined) i = h >>> SHIFT
    else if (counts[h >>> this.slotShift] === 0) return false
    if (!this.shards[i]!.delete(key)) return false
    if (counts !== undefined) {
      const slot = h >>> this.slotShift
      const c = counts[slot]!
      if (c < STUCK) counts[slot] = c - 1
    }
    this.removals[i]!++
    this.lists[i] = undefined
    return true
  }

  /** Doubles the filter's slots (and more when it fell behind) and counts every key anew. */
  private growFilter(): void {
    const all = this.shards[0]!
    let slots = this.counts!.length * 2
    while (all.size * 16 > slots && slots < MAX_SLOTS) slots *= 2
    const counts = new Uint8Array(slots)
    const shift = 32 - Math.log2(slots)
    for (const k of all.keys()) {
      const slot = spreadHash(k) >>> shift
      if (counts[slot]! < STUCK) counts[slot]!++
    }
    this.counts = counts
    this.slotShift = shift
  }

  /** Moves every entry of shard 0 to its shard, into new Maps; from then on keys are spread. */
  private spreadOut(): void {
    const all = this.shards[0]!
    const lists: Key[][] = []
    for (let i = 0; i < KEY_MAP_SHARDS; i++) {
      this.shards[i] = new Map()
      lists.push((this.lists[i] = []))
    }
    for (const [k, v] of all) {
      const i = shardOf(k)
      this.shards[i]!.set(k, v)
      lists[i]!.push(k)
    }
    this.counts = undefined
  }

  get size(): number {
    let n = 0
    for (const s of this.shards) n += s.size
    return n
  }

  /** Every entry, shard by shard (insertion order within a shard). */
  *[Symbol.iterator](): IterableIterator<[Key, unknown]> {
    for (const s of this.shards) yield* s
  }

  *keys(): IterableIterator<Key> {
    for (const s of this.shards) yield* s.keys()
  }

  *values(): IterableIterator<unknown> {
    for (const s of this.shards) yield* s.values()
  }
}

// The map behind a keyed store: split into shards so that growing never stalls the task.

import { hashKey } from '../core/key-group.ts'
import type { Key } from '../core/record.ts'

/** Number of shards: a power of two. At a million keys each holds about 31 000. */
export const KEY_MAP_SHARDS = 32
/** Shift that keeps the top log2(KEY_MAP_SHARDS) bits of a 32-bit hash. */
const SHIFT = 32 - Math.log2(KEY_MAP_SHARDS)

/**
 * The shard of a key: for a string, a multiplicative hash of its length and of nine characters —
 * the last two and one at every eighth of its length (all of them up to seven characters), read
 * independently of each other, so it costs a few nanoseconds whatever the length; the part of ids,
 * addresses, paths and e-mails that varies is somewhere in there. For an integer its bits, for
 * anything else the full key hash, mixed the same way. It only spreads entries: nothing outside
 * this process depends on it, so it may change between versions.
 */
export function shardOf(key: Key): number {
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
  return Math.imul(h, 0x9e3779b1) >>> SHIFT
}

/**
 * A `Map` of keys to values, kept as {@link KEY_MAP_SHARDS} Maps by {@link shardOf}. A JavaScript
 * Map grows by rehashing every entry at once: at half a million keys one insert takes 60–120 ms,
 * at two million about four times that, a pause in processing that no checkpoint design can hide.
 * Split, a shard rehashes at most its own share (Flink's heap state table rehashes incrementally for
 * the same reason). Each shard keeps insertion order and counts its removals, so a checkpoint can
 * reuse what it encoded of a shard whose keys only grew (see `StateCapture.order`).
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
  /** The last key looked up and its shard: a read and a write of one key hash it once. */
  private lastKey: Key | undefined = undefined
  private lastShard = 0

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

  private shardIndex(key: Key): number {
    if (key === this.lastKey) return this.lastShard
    this.lastKey = key
    this.lastShard = shardOf(key)
    return this.lastShard
  }

  get(key: Key): unknown {
    return this.shards[this.shardIndex(key)]!.get(key)
  }

  has(key: Key): boolean {
    return this.shards[this.shardIndex(key)]!.has(key)
  }

  set(key: Key, value: unknown): this {
    const i = this.shardIndex(key)
    const m = this.shards[i]!
    const before = m.size
    m.set(key, value)
    if (m.size !== before) this.lists[i]?.push(key)
    return this
  }

  /** Removes `key`; true when it was there. */
  delete(key: Key): boolean {
    const i = this.shardIndex(key)
    if (!this.shards[i]!.delete(key)) return false
    this.removals[i]!++
    this.lists[i] = undefined
    return true
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

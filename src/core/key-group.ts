// Keys to key groups to tasks: the unit in which keyed state is stored, snapshotted and moved.

import type { Key } from './record.ts'

/** The default number of key groups, which is also the highest parallelism a keyed node can have. */
export const DEFAULT_MAX_PARALLELISM = 128

/**
 * A 32-bit hash of a key, stable across processes, threads and versions (it decides where state lives
 * in checkpoints, so it must never change). Integers that fit 32 bits are mixed directly (no string
 * is made: numeric keys are common and hot); other keys hash their text with FNV-1a over UTF-16 code
 * units. Both end with the same avalanche. `1` and `"1"` are different keys and may hash apart.
 */
export function hashKey(key: Key): number {
  let h: number
  if (typeof key === 'number' && (key | 0) === key) {
    h = Math.imul(key ^ 0x9e3779b9, 0x01000193)
  } else {
    const s = typeof key === 'string' ? key : String(key)
    h = 0x811c9dc5
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i)
      h = Math.imul(h, 0x01000193)
    }
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** The key group of a key: `hash(key) mod maxParallelism`. */
export function keyGroupOf(key: Key, maxParallelism: number): number {
  return hashKey(key) % maxParallelism
}

/**
 * The task that owns a key group, as Flink assigns them: contiguous ranges of key groups per task,
 * so rescaling moves whole ranges.
 */
export function taskOfKeyGroup(keyGroup: number, maxParallelism: number, parallelism: number): number {
  return Math.floor((keyGroup * parallelism) / maxParallelism)
}

/** The key groups `[start, end)` owned by task `index` of `parallelism`. */
export function keyGroupRange(index: number, maxParallelism: number, parallelism: number): [number, number] {
  const start = Math.ceil((index * maxParallelism) / parallelism)
  const end = Math.ceil(((index + 1) * maxParallelism) / parallelism)
  return [start, end]
}

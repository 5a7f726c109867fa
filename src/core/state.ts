// The keyed state API operators use: named stores scoped to the current key.

import type { Duration } from './duration.ts'

/** One value per key. */
export interface ValueState<T> {
  get(): T | undefined
  set(value: T): void
  clear(): void
}

/** A map per key (e.g. per-page visitor sets, per-window accumulators). */
export interface MapState<K, V> {
  get(mapKey: K): V | undefined
  set(mapKey: K, value: V): void
  has(mapKey: K): boolean
  delete(mapKey: K): void
  /** Entries in insertion order. Do not modify the state while iterating. */
  entries(): IterableIterator<[K, V]>
  keys(): IterableIterator<K>
  readonly size: number
  clear(): void
}

/** A list per key. `get()` returns the stored array: treat it as read-only. */
export interface ListState<T> {
  get(): readonly T[]
  add(value: T): void
  update(values: T[]): void
  clear(): void
}

/** A value per key folded with a reduce function (counters, sums, maxima). */
export interface ReducingState<T> {
  get(): T | undefined
  add(value: T): void
  clear(): void
}

/**
 * Options of a state store. `ttl`: a key's entry in this store is dropped when it has not been
 * written for this long (processing time) — the fraud use cases forget idle clients this way.
 */
export interface StateOptions {
  ttl?: Duration
}

/**
 * Named keyed stores of one node. Each call with the same name returns a handle on the same store;
 * handles read and write the entry of the current key (the record being processed, or the timer
 * firing). Values must be structured-cloneable: they are copied into checkpoints.
 */
export interface KeyedState {
  value<T>(name: string, options?: StateOptions): ValueState<T>
  map<K, V>(name: string, options?: StateOptions): MapState<K, V>
  list<T>(name: string, options?: StateOptions): ListState<T>
  reducing<T>(name: string, reduce: (a: T, b: T) => T, options?: StateOptions): ReducingState<T>
}

/**
 * A state value may have a method under this symbol that returns a copy of it as it is now, which
 * later changes to the value leave alone (for example a snapshot, or a view of append-only data).
 * Checkpoints call it, when present, instead of deep-copying a value the task is about to change.
 */
export const copyState: unique symbol = Symbol.for('squall.copyState')

/**
 * A checkpoint's copy of a state value built in two steps: what it needs is taken when the copy is
 * made (a view of append-only data), the value itself when the checkpoint writes it out. A
 * `copyState` method may return one; a capture hands out `build()`'s result, never the copy
 * itself. It costs an object and a closure, where a copy with a getter costs V8 about a microsecond
 * to make (an own accessor on each object), as much as copying a small value outright.
 */
export class DeferredCopy {
  constructor(readonly build: () => unknown) {}
}

/** A copy as a capture hands it out: a `DeferredCopy` built, anything else as it is. */
export function settledCopy(v: unknown): unknown {
  return v instanceof DeferredCopy ? v.build() : v
}

/**
 * A copy of a state value that later changes to the value leave alone: its own `copyState` copy
 * when it has one, else a deep copy (`structuredClone`); primitives are returned as they are.
 */
export function copyStateValue<V>(v: V): V {
  if (v === null || typeof v !== 'object') return v
  const own = (v as { [copyState]?: () => unknown })[copyState]
  return (typeof own === 'function' ? own.call(v) : structuredClone(v)) as V
}

// What a window operator folds records into and how it turns a fired window into output: an
// incremental aggregate, or buffered values for aggregates without `merge` and full-window functions.

import type { Aggregate } from '../operators.ts'
import type { Collector } from '../processor.ts'
import type { Key } from '../record.ts'
import type { Firing } from './triggers.ts'
import type { WindowFunction, WindowOutput, WindowResult } from './window.ts'

/** An accumulator algebra: every window operator folds with it; `merge` may change `a`, never `b`. */
export interface Fold<T, A> {
  create(): A
  add(acc: A, value: T): A
  merge(a: A, b: A): A
  /**
   * True when an accumulator stays small whatever the number of values folded into it (an
   * aggregate's own accumulator, not a buffer of values): hopping windows may then keep partial
   * merges of their slices to fire each window with a few merges instead of one per slice.
   */
  readonly incremental?: boolean
  /** One key's slice accumulators as bytes for checkpoints, and back (see `Aggregate.pack`). */
  readonly pack?: (accs: readonly A[]) => Uint8Array
  readonly unpack?: (bytes: Uint8Array) => A[]
}

/**
 * How a window operator folds values and emits a fired window. `emit` must not change `acc` (it
 * may be emitted again by a late firing) and sends its records through `out`.
 */
export interface WindowLogic<T, A> {
  readonly fold: Fold<T, A>
  emit(key: Key, start: number, end: number, firing: Firing, acc: A, out: Collector<unknown>): void
  /** Emits the window of `a` merged with `b` (`a` earlier) without changing either (optional). */
  emitMerged?(key: Key, start: number, end: number, firing: Firing, a: A, b: A, out: Collector<unknown>): void
}

/** Buffers values in arrays: for full-window functions and aggregates without `merge`. */
const bufferFold: Fold<unknown, unknown[]> = {
  create: () => [],
  add: (acc, v) => {
    acc.push(v)
    return acc
  },
  merge: (a, b) => {
    for (let i = 0; i < b.length; i++) a.push(b[i])
    return a
  },
}

function result<R>(key: Key, start: number, end: number, firing: Firing, value: R): WindowResult<R> {
  return { key, windowStart: start, windowEnd: end, value, firing }
}

/**
 * Window logic of an aggregate: incremental when it has `merge`; otherwise the window buffers its
 * values and folds them with `create/add` when it fires. Emits `WindowResult`s.
 */
export function aggregateLogic<T, A, R>(agg: Aggregate<T, A, R>): WindowLogic<T, unknown> {
  const merge = agg.merge
  if (merge !== undefined) {
    const fold: Fold<T, A> = {
      create: () => agg.create(),
      add: (a, v) => agg.add(a, v),
      merge: (a, b) => merge(a, b),
      incremental: agg.growing !== true,
      ...(agg.pack === undefined || agg.unpack === undefined
        ? {}
        : {
            pack: (accs: readonly A[]) => agg.pack!(accs),
            unpack: (bytes: Uint8Array) => agg.unpack!(bytes),
          }),
    }
    const mergedResult = agg.mergedResult
    return {
      fold: fold as Fold<T, unknown>,
      emit: (key, start, end, firing, acc, out) => {
        out.emitRecord({
          value: result(key, start, end, firing, agg.result(acc as A)),
          key,
          time: end - 1,
          tag: '',
        })
      },
      ...(mergedResult === undefined
        ? {}
        : {
            emitMerged: (key, start, end, firing, a, b, out) => {
              out.emitRecord({
                value: result(key, start, end, firing, mergedResult(a as A, b as A)),
                key,
                time: end - 1,
                tag: '',
              })
            },
          }),
    }
  }
  return {
    fold: bufferFold as Fold<T, unknown>,
    emit: (key, start, end, firing, acc, out) => {
      const values = acc as T[]
      let a = agg.create()
      for (let i = 0; i < values.length; i++) a = agg.add(a, values[i]!)
      out.emitRecord({ value: result(key, start, end, firing, agg.result(a)), key, time: end - 1, tag: '' })
    },
  }
}

/** Window logic of a full-window function: buffers values, calls `fn` with all of them on firing. */
export function processLogic<T, O>(fn: WindowFunction<T, O>): WindowLogic<T, unknown> {
  return {
    fold: bufferFold as Fold<T, unknown>,
    emit: (key, start, end, firing, acc, out) => {
      const output: WindowOutput<O> = {
        emit: (value) => out.emitRecord({ value, key, time: end - 1, tag: '' }),
      }
      fn(key, { start, end, firing }, acc as T[], output)
    },
  }
}

// Built-in incremental aggregates for windows and rolling aggregates: count, sum, min, max, avg,
// first, last, exact distinct count and collect — each with `merge`, so slices and sessions combine.

import type { Aggregate } from '../operators.ts'

/** Reads the field an aggregate folds from a value. */
export type Extract<T, F> = (value: T) => F

/** `{ sum, count }`: the accumulator of `avg`. */
export interface AvgAcc {
  sum: number
  count: number
}

/** The accumulator of `first` and `last`: `null` until a value was added. */
export type Holder<F> = { v: F } | null

/**
 * The built-in aggregates. Every one implements `create/add/merge/result`; accumulators are plain
 * numbers, objects, arrays or Sets (structured-cloneable, so they are checkpointed as they are).
 * `merge(a, b)` may change and return `a` and never changes `b`. Order-sensitive aggregates
 * (`first`, `last`, `collect`) follow the order values are added and merged in: for windows, event
 * time slice by slice, arrival order within a slice.
 */
export const Aggregates = {
  /** The number of values. */
  count<T>(): Aggregate<T, number, number> {
    return { create: () => 0, add: (acc) => acc + 1, merge: (a, b) => a + b, result: (acc) => acc }
  },

  /** The sum of `fn(value)`. */
  sum<T>(fn: Extract<T, number>): Aggregate<T, number, number> {
    return { create: () => 0, add: (acc, v) => acc + fn(v), merge: (a, b) => a + b, result: (acc) => acc }
  },

  /** The smallest `fn(value)` (`Infinity` for no value). */
  min<T>(fn: Extract<T, number>): Aggregate<T, number, number> {
    return {
      create: () => Number.POSITIVE_INFINITY,
      add: (acc, v) => {
        const x = fn(v)
        return Math.min(x, acc)
      },
      merge: (a, b) => Math.min(b, a),
      result: (acc) => acc,
    }
  },

  /** The largest `fn(value)` (`-Infinity` for no value). */
  max<T>(fn: Extract<T, number>): Aggregate<T, number, number> {
    return {
      create: () => Number.NEGATIVE_INFINITY,
      add: (acc, v) => {
        const x = fn(v)
        return Math.max(x, acc)
      },
      merge: (a, b) => Math.max(b, a),
      result: (acc) => acc,
    }
  },

  /** The mean of `fn(value)` (`NaN` for no value). */
  avg<T>(fn: Extract<T, number>): Aggregate<T, AvgAcc, number> {
    return {
      create: () => ({ sum: 0, count: 0 }),
      add: (acc, v) => {
        acc.sum += fn(v)
        acc.count++
        return acc
      },
      merge: (a, b) => {
        a.sum += b.sum
        a.count += b.count
        return a
      },
      result: (acc) => (acc.count === 0 ? Number.NaN : acc.sum / acc.count),
    }
  },

  /** `fn(value)` of the first value (`undefined` for no value). */
  first<T, F = T>(fn: Extract<T, F> = (v) => v as unknown as F): Aggregate<T, Holder<F>, F | undefined> {
    return {
      create: () => null,
      add: (acc, v) => (acc === null ? { v: fn(v) } : acc),
      merge: (a, b) => (a === null ? (b === null ? null : { v: b.v }) : a),
      result: (acc) => acc?.v,
    }
  },

  /** `fn(value)` of the last value (`undefined` for no value). */
  last<T, F = T>(fn: Extract<T, F> = (v) => v as unknown as F): Aggregate<T, Holder<F>, F | undefined> {
    return {
      create: () => null,
      add: (acc, v) => {
        if (acc === null) return { v: fn(v) }
        acc.v = fn(v)
        return acc
      },
      merge: (a, b) => (b === null ? a : { v: b.v }),
      result: (acc) => acc?.v,
    }
  },

  /** The exact number of distinct `fn(value)`s (compared as Set members: primitives by value). */
  distinctCount<T, F = T>(fn: Extract<T, F> = (v) => v as unknown as F): Aggregate<T, Set<F>, number> {
    return {
      create: () => new Set<F>(),
      add: (acc, v) => acc.add(fn(v)),
      merge: (a, b) => {
        for (const x of b) a.add(x)
        return a
      },
      result: (acc) => acc.size,
      growing: true,
    }
  },

  /** Every `fn(value)` (the values themselves by default), as a new array. */
  collect<T, F = T>(fn: Extract<T, F> = (v) => v as unknown as F): Aggregate<T, F[], F[]> {
    return {
      create: () => [],
      add: (acc, v) => {
        acc.push(fn(v))
        return acc
      },
      merge: (a, b) => {
        for (const x of b) a.push(x)
        return a
      },
      result: (acc) => acc.slice(),
      growing: true,
    }
  },
}

// The built-in operators, each a short Processor.

import type { Processor, ProcessorContext } from './processor.ts'
import type { Key, Record } from './record.ts'
import type { ValueState } from './state.ts'

/** A user function over a record's value; the record is passed too, for its key, time and tag. */
export type ValueFn<I, O> = (value: I, record: Record<I>) => O

/**
 * An incremental aggregate, as in Flink: `create` an empty accumulator, `add` a value to it,
 * `merge` two accumulators (sessions, partitions), and `result` to read it. Accumulators must be
 * structured-cloneable (they are checkpointed). `add` may return a new accumulator or mutate and
 * return the one given.
 */
export interface Aggregate<I, A, R> {
  create(): A
  add(acc: A, value: I): A
  merge?(a: A, b: A): A
  result(acc: A): R
  /**
   * `result(merge(copy of a, b))` without building the merge (optional): windows firing from
   * partial merges of their slices call it when it is cheaper, e.g. a distinct count of two sets.
   * Must give exactly what the merge would.
   */
  mergedResult?(a: A, b: A): R
  /**
   * True when the accumulator grows with the values (a list, an exact set). Hopping windows then
   * merge their slices anew at each firing instead of keeping partial merges, which would hold
   * several copies of the values.
   */
  readonly growing?: boolean
  /**
   * The accumulators of one key's window slices as one block of bytes, for checkpoints (optional,
   * with `unpack`). Without it each accumulator is written as an object; an aggregate with many
   * small accumulators of typed arrays (a distinct count per page and minute) is written faster and
   * smaller as one block per key. Must not change the accumulators.
   */
  pack?(accs: readonly A[]): Uint8Array
  /** The accumulators `pack` wrote, in order; throws a `SquallError` on bytes it cannot read. */
  unpack?(bytes: Uint8Array): A[]
}

export function mapProcessor<I, O>(fn: ValueFn<I, O>): Processor<I, O> {
  return { process: (r, out) => out.emit(fn(r.value, r)) }
}

export function filterProcessor<I>(fn: ValueFn<I, boolean>): Processor<I, I> {
  return {
    process: (r, out) => {
      if (fn(r.value, r)) out.emitRecord(r)
    },
  }
}

export function flatMapProcessor<I, O>(fn: ValueFn<I, Iterable<O>>): Processor<I, O> {
  return {
    process: (r, out) => {
      for (const v of fn(r.value, r)) out.emit(v)
    },
  }
}

/** Passes records through unchanged (union, explicit exchanges). */
export function identityProcessor<T>(): Processor<T, T> {
  return { process: (r, out) => out.emitRecord(r) }
}

/** Rolling aggregate per key: folds each record into the key's accumulator and emits the new result. */
export function aggregateProcessor<I, A, R>(agg: Aggregate<I, A, R>): Processor<I, R> {
  let acc!: ValueState<A>
  return {
    open(ctx: ProcessorContext) {
      acc = ctx.state.value<A>('acc')
    },
    process(r, out) {
      const old = acc.get()
      const next = agg.add(old === undefined ? agg.create() : old, r.value)
      acc.set(next)
      out.emit(agg.result(next))
    },
  }
}

/** Rolling reduce per key: emits the reduced value after each record. */
export function reduceProcessor<T>(fn: (a: T, b: T) => T): Processor<T, T> {
  let acc!: ValueState<T>
  return {
    open(ctx) {
      acc = ctx.state.value<T>('acc')
    },
    process(r, out) {
      const old = acc.get()
      const next = old === undefined ? r.value : fn(old, r.value)
      acc.set(next)
      out.emit(next)
    },
  }
}

/** Rolling count per key: emits `{ key, count }` after each record. */
export function countProcessor<T>(): Processor<T, { key: Key; count: number }> {
  let counts!: ValueState<number>
  return {
    open(ctx) {
      counts = ctx.state.value<number>('count')
    },
    process(r, out) {
      const c = (counts.get() ?? 0) + 1
      counts.set(c)
      out.emit({ key: r.key as Key, count: c })
    },
  }
}

// The windowed stream DSL: `keyed.window(assigner).withEarlyFirings(trigger).aggregate(name, agg)`.

import { check } from '../errors.ts'
import type { Aggregate } from '../operators.ts'
import type { Processor } from '../processor.ts'
import { Stream } from '../stream.ts'
import type { InputSpec, NodeOptions, Topology } from '../topology.ts'
import { Aggregates } from './aggregates.ts'
import { SessionWindows, SlicedWindows, type WindowAssigner } from './assigners.ts'
import { SessionWindowOperator } from './session-operator.ts'
import { SlicedWindowOperator } from './sliced-operator.ts'
import { Trigger } from './triggers.ts'
import type { WindowFunction, WindowResult } from './window.ts'
import { type WindowLogic, aggregateLogic, processLogic } from './window-logic.ts'

/** Creates the processor of a window node: sliced windows or sessions, with the given logic. */
export function windowProcessor<T>(
  assigner: WindowAssigner,
  logic: WindowLogic<T, unknown>,
  triggers: readonly Trigger[],
): Processor<T, unknown> {
  if (assigner instanceof SessionWindows)
    return new SessionWindowOperator<T, unknown>(assigner, logic, triggers)
  if (assigner instanceof SlicedWindows)
    return new SlicedWindowOperator<T, unknown>(assigner, logic, triggers)
  throw new TypeError(`unknown window assigner ${String(assigner)}`)
}

/**
 * A keyed stream cut into windows, waiting for what to compute per window. Immutable: each method
 * returns a new WindowedStream or adds the window node and returns its output stream. The node is
 * keyed and named: its name keys its window state and timers in checkpoints. Records that arrive
 * after their windows closed (watermark past end + grace) leave through the node's `late` side
 * output: `result.lateData()`.
 */
export class WindowedStream<T> {
  constructor(
    readonly topology: Topology,
    /** The keyed inputs of the window node. */
    readonly inputs: readonly InputSpec[],
    readonly assigner: WindowAssigner,
    readonly triggers: readonly Trigger[] = [],
  ) {}

  /**
   * Adds an early-firing trigger (`Trigger.every('10s')` in processing time, or
   * `Trigger.everyRecords(n)`); at most one of each kind, a later one replaces an earlier one.
   */
  withEarlyFirings(trigger: Trigger): WindowedStream<T> {
    check(
      trigger instanceof Trigger,
      'withEarlyFirings(trigger)',
      'a Trigger such as Trigger.every("10s")',
      trigger,
    )
    const rest = this.triggers.filter((t) => t.kind !== trigger.kind)
    return new WindowedStream<T>(this.topology, this.inputs, this.assigner, [...rest, trigger])
  }

  /** Folds each window with `agg` and emits `{ key, windowStart, windowEnd, value, firing }`. */
  aggregate<A, R>(name: string, agg: Aggregate<T, A, R>, options: NodeOptions = {}): Stream<WindowResult<R>> {
    check(
      agg !== null &&
        typeof agg === 'object' &&
        typeof agg.create === 'function' &&
        typeof agg.add === 'function',
      'aggregate(agg)',
      'an Aggregate with create, add and result',
      agg,
    )
    return this.node(name, aggregateLogic(agg), options)
  }

  /** The number of records per window. */
  count(name: string, options: NodeOptions = {}): Stream<WindowResult<number>> {
    return this.aggregate(name, Aggregates.count<T>(), options)
  }

  /** Reduces each window's values with `fn` (which must not change its arguments). */
  reduce(name: string, fn: (a: T, b: T) => T, options: NodeOptions = {}): Stream<WindowResult<T>> {
    check(typeof fn === 'function', 'reduce(fn)', 'a function', fn)
    type Acc = { v: T } | null
    const agg: Aggregate<T, Acc, T> = {
      create: () => null,
      add: (acc, v) => (acc === null ? { v } : { v: fn(acc.v, v) }),
      merge: (a, b) => (a === null ? b : b === null ? a : { v: fn(a.v, b.v) }),
      result: (acc) => acc!.v,
    }
    return this.aggregate(name, agg, options)
  }

  /**
   * A full-window function: `fn(key, { start, end, firing }, values, out)` runs when the window
   * fires, with every value of the window buffered; what it emits gets time `end − 1`.
   */
  process<O>(name: string, fn: WindowFunction<T, O>, options: NodeOptions = {}): Stream<O> {
    check(typeof fn === 'function', 'process(fn)', 'a function (key, window, values, out) => void', fn)
    return this.node(name, processLogic(fn), options)
  }

  private node<O>(name: string, logic: WindowLogic<T, unknown>, options: NodeOptions): Stream<O> {
    check(
      typeof name === 'string' && name.length > 0,
      'window node name',
      'a name (it keys the window state)',
      name,
    )
    const { assigner, triggers } = this
    this.topology.addProcessor<T, unknown>(
      name,
      () => windowProcessor<T>(assigner, logic, triggers),
      [...this.inputs],
      {
        ...options,
        keyed: true,
      },
    )
    return new Stream<O>(this.topology, name)
  }
}

// The fluent Stream DSL that builds a Topology: map, filter, keyBy, reduce, process, sink, …

import { check } from './errors.ts'
import {
  type Aggregate,
  type ValueFn,
  aggregateProcessor,
  countProcessor,
  filterProcessor,
  flatMapProcessor,
  identityProcessor,
  mapProcessor,
  reduceProcessor,
} from './operators.ts'
import type { ProcessorFactory } from './processor.ts'
import type { Key, Record } from './record.ts'
import type { SinkSpec } from './source.ts'
import type { Exchange, InputSpec, NodeOptions, Topology } from './topology.ts'
import { type ValueStep, filterStep } from './value-step.ts'
import { IntervalJoinBuilder } from './join/interval-join.ts'
import { WindowJoin } from './join/window-join.ts'
import type { WindowAssigner } from './window/assigners.ts'
import { WindowedStream } from './window/windowed-stream.ts'

/** Options of a stateless operator: an optional name, parallelism and error policy. */
export interface OperatorOptions extends NodeOptions {
  name?: string
}

/**
 * A stream of records of type T: the output of one node (or one of its side outputs), plus the
 * exchange the next node will read it through. Every method adds a node to the topology and
 * returns the new stream; streams are immutable handles and can be consumed more than once
 * (each consumer receives every record).
 */
export class Stream<T> {
  constructor(
    readonly topology: Topology,
    /** The node whose output this stream is. */
    readonly nodeName: string,
    readonly sideOutputName?: string,
    protected readonly exchange?: Exchange,
  ) {}

  protected input(): InputSpec {
    return {
      from: this.nodeName,
      ...(this.exchange ? { exchange: this.exchange } : {}),
      ...(this.sideOutputName ? { sideOutput: this.sideOutputName } : {}),
    }
  }

  /** Adds an operator reading this stream; `keyed` operators require a keyed input. */
  protected add<O>(
    kind: string,
    factory: ProcessorFactory<T, O>,
    options: OperatorOptions = {},
    keyed = false,
    extraInputs: InputSpec[] = [],
    calc?: ValueStep,
  ): Stream<O> {
    const name = options.name ?? this.topology.generateName(kind)
    this.topology.addProcessor(name, factory, [this.input(), ...extraInputs], {
      ...options,
      keyed,
      ...(calc !== undefined ? { calc } : {}),
    })
    return new Stream<O>(this.topology, name)
  }

  /**
   * One output value per input value. A `fn` of the value alone (not reading the record) may run
   * in the task of the source it follows (see "Fused steps" in docs/concepts.md).
   */
  map<O>(fn: ValueFn<T, O>, options?: OperatorOptions): Stream<O> {
    check(typeof fn === 'function', 'map(fn)', 'a function', fn)
    // A function of the value alone is its own step (a map never drops).
    const calc = fn.length < 2 ? (fn as ValueStep) : undefined
    return this.add('map', () => mapProcessor(fn), options, false, [], calc)
  }

  /** Keeps the records for which `fn` returns true (fused as `map` is). */
  filter(fn: ValueFn<T, boolean>, options?: OperatorOptions): Stream<T> {
    check(typeof fn === 'function', 'filter(fn)', 'a function', fn)
    const calc = fn.length < 2 ? filterStep(fn as (value: unknown) => boolean) : undefined
    return this.add('filter', () => filterProcessor(fn), options, false, [], calc)
  }

  /** Zero or more output values per input value. */
  flatMap<O>(fn: ValueFn<T, Iterable<O>>, options?: OperatorOptions): Stream<O> {
    check(typeof fn === 'function', 'flatMap(fn)', 'a function', fn)
    return this.add('flatMap', () => flatMapProcessor(fn), options)
  }

  /**
   * Partitions the stream by key: each record goes to the task owning its key's key group, and
   * keyed operators after it keep state per key. `fn` must be deterministic.
   */
  keyBy(fn: (value: T, record: Record<T>) => Key): KeyedStream<T> {
    check(typeof fn === 'function', 'keyBy(fn)', 'a function returning a string, number or boolean', fn)
    return new KeyedStream<T>(this.topology, this.nodeName, this.sideOutputName, {
      type: 'key',
      key: fn as unknown as (value: never, record: never) => Key,
    })
  }

  /** Redistributes records round robin over the next node's tasks. */
  shuffle(): Stream<T> {
    return new Stream<T>(this.topology, this.nodeName, this.sideOutputName, { type: 'shuffle' })
  }

  /** Sends every record to every task of the next node. */
  broadcast(): Stream<T> {
    return new Stream<T>(this.topology, this.nodeName, this.sideOutputName, { type: 'broadcast' })
  }

  /** Sends every record to the first task of the next node (which then runs with parallelism 1). */
  global(): Stream<T> {
    return new Stream<T>(this.topology, this.nodeName, this.sideOutputName, { type: 'global' })
  }

  /** Merges streams of the same type into one. */
  union(...others: Stream<T>[]): Stream<T> {
    for (const o of others) {
      check(
        o instanceof Stream && o.topology === this.topology,
        'union(streams)',
        'streams of the same topology',
        o,
      )
    }
    return this.add(
      'union',
      () => identityProcessor<T>(),
      {},
      false,
      others.map((o) => o.input()),
    )
  }

  /**
   * A low-level operator (Storm's bolt). On a keyed stream it has keyed state and timers; `name` is
   * required because it keys the operator's state in checkpoints.
   */
  process<O>(name: string, factory: ProcessorFactory<T, O>, options: NodeOptions = {}): Stream<O> {
    check(typeof name === 'string', 'process(name)', 'a node name', name)
    check(typeof factory === 'function', 'process(factory)', 'a function returning a Processor', factory)
    return this.add('process', factory, { ...options, name }, this instanceof KeyedStream)
  }

  /** The named side output of the node that produced this stream (`late`, `dead-letter`, …). */
  sideOutput<S = unknown>(name: string): Stream<S> {
    return new Stream<S>(this.topology, this.nodeName, name)
  }

  /**
   * The records that arrived too late for this stream's node — a window or join past its grace —
   * with their original value, key and time (the node's `late` side output).
   */
  lateData<S = unknown>(): Stream<S> {
    return this.sideOutput<S>('late')
  }

  /** The records that failed in this stream's node under the `dead-letter` policy. */
  deadLetters(): Stream<DeadLetter<unknown>> {
    return this.sideOutput<DeadLetter<unknown>>('dead-letter')
  }

  /** Ends the stream in a sink. Returns the topology, for chaining more streams. */
  sink(spec: SinkSpec<T>, options: OperatorOptions = {}): Topology {
    const name = options.name ?? this.topology.generateName(spec.kind)
    this.topology.addSink(name, spec, [this.input()], options)
    return this.topology
  }
}

/** What the `dead-letter` side output carries: the failed record's value and coordinates, and why. */
export interface DeadLetter<T> {
  value: T
  node: string
  time: number
  tag: string
  key: Key | undefined
  error: string
}

/**
 * A stream partitioned by key. Its operators keep state per key (rolling reduce/aggregate, keyed
 * process with timers) and run with the key's record routed to the task owning its key group.
 */
export class KeyedStream<T> extends Stream<T> {
  /** Rolling reduce per key: emits the reduced value after every record. */
  reduce(name: string, fn: (a: T, b: T) => T, options: NodeOptions = {}): Stream<T> {
    check(typeof fn === 'function', 'reduce(fn)', 'a function', fn)
    return this.add('reduce', () => reduceProcessor(fn), { ...options, name }, true)
  }

  /** Rolling aggregate per key: emits the aggregate's result after every record. */
  aggregate<A, R>(name: string, agg: Aggregate<T, A, R>, options: NodeOptions = {}): Stream<R> {
    check(
      agg !== null && typeof agg === 'object' && typeof agg.add === 'function',
      'aggregate(agg)',
      'an Aggregate',
      agg,
    )
    return this.add('aggregate', () => aggregateProcessor(agg), { ...options, name }, true)
  }

  /** Rolling count per key: emits `{ key, count }` after every record. */
  count(name: string, options: NodeOptions = {}): Stream<{ key: Key; count: number }> {
    return this.add('count', () => countProcessor<T>(), { ...options, name }, true)
  }

  /**
   * Cuts the stream into event-time windows per key: `TumblingWindows.of('1m')`,
   * `HoppingWindows.of('1h', '5m')`, `SessionWindows.withGap('30m')`, `CumulatingWindows.of('1m', '1h')`.
   * Then choose what to compute: `.aggregate(name, Aggregates.count())`, `.count(name)`, `.process(name, fn)`.
   */
  window(assigner: WindowAssigner): WindowedStream<T> {
    check(
      assigner !== null && typeof assigner === 'object' && 'graceMs' in assigner,
      'window(assigner)',
      'a window assigner such as TumblingWindows.of("1m")',
      assigner,
    )
    return new WindowedStream<T>(this.topology, [this.input()], assigner)
  }

  /**
   * Joins this keyed stream with another on event time: `.between('-5s', '+10s')` pairs each record
   * of this stream (time a) with the other's records of the same key and a time in [a − 5s, a + 10s].
   */
  intervalJoin<U>(other: KeyedStream<U>): IntervalJoinBuilder<T, U> {
    check(
      other instanceof KeyedStream && other.topology === this.topology,
      'intervalJoin(other)',
      'a keyed stream of the same topology',
      other,
    )
    return new IntervalJoinBuilder<T, U>(this.topology, this.input(), other.input())
  }

  /** Pairs the records of both keyed streams that share a key and a window, when the window fires. */
  windowJoin<U>(other: KeyedStream<U>, assigner: WindowAssigner): WindowJoin<T, U> {
    check(
      other instanceof KeyedStream && other.topology === this.topology,
      'windowJoin(other)',
      'a keyed stream of the same topology',
      other,
    )
    check(
      assigner !== null && typeof assigner === 'object' && 'graceMs' in assigner,
      'windowJoin(assigner)',
      'a window assigner such as TumblingWindows.of("1m")',
      assigner,
    )
    return new WindowJoin<T, U>(this.topology, this.input(), other.input(), assigner)
  }
}

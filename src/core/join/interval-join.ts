// Interval join of two keyed streams on event time: a left record at time a meets every right
// record of the same key with a time in [a + lower, a + upper]; buffers are freed by the watermark.

import type { Duration } from '../duration.ts'
import { TopologyError, check, describeValue } from '../errors.ts'
import type { Collector, Processor, ProcessorContext, Timer, TimerService } from '../processor.ts'
import type { Record } from '../record.ts'
import type { ValueState } from '../state.ts'
import { Stream } from '../stream.ts'
import type { InputSpec, NodeOptions, Topology } from '../topology.ts'
import { signedMillis } from '../window/assigners.ts'
import { type Sided, sidedInput } from './sides.ts'

/** Where a join function sends its output; records get the later of the two times. */
export interface JoinOutput<O> {
  emit(value: O): void
}

/** A join function: called once per matching pair, left value first. */
export type JoinFunction<L, R, O> = (left: L, right: R, out: JoinOutput<O>) => void

/** The buffered records of one key: values by event time, per side. */
interface JoinBuffers {
  left: Map<number, unknown[]>
  right: Map<number, unknown[]>
}

/**
 * The interval join operator (Flink's IntervalJoinOperator). Each record is joined with the
 * buffered records of the other side within the bounds (both inclusive), then buffered itself
 * until the watermark proves no partner can come: left records until `time + max(upper, 0)`,
 * right records until `time + max(−lower, 0)`. A record at or before the watermark is late: it
 * goes to the `late` side output (its untagged value) and is counted in the metric `late`.
 * Pairs are emitted in the order the later record arrives; the other side in buffer order.
 */
export class IntervalJoinOperator<L, R, O> implements Processor<Sided<L | R>, O>, JoinOutput<O> {
  private state!: ValueState<JoinBuffers>
  private timers!: TimerService
  private ctx!: ProcessorContext
  private out!: Collector<O>
  private time = 0

  constructor(
    private readonly lower: number,
    private readonly upper: number,
    private readonly fn: JoinFunction<L, R, O>,
  ) {}

  open(ctx: ProcessorContext): void {
    this.ctx = ctx
    this.timers = ctx.timers
    this.state = ctx.state.value<JoinBuffers>('join')
  }

  emit(value: O): void {
    this.out.emitRecord({ value, key: this.ctx.currentKey, time: this.time, tag: '' })
  }

  process(r: Record<Sided<L | R>>, out: Collector<O>): void {
    const { s, v } = r.value
    const t = r.time
    if (t <= this.timers.currentWatermark()) {
      this.ctx.count('late')
      out.side('late', v)
      return
    }
    this.out = out
    const st = this.state.get() ?? { left: new Map(), right: new Map() }
    const { lower, upper, fn } = this
    if (s === 0) {
      for (const [tb, rights] of st.right) {
        if (tb < t + lower || tb > t + upper) continue
        this.time = Math.max(tb, t)
        for (const right of rights) fn(v as L, right as R, this)
      }
      push(st.left, t, v)
      this.timers.registerEventTimer(t + Math.max(upper, 0))
    } else {
      for (const [ta, lefts] of st.left) {
        if (t < ta + lower || t > ta + upper) continue
        this.time = Math.max(ta, t)
        for (const left of lefts) fn(left as L, v as R, this)
      }
      push(st.right, t, v)
      this.timers.registerEventTimer(t + (lower < 0 ? -lower : 0))
    }
    this.state.set(st)
  }

  onTimer(timer: Timer): void {
    const st = this.state.get()
    if (st === undefined) return
    const t = timer.time
    const keepLeft = upperOrZero(this.upper)
    const keepRight = upperOrZero(-this.lower)
    for (const ta of st.left.keys()) if (ta + keepLeft <= t) st.left.delete(ta)
    for (const tb of st.right.keys()) if (tb + keepRight <= t) st.right.delete(tb)
    if (st.left.size === 0 && st.right.size === 0) this.state.clear()
    else this.state.set(st)
  }
}

function upperOrZero(x: number): number {
  return Math.max(x, 0)
}

function push(m: Map<number, unknown[]>, t: number, v: unknown): void {
  const list = m.get(t)
  if (list === undefined) m.set(t, [v])
  else list.push(v)
}

/** `left.intervalJoin(right)`: waiting for the bounds. */
export class IntervalJoinBuilder<L, R> {
  constructor(
    private readonly topology: Topology,
    private readonly left: InputSpec,
    private readonly right: InputSpec,
  ) {}

  /**
   * Joins a left record at time a with right records whose time is in `[a + lower, a + upper]`,
   * e.g. `between('-5s', '+10s')`. Throws ERR_JOIN_BOUNDS when `lower > upper`.
   */
  between(lower: Duration, upper: Duration): IntervalJoin<L, R> {
    const lo = signedMillis(lower, 'intervalJoin.between(lower)', 'ERR_JOIN_BOUNDS')
    const hi = signedMillis(upper, 'intervalJoin.between(upper)', 'ERR_JOIN_BOUNDS')
    if (lo > hi) {
      throw new TopologyError(
        'ERR_JOIN_BOUNDS',
        `intervalJoin.between(lower, upper): expected lower ≤ upper, got ${describeValue(lower)} > ${describeValue(upper)}`,
      )
    }
    return new IntervalJoin<L, R>(this.topology, this.left, this.right, lo, hi)
  }
}

/** An interval join with its bounds, waiting for what to emit per pair. */
export class IntervalJoin<L, R> {
  constructor(
    private readonly topology: Topology,
    private readonly left: InputSpec,
    private readonly right: InputSpec,
    readonly lowerMs: number,
    readonly upperMs: number,
  ) {}

  /**
   * Adds the join node `name` (keyed; its buffers and timers are checkpointed under that name);
   * `fn(left, right, out)` runs once per matching pair. Output records have the key of the pair
   * and the later of the two event times.
   */
  process<O>(name: string, fn: JoinFunction<L, R, O>, options: NodeOptions = {}): Stream<O> {
    check(
      typeof name === 'string' && name.length > 0,
      'intervalJoin node name',
      'a name (it keys the join state)',
      name,
    )
    check(typeof fn === 'function', 'intervalJoin.process(fn)', 'a function (left, right, out) => void', fn)
    const inputs = [
      sidedInput(this.topology, name, this.left, 0),
      sidedInput(this.topology, name, this.right, 1),
    ]
    const { lowerMs, upperMs } = this
    this.topology.addProcessor(name, () => new IntervalJoinOperator<L, R, O>(lowerMs, upperMs, fn), inputs, {
      ...options,
      keyed: true,
    })
    return new Stream<O>(this.topology, name)
  }

  /** One output value per matching pair. */
  map<O>(name: string, fn: (left: L, right: R) => O, options: NodeOptions = {}): Stream<O> {
    check(typeof fn === 'function', 'intervalJoin.map(fn)', 'a function (left, right) => value', fn)
    return this.process<O>(name, (l, r, out) => out.emit(fn(l, r)), options)
  }
}

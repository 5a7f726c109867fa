// Window join of two keyed streams: the records of both sides that share a key and a window are
// paired (cross product) when the window fires.

import { check } from '../errors.ts'
import type { Stream } from '../stream.ts'
import type { InputSpec, NodeOptions, Topology } from '../topology.ts'
import type { WindowAssigner } from '../window/assigners.ts'
import type { WindowInfo } from '../window/window.ts'
import { WindowedStream } from '../window/windowed-stream.ts'
import { type Sided, sidedInput } from './sides.ts'

/**
 * `left.windowJoin(right, assigner)`: waiting for the join function. As in Flink, a pair is
 * emitted for every left and right record of the same key in the same window, when the window
 * fires on time; output records get time `windowEnd − 1`. With a grace period, a late record
 * re-fires its window and every pair of it is emitted again (marked by `window.firing`).
 * Records past the grace leave through the node's `late` side output (tagged `{ s, v }`).
 */
export class WindowJoin<L, R> {
  constructor(
    private readonly topology: Topology,
    private readonly left: InputSpec,
    private readonly right: InputSpec,
    readonly assigner: WindowAssigner,
  ) {}

  /** Adds the join node `name`; `fn(left, right, window)` returns the value emitted for each pair. */
  apply<O>(
    name: string,
    fn: (left: L, right: R, window: WindowInfo) => O,
    options: NodeOptions = {},
  ): Stream<O> {
    check(
      typeof name === 'string' && name.length > 0,
      'windowJoin node name',
      'a name (it keys the join state)',
      name,
    )
    check(typeof fn === 'function', 'windowJoin.apply(fn)', 'a function (left, right) => value', fn)
    const inputs = [
      sidedInput(this.topology, name, this.left, 0),
      sidedInput(this.topology, name, this.right, 1),
    ]
    return new WindowedStream<Sided<L | R>>(this.topology, inputs, this.assigner).process<O>(
      name,
      (_key, window, values, out) => {
        const lefts: L[] = []
        const rights: R[] = []
        for (const x of values) {
          if (x.s === 0) lefts.push(x.v as L)
          else rights.push(x.v as R)
        }
        for (const l of lefts) for (const r of rights) out.emit(fn(l, r, window))
      },
      options,
    )
  }
}

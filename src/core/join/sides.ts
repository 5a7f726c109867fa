// Two-input joins: each side is tagged with its side (0 = left, 1 = right) before the keyed
// exchange into the join node, so one processor can tell which input a record came from.

import type { Key, Record } from '../record.ts'
import type { InputSpec, Topology } from '../topology.ts'
import { mapProcessor } from '../operators.ts'

/** A value tagged with the join side it came from. */
export interface Sided<V> {
  readonly s: 0 | 1
  readonly v: V
}

/**
 * Adds the node `<join>.left` or `<join>.right` that tags the values of `input`, and returns the
 * keyed input of the join node reading it. The key is computed with the side's own key selector,
 * on the untagged value, so both sides meet in the same key group as they would unjoined.
 */
export function sidedInput(topology: Topology, joinName: string, input: InputSpec, side: 0 | 1): InputSpec {
  const exchange = input.exchange
  if (exchange?.type !== 'key') throw new TypeError(`join "${joinName}": side ${side} is not keyed`)
  const keyOf = exchange.key as unknown as (value: unknown, record: Record) => Key
  const name = `${joinName}.${side === 0 ? 'left' : 'right'}`
  // The tagging node runs beside its input (a forward exchange, same parallelism), so each key's
  // records keep their order on the way to the join: a round-robin hop here would reorder them.
  topology.addProcessor(
    name,
    () => mapProcessor<unknown, Sided<unknown>>((v) => ({ s: side, v })),
    [{ from: input.from, ...(input.sideOutput ? { sideOutput: input.sideOutput } : {}) }],
    { followsInput: true },
  )
  const key = (w: Sided<unknown>, r: Record<Sided<unknown>>): Key =>
    keyOf(w.v, { value: w.v, key: r.key, time: r.time, tag: r.tag })
  return {
    from: name,
    exchange: { type: 'key', key: key as unknown as (value: never, record: never) => Key },
  }
}

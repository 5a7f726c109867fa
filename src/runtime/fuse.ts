// Operator fusion: stateless steps run in the task of the source they read, as Flink chains a
// Calc into its source task.

import type { NodeSpec } from '../core/topology.ts'

/** What fusion needs of a node: its spec and its resolved parallelism. */
export interface FusableNode {
  readonly spec: NodeSpec
  readonly parallelism: number
}

/**
 * Fuses operators that declare a `calc` (SQL filters and projections) into the source they read:
 * the operator must be unkeyed, fail on errors, read the main output of a source over a forward
 * (or default) exchange at the same parallelism, and be that source's only reader; nothing may
 * read its side outputs. Its step then runs in the source task, after event time is assigned, so
 * the watermark is that of every record read. Repeats along a chain (a filter, then a projection).
 *
 * Returns the nodes in the same order without the fused operators. A fused source gets a copy of
 * its spec listing them in `fused` (name and step, in order); the readers of a
 * fused operator get copies reading the source instead. The topology itself is not modified, and
 * checkpoints are unaffected: every remaining node keeps its name, and fused operators held no state.
 */
export function fuseIntoSources<N extends FusableNode>(
  nodes: readonly N[],
  copy: (node: N, spec: NodeSpec) => N,
): N[] {
  let list = [...nodes]
  for (;;) {
    const at = list.findIndex((op) => fusable(op, list))
    if (at < 0) return list
    const op = list[at]!
    const from = op.spec.inputs[0]!.from
    const step = { name: op.spec.name, calc: op.spec.calc! }
    list = list
      .filter((n) => n !== op)
      .map((n) => {
        if (n.spec.name === from) {
          return copy(n, { ...n.spec, fused: [...(n.spec.fused ?? []), step] })
        }
        if (!n.spec.inputs.some((i) => i.from === op.spec.name)) return n
        const inputs = n.spec.inputs.map((i) => (i.from === op.spec.name ? { ...i, from } : i))
        return copy(n, { ...n.spec, inputs })
      })
  }
}

function fusable(op: FusableNode, nodes: readonly FusableNode[]): boolean {
  const s = op.spec
  if (s.kind !== 'operator' || s.calc === undefined || s.keyed || s.onError !== 'fail') return false
  if (s.inputs.length !== 1) return false
  const input = s.inputs[0]!
  if (input.sideOutput !== undefined) return false
  if (input.exchange !== undefined && input.exchange.type !== 'forward') return false
  const src = nodes.find((n) => n.spec.name === input.from)
  if (src === undefined || src.spec.kind !== 'source' || src.parallelism !== op.parallelism) return false
  for (const n of nodes) {
    for (const i of n.spec.inputs) {
      if (i.from === src.spec.name && n !== op) return false
      if (i.from === s.name && i.sideOutput !== undefined) return false
    }
  }
  return true
}

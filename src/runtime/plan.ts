// The execution plan: a validated topology expanded into parallel tasks, channels and threads.

import { SquallError } from '../core/errors.ts'
import type { Topology, NodeSpec } from '../core/topology.ts'
import { fuseIntoSources } from './fuse.ts'

/** How one edge routes records, after defaults are resolved. */
export type ExchangeType = 'forward' | 'shuffle' | 'key' | 'broadcast' | 'global'

/** One edge of the plan: from a node's (side) output to one input of another node. */
export interface EdgePlan {
  readonly from: NodePlan
  readonly to: NodePlan
  readonly type: ExchangeType
  readonly sideOutput: string | undefined
  /** For `key` edges: the key selector. */
  readonly key: ((value: unknown, record: unknown) => unknown) | undefined
  /** Index of this edge's first channel in each target task's channel list. */
  channelBase: number
}

/** A node with its resolved parallelism and edges. */
export interface NodePlan {
  readonly spec: NodeSpec
  readonly parallelism: number
  readonly inputs: EdgePlan[]
  readonly outputs: EdgePlan[]
  /** Global id of this node's first task; task i has id `firstTaskId + i`. */
  firstTaskId: number
}

/** The whole plan: nodes in topological order, task count, and the thread of every task. */
export interface ExecutionPlan {
  readonly topology: Topology
  readonly nodes: NodePlan[]
  readonly taskCount: number
  readonly threads: number
  readonly maxParallelism: number
  threadOf(taskId: number): number
}

/**
 * Expands a topology. Each node runs `parallelism` tasks (its own setting, else `defaultParallelism`,
 * capped by what its source or sink allows, and 1 after a `global` exchange). An edge without an
 * explicit exchange is `forward` when both sides have the same parallelism, `shuffle` otherwise.
 * Task i of every node runs on thread `i mod threads`, so forward edges never cross threads.
 * Stateless SQL steps run in the task of the source they read (`fuseIntoSources`).
 */
export function planTopology(topology: Topology, defaultParallelism: number, threads: number): ExecutionPlan {
  const order = topology.validate()
  const byName = new Map<string, NodePlan>()
  const planned: NodePlan[] = []
  for (const spec of order) {
    let p = spec.parallelism ?? defaultParallelism
    if (spec.followsInput) p = byName.get(spec.inputs[0]!.from)?.parallelism ?? p
    if (spec.source?.maxPartitions !== undefined) p = Math.min(p, spec.source.maxPartitions)
    if (spec.sink?.maxParallelism !== undefined) p = Math.min(p, spec.sink.maxParallelism)
    if (spec.inputs.some((i) => i.exchange?.type === 'global')) p = 1
    if (spec.keyed) p = Math.min(p, topology.maxParallelism)
    const plan: NodePlan = { spec, parallelism: p, inputs: [], outputs: [], firstTaskId: 0 }
    planned.push(plan)
    byName.set(spec.name, plan)
  }
  const nodes = fuseIntoSources(planned, (n, spec) => ({ ...n, spec }))
  byName.clear()
  for (const n of nodes) byName.set(n.spec.name, n)
  let taskCount = 0
  for (const n of nodes) {
    n.firstTaskId = taskCount
    taskCount += n.parallelism
    let channels = 0
    for (const input of n.spec.inputs) {
      const from = byName.get(input.from)!
      let type: ExchangeType =
        input.exchange?.type ?? (from.parallelism === n.parallelism ? 'forward' : 'shuffle')
      if (type === 'forward' && from.parallelism !== n.parallelism) {
        if (input.exchange?.type === 'forward') {
          throw new SquallError(
            'ERR_ARGUMENT',
            `node "${n.spec.name}": a forward exchange needs equal parallelism, but "${from.spec.name}" has ${from.parallelism} and "${n.spec.name}" has ${n.parallelism}`,
            { where: { node: n.spec.name } },
          )
        }
        type = 'shuffle'
      }
      const edge: EdgePlan = {
        from,
        to: n,
        type,
        sideOutput: input.sideOutput,
        key:
          input.exchange?.type === 'key'
            ? (input.exchange.key as (v: unknown, r: unknown) => unknown)
            : undefined,
        channelBase: channels,
      }
      channels += type === 'forward' ? 1 : from.parallelism
      n.inputs.push(edge)
      from.outputs.push(edge)
    }
  }
  const t = Math.max(1, threads)
  const taskIndex = new Int32Array(taskCount)
  for (const n of nodes) for (let i = 0; i < n.parallelism; i++) taskIndex[n.firstTaskId + i] = i
  return {
    topology,
    nodes,
    taskCount,
    threads: t,
    maxParallelism: topology.maxParallelism,
    threadOf: (taskId) => taskIndex[taskId]! % t,
  }
}

/** Number of input channels of one task of `node` (the watermark is the minimum over them). */
export function channelCount(node: NodePlan, taskIndex: number): number {
  let n = 0
  for (const e of node.inputs) {
    if (e.type === 'forward') n += 1
    else if (e.type === 'global' && taskIndex !== 0) n += 0
    else n += e.from.parallelism
  }
  return n
}

/** The channel index, in a target task, of records arriving over `edge` from upstream task `from`. */
export function channelOf(edge: EdgePlan, fromIndex: number): number {
  return edge.type === 'forward' ? edge.channelBase : edge.channelBase + fromIndex
}

// A Topology: a named graph of source, operator and sink nodes, validated before it runs.

import { type ErrorCode, TopologyError, check } from './errors.ts'
import { DEFAULT_MAX_PARALLELISM } from './key-group.ts'
import type { ProcessorFactory } from './processor.ts'
import type { Key } from './record.ts'
import type { SinkSpec, SourceSpec } from './source.ts'
import { Stream } from './stream.ts'
import type { FusedStep, ValueStep } from './value-step.ts'
import type { WatermarkStrategy } from './watermark.ts'

/** What a node does with a record whose processing throws. */
export type ErrorPolicy = 'fail' | 'skip' | 'dead-letter'

/**
 * How records travel from one node to the next:
 * `forward` (task i to task i; needs equal parallelism), `shuffle` (round robin), `key` (by key
 * group), `broadcast` (to every task) and `global` (everything to task 0).
 */
export type Exchange =
  | { type: 'forward' }
  | { type: 'shuffle' }
  | { type: 'key'; key: (value: never, record: never) => Key }
  | { type: 'broadcast' }
  | { type: 'global' }

/** One input of a node: the node it reads, how records get there, and which output of it. */
export interface InputSpec {
  /** The upstream node's name. */
  from: string
  exchange?: Exchange
  /** Read this named side output of the upstream node instead of its main output. */
  sideOutput?: string
}

/** Options every node takes. */
export interface NodeOptions {
  /** Number of parallel tasks; defaults to the job's default parallelism (its thread count). */
  parallelism?: number
  /** What to do when processing a record throws; default `fail`. */
  onError?: ErrorPolicy
}

/** A node of the graph. Internal: users build nodes through `Stream` or the `add*` methods. */
export interface NodeSpec {
  readonly id: number
  readonly name: string
  readonly kind: 'source' | 'operator' | 'sink'
  readonly inputs: InputSpec[]
  readonly parallelism: number | undefined
  readonly onError: ErrorPolicy
  /** Operators only: needs keyed input (its state and timers are per key). */
  readonly keyed: boolean
  /**
   * Operators with one input only: run as many tasks as that input, joined by a forward exchange,
   * whatever the default parallelism (a join's tagging nodes, so each key keeps its order).
   */
  readonly followsInput?: boolean
  readonly processor?: ProcessorFactory<unknown, unknown>
  readonly source?: SourceSpec
  readonly sink?: SinkSpec
  /** Sources only: how event time and watermarks are derived. */
  readonly watermarks?: WatermarkStrategy<unknown>
  /**
   * Operators only: what the processor does, as a ValueStep (it must do nothing else: no state,
   * no timers, no side output), so that it may run in the task of the source it reads.
   */
  readonly calc?: ValueStep
  /**
   * Sources only, set by the runtime's plan: the operators fused into this source, in order, whose
   * steps its task runs on every record after event time is assigned.
   */
  readonly fused?: readonly FusedStep[]
}

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/

/**
 * A named graph of nodes. Build it with the fluent `Stream` API (`topology.source(...)` returns a
 * Stream) or node by node with `addSource` / `addProcessor` / `addSink`, Kafka Streams' Processor
 * API style. `validate()` (called by every runner) refuses a broken graph with an error naming
 * the node. A topology is a description: running it never changes it, and it can run many times.
 */
export class Topology {
  readonly name: string
  /** Number of key groups; the highest parallelism a keyed node may have. */
  maxParallelism: number = DEFAULT_MAX_PARALLELISM
  private readonly nodeList: NodeSpec[] = []
  private readonly generated = new Map<string, number>()

  constructor(name = 'job') {
    check(typeof name === 'string' && NAME.test(name), 'Topology name', 'letters, digits, _ . : -', name)
    this.name = name
  }

  /** All nodes in insertion order. */
  get nodes(): readonly NodeSpec[] {
    return this.nodeList
  }

  node(name: string): NodeSpec | undefined {
    return this.nodeList.find((n) => n.name === name)
  }

  /** Sets the number of key groups (default 128). */
  withMaxParallelism(n: number): this {
    check(Number.isInteger(n) && n >= 1 && n <= 32768, 'maxParallelism', 'an integer in 1..32768', n)
    this.maxParallelism = n
    return this
  }

  /** Adds a source and returns its stream. `name` keys its position in checkpoints. */
  source<T>(
    name: string,
    spec: SourceSpec<T>,
    options: NodeOptions & { watermarks?: WatermarkStrategy<T> } = {},
  ): Stream<T> {
    this.addSource(name, spec, options)
    return new Stream<T>(this, name)
  }

  /** Adds a source node. */
  addSource<T>(
    name: string,
    spec: SourceSpec<T>,
    options: NodeOptions & { watermarks?: WatermarkStrategy<T> } = {},
  ): this {
    check(
      spec !== null && typeof spec === 'object' && typeof spec.create === 'function',
      'source spec',
      'a SourceSpec',
      spec,
    )
    this.push({
      name,
      kind: 'source',
      inputs: [],
      options,
      keyed: false,
      source: spec as SourceSpec,
      ...(options.watermarks ? { watermarks: options.watermarks as WatermarkStrategy<unknown> } : {}),
    })
    return this
  }

  /** Adds an operator node reading `inputs` (names of earlier or later nodes). */
  addProcessor<I, O>(
    name: string,
    factory: ProcessorFactory<I, O>,
    inputs: InputSpec[],
    options: NodeOptions & { keyed?: boolean; followsInput?: boolean; calc?: ValueStep } = {},
  ): this {
    check(typeof factory === 'function', `processor "${name}"`, 'a function returning a Processor', factory)
    this.push({
      name,
      kind: 'operator',
      inputs,
      options,
      keyed: options.keyed ?? false,
      processor: factory as ProcessorFactory<unknown, unknown>,
      ...(options.followsInput ? { followsInput: true } : {}),
      ...(options.calc ? { calc: options.calc } : {}),
    })
    return this
  }

  /** Adds a sink node reading `inputs`. */
  addSink<T>(name: string, spec: SinkSpec<T>, inputs: InputSpec[], options: NodeOptions = {}): this {
    check(
      spec !== null && typeof spec === 'object' && typeof spec.create === 'function',
      'sink spec',
      'a SinkSpec',
      spec,
    )
    this.push({ name, kind: 'sink', inputs, options, keyed: false, sink: spec as SinkSpec })
    return this
  }

  /** A unique generated name such as `map-3`, for stateless nodes the user did not name. */
  generateName(kind: string): string {
    let n = this.generated.get(kind) ?? 0
    let name: string
    do {
      n++
      name = `${kind}-${n}`
    } while (this.node(name))
    this.generated.set(kind, n)
    return name
  }

  private push(n: {
    name: string
    kind: NodeSpec['kind']
    inputs: InputSpec[]
    options: NodeOptions
    keyed: boolean
    processor?: ProcessorFactory<unknown, unknown>
    source?: SourceSpec
    sink?: SinkSpec
    watermarks?: WatermarkStrategy<unknown>
    followsInput?: boolean
    calc?: ValueStep
  }): void {
    check(typeof n.name === 'string' && NAME.test(n.name), 'node name', 'letters, digits, _ . : -', n.name)
    if (this.node(n.name)) {
      throw new TopologyError(
        'ERR_TOPOLOGY_DUPLICATE_NAME',
        `topology "${this.name}": two nodes are named "${n.name}"; names key state in checkpoints and must be unique`,
        { where: { job: this.name, node: n.name } },
      )
    }
    const p = n.options.parallelism
    if (p !== undefined) {
      check(Number.isInteger(p) && p >= 1, `node "${n.name}".parallelism`, 'an integer ≥ 1', p)
    }
    const onError = n.options.onError ?? 'fail'
    check(
      ['fail', 'skip', 'dead-letter'].includes(onError),
      `node "${n.name}".onError`,
      '"fail", "skip" or "dead-letter"',
      onError,
    )
    this.nodeList.push({
      id: this.nodeList.length,
      name: n.name,
      kind: n.kind,
      inputs: n.inputs,
      parallelism: p,
      onError,
      keyed: n.keyed,
      ...(n.processor ? { processor: n.processor } : {}),
      ...(n.source ? { source: n.source } : {}),
      ...(n.sink ? { sink: n.sink } : {}),
      ...(n.watermarks ? { watermarks: n.watermarks } : {}),
      ...(n.followsInput && n.inputs.length === 1 ? { followsInput: true } : {}),
      ...(n.calc ? { calc: n.calc } : {}),
    })
  }

  /**
   * Checks the graph: at least one source and one sink, every input names a node of this topology,
   * no cycle, keyed operators read keyed exchanges, parallelism within `maxParallelism`.
   * Throws a TopologyError naming the first bad node. Returns the nodes in topological order.
   */
  validate(): NodeSpec[] {
    const fail = (code: ErrorCode, node: string, message: string): never => {
      throw new TopologyError(code, `topology "${this.name}": ${message}`, {
        where: { job: this.name, node },
      })
    }
    if (!this.nodeList.some((n) => n.kind === 'source')) fail('ERR_TOPOLOGY_EMPTY', '', 'it has no source')
    if (!this.nodeList.some((n) => n.kind === 'sink')) {
      fail('ERR_TOPOLOGY_EMPTY', '', 'it has no sink; end each stream with .sink(...) (or .print())')
    }
    const byName = new Map(this.nodeList.map((n) => [n.name, n]))
    for (const n of this.nodeList) {
      if (n.kind !== 'source' && n.inputs.length === 0)
        fail('ERR_TOPOLOGY_UNKNOWN_INPUT', n.name, `node "${n.name}" has no input`)
      for (const input of n.inputs) {
        if (!byName.has(input.from)) {
          fail(
            'ERR_TOPOLOGY_UNKNOWN_INPUT',
            n.name,
            `node "${n.name}" reads from "${input.from}", which is not a node of this topology`,
          )
        }
        if (byName.get(input.from)!.kind === 'sink') {
          fail(
            'ERR_TOPOLOGY_UNKNOWN_INPUT',
            n.name,
            `node "${n.name}" reads from sink "${input.from}"; sinks have no output`,
          )
        }
      }
      if (n.keyed && n.inputs.some((i) => i.exchange?.type !== 'key')) {
        fail(
          'ERR_TOPOLOGY_NOT_KEYED',
          n.name,
          `node "${n.name}" keeps keyed state but its input is not keyed; add .keyBy(...) before it`,
        )
      }
      const p = n.parallelism
      if (p !== undefined && n.keyed && p > this.maxParallelism) {
        fail(
          'ERR_ARGUMENT',
          n.name,
          `node "${n.name}" has parallelism ${p}, above maxParallelism ${this.maxParallelism}`,
        )
      }
    }
    // Kahn's algorithm; whatever is left over sits on a cycle.
    const indegree = new Map<string, number>()
    const children = new Map<string, string[]>()
    for (const n of this.nodeList) {
      indegree.set(n.name, n.inputs.length)
      for (const i of n.inputs) {
        const list = children.get(i.from) ?? []
        list.push(n.name)
        children.set(i.from, list)
      }
    }
    const order: NodeSpec[] = []
    const ready = this.nodeList.filter((n) => n.inputs.length === 0).map((n) => n.name)
    while (ready.length > 0) {
      const name = ready.shift()!
      order.push(byName.get(name)!)
      for (const c of children.get(name) ?? []) {
        const d = indegree.get(c)! - 1
        indegree.set(c, d)
        if (d === 0) ready.push(c)
      }
    }
    if (order.length !== this.nodeList.length) {
      // Peel off nodes downstream of the cycle: what remains lies on it.
      const left = new Set(this.nodeList.filter((n) => !order.includes(n)).map((n) => n.name))
      for (let changed = true; changed; ) {
        changed = false
        for (const name of left) {
          if (!(children.get(name) ?? []).some((c) => left.has(c))) {
            left.delete(name)
            changed = true
          }
        }
      }
      const stuck = [...left]
      fail('ERR_TOPOLOGY_CYCLE', stuck[0]!, `nodes ${stuck.map((s) => `"${s}"`).join(', ')} form a cycle`)
    }
    return order
  }

  /** A readable description of the graph, one node per line (used by `squall explain` and errors). */
  describe(): string {
    return this.nodeList
      .map((n) => {
        const inputs = n.inputs
          .map(
            (i) => `${i.from}${i.sideOutput ? `[${i.sideOutput}]` : ''} (${i.exchange?.type ?? 'forward'})`,
          )
          .join(', ')
        const p = n.parallelism === undefined ? '' : ` ×${n.parallelism}`
        return `${n.kind.padEnd(8)} ${n.name}${p}${inputs ? ` ← ${inputs}` : ''}`
      })
      .join('\n')
  }
}

/** True when `value` is a Topology (also across module copies, by shape). */
export function isTopology(value: unknown): value is Topology {
  return (
    value instanceof Topology ||
    (value !== null &&
      typeof value === 'object' &&
      typeof (value as Topology).validate === 'function' &&
      Array.isArray((value as Topology).nodes))
  )
}

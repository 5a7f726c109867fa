// The output side of a task: routes records to downstream tasks by exchange type, batch at a time.

import { generate } from '../core/generated.ts'
import { hashKey, taskOfKeyGroup } from '../core/key-group.ts'
import type { Key, Record } from '../core/record.ts'
import type { EdgePlan } from './plan.ts'

/**
 * One downstream (task, channel) as seen from a sending task. Local targets call the task directly;
 * remote ones encode and post to another thread. Calls arrive in order: records, then control.
 */
export interface Target {
  push(records: Record[]): void
  /**
   * Takes a batch as values and their event times (records with no key and no tag), defined when
   * this target writes them without making records (a local sink with `SinkWriter.writeValues`).
   */
  readonly pushValues?: (values: unknown[], times: number[]) => void
  watermark(time: number): void
  idle(idle: boolean): void
  barrier(checkpointId: number): void
  end(): void
}

/** Batches up to this size are routed into an array allocated at its final size. */
const MAX_PRESIZED = 65_536

/** The loops keying a batch on one key edge (see `keyingLoops`). */
interface KeyingLoops {
  /** Sets each record's key in place (records handed over with their batch). */
  setKeys(records: readonly Record[]): void
  /** Sets each record's key in place and appends it to the buffer of its key group's task. */
  spread(records: readonly Record[], buffers: Record[][], table: Int32Array): void
  /** Writes a keyed copy of each record to `out`, from index `at` on. */
  copy(records: readonly Record[], out: Record[], at: number): void
}

/**
 * The loops keying a batch with `key`, made for each edge: every edge's router runs the same code,
 * so a loop written there would call every key function of the process from one call site, which
 * the JIT then leaves as a generic call; a loop of its own calls one key function, and inlines it.
 */
function keyingLoops(key: (value: unknown, r: Record) => unknown): KeyingLoops {
  return generate<KeyingLoops>(
    ['key', 'hashKey'],
    `return {
      setKeys(records) {
        for (let i = 0; i < records.length; i++) {
          const r = records[i]
          r.key = key(r.value, r)
        }
      },
      spread(records, buffers, table) {
        for (let i = 0; i < records.length; i++) {
          const r = records[i]
          const k = key(r.value, r)
          r.key = k
          buffers[table[hashKey(k) % table.length]].push(r)
        }
      },
      copy(records, out, at) {
        for (let i = 0; i < records.length; i++) {
          const r = records[i]
          out[at + i] = { value: r.value, key: key(r.value, r), time: r.time, tag: r.tag }
        }
      },
    }`,
    [key, hashKey],
  )
}

/** Routes one edge's records into per-target buffers; `flush` hands the buffers over. */
class EdgeRouter {
  private buffers: Record[][]
  private next = 0
  private readonly keyTable: Int32Array | undefined
  /** This edge's own loops keying a batch (key edges only; see `keyingLoops`). */
  private readonly keying: KeyingLoops | undefined

  constructor(
    readonly edge: EdgePlan,
    readonly targets: Target[],
    /** For shuffle edges: start with a different task per sender so load spreads. */
    senderIndex: number,
    maxParallelism: number,
  ) {
    this.buffers = targets.map(() => [])
    this.next = senderIndex % Math.max(1, targets.length)
    if (edge.type === 'key') {
      this.keyTable = new Int32Array(maxParallelism)
      for (let kg = 0; kg < maxParallelism; kg++) {
        this.keyTable[kg] = taskOfKeyGroup(kg, maxParallelism, edge.to.parallelism)
      }
      this.keying = keyingLoops(edge.key!)
    }
  }

  route(r: Record): void {
    const targets = this.targets.length
    if (targets === 1 && this.edge.type !== 'key') {
      this.buffers[0]!.push(r)
      return
    }
    switch (this.edge.type) {
      case 'key': {
        const key = this.edge.key!(r.value, r) as Key
        const table = this.keyTable!
        // One task owns every key group: no need to hash the key.
        const t = targets === 1 ? 0 : table[hashKey(key) % table.length]!
        this.buffers[t]!.push({ value: r.value, key, time: r.time, tag: r.tag })
        return
      }
      case 'shuffle':
        this.buffers[this.next]!.push(r)
        this.next = this.next + 1 === targets ? 0 : this.next + 1
        return
      case 'broadcast':
        for (let i = 0; i < targets; i++) this.buffers[i]!.push(r)
        return
      default:
        this.buffers[0]!.push(r)
    }
  }

  /**
   * Routes `records` in order: the same as `route` on each, with one dispatch for the batch.
   * `owned`: the array is the caller's to give away, so it may become a buffer as it is.
   */
  routeAll(records: readonly Record[], owned = false): void {
    const n = records.length
    const targets = this.targets.length
    const keying = this.keying
    if (keying !== undefined) {
      if (owned) {
        // The records are the caller's to give away: each takes its key in place, no copy.
        if (targets === 1) {
          keying.setKeys(records)
          const buffer = this.buffers[0]!
          if (buffer.length === 0) this.buffers[0] = records as Record[]
          else for (let i = 0; i < n; i++) buffer.push(records[i]!)
          return
        }
        keying.spread(records, this.buffers, this.keyTable!)
        return
      }
      if (targets === 1) {
        // One task owns every key group: no need to hash the key.
        const buffer = this.buffers[0]!
        if (buffer.length === 0 && n <= MAX_PRESIZED) {
          const out = new Array<Record>(n)
          keying.copy(records, out, 0)
          this.buffers[0] = out
        } else keying.copy(records, buffer, buffer.length)
        return
      }
    } else if (targets === 1) {
      const buffer = this.buffers[0]!
      if (buffer.length === 0) this.buffers[0] = owned ? (records as Record[]) : records.slice()
      else for (let i = 0; i < n; i++) buffer.push(records[i]!)
      return
    }
    for (let i = 0; i < n; i++) this.route(records[i]!)
  }

  flush(): void {
    const buffers = this.buffers
    for (let i = 0; i < buffers.length; i++) {
      const b = buffers[i]!
      if (b.length > 0) {
        buffers[i] = []
        this.targets[i]!.push(b)
      }
    }
  }
}

/**
 * Routes everything a task emits: the main output to every edge reading it, side outputs to the
 * edges reading them. Records are buffered per target until `flush()` (the end of the input batch);
 * control messages (watermark, idle, barrier, end) flush first so they never overtake records.
 */
export class OutputRouter {
  private readonly main: EdgeRouter[] = []
  private readonly sides = new Map<string, EdgeRouter[]>()
  private readonly all: EdgeRouter[] = []

  constructor(edges: { edge: EdgePlan; targets: Target[] }[], senderIndex: number, maxParallelism: number) {
    for (const { edge, targets } of edges) {
      const r = new EdgeRouter(edge, targets, senderIndex, maxParallelism)
      this.all.push(r)
      if (edge.sideOutput === undefined) this.main.push(r)
      else {
        const list = this.sides.get(edge.sideOutput) ?? []
        list.push(r)
        this.sides.set(edge.sideOutput, list)
      }
    }
  }

  /**
   * The target every record of this router goes to as it is, when it takes values
   * (`Target.pushValues`): one main edge, not keyed, with one target, and no side output.
   */
  valuesTarget(): Target | undefined {
    if (this.all.length !== 1 || this.main.length !== 1) return undefined
    const e = this.main[0]!
    if (e.edge.type === 'key' || e.targets.length !== 1) return undefined
    const t = e.targets[0]!
    return t.pushValues !== undefined ? t : undefined
  }

  /** True when something reads the named side output. */
  hasSide(name: string): boolean {
    return this.sides.has(name)
  }

  emit(r: Record): void {
    const main = this.main
    for (let i = 0; i < main.length; i++) main[i]!.route(r)
  }

  /** Emits every record of `records` in order, as `emit` on each would. */
  emitAll(records: readonly Record[]): void {
    const main = this.main
    for (let i = 0; i < main.length; i++) main[i]!.routeAll(records)
  }

  /** As `emitAll`, for a new array its caller hands over: it may be passed on without a copy. */
  emitOwned(records: Record[]): void {
    const main = this.main
    if (main.length === 1) main[0]!.routeAll(records, true)
    else this.emitAll(records)
  }

  emitSide(name: string, r: Record): void {
    const list = this.sides.get(name)
    if (list) for (const e of list) e.route(r)
  }

  flush(): void {
    const all = this.all
    for (let i = 0; i < all.length; i++) all[i]!.flush()
  }

  private control(fn: (t: Target) => void): void {
    this.flush()
    for (const e of this.all) for (const t of e.targets) fn(t)
  }

  watermark(time: number): void {
    this.control((t) => t.watermark(time))
  }

  idle(idle: boolean): void {
    this.control((t) => t.idle(idle))
  }

  barrier(checkpointId: number): void {
    this.control((t) => t.barrier(checkpointId))
  }

  end(): void {
    this.control((t) => t.end())
  }
}

// The stream bus: a running job publishes the streams of its sources ("tables") here, and queries
// registered later read them through bus sources, with event time and watermarks carried along.

import { check } from '../core/errors.ts'
import { MIN_TIME, type Record } from '../core/record.ts'
import type { SinkSpec, SinkWriter, SourceReader, SourceSpec } from '../core/source.ts'
import { type NodeSpec, Topology } from '../core/topology.ts'
import { WatermarkStrategy } from '../core/watermark.ts'
import {
  BusSubscription,
  endPartition,
  hold,
  passedBy,
  settle,
  subscribersChanged,
  type Table,
} from './bus-table.ts'

export { BusSubscription }

/** Options of a StreamBus. */
export interface StreamBusOptions {
  /**
   * Records a subscriber may have waiting before publishers wait for it (default 10 000). A slow
   * query slows the job down to its pace (backpressure); records are never dropped.
   */
  maxLag?: number
}

/** Per-table facts: its watermark, its upstream lateness bound, and what went through it. */
export interface TableInfo {
  readonly name: string
  /** The minimum over the table's partitions of their watermarks (−∞ before any). */
  readonly watermark: number
  /** Records published so far. */
  readonly published: number
  readonly subscribers: number
  readonly ended: boolean
}

const SAMPLE_SIZE = 20

/**
 * Named streams of a running job, readable by queries registered at any time. Tables are
 * declared by `withTaps` (or `declare`); each `publish` hands a batch to every current subscriber,
 * in order. A subscriber only sees what was published after it subscribed. Single-threaded: the
 * bus lives on the thread that runs the job's taps and its queries.
 */
export class StreamBus {
  private readonly tablesByName = new Map<string, Table>()
  readonly maxLag: number

  constructor(options: StreamBusOptions = {}) {
    this.maxLag = options.maxLag ?? 10_000
    check(
      Number.isInteger(this.maxLag) && this.maxLag >= 1,
      'StreamBus.maxLag',
      'an integer ≥ 1',
      options.maxLag,
    )
  }

  /** Declares `table` (idempotent). `watermarks` is the strategy bus sources of it will use. */
  declare(table: string, watermarks?: WatermarkStrategy<unknown>): void {
    const t = this.tablesByName.get(table)
    if (t !== undefined) {
      if (watermarks !== undefined) t.watermarks = watermarks
      return
    }
    this.tablesByName.set(table, {
      name: table,
      partitions: [],
      ended: [],
      marker: 0,
      markers: [],
      held: [],
      waits: new Map(),
      published: 0,
      subscribers: new Set(),
      sample: [],
      watermarks,
      watchers: [],
    })
  }

  /** The declared tables, in declaration order. */
  tables(): string[] {
    return [...this.tablesByName.keys()]
  }

  has(table: string): boolean {
    return this.tablesByName.has(table)
  }

  /** Facts about one table, or undefined when it is not declared. */
  info(table: string): TableInfo | undefined {
    const t = this.tablesByName.get(table)
    if (t === undefined) return undefined
    return {
      name: t.name,
      watermark: t.partitions.length === 0 ? MIN_TIME : Math.min(...t.partitions),
      published: t.published,
      subscribers: t.subscribers.size,
      ended: t.ended.length > 0 && t.ended.every(Boolean),
    }
  }

  /** The first values published to `table` (at most 20): what a planner infers a schema from. */
  sample(table: string): readonly unknown[] {
    return this.tablesByName.get(table)?.sample ?? []
  }

  /** The event-time strategy of a table's bus sources (undefined: the job's source declares no event time). */
  watermarksOf(table: string): WatermarkStrategy<unknown> | undefined {
    return this.tablesByName.get(table)?.watermarks
  }

  /**
   * Publishes a batch of `table` from publishing partition `partition` (of `partitions`), with that
   * partition's watermark after the batch. Returns a promise when a subscriber is more than
   * `maxLag` records behind: the caller must wait for it before publishing more (backpressure).
   * The batch array is shared with subscribers and must not be changed afterwards.
   */
  publish(
    table: string,
    records: Record[],
    watermark = MIN_TIME,
    partition = 0,
    partitions = 1,
  ): Promise<void> | undefined {
    const t = this.table(table, partitions)
    if (t.markers[partition]! > t.marker) {
      hold(t, partition, { kind: 'records', records, watermark })
      return undefined
    }
    return this.deliver(t, records, watermark, partition)
  }

  private deliver(
    t: Table,
    records: Record[],
    watermark: number,
    partition: number,
  ): Promise<void> | undefined {
    if (watermark > t.partitions[partition]!) t.partitions[partition] = watermark
    t.published += records.length
    if (t.sample.length < SAMPLE_SIZE)
      for (let i = 0; i < records.length && t.sample.length < SAMPLE_SIZE; i++)
        t.sample.push(records[i]!.value)
    if (t.subscribers.size === 0 || records.length === 0) return undefined
    const tableWatermark = t.partitions.length === 1 ? t.partitions[0]! : Math.min(...t.partitions)
    let full: BusSubscription[] | undefined
    for (const s of t.subscribers) {
      if (!s.push(records, tableWatermark)) (full ??= []).push(s)
    }
    if (full === undefined) return undefined
    return Promise.all(full.map((s) => s.room())).then(() => {})
  }

  /**
   * Counts `count` records of `table` that went by while nobody subscribed (they were not sent),
   * and moves partition `partition`'s watermark: what a tap in another thread reports instead of
   * the records themselves.
   */
  passed(table: string, count: number, watermark = MIN_TIME, partition = 0, partitions = 1): void {
    const t = this.table(table, partitions)
    if (t.markers[partition]! > t.marker) hold(t, partition, { kind: 'passed', count, watermark })
    else passedBy(t, count, watermark, partition)
  }

  /**
   * Publishes checkpoint marker `id` of `table` from publishing partition `partition`: the job's
   * checkpoint `id` has passed everything this partition published so far. Once every partition
   * that has not ended has published it, subscribers that take markers (see `subscribe`) receive
   * it after everything published before it, and nothing published after it comes before it: what
   * a partition publishes once its marker is out waits in the bus (watermarks included) until the
   * other partitions publish theirs. Returns a promise that resolves once every subscriber that
   * received the marker acknowledged it or closed (the job's checkpoint then holds their state),
   * or undefined when there is nothing to wait for. Ignored for an ended partition, and for `id`
   * 0 or not above the table's last marker.
   */
  marker(table: string, id: number, partition = 0, partitions = 1): Promise<void> | undefined {
    const t = this.table(table, partitions)
    if (!(id > t.marker) || t.ended[partition]) return undefined
    let w = t.waits.get(id)
    if (w === undefined) {
      let resolve!: () => void
      const done = new Promise<void>((r) => {
        resolve = r
      })
      w = { owed: undefined, done, resolve }
      t.waits.set(id, w)
    }
    if (t.markers[partition]! > t.marker) hold(t, partition, { kind: 'marker', id })
    else {
      t.markers[partition] = id
      this.advance(t)
    }
    return t.waits.has(id) ? w.done : undefined
  }

  /** Completes the markers every partition that has not ended has reached, and releases what waited. */
  private advance(t: Table): void {
    for (;;) {
      let min = Number.POSITIVE_INFINITY
      for (let p = 0; p < t.markers.length; p++) if (!t.ended[p] && t.markers[p]! < min) min = t.markers[p]!
      if (min === Number.POSITIVE_INFINITY) {
        // Every partition has ended: no marker goes out any more, so none is waited for.
        for (const [id, w] of t.waits) if (w.owed === undefined) settle(t, id, w)
        return
      }
      if (min <= t.marker) return
      t.marker = min
      const owed = new Set<BusSubscription>()
      for (const s of t.subscribers) if (s.pushMarker(min)) owed.add(s)
      for (const [id, w] of t.waits) {
        if (id > min || w.owed !== undefined) continue
        w.owed = id === min ? owed : new Set()
        if (w.owed.size === 0) settle(t, id, w)
      }
      for (let p = 0; p < t.held.length; p++)
        if (t.held[p] !== undefined && t.markers[p]! <= min) this.release(t, p)
    }
  }

  /** Replays what partition `p` published since its marker, until it is ahead again. */
  private release(t: Table, p: number): void {
    const items = t.held[p]!
    t.held[p] = undefined
    for (let i = 0; i < items.length; i++) {
      if (t.markers[p]! > t.marker) {
        t.held[p] = items.slice(i)
        return
      }
      const h = items[i]!
      // Released records make no one wait: their publisher went on when it held them.
      if (h.kind === 'records') void this.deliver(t, h.records, h.watermark, p)
      else if (h.kind === 'passed') passedBy(t, h.count, h.watermark, p)
      else if (h.kind === 'marker') {
        if (!t.ended[p]) t.markers[p] = h.id
      } else endPartition(t, p)
    }
  }

  /** Calls `watcher` with the number of subscribers of `table` now and whenever it changes. */
  watchSubscribers(table: string, watcher: (subscribers: number) => void): void {
    const t = this.table(table, 0)
    t.watchers.push(watcher)
    watcher(t.subscribers.size)
  }

  /** Marks publishing partition `partition` ended; once all have, subscribers reach their end. */
  end(table: string, partition = 0, partitions = 1): void {
    const t = this.table(table, partitions)
    if (t.markers[partition]! > t.marker) hold(t, partition, { kind: 'end' })
    else {
      endPartition(t, partition)
      this.advance(t)
    }
  }

  /**
   * Subscribes to `table` from now on. With `onMarker`, the subscription receives the table's
   * checkpoint markers (see `marker`) and stops at each: `poll` calls `onMarker` there. Throws
   * ERR_ARGUMENT for a table that is not declared.
   */
  subscribe(table: string, onMarker?: (id: number) => void): BusSubscription {
    const t = this.tablesByName.get(table)
    check(
      t !== undefined,
      'table',
      `one of ${
        this.tables()
          .map((n) => `"${n}"`)
          .join(', ') || '(no tables)'
      }`,
      table,
    )
    const s = new BusSubscription(t, this.maxLag, onMarker)
    t.subscribers.add(s)
    subscribersChanged(t)
    return s
  }

  private table(name: string, partitions: number): Table {
    let t = this.tablesByName.get(name)
    if (t === undefined) {
      this.declare(name)
      t = this.tablesByName.get(name)!
    }
    while (t.partitions.length < partitions) {
      t.partitions.push(MIN_TIME)
      t.ended.push(false)
      t.markers.push(0)
      t.held.push(undefined)
    }
    return t
  }
}

/**
 * A tap partition's watermark: `(records)` takes a batch's event times into account and returns
 * the watermark after it (`MIN_TIME` without a strategy, as the source it reads emits none).
 */
export function tapWatermark(
  watermarks: WatermarkStrategy<unknown> | undefined,
): (records: Record[]) => number {
  const generator = watermarks?.createGenerator()
  if (generator === undefined) return () => MIN_TIME
  return (records) => {
    for (let i = 0; i < records.length; i++) generator.onEvent(records[i]!.time)
    return generator.current()
  }
}

/**
 * A sink that publishes every batch it receives to `table` on `bus`, with its partition's
 * watermark computed by `watermarks` (the strategy of the source it reads, so it equals that
 * source's watermark). `write` returns a promise while a subscriber lags (backpressure); `finish`
 * ends the table's partition, as `restoredEnded` does for a tap restored after it had ended. At
 * each checkpoint barrier it publishes the checkpoint's marker (`StreamBus.marker`) and
 * pre-commits once the queries that received it have saved their state for it, so a checkpoint of
 * the job completes with theirs. Runs on the bus's thread only.
 */
export function tapSink(
  bus: StreamBus,
  table: string,
  watermarks?: WatermarkStrategy<unknown>,
  maxParallelism?: number,
): SinkSpec {
  check(bus instanceof StreamBus, 'tapSink(bus)', 'a StreamBus', bus)
  bus.declare(table, mirrorWatermarks(watermarks))
  return {
    kind: 'tap',
    ...(maxParallelism !== undefined ? { maxParallelism } : {}),
    create(ctx): SinkWriter {
      const watermark = tapWatermark(watermarks)
      const { partition, partitions } = ctx
      return {
        write(records) {
          return bus.publish(table, records, watermark(records), partition, partitions)
        },
        finish() {
          bus.end(table, partition, partitions)
        },
        // Restored after it had ended: its table ends in this run too.
        restoredEnded() {
          bus.end(table, partition, partitions)
        },
        preCommit(checkpointId) {
          return bus.marker(table, checkpointId, partition, partitions)
        },
      }
    },
  }
}

/** Options of a bus source. */
export interface BusSourceOptions {
  /**
   * The checkpoint barriers of the query the source belongs to: each reader subscribes with
   * markers, reports the marker it stops at and waits there until it is passed (see
   * `BusBarriers`). Without it a reader takes no markers.
   */
  readonly barriers?: BusBarriers
  /**
   * A field added to every row (a copy of the record's value, so readers never share a changed
   * object), holding the record's event time in ms: the table's time column. It replaces a field of
   * the same name; a value that is not an object becomes a row of that field alone.
   */
  readonly recordTime?: string
}

/**
 * An unbounded source reading `table` from `bus`: records come with their original event time,
 * tag and key, in publication order, from the moment the partition opens. One partition; not
 * replayable (a restored query starts from what is published after it starts). It ends when the
 * table ends.
 */
export function busSource(bus: StreamBus, table: string, options: BusSourceOptions = {}): SourceSpec {
  return readerSpec(bus, table, options, new Set())
}

/**
 * Aligns the checkpoint markers of a query's bus sources (see `QueryBarriers`): told of each
 * subscription a reader opens, of each marker a reader stops at, and of each subscription that
 * ended or closed. It lets a stopped reader go on with `BusSubscription.pass()`.
 */
export interface BusBarriers {
  opened(sub: BusSubscription): void
  reached(sub: BusSubscription, id: number): void
  closed(sub: BusSubscription): void
}

/** What a query reads a table through: a bus source, and the event-time strategy to give it. */
export interface BusTable {
  readonly source: SourceSpec
  /** Absent when the job's source declares no event time. */
  readonly watermarks?: WatermarkStrategy<unknown>
}

/**
 * A query's view of `table`: a fresh `busSource` and, when the job's source declares event time,
 * the strategy of a source reading it. That strategy's watermark is the table's — the minimum of
 * the job's partitions' watermarks — as of the records the source has read, so a record on time in
 * the job is on time in the query, also when the job's partitions run on several threads. A source
 * whose job source has no watermarks gets `noWatermarks` (its records keep their event time).
 */
export function busTable(bus: StreamBus, table: string, options: BusSourceOptions = {}): BusTable {
  const readers = new Set<BusSubscription>()
  const source = readerSpec(bus, table, options, readers)
  const mirrored = bus.watermarksOf(table)
  if (mirrored === undefined) return { source }
  if (!mirrored.emitsWatermarks) return { source, watermarks: mirrored }
  const current = () => {
    let min = Number.POSITIVE_INFINITY
    for (const r of readers) if (r.watermark < min) min = r.watermark
    return readers.size === 0 ? MIN_TIME : min
  }
  return { source, watermarks: mirrored.withGenerator(() => ({ onEvent() {}, current })) }
}

function readerSpec(
  bus: StreamBus,
  table: string,
  options: BusSourceOptions,
  readers: Set<BusSubscription>,
): SourceSpec {
  check(bus instanceof StreamBus, 'busSource(bus)', 'a StreamBus', bus)
  check(
    bus.has(table),
    'busSource(table)',
    `a table of the bus (${bus.tables().join(', ') || 'none'})`,
    table,
  )
  const field = options.recordTime
  check(
    field === undefined || (typeof field === 'string' && field.length > 0),
    'busSource(options.recordTime)',
    'a field name',
    field,
  )
  return {
    kind: 'bus',
    bounded: false,
    maxPartitions: 1,
    create(): SourceReader {
      const barriers = options.barriers
      let sub: BusSubscription | undefined = bus.subscribe(
        table,
        barriers === undefined ? undefined : (id) => barriers.reached(sub!, id),
      )
      readers.add(sub)
      barriers?.opened(sub)
      let ended = false
      const reader: SourceReader = {
        nextBatch(max) {
          if (sub === undefined) return null
          const batch = sub.poll(max)
          if (batch === null && !ended) {
            ended = true
            barriers?.closed(sub)
          }
          return field === undefined || batch === null ? batch : withRecordTime(batch, field)
        },
        ready: () => (sub === undefined ? Promise.resolve() : sub.ready()),
        close() {
          if (sub !== undefined) {
            readers.delete(sub)
            sub.close()
            if (!ended) barriers?.closed(sub)
          }
          sub = undefined
        },
      }
      // Checkpointed with its query: a bus source has no position (it does not replay).
      if (barriers !== undefined) reader.snapshot = () => null
      return reader
    },
  }
}

/** Copies of `records` whose values carry their event time in `field`. */
function withRecordTime(records: Record[], field: string): Record[] {
  const out = new Array<Record>(records.length)
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!
    const v = r.value
    const row: { [f: string]: unknown } =
      v !== null && typeof v === 'object' && !Array.isArray(v) ? { ...v } : {}
    row[field] = r.time
    out[i] = { value: row, key: r.key, time: r.time, tag: r.tag }
  }
  return out
}

/**
 * The strategy a query's source on a tapped table should use: the same lateness bound as the
 * job's source (so a query's windows fire when the job's watermark passes them); `noWatermarks`
 * when the job's source assigns event time without watermarks; none when it declares no event time.
 * Event time itself is not read again: a query's records keep the time the job's source gave them.
 */
export function mirrorWatermarks(
  upstream: WatermarkStrategy<unknown> | undefined,
): WatermarkStrategy<unknown> | undefined {
  if (upstream === undefined) return undefined
  if (!upstream.emitsWatermarks) return WatermarkStrategy.noWatermarks<unknown>()
  return WatermarkStrategy.forBoundedOutOfOrderness<unknown>(upstream.maxOutOfOrdernessMs)
}

/** The name of the tap sink `withTaps` adds for `source`. */
export function tapName(source: string): string {
  return `tap:${source}`
}

/**
 * A copy of `topology` with one tap sink `tap:<source>` per source node (or per source named in
 * `sources`), publishing that source's stream to `bus` as the table named like the source. The
 * copy has the same node names, specs and options, so state and checkpoints match the original;
 * the original is not changed and can be tapped again onto another bus (a restart in the same
 * process). Throws ERR_ARGUMENT for a name that is not a source.
 */
export function withTaps(topology: Topology, bus: StreamBus, sources?: readonly string[]): Topology {
  return addTaps(topology, tappedSources(topology, sources, 'withTaps(sources)'), (n) =>
    tapSink(bus, n.name, n.watermarks, n.source?.maxPartitions),
  )
}

/**
 * The source nodes of `topology` to tap: those named in `sources`, else all. Throws ERR_ARGUMENT
 * (naming `what`) for a name that is not a source.
 */
export function tappedSources(
  topology: Topology,
  sources: readonly string[] | undefined,
  what: string,
): NodeSpec[] {
  const all = topology.nodes.filter((n) => n.kind === 'source')
  for (const s of sources ?? []) {
    check(
      all.some((n) => n.name === s),
      what,
      `names of source nodes (${all.map((a) => a.name).join(', ')})`,
      s,
    )
  }
  return sources === undefined ? all : all.filter((n) => sources.includes(n.name))
}

/**
 * A copy of `topology` (same names, specs and options) with a sink `tap:<source>` reading each of
 * `tapped`, made by `tap(source, i)`: the i-th tapped source.
 */
export function addTaps(
  topology: Topology,
  tapped: readonly NodeSpec[],
  tap: (source: NodeSpec, i: number) => SinkSpec,
): Topology {
  const copy = new Topology(topology.name).withMaxParallelism(topology.maxParallelism)
  for (const n of topology.nodes) {
    const options = {
      ...(n.parallelism !== undefined ? { parallelism: n.parallelism } : {}),
      onError: n.onError,
    }
    if (n.kind === 'source')
      copy.addSource(n.name, n.source!, { ...options, ...(n.watermarks ? { watermarks: n.watermarks } : {}) })
    else if (n.kind === 'sink') copy.addSink(n.name, n.sink!, n.inputs, options)
    else copy.addProcessor(n.name, n.processor!, n.inputs, { ...options, keyed: n.keyed })
  }
  tapped.forEach((n, i) => {
    copy.addSink(
      tapName(n.name),
      tap(n, i),
      [{ from: n.name }],
      n.parallelism === undefined ? {} : { parallelism: n.parallelism },
    )
  })
  return copy
}

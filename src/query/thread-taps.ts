// Taps across threads: a job running on worker threads publishes its sources' streams to the stream
// bus of the thread that started it, so queries registered there read a many-thread job as they
// read a one-thread one.

import { MIN_TIME, type Record } from '../core/record.ts'
import type { SinkSpec, SinkWriter } from '../core/source.ts'
import type { Topology } from '../core/topology.ts'
import type { WatermarkStrategy } from '../core/watermark.ts'
import type { TopologyDecorator } from '../runtime/embedded/runner.ts'
import { addTaps, type StreamBus, tappedSources, tapSink, tapWatermark } from './bus.ts'

/** What each worker needs to build the same taps (the decorator's arguments). */
export interface ThreadTapArgs {
  readonly sources: readonly string[]
  /**
   * Three Int32 slots per tapped source, shared by every thread: [3i] its subscribers (set by the
   * owner), [3i + 1] records sent by the workers and not yet taken by every subscriber, [3i + 2]
   * the last checkpoint marker the owner's subscribers have acknowledged (see `StreamBus.marker`).
   */
  readonly flow: SharedArrayBuffer
  /** Records in flight per table before a worker's tap waits (the bus's `maxLag`). */
  readonly maxLag: number
}

/** One report of a worker's tap partition to the owner thread. */
interface TapReport {
  readonly partition: number
  readonly partitions: number
  readonly watermark: number
  /** Records that went through since the last report (those in `records` included). */
  readonly count: number
  /** The records themselves, when someone subscribes (or the bus still samples the table). */
  readonly records?: Record[]
  readonly end?: boolean
  /** A checkpoint marker, after the records. */
  readonly marker?: number
}

/** Records a tap sends even without subscribers: the bus's sample for schema inference. */
const SAMPLE = 20
/** How often a tap without subscribers reports its count and watermark, in ms. */
const QUIET_REPORT_MS = 100

/**
 * `withTaps` for a job on worker threads. Returns the owner's copy of `topology` (to pass to
 * `runEmbedded`, whose report channel carries the workers' batches to `bus`) and the decorator that
 * makes each worker add the same taps (`EmbeddedOptions.decorate`). A worker's tap sends records
 * only while the table has subscribers, else its count and watermark every 100 ms; with more than
 * `bus.maxLag` records sent and not yet taken by every subscriber, it waits (backpressure, as on
 * one thread). At a checkpoint barrier it sends the checkpoint's marker and pre-commits once the
 * owner's subscribers have acknowledged it, as a tap on one thread does.
 */
export function withThreadTaps(
  topology: Topology,
  bus: StreamBus,
  sources?: readonly string[],
): { topology: Topology; decorate: TopologyDecorator } {
  const tapped = tappedSources(topology, sources, 'withThreadTaps(sources)')
  const flow = new SharedArrayBuffer(12 * Math.max(1, tapped.length))
  const slots = new Int32Array(flow)
  const copy = addTaps(topology, tapped, (n, i) => {
    const spec = tapSink(bus, n.name, n.watermarks, n.source?.maxPartitions)
    bus.watchSubscribers(n.name, (count) => Atomics.store(slots, 3 * i, count))
    return Object.assign(spec, {
      receiveReport(data: unknown): void {
        receive(bus, n.name, slots, 3 * i, data as TapReport)
      },
    })
  })
  const args: ThreadTapArgs = { sources: tapped.map((n) => n.name), flow, maxLag: bus.maxLag }
  return {
    topology: copy,
    decorate: { module: import.meta.url, exportName: 'threadTaps', args },
  }
}

/**
 * The owner's side of a tap: publishes a worker's report to the bus, then frees its flow credit;
 * a marker's acknowledgement goes to slot `base + 2`.
 */
function receive(bus: StreamBus, table: string, slots: Int32Array, base: number, r: TapReport): void {
  const inFlight = base + 1
  const sent = r.records?.length ?? 0
  if (r.count > sent) bus.passed(table, r.count - sent, r.watermark, r.partition, r.partitions)
  if (r.records !== undefined) {
    const release = () => {
      Atomics.sub(slots, inFlight, sent)
      Atomics.notify(slots, inFlight)
    }
    const wait = bus.publish(table, r.records, r.watermark, r.partition, r.partitions)
    if (wait === undefined) release()
    else void wait.then(release)
  }
  if (r.marker !== undefined) {
    const id = r.marker
    const acknowledged = () => {
      raiseTo(slots, base + 2, id)
      Atomics.notify(slots, base + 2)
    }
    const wait = bus.marker(table, id, r.partition, r.partitions)
    if (wait === undefined) acknowledged()
    else void wait.then(acknowledged)
  }
  if (r.end) bus.end(table, r.partition, r.partitions)
}

/** Sets slot `index` to `value` unless it already holds more. */
function raiseTo(slots: Int32Array, index: number, value: number): void {
  for (;;) {
    const v = Atomics.load(slots, index)
    if (v >= value || Atomics.compareExchange(slots, index, v, value) === v) return
  }
}

/**
 * The workers' side (the decorator `withThreadTaps` names): adds to the topology a worker loaded
 * the taps that send to the owner thread.
 */
export function threadTaps(topology: Topology, args: ThreadTapArgs): Topology {
  const slots = new Int32Array(args.flow)
  const tapped = tappedSources(topology, args.sources, 'threadTaps(sources)')
  return addTaps(topology, tapped, (n) => {
    const i = args.sources.indexOf(n.name)
    return sendingTap(n.watermarks, n.source?.maxPartitions, slots, 3 * i, args.maxLag)
  })
}

function sendingTap(
  watermarks: WatermarkStrategy<unknown> | undefined,
  maxParallelism: number | undefined,
  slots: Int32Array,
  base: number,
  maxLag: number,
): SinkSpec {
  return {
    kind: 'tap',
    ...(maxParallelism !== undefined ? { maxParallelism } : {}),
    create(ctx): SinkWriter {
      const advance = tapWatermark(watermarks)
      const { partition, partitions } = ctx
      const channel = `sink:${ctx.nodeName}`
      let sampled = 0
      let unreported = 0
      let lastReport = 0
      let watermark = MIN_TIME
      let ended = false
      const end = () => {
        ended = true
        ctx.report(channel, { partition, partitions, watermark, count: unreported, end: true })
        unreported = 0
      }
      return {
        write(records) {
          watermark = advance(records)
          unreported += records.length
          if (Atomics.load(slots, base) === 0 && sampled >= SAMPLE) {
            const now = performance.now()
            if (now - lastReport < QUIET_REPORT_MS) return undefined
            lastReport = now
            ctx.report(channel, { partition, partitions, watermark, count: unreported })
            unreported = 0
            return undefined
          }
          sampled += records.length
          const report: TapReport = {
            partition,
            partitions,
            watermark,
            count: unreported,
            records,
          }
          unreported = 0
          const inFlight = Atomics.add(slots, base + 1, records.length) + records.length
          ctx.report(channel, report)
          return inFlight > maxLag ? below(slots, base + 1, maxLag) : undefined
        },
        finish: end,
        // Restored after it had ended: the owner's table ends in this run too.
        restoredEnded: end,
        preCommit(checkpointId) {
          if (ended || checkpointId <= 0) return undefined
          ctx.report(channel, { partition, partitions, watermark, count: unreported, marker: checkpointId })
          unreported = 0
          return atLeast(slots, base + 2, checkpointId)
        },
      }
    },
  }
}

type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
  timeoutMs: number,
) => { async: false; value: string } | { async: true; value: Promise<string> }

/** Resolves once slot `index` holds `value` or more (the owner notifies as subscribers acknowledge). */
async function atLeast(slots: Int32Array, index: number, value: number): Promise<void> {
  const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync
  for (;;) {
    const v = Atomics.load(slots, index)
    if (v >= value) return
    const w = waitAsync(slots, index, v, 1000)
    if (w.async) await w.value
  }
}

/** Resolves once slot `index` holds `limit` or less (the owner notifies as subscribers catch up). */
async function below(slots: Int32Array, index: number, limit: number): Promise<void> {
  const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync
  for (;;) {
    const v = Atomics.load(slots, index)
    if (v <= limit) return
    const w = waitAsync(slots, index, v, 1000)
    if (w.async) await w.value
  }
}

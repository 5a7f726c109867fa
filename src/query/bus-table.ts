// The tables of the stream bus: what the bus keeps per table (its publishing partitions, their
// watermarks and checkpoint markers), and one reader's queue of a table (BusSubscription).

import { MIN_TIME, type Record } from '../core/record.ts'
import type { WatermarkStrategy } from '../core/watermark.ts'

/** What a publishing partition did after a checkpoint marker the others have not reached yet. */
export type Held =
  | { readonly kind: 'records'; readonly records: Record[]; readonly watermark: number }
  | { readonly kind: 'passed'; readonly count: number; readonly watermark: number }
  | { readonly kind: 'marker'; readonly id: number }
  | { readonly kind: 'end' }

/** The subscribers that received checkpoint marker `id` and have not acknowledged it yet. */
export interface MarkerWait {
  owed: Set<BusSubscription> | undefined
  readonly done: Promise<void>
  resolve(): void
}

/** What the bus keeps of one table. Internal to the bus: readers go through BusSubscription. */
export interface Table {
  name: string
  /** Watermark per publishing partition; the table's watermark is their minimum. */
  partitions: number[]
  ended: boolean[]
  /** The last checkpoint marker every publishing partition has passed (0: none). */
  marker: number
  /** Per publishing partition, the last checkpoint marker it published (0: none). */
  markers: number[]
  /** Per publishing partition ahead of `marker`, what it published since, in order. */
  held: (Held[] | undefined)[]
  /** Per checkpoint marker not yet acknowledged by every subscriber that received it. */
  waits: Map<number, MarkerWait>
  published: number
  subscribers: Set<BusSubscription>
  /** The first values published (up to 20), for planners that infer a schema. */
  sample: unknown[]
  /** The event-time strategy a bus source of this table uses (mirrors the job's source). */
  watermarks: WatermarkStrategy<unknown> | undefined
  /** Called with the number of subscribers whenever it changes (`watchSubscribers`). */
  watchers: ((subscribers: number) => void)[]
}

/** Tells the watchers of `t` its number of subscribers. */
export function subscribersChanged(t: Table): void {
  for (const w of t.watchers) w(t.subscribers.size)
}

/** Forgets that `s` owes the markers up to `id` (all of them: Infinity) and settles what is paid. */
export function acknowledged(t: Table, s: BusSubscription, id: number): void {
  for (const [marker, w] of t.waits) {
    if (marker > id) continue
    if (w.owed?.delete(s) && w.owed.size === 0) settle(t, marker, w)
  }
}

/** Resolves the wait for `marker`: nobody owes it any more. */
export function settle(t: Table, marker: number, w: MarkerWait): void {
  t.waits.delete(marker)
  w.resolve()
}

/** Keeps what `partition` did after its marker until the table's marker catches up with it. */
export function hold(t: Table, partition: number, h: Held): void {
  const held = t.held[partition]
  if (held === undefined) t.held[partition] = [h]
  else held.push(h)
}

/** Counts `count` records of `partition` that were not sent, and moves its watermark. */
export function passedBy(t: Table, count: number, watermark: number, partition: number): void {
  if (watermark > t.partitions[partition]!) t.partitions[partition] = watermark
  t.published += count
}

/** Marks `partition` ended (its watermark +∞) and wakes the readers. */
export function endPartition(t: Table, partition: number): void {
  t.ended[partition] = true
  t.partitions[partition] = Number.POSITIVE_INFINITY
  for (const s of t.subscribers) s.wake()
}

/**
 * One reader's view of a table: a queue of the batches published since it subscribed. Owned by
 * one bus source partition; `close()` unsubscribes and releases any publisher waiting on it.
 */
export class BusSubscription {
  private readonly batches: Record[][] = []
  /** The table's watermark after each queued batch was published. */
  private readonly marks: number[] = []
  /** Per queued entry, 0 for a batch, or the id of the checkpoint marker it is (its batch is empty). */
  private readonly ids: number[] = []
  private queuedMarkers = 0
  /** The checkpoint marker the reader has stopped at (0: none), until `pass()`. */
  marker = 0
  /** The table's last checkpoint marker when this subscription began: it receives only later ones. */
  readonly since: number
  private head = 0
  private offset = 0
  private size = 0
  private wakeReader: (() => void) | undefined
  private waitingPublishers: (() => void)[] = []
  private handed = MIN_TIME
  closed = false

  /**
   * `onMarker`: called when `poll` stops at a checkpoint marker (see `StreamBus.marker`); without
   * it this subscription receives no markers.
   */
  constructor(
    private readonly table: Table,
    private readonly maxLag: number,
    private readonly onMarker?: (id: number) => void,
  ) {
    this.since = table.marker
  }

  /** Records waiting to be read. */
  get lag(): number {
    return this.size
  }

  /** True once the table ended and everything published was read. */
  get ended(): boolean {
    return (
      this.size === 0 &&
      this.queuedMarkers === 0 &&
      this.table.ended.length > 0 &&
      this.table.ended.every(Boolean)
    )
  }

  /**
   * The table's watermark as far as the records read so far go: its watermark (the minimum over
   * the publishing partitions) after the last batch read to its end. −∞ before that.
   */
  get watermark(): number {
    return this.handed
  }

  /**
   * Queues a published batch (shared, read-only) with the table's watermark after it. Returns false
   * when this subscriber is full.
   */
  push(records: Record[], watermark = MIN_TIME): boolean {
    if (this.closed) return true
    this.batches.push(records)
    this.marks.push(watermark)
    this.ids.push(0)
    this.size += records.length
    this.wake()
    return this.size < this.maxLag
  }

  /**
   * Queues checkpoint marker `id` after everything queued so far. Returns false (and queues
   * nothing) when this subscription takes no markers or is closed.
   */
  pushMarker(id: number): boolean {
    if (this.closed || this.onMarker === undefined) return false
    this.batches.push([])
    this.marks.push(MIN_TIME)
    this.ids.push(id)
    this.queuedMarkers++
    this.wake()
    return true
  }

  /** Lets the reader go on past the marker it has stopped at (`marker`). */
  pass(): void {
    if (this.marker === 0 || this.ids[this.head] !== this.marker) return
    this.batches[this.head] = undefined as unknown as Record[]
    this.head++
    this.queuedMarkers--
    this.marker = 0
    this.wake()
  }

  /**
   * The reader's state includes everything before checkpoint marker `id` (or will never hold it):
   * publishers waiting for `id` (see `StreamBus.marker`) no longer wait for this subscription.
   */
  acknowledge(id: number): void {
    acknowledged(this.table, this, id)
  }

  /** Resolves once this subscriber has room again (or is closed). */
  room(): Promise<void> {
    if (this.closed || this.size < this.maxLag) return Promise.resolve()
    return new Promise((resolve) => this.waitingPublishers.push(resolve))
  }

  /**
   * Up to `max` records in publication order; `[]` when none are waiting, `null` at the end. It
   * stops before a checkpoint marker: once nothing is left before it, `poll` returns `[]`, sets
   * `marker` and calls `onMarker` (once), until `pass()`.
   */
  poll(max: number): Record[] | null {
    if (this.size === 0 && this.queuedMarkers === 0) return this.ended ? null : []
    const out: Record[] = []
    while (out.length < max && this.head < this.batches.length) {
      const id = this.ids[this.head]!
      if (id !== 0) {
        if (out.length === 0 && this.marker !== id) {
          this.marker = id
          this.onMarker?.(id)
        }
        break
      }
      const batch = this.batches[this.head]!
      const take = Math.min(max - out.length, batch.length - this.offset)
      for (let i = 0; i < take; i++) out.push(batch[this.offset + i]!)
      this.offset += take
      if (this.offset === batch.length) {
        this.batches[this.head] = undefined as unknown as Record[]
        if (this.marks[this.head]! > this.handed) this.handed = this.marks[this.head]!
        this.head++
        this.offset = 0
      }
    }
    if (this.head > 64 && this.head * 2 > this.batches.length) {
      this.batches.splice(0, this.head)
      this.marks.splice(0, this.head)
      this.ids.splice(0, this.head)
      this.head = 0
    }
    this.size -= out.length
    if (this.size < this.maxLag && this.waitingPublishers.length > 0) this.releasePublishers()
    return out
  }

  /** Resolves when records or a marker arrive, the reader may pass its marker, the table ends, or after `ms`. */
  ready(ms = 50): Promise<void> {
    const waiting = this.marker === 0 && (this.size > 0 || this.queuedMarkers > 0)
    if (waiting || this.ended || this.closed) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      const self = this
      function done() {
        clearTimeout(timer)
        if (self.wakeReader === done) self.wakeReader = undefined
        resolve()
      }
      this.wakeReader = done
    })
  }

  /** Wakes a reader waiting in `ready()` (records arrived or the table ended). */
  wake(): void {
    const w = this.wakeReader
    if (w !== undefined) {
      this.wakeReader = undefined
      w()
    }
  }

  /** Unsubscribes; later publications skip this subscriber and waiting publishers go on. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.table.subscribers.delete(this)
    subscribersChanged(this.table)
    acknowledged(this.table, this, Number.POSITIVE_INFINITY)
    this.batches.length = 0
    this.marks.length = 0
    this.ids.length = 0
    this.queuedMarkers = 0
    this.size = 0
    this.releasePublishers()
    this.wake()
  }

  private releasePublishers(): void {
    const waiting = this.waitingPublishers
    this.waitingPublishers = []
    for (const w of waiting) w()
  }
}

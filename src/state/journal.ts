// A durable append-only journal of entries in segment files: network inputs append what they receive
// before they acknowledge the sender, and the job reads and replays it from checkpointed positions.

import { type FileHandle, mkdir, open, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { Packr } from 'msgpackr'
import { check, SquallError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { JournalReader } from './journal-reader.ts'
import {
  copyStructures,
  crc32,
  FRAME_HEADER_BYTES,
  loadStructures,
  MAX_PAYLOAD_BYTES,
  recoverSegments,
  releaseLock,
  SEGMENT_HEADER_BYTES,
  SEGMENT_MAGIC,
  type Segment,
  type Structures,
  saveStructures,
  segmentFileName,
  syncDir,
  takeLock,
  writeFrame,
} from './journal-segment.ts'

/**
 * A place in the journal: the logical byte offset of a frame boundary, counting the frame bytes of
 * every segment ever written (segment headers excluded). It only grows, survives truncation and
 * reopening, and is what a checkpoint records. `0` is the start of a new journal.
 */
export type JournalPosition = number

/**
 * When appended entries reach the disk, and so when `append` resolves:
 * - `always`: after an fdatasync covering them (concurrent appends share one fdatasync). Survives a
 *   machine crash.
 * - `batch`: after an fdatasync that runs once `batchEntries` entries are waiting or
 *   `fsyncIntervalMs` after the first of them. Survives a machine crash; trades latency for rate.
 * - `interval`: after the write reaches the OS; a timer syncs every `fsyncIntervalMs`. Survives a
 *   process crash; a machine crash may lose the last interval.
 * - `never`: after the write reaches the OS; synced only on segment roll-over and close.
 */
export type FsyncPolicy = 'always' | 'batch' | 'interval' | 'never'

export interface JournalOptions {
  /** A segment is closed and a new one started once it holds this many bytes (default 64 MiB). */
  segmentBytes?: number
  /** Default `always`. */
  fsync?: FsyncPolicy
  /** The sync period of `interval` and the longest wait of `batch` (default 1000 ms). */
  fsyncIntervalMs?: number
  /** How many waiting entries trigger a sync under `batch` (default 10 000). */
  batchEntries?: number
  /** Take a `LOCK` file holding this process id, so that two live processes never share it (default true). */
  lock?: boolean
  log?: Logger
}

interface Waiter {
  readonly end: number
  readonly resolve: (position: JournalPosition) => void
  readonly reject: (error: Error) => void
}

const INITIAL_BUFFER = 1 << 20

/**
 * An append-only log of entries in segment files under one directory.
 *
 * Entries are values encoded with msgpack (`append`) or raw bytes (`appendBytes`); read each kind
 * back with the matching reader method. Appends are ordered as called; each returns a promise of the
 * position after its last entry that resolves once the entries are durable per the fsync policy.
 * Readers see exactly the entries whose append has resolved. One process at a time owns a directory.
 * After a write or sync error the journal is failed: every pending and later append rejects with
 * ERR_JOURNAL_FAILED; reopening recovers every acknowledged entry.
 */
export class Journal {
  readonly dir: string
  private readonly segmentBytes: number
  private readonly policy: FsyncPolicy
  private readonly intervalMs: number
  private readonly batchEntries: number
  private readonly log: Logger | undefined
  private readonly locked: boolean
  private readonly packr: Packr
  private structures: Structures
  private structuresVersion = 0
  private segments: Segment[]
  private handle: FileHandle
  private pending: Buffer = Buffer.allocUnsafe(INITIAL_BUFFER)
  private spare: Buffer = Buffer.allocUnsafe(INITIAL_BUFFER)
  private pendingLength = 0
  private pendingEntries = 0
  private unsyncedEntries = 0
  private appendEnd: number
  /** The base of the segment the next appended frame goes to, and where new segments start. */
  private plannedBase: number
  private rollPoints: number[] = []
  private writtenEnd: number
  private durableEnd: number
  private visibleEnd: number
  private waiters: Waiter[] = []
  private watchers: Array<() => void> = []
  private flushing = false
  private syncTimer: NodeJS.Timeout | undefined
  private failure: Error | undefined
  private closed = false

  private constructor(dir: string, options: JournalOptions, segments: Segment[], handle: FileHandle) {
    this.dir = dir
    this.segmentBytes = options.segmentBytes ?? 64 * 1024 * 1024
    this.policy = options.fsync ?? 'always'
    this.intervalMs = options.fsyncIntervalMs ?? 1000
    this.batchEntries = options.batchEntries ?? 10_000
    this.log = options.log
    this.locked = options.lock ?? true
    this.segments = segments
    this.handle = handle
    this.structures = loadStructures(dir)
    this.packr = new Packr({
      structures: copyStructures(this.structures) as object[],
      saveStructures: (structures: object[]) => {
        const saved = copyStructures(structures)
        saveStructures(dir, saved)
        this.structures = saved
        this.structuresVersion++
        return true
      },
    })
    const last = segments[segments.length - 1]!
    this.appendEnd = this.writtenEnd = this.durableEnd = this.visibleEnd = last.base + last.length
    this.plannedBase = last.base
    if (this.policy === 'interval') this.armSyncTimer()
  }

  /**
   * Opens (creating if needed) the journal in `dir`. Recovery: a torn last entry of the last segment
   * (a crash in the middle of a write) is found by its length and CRC32 and cut off, with a warning.
   * Throws ERR_JOURNAL_LOCKED when another live process holds the directory, ERR_JOURNAL_CORRUPT
   * when a closed segment is damaged.
   */
  static async open(dir: string, options: JournalOptions = {}): Promise<Journal> {
    const segmentBytes = options.segmentBytes ?? 64 * 1024 * 1024
    check(
      Number.isSafeInteger(segmentBytes) && segmentBytes > 0,
      'segmentBytes',
      'a positive integer',
      segmentBytes,
    )
    const fsync = options.fsync ?? 'always'
    check(
      ['always', 'batch', 'interval', 'never'].includes(fsync),
      'fsync',
      'one of "always", "batch", "interval", "never"',
      fsync,
    )
    const interval = options.fsyncIntervalMs ?? 1000
    check(Number.isFinite(interval) && interval > 0, 'fsyncIntervalMs', 'a positive number', interval)
    const batchEntries = options.batchEntries ?? 10_000
    check(
      Number.isSafeInteger(batchEntries) && batchEntries > 0,
      'batchEntries',
      'a positive integer',
      batchEntries,
    )
    await mkdir(dir, { recursive: true })
    if (options.lock ?? true) takeLock(dir)
    try {
      const segments = recoverSegments(dir, options.log)
      const last = segments[segments.length - 1]!
      const handle = await open(last.path, 'r+')
      return new Journal(dir, options, segments, handle)
    } catch (error) {
      if (options.lock ?? true) releaseLock(dir)
      throw error
    }
  }

  /** The first position still held (the base of the oldest segment). */
  start(): JournalPosition {
    return this.segments[0]!.base
  }

  /** The position after the last acknowledged entry: where a reader of everything stops. */
  end(): JournalPosition {
    return this.visibleEnd
  }

  /** Appends values, msgpack-encoded, in order. Resolves with the position after the last one. */
  append(values: readonly unknown[]): Promise<JournalPosition> {
    const length = this.pendingLength
    const entries = this.pendingEntries
    const end = this.appendEnd
    try {
      for (let i = 0; i < values.length; i++) this.frame(this.packr.pack(values[i]))
    } catch (error) {
      this.pendingLength = length
      this.pendingEntries = entries
      this.appendEnd = end
      while (this.rollPoints.length > 0 && this.rollPoints[this.rollPoints.length - 1]! > end)
        this.rollPoints.pop()
      this.plannedBase =
        this.rollPoints[this.rollPoints.length - 1] ?? this.segments[this.segments.length - 1]!.base
      throw error
    }
    return this.commit()
  }

  /** Appends raw payloads in order. The bytes are copied before this returns. */
  appendBytes(payloads: readonly Uint8Array[]): Promise<JournalPosition> {
    for (let i = 0; i < payloads.length; i++) {
      const n = payloads[i]!.length
      check(n <= MAX_PAYLOAD_BYTES, `payloads[${i}]`, `at most ${MAX_PAYLOAD_BYTES} bytes`, `${n} bytes`)
    }
    for (let i = 0; i < payloads.length; i++) this.frame(payloads[i]!)
    return this.commit()
  }

  /**
   * A reader starting at `from` (default: the oldest entry held). `from` must be a position this
   * journal returned (or `start()`/`end()`); throws ERR_ARGUMENT when it lies outside the journal.
   */
  reader(from: JournalPosition = this.start()): JournalReader {
    check(
      Number.isSafeInteger(from) && from >= this.start() && from <= this.visibleEnd,
      'from',
      `a journal position between ${this.start()} and ${this.visibleEnd}`,
      from,
    )
    return new JournalReader(this, from)
  }

  /**
   * Deletes whole segments that end at or before the segment holding `position`; the segment being
   * written is never deleted. Call it once a checkpoint that recorded `position` is complete.
   * Readers already inside a deleted segment keep reading it (the file stays open). Returns how many
   * segments were deleted.
   */
  async truncateBefore(position: JournalPosition): Promise<number> {
    let n = 0
    while (this.segments.length > 1 && this.segments[1]!.base <= position) {
      const gone = this.segments.shift()!
      await unlink(gone.path)
      n++
    }
    return n
  }

  /** Waits for pending appends, syncs, closes the segment and releases the lock. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return
    while (this.flushing) await new Promise<void>((resolve) => this.watchers.push(resolve))
    this.closed = true
    if (this.syncTimer) clearTimeout(this.syncTimer)
    try {
      if (this.failure === undefined && this.writtenEnd > this.durableEnd) {
        await this.handle.datasync()
        this.durableEnd = this.writtenEnd
        this.publish()
      }
    } finally {
      await this.handle.close()
      if (this.locked) releaseLock(this.dir)
      this.failAll(new SquallError('ERR_JOURNAL_FAILED', `journal ${this.dir}: closed`))
    }
  }

  /** Segments currently held, oldest first: `{ base, path, length }` (for readers and tools). */
  segmentList(): ReadonlyArray<Readonly<Segment>> {
    return this.segments
  }

  /** The record shapes shared by encoded entries, and a number that changes when one is added. */
  sharedStructures(): { structures: Structures; version: number } {
    return { structures: this.structures, version: this.structuresVersion }
  }

  /** Resolves once the visible end moves past `position` (or at once if it already has). */
  waitFor(position: JournalPosition): Promise<void> {
    if (this.visibleEnd > position || this.closed) return Promise.resolve()
    return new Promise((resolve) => this.watchers.push(resolve))
  }

  private frame(payload: Uint8Array): void {
    const length = payload.length
    check(length <= MAX_PAYLOAD_BYTES, 'entry', `at most ${MAX_PAYLOAD_BYTES} bytes`, `${length} bytes`)
    if (this.appendEnd - this.plannedBase >= this.segmentBytes) {
      this.plannedBase = this.appendEnd
      this.rollPoints.push(this.appendEnd)
    }
    const need = this.pendingLength + FRAME_HEADER_BYTES + length
    if (need > this.pending.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, this.pending.length * 2))
      this.pending.copy(grown, 0, 0, this.pendingLength)
      this.pending = grown
    }
    this.pendingLength = writeFrame(this.pending, this.pendingLength, payload, crc32(payload))
    this.pendingEntries++
    this.appendEnd += FRAME_HEADER_BYTES + length
  }

  private commit(): Promise<JournalPosition> {
    if (this.failure !== undefined || this.closed) {
      this.pendingLength = 0
      this.pendingEntries = 0
      this.appendEnd = this.writtenEnd
      this.rollPoints = []
      return Promise.reject(
        this.failure ?? new SquallError('ERR_JOURNAL_FAILED', `journal ${this.dir}: closed`),
      )
    }
    const end = this.appendEnd
    const promise = new Promise<JournalPosition>((resolve, reject) => {
      this.waiters.push({ end, resolve, reject })
    })
    if (!this.flushing) void this.flush()
    return promise
  }

  private async flush(): Promise<void> {
    this.flushing = true
    try {
      while (this.pendingLength > 0 || this.needsSync()) {
        if (this.pendingLength > 0) {
          const full = this.pending
          const data = full.subarray(0, this.pendingLength)
          const entries = this.pendingEntries
          this.pending = this.spare
          this.spare = full
          this.pendingLength = 0
          this.pendingEntries = 0
          const start = this.writtenEnd
          let off = 0
          while (off < data.length) {
            if (this.rollPoints.length > 0 && this.rollPoints[0] === start + off) {
              this.rollPoints.shift()
              await this.roll()
            }
            const stop =
              this.rollPoints.length > 0 ? Math.min(this.rollPoints[0]! - start, data.length) : data.length
            const segment = this.segments[this.segments.length - 1]!
            while (off < stop) {
              const r = await this.handle.write(data, off, stop - off, SEGMENT_HEADER_BYTES + segment.length)
              off += r.bytesWritten
              segment.length += r.bytesWritten
              this.writtenEnd += r.bytesWritten
            }
          }
          if (full.length > INITIAL_BUFFER * 16) this.spare = Buffer.allocUnsafe(INITIAL_BUFFER)
          this.unsyncedEntries += entries
        }
        if (this.needsSync()) {
          const target = this.writtenEnd
          this.unsyncedEntries = 0
          this.syncDue = false
          await this.handle.datasync()
          this.durableEnd = target
        }
        this.publish()
      }
      if (this.policy === 'batch' && this.writtenEnd > this.durableEnd) this.armSyncTimer()
    } catch (error) {
      this.failure = new SquallError('ERR_JOURNAL_FAILED', `journal ${this.dir}: write or sync failed`, {
        cause: error,
      })
      this.failAll(this.failure)
    } finally {
      this.flushing = false
      this.wake()
    }
  }

  private needsSync(): boolean {
    if (this.writtenEnd <= this.durableEnd) return false
    if (this.policy === 'always') return true
    if (this.policy === 'batch') return this.unsyncedEntries >= this.batchEntries || this.syncDue
    return this.syncDue
  }

  private syncDue = false

  private armSyncTimer(): void {
    if (this.syncTimer !== undefined || this.closed) return
    this.syncTimer = setTimeout(() => {
      this.syncTimer = undefined
      if (this.closed) return
      if (this.writtenEnd > this.durableEnd) {
        this.syncDue = true
        if (!this.flushing) void this.flush()
      }
      if (this.policy === 'interval') this.armSyncTimer()
    }, this.intervalMs)
    this.syncTimer.unref()
  }

  private async roll(): Promise<void> {
    const last = this.segments[this.segments.length - 1]!
    if (this.writtenEnd > this.durableEnd) await this.handle.datasync()
    this.durableEnd = this.writtenEnd
    await this.handle.close()
    const base = last.base + last.length
    const path = join(this.dir, segmentFileName(base))
    this.handle = await open(path, 'wx+')
    await this.handle.write(SEGMENT_MAGIC, 0, SEGMENT_HEADER_BYTES, 0)
    await this.handle.datasync()
    syncDir(this.dir)
    this.segments.push({ base, path, length: 0 })
  }

  private publish(): void {
    const acked = this.policy === 'always' || this.policy === 'batch' ? this.durableEnd : this.writtenEnd
    if (acked > this.visibleEnd) this.visibleEnd = acked
    let i = 0
    const waiters = this.waiters
    while (i < waiters.length && waiters[i]!.end <= this.visibleEnd) {
      waiters[i]!.resolve(waiters[i]!.end)
      i++
    }
    if (i > 0) this.waiters = waiters.slice(i)
    this.wake()
  }

  private wake(): void {
    if (this.watchers.length === 0) return
    const watchers = this.watchers
    this.watchers = []
    for (const w of watchers) w()
  }

  private failAll(error: Error): void {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w.reject(error)
  }
}

export { JournalReader }

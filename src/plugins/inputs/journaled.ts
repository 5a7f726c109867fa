// A source fed by a network server through a journal: what the server accepts is appended to the
// journal before the sender is acknowledged, and the job reads the journal, so nothing acked is lost.
// Entries are either events (one per entry) or whole requests decoded into events as they are read.

import { REQUEST_MARK } from '../forward/journal-entry.ts'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Record } from '../../core/record.ts'
import type { IoContext, SourceReader, SourceSpec } from '../../core/source.ts'
import { type FsyncPolicy, Journal, type JournalPosition, type JournalReader } from '../../state/journal.ts'
import type { Parser } from '../parsers/parser.ts'
import { LineDecoder, unwrapPosition } from './lines.ts'

/** One journaled event: its tag, its time (ms) and its value (a record, or a line to parse). */
export type JournalEvent = [tag: string, time: number, value: unknown]

/** How a journaled input's server learns that the job lags behind. */
export interface Backpressure {
  /**
   * True when the job lags behind the journal by more than the bound, or when earlier callers are
   * still waiting in `room()`: answer "busy", or wait in `room()` before appending. Waiting whenever
   * this is true keeps appends in arrival order.
   */
  busy(): boolean
  /**
   * Resolves once the job has caught up below the bound and every earlier waiter has been released
   * (for senders that can wait, like forward); waiters are released in the order they came.
   */
  room(): Promise<void>
}

/** What a journaled input's server uses to hand events over. */
export interface JournalIntake extends Backpressure {
  /**
   * Appends events; resolves once they are durable (per the fsync policy). Acknowledge the sender
   * only after it resolves. A rejection means nothing may be acknowledged.
   */
  append(events: JournalEvent[]): Promise<void>
}

/** What a request-journaling input's server uses to hand requests over. */
export interface RequestIntake extends Backpressure {
  /**
   * Appends one request as one journal entry (the bytes are copied before this returns); resolves
   * once it is durable (per the fsync policy). Entries are journaled in call order. Acknowledge the
   * sender only after it resolves; a rejection means nothing may be acknowledged.
   */
  append(request: Uint8Array): Promise<void>
}

/** A running server of a journaled input. */
export interface IntakeServer {
  close(): Promise<void>
}

/**
 * The longest an append waits for its fdatasync under fsync `batch` (the journal's own default is
 * 1000 ms). A network sender has few requests unacknowledged at a time (one per HTTP connection, up
 * to the forward server's `maxInFlight` per forward connection), so a long wait caps a sender at
 * that many requests per wait; a few milliseconds still lets the requests of many senders, and the
 * in-flight requests of one, share one sync.
 */
const BATCH_SYNC_WAIT_MS = 5

/** What both kinds of journaled source take. */
interface JournalSettings {
  readonly kind: string
  /** The journal directory; `undefined`: a temporary one, removed at close (not crash-safe). */
  readonly dir: string | undefined
  readonly fsync: FsyncPolicy
  /** Journal bytes not yet read by the job above which the input is busy. */
  readonly maxLagBytes: number
}

/** Options of {@link journaledSource}. */
export interface JournaledSourceOptions extends JournalSettings {
  /** Parses string values (syslog lines); `undefined`: values are used as they are. */
  readonly parser?: Parser | undefined
  /**
   * With a multiline parser (which joins the values, in journal order, into records): how long a
   * record in progress waits for its next line before it is emitted, in ms; 0 or absent: until the
   * next first line. Records in progress are part of the source's position.
   */
  readonly multilineFlushMs?: number | undefined
  /** Starts the server; called from the reader's `open`. */
  start(intake: JournalIntake, ctx: IoContext): Promise<IntakeServer>
}

/** Options of {@link journaledRequestSource}. */
export interface RequestSourceOptions extends JournalSettings {
  /**
   * Turns one journaled request into its records, reporting (counting and logging) what it skips
   * itself. Must be deterministic: after a restore it is called again on the same bytes, and the
   * position counts the records it returned.
   */
  unpack(entry: Buffer, ctx: IoContext): Record<unknown>[]
  /** Starts the server; called from the reader's `open`. */
  start(intake: RequestIntake, ctx: IoContext): Promise<IntakeServer>
}

/**
 * The position of a request source: the journal position of a request and how many of its records
 * were handed out (0: none, so `at` may also be the position after the last request).
 */
export interface RequestPosition {
  readonly at: JournalPosition
  readonly event: number
}

/**
 * A source of one partition reading its journal. Its position (the journal position after the last
 * event handed out) is its snapshot; when a checkpoint completes, the journal segments before that
 * checkpoint's position are deleted. After a crash, restoring the checkpoint replays every event
 * journaled after it — including those acknowledged just before the crash.
 */
export function journaledSource(options: JournaledSourceOptions): SourceSpec<unknown> {
  return {
    kind: options.kind,
    bounded: false,
    maxPartitions: 1,
    create: (ctx) => new JournaledReader(options, ctx),
  }
}

/**
 * A source of one partition whose journal holds whole requests, each written once as received and
 * decoded by `unpack` only when the job reads it. Its position ({@link RequestPosition}) addresses a
 * record within a request, so a checkpoint taken in the middle of a request resumes after exactly
 * the records handed out; otherwise it behaves as {@link journaledSource}.
 */
export function journaledRequestSource(options: RequestSourceOptions): SourceSpec<unknown> {
  return {
    kind: options.kind,
    bounded: false,
    maxPartitions: 1,
    create: (ctx) => new JournaledReader(options, ctx),
  }
}

/** Reads a journal's entries as records from a position. */
interface Cursor {
  readonly reader: JournalReader
  /** Up to `max` records available now. */
  read(max: number): Record<unknown>[]
  /** The position after the last record handed out (what a checkpoint stores). */
  snapshot(): unknown
}

/** A cursor over entries of one event each (`JournalEvent`); its position is a journal position. */
class EventCursor implements Cursor {
  constructor(
    readonly reader: JournalReader,
    private readonly decoder: LineDecoder | undefined,
    private readonly kind: string,
  ) {}

  read(max: number): Record<unknown>[] {
    const entries = this.reader.readBatch(max) as JournalEvent[]
    const out: Record<unknown>[] = []
    const decoder = this.decoder
    for (let i = 0; i < entries.length; i++) {
      const [tag, time, value] = entries[i]!
      if (decoder !== undefined && typeof value === 'string')
        decoder.push(out, value, time, tag, this.kind, undefined)
      else out.push({ value, key: undefined, time, tag })
    }
    return out
  }

  snapshot(): JournalPosition {
    return this.reader.position()
  }
}

/** A cursor over entries of one request each; its position addresses a record within a request. */
class RequestCursor implements Cursor {
  private records: Record<unknown>[] = []
  private next = 0
  /** The journal position of the request `records` came from. */
  private at: JournalPosition

  /** Starts at the request at `reader.position()`, after its first `skip` records. */
  constructor(
    readonly reader: JournalReader,
    private readonly unpack: (entry: Buffer) => Record<unknown>[],
    skip: number,
  ) {
    this.at = reader.position()
    if (skip > 0 && this.load()) this.next = Math.min(skip, this.records.length)
  }

  read(max: number): Record<unknown>[] {
    const out: Record<unknown>[] = []
    while (out.length < max) {
      if (this.next === this.records.length && !this.load()) break
      const records = this.records
      const stop = Math.min(records.length, this.next + max - out.length)
      for (let i = this.next; i < stop; i++) out.push(records[i]!)
      this.next = stop
    }
    return out
  }

  snapshot(): RequestPosition {
    return this.next < this.records.length
      ? { at: this.at, event: this.next }
      : { at: this.reader.position(), event: 0 }
  }

  /** Decodes the next request available now; false when there is none yet. */
  private load(): boolean {
    const at = this.reader.position()
    const entries = this.reader.readBytes(1)
    if (entries.length === 0) return false
    this.at = at
    const entry = entries[0]!
    this.records = entry[0] === REQUEST_MARK ? this.unpack(entry) : this.legacy(entry)
    this.next = 0
    return true
  }

  /**
   * An entry journaled one event at a time (`[tag, time, value]`, by earlier versions of the input):
   * read as it was then, so an upgrade loses none of the events acknowledged before it.
   */
  private legacy(entry: Buffer): Record<unknown>[] {
    const e = this.reader.decode(entry)
    if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'number') return this.unpack(entry)
    return [{ value: e[2], key: undefined, time: e[1], tag: e[0] }]
  }
}

/** The journal position and record offset of a snapshot of either kind of journaled source. */
function positionOf(position: unknown): RequestPosition | undefined {
  if (typeof position === 'number') return { at: position, event: 0 }
  if (typeof position !== 'object' || position === null) return undefined
  const { at, event } = position as { at?: unknown; event?: unknown }
  if (typeof at !== 'number' || typeof event !== 'number') return undefined
  return { at, event }
}

class JournaledReader implements SourceReader<unknown> {
  private journal: Journal | undefined
  private cursor: Cursor | undefined
  private server: IntakeServer | undefined
  private tempDir: string | undefined
  private roomWaiters: Array<() => void> = []
  private readonly decoder: LineDecoder | undefined

  constructor(
    private readonly options: JournaledSourceOptions | RequestSourceOptions,
    private readonly ctx: IoContext,
  ) {
    this.decoder =
      'parser' in options && options.parser
        ? new LineDecoder(options.parser, ctx, { multilineFlushMs: options.multilineFlushMs })
        : undefined
  }

  async open(): Promise<void> {
    let dir = this.options.dir
    if (dir === undefined) {
      this.tempDir = dir = mkdtempSync(join(tmpdir(), `squall-${this.options.kind}-`))
      this.ctx.log(
        'warn',
        `${this.options.kind} input "${this.ctx.nodeName}": no state.dir, so its journal is temporary; events acknowledged before a crash would be lost`,
        {
          node: this.ctx.nodeName,
        },
      )
    } else mkdirSync(dir, { recursive: true })
    const journal = await Journal.open(dir, {
      fsync: this.options.fsync,
      log: this.ctx.log,
      ...(this.options.fsync === 'batch' ? { fsyncIntervalMs: BATCH_SYNC_WAIT_MS } : {}),
    })
    this.journal = journal
    this.cursor = this.cursorAt(journal.start(), 0)
    const backpressure: Backpressure = {
      busy: () => this.roomWaiters.length > 0 || this.lag() > this.options.maxLagBytes,
      room: () =>
        backpressure.busy() ? new Promise((resolve) => this.roomWaiters.push(resolve)) : Promise.resolve(),
    }
    const options = this.options
    if ('unpack' in options) {
      const intake: RequestIntake = {
        ...backpressure,
        append: async (request) => {
          await journal.appendBytes([request])
          this.ctx.count('journaled_requests')
        },
      }
      this.server = await options.start(intake, this.ctx)
    } else {
      const intake: JournalIntake = {
        ...backpressure,
        append: async (events) => {
          await journal.append(events)
          this.ctx.count('journaled', events.length)
        },
      }
      this.server = await options.start(intake, this.ctx)
    }
  }

  /** A cursor at journal position `at` (clamped to what the journal holds), after `skip` records. */
  private cursorAt(at: JournalPosition, skip: number): Cursor {
    const journal = this.journal!
    const from = Math.min(Math.max(at, journal.start()), journal.end())
    const reader = journal.reader(from)
    const options = this.options
    if (!('unpack' in options)) return new EventCursor(reader, this.decoder, options.kind)
    return new RequestCursor(reader, (entry) => options.unpack(entry, this.ctx), from === at ? skip : 0)
  }

  private lag(): number {
    return this.journal && this.cursor ? this.journal.end() - this.cursor.reader.position() : 0
  }

  nextBatch(max: number): Record<unknown>[] {
    const out = this.cursor!.read(max)
    if (this.decoder?.active) this.decoder.flushIdle(out, this.ctx.clock.now())
    if (this.roomWaiters.length > 0 && this.lag() <= this.options.maxLagBytes) {
      const waiters = this.roomWaiters
      this.roomWaiters = []
      for (const w of waiters) w()
    }
    return out
  }

  ready(): Promise<void> {
    return this.cursor!.reader.ready()
  }

  /** The cursor's position; with a multiline parser, together with the records in progress. */
  snapshot(): unknown {
    const position = this.cursor!.snapshot()
    return this.decoder ? this.decoder.wrap(position) : position
  }

  restore(saved: unknown): void {
    const { position, multiline } = unwrapPosition(saved)
    this.decoder?.restore(multiline)
    const at = positionOf(position)
    if (at === undefined) return
    this.cursor!.reader.close()
    this.cursor = this.cursorAt(at.at, at.event)
  }

  onCheckpointComplete(_checkpointId: number, saved: unknown): void {
    const at = positionOf(unwrapPosition(saved).position)
    if (at === undefined || !this.journal) return
    this.journal.truncateBefore(at.at).catch((e: Error) => {
      this.ctx.log(
        'warn',
        `${this.options.kind} input "${this.ctx.nodeName}": could not delete old journal segments: ${e.message}`,
        { node: this.ctx.nodeName },
      )
    })
  }

  async close(): Promise<void> {
    for (const w of this.roomWaiters) w()
    this.roomWaiters = []
    await this.server?.close()
    this.cursor?.reader.close()
    await this.journal?.close()
    if (this.tempDir) rmSync(this.tempDir, { recursive: true, force: true })
  }
}

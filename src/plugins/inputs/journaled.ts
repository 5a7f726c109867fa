// A source fed by a network server through a journal: what the server accepts is appended to the
// journal before the sender is acknowledged, and the job reads the journal, so nothing acked is lost.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Record } from '../../core/record.ts'
import type { IoContext, SourceReader, SourceSpec } from '../../core/source.ts'
import { type FsyncPolicy, Journal, type JournalPosition, type JournalReader } from '../../state/journal.ts'
import type { Parser } from '../parsers/parser.ts'
import { LineDecoder } from './lines.ts'

/** One journaled event: its tag, its time (ms) and its value (a record, or a line to parse). */
export type JournalEvent = [tag: string, time: number, value: unknown]

/** What a journaled input's server uses to hand events over. */
export interface JournalIntake {
  /**
   * Appends events; resolves once they are durable (per the fsync policy). Acknowledge the sender
   * only after it resolves. A rejection means nothing may be acknowledged.
   */
  append(events: JournalEvent[]): Promise<void>
  /** True when the job lags behind the journal by more than the bound: answer "busy". */
  busy(): boolean
  /** Resolves once the job has caught up below the bound (for senders that can wait, like forward). */
  room(): Promise<void>
}

/** A running server of a journaled input. */
export interface IntakeServer {
  close(): Promise<void>
}

/**
 * The longest an append waits for its fdatasync under fsync `batch` (the journal's own default is
 * 1000 ms). A network sender waits for each ack before sending more — the forward protocol handles
 * one request per connection at a time — so a long wait caps a sender at one request per wait; a
 * few milliseconds still lets the requests of many senders share one sync.
 */
const BATCH_SYNC_WAIT_MS = 5

/** Options of {@link journaledSource}. */
export interface JournaledSourceOptions {
  readonly kind: string
  /** The journal directory; `undefined`: a temporary one, removed at close (not crash-safe). */
  readonly dir: string | undefined
  readonly fsync: FsyncPolicy
  /** Journal bytes not yet read by the job above which the input is busy. */
  readonly maxLagBytes: number
  /** Parses string values (syslog lines); `undefined`: values are used as they are. */
  readonly parser?: Parser | undefined
  /** Starts the server; called from the reader's `open`. */
  start(intake: JournalIntake, ctx: IoContext): Promise<IntakeServer>
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

class JournaledReader implements SourceReader<unknown> {
  private journal: Journal | undefined
  private reader: JournalReader | undefined
  private server: IntakeServer | undefined
  private tempDir: string | undefined
  private roomWaiters: Array<() => void> = []
  private readonly decoder: LineDecoder | undefined

  constructor(
    private readonly options: JournaledSourceOptions,
    private readonly ctx: IoContext,
  ) {
    this.decoder = options.parser ? new LineDecoder(options.parser, ctx) : undefined
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
    this.reader = journal.reader(journal.start())
    const intake: JournalIntake = {
      append: async (events) => {
        await journal.append(events)
        this.ctx.count('journaled', events.length)
      },
      busy: () => this.lag() > this.options.maxLagBytes,
      room: () =>
        this.lag() > this.options.maxLagBytes
          ? new Promise((resolve) => this.roomWaiters.push(resolve))
          : Promise.resolve(),
    }
    this.server = await this.options.start(intake, this.ctx)
  }

  private lag(): number {
    return this.journal && this.reader ? this.journal.end() - this.reader.position() : 0
  }

  nextBatch(max: number): Record<unknown>[] {
    const entries = this.reader!.readBatch(max) as JournalEvent[]
    if (this.roomWaiters.length > 0 && this.lag() <= this.options.maxLagBytes) {
      const waiters = this.roomWaiters
      this.roomWaiters = []
      for (const w of waiters) w()
    }
    const out: Record<unknown>[] = []
    const decoder = this.decoder
    for (let i = 0; i < entries.length; i++) {
      const [tag, time, value] = entries[i]!
      if (decoder !== undefined && typeof value === 'string')
        decoder.push(out, value, time, tag, this.options.kind, undefined)
      else out.push({ value, key: undefined, time, tag })
    }
    return out
  }

  ready(): Promise<void> {
    return this.reader!.ready()
  }

  snapshot(): JournalPosition {
    return this.reader!.position()
  }

  restore(position: unknown): void {
    if (typeof position !== 'number') return
    const journal = this.journal!
    this.reader!.close()
    this.reader = journal.reader(Math.min(Math.max(position, journal.start()), journal.end()))
  }

  onCheckpointComplete(_checkpointId: number, position: unknown): void {
    if (typeof position !== 'number' || !this.journal) return
    this.journal.truncateBefore(position).catch((e: Error) => {
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
    this.reader?.close()
    await this.journal?.close()
    if (this.tempDir) rmSync(this.tempDir, { recursive: true, force: true })
  }
}

// The output buffer: records gathered into chunks, delivered one chunk at a time with retry, sent to
// the secondary output when they cannot be delivered, and a bound that slows the job down when full.

import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { SquallError } from '../../core/errors.ts'
import type { Record } from '../../core/record.ts'
import type { IoContext, SinkWriter } from '../../core/source.ts'
import type { TagMatcher } from '../../core/tag-match.ts'
import { Journal, type JournalPosition } from '../../state/journal.ts'
import type { ChunkKeys, Delivery } from '../define.ts'
import { isRetryable, type RetryPolicy, retry } from './retry.ts'

/** Where chunks wait for delivery (fluentd's `<buffer>`). */
export interface BufferOptions {
  /** `memory` (default), or `file`: chunks are journaled under `path` and survive a restart. */
  readonly type: 'memory' | 'file'
  /** Directory of a `file` buffer. */
  readonly path?: string | undefined
  /** A chunk is sealed and queued once it holds this many records. */
  readonly chunkLimitRecords: number
  /** Above this many (estimated) bytes queued, `write` waits: the job slows down instead of growing. */
  readonly totalLimitBytes: number
  /** A chunk that is not full is sealed after this long, in ms. */
  readonly flushIntervalMs: number
}

/** What happens to a chunk that cannot be delivered and has no secondary output. */
export type UndeliverablePolicy = 'fail' | 'skip'

/** Options of {@link BufferedWriter}. */
export interface BufferedWriterOptions {
  /** The output's name, for logs, counters and dead letters. */
  readonly name: string
  readonly buffer: BufferOptions
  readonly retry: RetryPolicy
  /** Only records whose tag matches are written; `undefined` = all. */
  readonly match?: TagMatcher | undefined
  /** Receives what cannot be delivered, as {@link DeadLetterValue} records. */
  readonly secondary?: Delivery | undefined
  /** Without a secondary: `fail` (default) fails the job; `skip` logs, counts and drops the chunk. */
  readonly onUndeliverable?: UndeliverablePolicy
  readonly sleep?: (ms: number) => Promise<void>
}

/** The value of a record sent to a secondary output: the original record and why it failed. */
export interface DeadLetterValue {
  output: string
  error: string
  tag: string
  time: number
  record: unknown
}

interface Chunk {
  records: Record[]
  /** The records' idempotency keys; absent when the task gives none. */
  keys: ChunkKeys | undefined
  bytes: number
  /** End position of the chunk in a file buffer. */
  position: JournalPosition
}

/** Keys of a chunk: task keys of the records' sequence numbers, made when asked for. */
function keysOf(ctx: IoContext, seqs: readonly number[]): ChunkKeys {
  return { key: (i) => ctx.idempotencyKey!(seqs[i]!) }
}

/** Keys kept as strings (a chunk read back from a file buffer). */
function storedKeys(keys: readonly string[]): ChunkKeys {
  return { key: (i) => keys[i]! }
}

/** Estimates a chunk's size from its first record (a JSON rendering), so the cost is per chunk. */
function estimateBytes(records: Record[]): number {
  if (records.length === 0) return 0
  let one: number
  try {
    one = (JSON.stringify(records[0]!.value) ?? '').length + records[0]!.tag.length + 24
  } catch {
    one = 256
  }
  return one * records.length
}

/**
 * A sink task writing through a {@link Delivery}: records are filtered by tag, gathered into chunks
 * of `chunkLimitRecords` (or sealed every `flushIntervalMs`) and delivered in order, one chunk at a
 * time, retried per `retry`. A chunk that still fails, or fails with a non-retryable error, goes to
 * the secondary output with the reason; without one it fails the job (or is logged and counted
 * under `onUndeliverable: 'skip'`). Nothing is dropped without a counter and a log line.
 *
 * `write` returns a promise while more than `totalLimitBytes` are queued: the runtime then holds
 * back, which slows the sources down. `preCommit` and `finish` wait until every chunk is delivered,
 * so a completed checkpoint means the output has everything before it (at-least-once).
 *
 * Each chunk goes to `deliver` with its records' idempotency keys (`IoContext.idempotencyKey`,
 * when the task gives keys), the same at every attempt; a file buffer journals them with the
 * records, so a chunk delivered after a restart keeps them. Chunks are cut by `chunkLimitRecords`,
 * at every checkpoint barrier and by the flush timer, so a replay may cut the same records into
 * other chunks: keys belong to records, not to chunks.
 */
export class BufferedWriter implements SinkWriter<unknown> {
  private current: Record[] = []
  /** Sequence numbers of the records in `current`, when the task gives keys. */
  private currentSeqs: number[] | undefined
  private readonly queue: Chunk[] = []
  private queuedBytes = 0
  private pumping: Promise<void> | undefined
  private failure: Error | undefined
  private timer: NodeJS.Timeout | undefined
  private roomWaiters: Array<() => void> = []
  private journal: Journal | undefined
  private closed = false
  private readonly o: BufferedWriterOptions

  constructor(
    private readonly target: Delivery,
    options: BufferedWriterOptions,
    private readonly ctx: IoContext,
  ) {
    this.o = options
    if (ctx.batchSequence !== undefined && ctx.idempotencyKey !== undefined) this.currentSeqs = []
  }

  async open(): Promise<void> {
    await this.target.open?.()
    await this.o.secondary?.open?.()
    if (this.o.buffer.type === 'file') await this.openJournal()
    this.timer = setInterval(
      () => {
        if (this.current.length > 0) this.seal()
      },
      Math.max(1, this.o.buffer.flushIntervalMs),
    )
    this.timer.unref?.()
    if (this.queue.length > 0) this.pump()
  }

  private journalDir(): string {
    return join(this.o.buffer.path ?? '.', `${this.ctx.nodeName}-${this.ctx.partition}`)
  }

  /** Reopens a file buffer: chunks journaled after the last delivered one are queued again. */
  private async openJournal(): Promise<void> {
    const dir = this.journalDir()
    mkdirSync(dir, { recursive: true })
    this.journal = await Journal.open(dir, { fsync: 'batch', fsyncIntervalMs: 50, log: this.ctx.log })
    let from = this.journal.start()
    try {
      from = Math.max(from, Number(readFileSync(join(dir, 'delivered'), 'utf8')) || 0)
    } catch {}
    const reader = this.journal.reader(Math.min(from, this.journal.end()))
    for (;;) {
      const entries = reader.readBatch(64)
      if (entries.length === 0) break
      for (const e of entries) {
        const rows = e as [string, number, unknown, string?][]
        const records = rows.map(([tag, time, value]) => ({ value, key: undefined, time, tag }))
        const keys = rows.every((row) => typeof row[3] === 'string')
          ? storedKeys(rows.map((row) => row[3]!))
          : undefined
        this.enqueue({ records, keys, bytes: estimateBytes(records), position: reader.position() })
      }
    }
    reader.close()
    if (this.queue.length > 0)
      this.ctx.log(
        'info',
        `output "${this.o.name}": ${this.queue.length} buffered chunks from an earlier run will be delivered`,
        { node: this.o.name },
      )
  }

  write(records: Record<unknown>[]): void | Promise<void> {
    if (this.failure) throw this.failure
    const match = this.o.match
    const limit = this.o.buffer.chunkLimitRecords
    const first = this.currentSeqs === undefined ? 0 : this.ctx.batchSequence!()
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!
      if (match !== undefined && !match(r.tag)) continue
      this.current.push(r)
      this.currentSeqs?.push(first + i)
      if (this.current.length >= limit) this.seal()
    }
    if (this.queuedBytes > this.o.buffer.totalLimitBytes) {
      this.ctx.count('buffer_full')
      return this.waitForRoom()
    }
  }

  private waitForRoom(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.roomWaiters.push(() => (this.failure ? reject(this.failure) : resolve()))
    })
  }

  private seal(): void {
    const records = this.current
    this.current = []
    const seqs = this.currentSeqs
    if (seqs !== undefined) this.currentSeqs = []
    const keys = seqs === undefined ? undefined : keysOf(this.ctx, seqs)
    const chunk: Chunk = { records, keys, bytes: estimateBytes(records), position: 0 }
    if (this.journal) {
      const entry =
        keys === undefined
          ? records.map((r) => [r.tag, r.time, r.value])
          : records.map((r, i) => [r.tag, r.time, r.value, keys.key(i)])
      const appended = this.journal.append([entry]).then((p) => {
        chunk.position = p
      })
      appended.catch((e) => this.fail(e))
      ;(chunk as Chunk & { appended?: Promise<void> }).appended = appended
    }
    this.enqueue(chunk)
    this.pump()
  }

  private enqueue(chunk: Chunk): void {
    this.queue.push(chunk)
    this.queuedBytes += chunk.bytes
  }

  private pump(): void {
    if (this.pumping || this.failure) return
    this.pumping = (async () => {
      while (this.queue.length > 0 && !this.failure && !this.closed) {
        const chunk = this.queue[0]!
        await (chunk as Chunk & { appended?: Promise<void> }).appended
        await this.deliver(chunk)
        this.queue.shift()
        this.queuedBytes -= chunk.bytes
        if (this.journal && chunk.position > 0) this.markDelivered(chunk.position)
        if (this.queuedBytes <= this.o.buffer.totalLimitBytes) this.wakeRoom()
      }
    })()
      .catch((e) => this.fail(e))
      .finally(() => {
        this.pumping = undefined
        if (this.queue.length > 0 && !this.failure && !this.closed) this.pump()
      })
  }

  private markDelivered(position: JournalPosition): void {
    const dir = this.journalDir()
    writeFileSync(join(dir, 'delivered.tmp'), String(position))
    renameSync(join(dir, 'delivered.tmp'), join(dir, 'delivered'))
    void this.journal!.truncateBefore(position).catch(() => {})
  }

  private wakeRoom(): void {
    const waiters = this.roomWaiters
    this.roomWaiters = []
    for (const w of waiters) w()
  }

  private fail(error: unknown): void {
    if (this.failure) return
    this.failure = error instanceof Error ? error : new Error(String(error))
    this.wakeRoom()
  }

  /** Delivers one chunk with retry; on final failure hands it to the secondary output or the policy. */
  private async deliver(chunk: Chunk): Promise<void> {
    const { ctx, o, target } = this
    const retryable = target.retryable ? (e: unknown) => target.retryable!(e) : isRetryable
    try {
      await retry(() => target.deliver(chunk.records, chunk.keys), o.retry, {
        retryable,
        cancelled: () => this.closed,
        ...(o.sleep ? { sleep: o.sleep } : {}),
        onFailure: ({ attempt, error, nextDelayMs }) => {
          ctx.count('delivery_errors')
          if (nextDelayMs !== undefined) {
            ctx.count('retries')
            ctx.log(
              'warn',
              `output "${o.name}": delivery attempt ${attempt} failed, retrying in ${nextDelayMs} ms: ${message(error)}`,
              {
                node: o.name,
                records: chunk.records.length,
              },
            )
          }
        },
      })
      ctx.count('delivered', chunk.records.length)
    } catch (error) {
      await this.undeliverable(chunk, error)
    }
  }

  private async undeliverable(chunk: Chunk, error: unknown): Promise<void> {
    const { ctx, o } = this
    const reason = message(error)
    if (o.secondary) {
      const letters: Record[] = chunk.records.map((r) => ({
        value: {
          output: o.name,
          error: reason,
          tag: r.tag,
          time: r.time,
          record: r.value,
        } satisfies DeadLetterValue,
        key: r.key,
        time: r.time,
        tag: r.tag,
      }))
      await retry(() => o.secondary!.deliver(letters, chunk.keys), o.retry, {
        cancelled: () => this.closed,
        ...(o.sleep ? { sleep: o.sleep } : {}),
      })
      ctx.count('dead_lettered', chunk.records.length)
      ctx.log(
        'warn',
        `output "${o.name}": ${chunk.records.length} records sent to the secondary output: ${reason}`,
        { node: o.name },
      )
      return
    }
    if (o.onUndeliverable === 'skip') {
      ctx.count('dropped', chunk.records.length)
      ctx.log(
        'error',
        `output "${o.name}": dropped a chunk of ${chunk.records.length} records that could not be delivered: ${reason}`,
        { node: o.name },
      )
      return
    }
    throw new SquallError(
      'ERR_OUTPUT_UNDELIVERABLE',
      `output "${o.name}": a chunk of ${chunk.records.length} records could not be delivered: ${reason}; add a "secondary" output to keep such records, or raise retry.maxAttempts`,
      { where: { node: o.name, partition: ctx.partition }, cause: error },
    )
  }

  /** Resolves once every record written so far is delivered (or rejects with the failure). */
  private async drain(): Promise<void> {
    if (this.current.length > 0) this.seal()
    while ((this.queue.length > 0 || this.pumping) && !this.failure) {
      if (!this.pumping) this.pump()
      await this.pumping
    }
    if (this.failure) throw this.failure
  }

  preCommit(): Promise<undefined> {
    return this.drain().then(() => undefined)
  }

  finish(): Promise<void> {
    return this.drain()
  }

  /** Stops the flush timer and releases the destination; chunks not delivered stay in a file buffer. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.closed = true
    // A delivery still in flight (a hung destination) does not hold the close up for long.
    if (this.pumping)
      await Promise.race([this.pumping.catch(() => {}), new Promise((r) => setTimeout(r, 200).unref?.())])
    await this.target.close?.()
    await this.o.secondary?.close?.()
    await this.journal?.close()
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

// The NATS input: subscribes to a subject (at-most-once, like any live subscription), or reads a
// JetStream stream from a recorded sequence — the sequence is the source's snapshot, so a restore
// replays exactly what the job had not yet checkpointed. The stream is read by an ephemeral consumer
// without acks, created at that sequence (works on nats-server 2.9). Payloads are decoded (JSON,
// text, or the source's parser) when the job reads them, not when they arrive.

import type { NatsConnection } from 'nats'
import { z } from 'zod'
import { SquallError } from '../../core/errors.ts'
import type { Record } from '../../core/record.ts'
import type { IoContext, SourceReader } from '../../core/source.ts'
import { defineInput, type InputContext } from '../define.ts'
import { LineDecoder, multilineFlushOption, unwrapPosition } from './lines.ts'

export const NatsInputConfig = z
  .strictObject({
    servers: z
      .union([z.string(), z.array(z.string())])
      .default('nats://127.0.0.1:4222')
      .describe('NATS server URLs.'),
    subject: z
      .string()
      .optional()
      .describe('Subject to read (wildcards allowed); with `stream`, filters the stream.'),
    stream: z
      .string()
      .optional()
      .describe(
        'JetStream stream to read from its first (or recorded) sequence; exactly-once with checkpoints.',
      ),
    format: z
      .enum(['json', 'text'])
      .optional()
      .describe(
        'Without a `parser`: `json` (default), each message is a JSON value; `text`, the message as a string. With a `parser`, every message is a line for it: leave `format` out or set `text` (`json` is then a config error).',
      ),
    tagFromSubject: z
      .boolean()
      .default(false)
      .describe('Use the message subject as the record tag instead of `tag`.'),
    multilineFlushInterval: multilineFlushOption,
    user: z.string().optional().describe('User name.'),
    pass: z.string().optional().describe('Password.'),
    token: z.string().optional().describe('Authentication token.'),
    maxBuffered: z
      .number()
      .int()
      .positive()
      .default(10000)
      .describe('Messages held in memory before reading pauses.'),
  })
  .refine((c) => c.subject !== undefined || c.stream !== undefined, {
    message: 'set `subject`, `stream`, or both',
  })

type Config = z.output<typeof NatsInputConfig>

const text = new TextDecoder()

/** A message as it arrived, decoded when the job reads it. */
interface Message {
  readonly data: Uint8Array
  readonly subject: string
  /** Its stream sequence; 0 for a plain subscription. */
  readonly seq: number
  /** Clock time of its arrival: the record's event time unless the parser reads one. */
  readonly at: number
}

/** How errors name a message: its subject and, read from a stream, its sequence. */
function origin(subject: string, seq: number | undefined): string {
  return `nats ${subject}${seq ? ` seq ${seq}` : ''}`
}

/**
 * One partition of the NATS input. Messages queue as they arrive (at most `maxBuffered`; then the
 * subscription stops being read) and become records in `nextBatch`, on the task's own turn: a
 * payload that is not JSON, or that the parser does not match, goes to the node's error policy
 * there, named by subject and sequence. The position is the sequence of the last message handed
 * out, bad ones included, with a multiline parser's records in progress.
 */
class NatsReader implements SourceReader<unknown> {
  private nc: NatsConnection | undefined
  private nats: Pick<typeof import('nats'), 'AckPolicy' | 'DeliverPolicy' | 'nanos'> | undefined
  private queue: Message[] = []
  private head = 0
  /** The last stream sequence handed out (JetStream only). */
  private seq = 0
  private readonly decoder: LineDecoder | undefined
  private waiter: (() => void) | undefined
  private room: (() => void) | undefined
  private stopped = false
  private failure: Error | undefined
  private started = false
  /** The name of the ephemeral consumer reading the stream (JetStream only). */
  private consumer: string | undefined

  constructor(
    private readonly config: Config,
    private readonly ctx: InputContext,
    private readonly io: IoContext,
  ) {
    this.decoder =
      ctx.parser === undefined
        ? undefined
        : new LineDecoder(ctx.parser, io, { multilineFlushMs: config.multilineFlushInterval, origin })
  }

  async open(): Promise<void> {
    const c = this.config
    // Loaded on first use: jobs without NATS do not pay for the client.
    const { connect, AckPolicy, DeliverPolicy, nanos } = await import('nats')
    this.nats = { AckPolicy, DeliverPolicy, nanos }
    this.nc = await connect({
      servers: c.servers,
      ...(c.user === undefined ? {} : { user: c.user }),
      ...(c.pass === undefined ? {} : { pass: c.pass }),
      ...(c.token === undefined ? {} : { token: c.token }),
      name: `squall ${this.io.nodeName}`,
    })
  }

  private push(data: Uint8Array, subject: string, seq: number): void {
    this.queue.push({ data, subject, seq, at: this.io.clock.now() })
    this.waiter?.()
    this.waiter = undefined
  }

  /** Appends the record of message `m` to `out`, or hands the message to the error policy. */
  private decode(out: Record<unknown>[], m: Message): void {
    const line = text.decode(m.data)
    const tag = this.config.tagFromSubject ? m.subject : this.ctx.tag
    if (this.decoder !== undefined) {
      this.decoder.push(out, line, m.at, tag, m.subject, m.seq || undefined)
      return
    }
    let value: unknown = line
    if (this.config.format !== 'text') {
      try {
        value = JSON.parse(line)
      } catch (e) {
        this.io.badRecord(
          new SquallError(
            'ERR_BAD_RECORD',
            `${origin(m.subject, m.seq)}: not JSON: ${(e as Error).message}`,
            { where: { node: this.io.nodeName } },
          ),
          line,
        )
        return
      }
    }
    out.push({ value, key: undefined, time: m.at, tag })
  }

  private async waitForRoom(): Promise<void> {
    while (this.queue.length - this.head >= this.config.maxBuffered && !this.stopped) {
      await new Promise<void>((resolve) => {
        this.room = resolve
      })
    }
  }

  /** Starts reading after a restore had its chance to set the sequence. */
  private start(): void {
    if (this.started) return
    this.started = true
    const nc = this.nc!
    const c = this.config
    const run = async () => {
      if (c.stream === undefined) {
        const sub = nc.subscribe(c.subject!)
        for await (const m of sub) {
          this.push(m.data, m.subject, 0)
          if (this.stopped) break
          await this.waitForRoom()
        }
        return
      }
      const jsm = await nc.jetstreamManager()
      const info = await jsm.consumers.add(c.stream, {
        ack_policy: this.nats!.AckPolicy.None,
        inactive_threshold: this.nats!.nanos(60_000),
        ...(c.subject === undefined ? {} : { filter_subject: c.subject }),
        ...(this.seq > 0
          ? { deliver_policy: this.nats!.DeliverPolicy.StartSequence, opt_start_seq: this.seq + 1 }
          : { deliver_policy: this.nats!.DeliverPolicy.All }),
      })
      this.consumer = info.name
      const consumer = await nc.jetstream().consumers.get(c.stream, info.name)
      const messages = await consumer.consume({ max_messages: Math.min(1000, c.maxBuffered) })
      for await (const m of messages) {
        this.push(m.data, m.subject, m.seq)
        if (this.stopped) break
        await this.waitForRoom()
      }
    }
    run().catch((e: Error) => {
      if (!this.stopped)
        this.failure = new SquallError(
          'ERR_SOURCE_FAILED',
          `nats input "${this.io.nodeName}": ${e.message}`,
          { cause: e },
        )
      this.waiter?.()
    })
  }

  nextBatch(max: number): Record<unknown>[] {
    if (this.failure) throw this.failure
    this.start()
    const end = Math.min(this.queue.length, this.head + max)
    const out: Record<unknown>[] = []
    for (let i = this.head; i < end; i++) this.decode(out, this.queue[i]!)
    if (end > this.head) {
      const last = this.queue[end - 1]!.seq
      if (last > 0) this.seq = last
    }
    this.head = end
    if (this.head === this.queue.length) {
      this.queue = []
      this.head = 0
    }
    if (this.decoder?.active) this.decoder.flushIdle(out, this.io.clock.now())
    const r = this.room
    this.room = undefined
    r?.()
    return out
  }

  ready(): Promise<void> {
    this.start()
    if (this.head < this.queue.length || this.failure) return Promise.resolve()
    return new Promise((resolve) => {
      this.waiter = resolve
    })
  }

  /** `{ seq }`; with a multiline parser, together with the records in progress. */
  snapshot(): unknown {
    const position = { seq: this.seq }
    return this.decoder ? this.decoder.wrap(position) : position
  }

  restore(saved: unknown): void {
    const { position, multiline } = unwrapPosition(saved)
    this.decoder?.restore(multiline)
    const p = position as { seq?: unknown }
    if (typeof p?.seq === 'number') this.seq = p.seq
  }

  async close(): Promise<void> {
    this.stopped = true
    const held = this.decoder?.pendingLines() ?? 0
    if (held > 0) {
      this.io.count('multiline_lines_held_at_close', held)
      this.io.log(
        'info',
        `nats input "${this.io.nodeName}": ${held} line(s) of multi-line records in progress were not emitted at close; with a state directory, the final checkpoint keeps them for the next run`,
        { node: this.io.nodeName },
      )
    }
    this.room?.()
    const nc = this.nc
    if (nc !== undefined && this.consumer !== undefined && !nc.isClosed()) {
      const jsm = await nc.jetstreamManager().catch(() => undefined)
      await jsm?.consumers.delete(this.config.stream!, this.consumer).catch(() => {})
    }
    await nc?.close()
  }
}

export default defineInput({
  type: 'nats',
  summary: 'Subscribes to a NATS subject, or reads a JetStream stream from its checkpointed sequence.',
  config: NatsInputConfig,
  produces: 'lines',
  parserConflict: (config) =>
    config.format === 'json'
      ? 'the parser applies to each message as text; with format "json" each message is parsed as JSON — use format "text" (or leave it out) with this parser, or drop the parser'
      : undefined,
  example:
    'sources:\n  - name: orders\n    type: nats\n    servers: nats://127.0.0.1:4222\n    stream: ORDERS\n    tag: orders',
  create(config, ctx) {
    return { kind: 'nats', bounded: false, maxPartitions: 1, create: (io) => new NatsReader(config, ctx, io) }
  },
})

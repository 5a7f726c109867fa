// The NATS input: subscribes to a subject (at-most-once, like any live subscription), or reads a
// JetStream stream from a recorded sequence — the sequence is the source's snapshot, so a restore
// replays exactly what the job had not yet checkpointed. The stream is read by an ephemeral consumer
// without acks, created at that sequence (works on nats-server 2.9).

import type { NatsConnection } from 'nats'
import { z } from 'zod'
import { SquallError } from '../../core/errors.ts'
import type { Record } from '../../core/record.ts'
import type { IoContext, SourceReader } from '../../core/source.ts'
import { defineInput, type InputContext } from '../define.ts'

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
      .default('json')
      .describe('`json`: each message is a JSON value; `text`: the message as a line (for parsers).'),
    tagFromSubject: z
      .boolean()
      .default(false)
      .describe('Use the message subject as the record tag instead of `tag`.'),
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

const decoder = new TextDecoder()

class NatsReader implements SourceReader<unknown> {
  private nc: NatsConnection | undefined
  private nats: Pick<typeof import('nats'), 'AckPolicy' | 'DeliverPolicy' | 'nanos'> | undefined
  private queue: Record<unknown>[] = []
  private head = 0
  /** The last stream sequence handed out (JetStream only). */
  private seq = 0
  private startSeq = 0
  private readonly seqs: number[] = []
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
  ) {}

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

  private push(data: Uint8Array, subject: string, seq: number, now: number): void {
    let value: unknown
    const text = decoder.decode(data)
    if (this.config.format === 'json') {
      try {
        value = JSON.parse(text)
      } catch (e) {
        this.io.badRecord(
          new SquallError(
            'ERR_BAD_RECORD',
            `nats ${subject}${seq ? ` seq ${seq}` : ''}: not JSON: ${(e as Error).message}`,
            { where: { node: this.io.nodeName } },
          ),
          text,
        )
        if (seq) this.seq = seq
        return
      }
    } else value = text
    this.queue.push({
      value,
      key: undefined,
      time: now,
      tag: this.config.tagFromSubject ? subject : this.ctx.tag,
    })
    if (seq) this.seqs.push(seq)
    this.waiter?.()
    this.waiter = undefined
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
          this.push(m.data, m.subject, 0, this.io.clock.now())
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
        this.push(m.data, m.subject, m.seq, this.io.clock.now())
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
    const out = this.queue.slice(this.head, end)
    if (this.seqs.length > 0 && out.length > 0) this.seq = this.seqs[this.startSeq + out.length - 1]!
    this.startSeq += out.length
    this.head = end
    if (this.head === this.queue.length) {
      this.queue = []
      this.head = 0
      this.seqs.length = 0
      this.startSeq = 0
    }
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

  snapshot(): { seq: number } {
    return { seq: this.seq }
  }

  restore(position: unknown): void {
    const p = position as { seq?: unknown }
    if (typeof p?.seq === 'number') this.seq = p.seq
  }

  async close(): Promise<void> {
    this.stopped = true
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
  example:
    'sources:\n  - name: orders\n    type: nats\n    servers: nats://127.0.0.1:4222\n    stream: ORDERS\n    tag: orders',
  create(config, ctx) {
    return { kind: 'nats', bounded: false, maxPartitions: 1, create: (io) => new NatsReader(config, ctx, io) }
  },
})

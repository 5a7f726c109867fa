// Messages between threads, the port that gathers them, and the targets that send batches through it.

import type { Record } from '../core/record.ts'
import { BatchEncoder } from './batch-codec.ts'
import type { Target } from './router.ts'

/** Messages between executors on different threads. Order on one port is preserved. */
export type WireMessage =
  | { k: 'r'; t: number; c: number; b: Uint8Array }
  | { k: 'w'; t: number; c: number; time: number }
  | { k: 'i'; t: number; c: number; idle: boolean }
  | { k: 'b'; t: number; c: number; id: number }
  | { k: 'e'; t: number; c: number }
  | { k: 'credit'; n: number }
  /** Several of the above, in order, in one message (see `BatchingPort`). */
  | { k: 'm'; list: WireMessage[] }

/** The sending side of a port to another thread, with credit-based flow control. */
export interface RemotePort {
  post(message: WireMessage, transfer?: ArrayBuffer[]): void
  /** Sends what `post` may still hold (or has it sent shortly: see `BatchingPort`). */
  flush?(): void
  /** Batches sent and not yet processed by the receiver. */
  inFlight: number
  /** Encodes the batches for this port's receiver (which decodes them in order). */
  readonly encoder: BatchEncoder
}

/** What a `BatchingPort` sends through: a worker thread's `MessagePort`. */
export interface MessageSender {
  postMessage(message: unknown, transfer: ArrayBuffer[]): void
}

/** Default of `BatchingPort`'s send interval, in ms. */
export const DEFAULT_SEND_INTERVAL_MS = 1

/** Messages a port holds at most before it sends them, however recent its last send. */
const HELD_AT_MOST = 64

/**
 * A port that gathers the messages posted during one stretch of work and sends them as one
 * (`{ k: 'm', list }`), at the sender's `flush` or, at the latest, in the event loop's next check
 * phase (`setImmediate`): after every message that arrived from other threads in the same turn has
 * been handled, so that what they caused goes out together. A thread-to-thread message costs
 * 10–20 µs on each side, whatever it carries: a thread polling several sources, each routing a few
 * records over keyed exchanges and then a watermark, sent one message per batch and per watermark
 * to each other thread, thousands a second.
 *
 * It also sends at most once every `intervalMs` (default {@link DEFAULT_SEND_INTERVAL_MS}), as
 * Flink's buffer timeout bounds how long a network buffer waits: a flush sooner than that after
 * the last send leaves the messages held, and a timer sends them when the interval is up. Two busy
 * threads otherwise answer each message of the other with one of their own (its results, its
 * credits) and trade a thousand and more a second each way. What it adds to latency is at most
 * `intervalMs` per thread crossed. An end of input, or {@link HELD_AT_MOST} messages held, go at
 * once; `intervalMs` 0 sends at every flush.
 */
export class BatchingPort implements RemotePort {
  inFlight = 0
  readonly encoder = new BatchEncoder()
  private list: WireMessage[] = []
  private transfer: ArrayBuffer[] = []
  private scheduled = false
  /** An end of input is held: the next flush sends, whenever the last send was. */
  private urgent = false
  /** When the last message went, on the monotonic clock. */
  private lastSent = Number.NEGATIVE_INFINITY
  /** The timer that sends what is held when the interval is up. */
  private timer: ReturnType<typeof setTimeout> | undefined = undefined

  constructor(
    private readonly port: MessageSender,
    private readonly intervalMs = DEFAULT_SEND_INTERVAL_MS,
  ) {}

  post(message: WireMessage, transfer?: ArrayBuffer[]): void {
    this.list.push(message)
    if (transfer !== undefined) for (const b of transfer) this.transfer.push(b)
    if (message.k === 'e') this.urgent = true
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(() => this.flush())
    }
  }

  /** Sends what is held, unless the last send was less than the interval ago (then its timer will). */
  flush(): void {
    this.scheduled = false
    const n = this.list.length
    if (n === 0) return
    const wait = this.lastSent + this.intervalMs - performance.now()
    if (wait > 0 && !this.urgent && n < HELD_AT_MOST) {
      // Whole milliseconds: a fractional timeout sends Node's timer code back to the interpreter.
      this.timer ??= setTimeout(() => this.send(), Math.ceil(wait))
      return
    }
    this.send()
  }

  private send(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
    const list = this.list
    if (list.length === 0) return
    this.port.postMessage(list.length === 1 ? list[0] : { k: 'm', list }, this.transfer)
    this.list = []
    this.transfer = []
    this.urgent = false
    this.lastSent = performance.now()
  }
}

/** A downstream task on another thread. */
export class RemoteTarget implements Target {
  constructor(
    private readonly port: RemotePort,
    private readonly taskId: number,
    private readonly channel: number,
  ) {}

  push(records: Record[]): void {
    const b = this.port.encoder.encode(records)
    this.port.inFlight++
    this.port.post({ k: 'r', t: this.taskId, c: this.channel, b }, [b.buffer as ArrayBuffer])
  }
  watermark(time: number): void {
    this.port.post({ k: 'w', t: this.taskId, c: this.channel, time })
  }
  idle(idle: boolean): void {
    this.port.post({ k: 'i', t: this.taskId, c: this.channel, idle })
  }
  barrier(id: number): void {
    this.port.post({ k: 'b', t: this.taskId, c: this.channel, id })
  }
  end(): void {
    this.port.post({ k: 'e', t: this.taskId, c: this.channel })
  }
}

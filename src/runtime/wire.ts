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
  /** Sends what `post` may still hold. */
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

/**
 * A port that gathers the messages posted during one stretch of work and sends them as one
 * (`{ k: 'm', list }`), at the sender's `flush` or, at the latest, in the event loop's next check
 * phase (`setImmediate`): after every message that arrived from other threads in the same turn has
 * been handled, so that what they caused goes out together. A thread-to-thread message costs
 * 10–20 µs on each side, whatever it carries: a thread polling several sources, each routing a few
 * records over keyed exchanges and then a watermark, sent one message per batch and per watermark
 * to each other thread, thousands a second.
 */
export class BatchingPort implements RemotePort {
  inFlight = 0
  readonly encoder = new BatchEncoder()
  private list: WireMessage[] = []
  private transfer: ArrayBuffer[] = []
  private scheduled = false

  constructor(private readonly port: MessageSender) {}

  post(message: WireMessage, transfer?: ArrayBuffer[]): void {
    this.list.push(message)
    if (transfer !== undefined) for (const b of transfer) this.transfer.push(b)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(() => this.flush())
    }
  }

  flush(): void {
    this.scheduled = false
    const list = this.list
    if (list.length === 0) return
    this.port.postMessage(list.length === 1 ? list[0] : { k: 'm', list }, this.transfer)
    this.list = []
    this.transfer = []
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

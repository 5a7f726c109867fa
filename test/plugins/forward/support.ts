// Test support for the forward protocol: an event collector for servers and a raw socket peer
// that reads whole MessagePack answers.

import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { unpackr } from '../../../src/plugins/forward/event-time.ts'
import { FrameReader } from '../../../src/plugins/forward/framing.ts'
import type { ForwardEntry } from '../../../src/plugins/forward/protocol.ts'
import type { ForwardMeta } from '../../../src/plugins/forward/server-connection.ts'

export interface Received {
  tag: string
  time: number
  nanos: number
  record: unknown
}

/** Collects every event a server hands out, and waits for a count of them. */
export class Collector {
  readonly events: Received[] = []
  readonly metas: ForwardMeta[] = []
  private waiters: Array<{ n: number; resolve: () => void }> = []

  readonly onEvents = (tag: string, entries: ForwardEntry[], meta: ForwardMeta): void => {
    this.metas.push(meta)
    for (const e of entries) this.events.push({ tag, time: e.time, nanos: e.nanos, record: e.record })
    this.wake()
  }

  wake(): void {
    this.waiters = this.waiters.filter((w) => {
      if (this.events.length >= w.n) w.resolve()
      return this.events.length < w.n
    })
  }

  /** Resolves once at least `n` events arrived; rejects after `ms`. */
  waitFor(n: number, ms = 10_000): Promise<void> {
    if (this.events.length >= n) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`waited for ${n} events, got ${this.events.length}`)),
        ms,
      )
      this.waiters.push({
        n,
        resolve: () => {
          clearTimeout(timer)
          resolve()
        },
      })
    })
  }
}

/** A raw TCP peer: writes bytes, reads decoded MessagePack answers in order, sees the close. */
export class RawPeer {
  private readonly reader = new FrameReader(1 << 20)
  private readonly answers: unknown[] = []
  private wanted: (() => void) | undefined
  closed = false
  readonly closedPromise: Promise<void>

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.reader.push(d)
      let f: Buffer | null
      while ((f = this.reader.next()) !== null) this.answers.push(unpackr.unpack(f))
      this.wanted?.()
    })
    socket.on('error', () => {})
    this.closedPromise = new Promise((resolve) =>
      socket.on('close', () => {
        this.closed = true
        this.wanted?.()
        resolve()
      }),
    )
  }

  static open(port: number): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => resolve(new RawPeer(socket)))
      socket.once('error', reject)
    })
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes)
  }

  /** The next answer; rejects if the connection closes first or after `ms`. */
  async next(ms = 5_000): Promise<unknown> {
    const deadline = Date.now() + ms
    while (this.answers.length === 0) {
      if (this.closed) throw new Error('connection closed before an answer')
      const left = deadline - Date.now()
      if (left <= 0) throw new Error('no answer in time')
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left)
        this.wanted = () => {
          clearTimeout(t)
          resolve()
        }
      })
    }
    return this.answers.shift()
  }

  /** Answers received so far and not read with next(). */
  get unread(): number {
    return this.answers.length
  }

  end(): void {
    this.socket.destroy()
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

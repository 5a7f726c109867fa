// One accepted forward-protocol connection on the server: handshake, framing, decoding, handing
// requests to the handler in order (a bounded number at once), and acknowledging each in order only
// after its handler call settles.

import type { Socket } from 'node:net'
import { SquallError } from '../../core/errors.ts'
import { unpackr } from './event-time.ts'
import { FrameReader } from './framing.ts'
import type { ServerHandshake } from './handshake.ts'
import { decodeRequest, encodeAck, readRequestHead } from './protocol.ts'
import type { DecodeLimits, ForwardEntry, ForwardMode, ForwardRequestHead } from './protocol.ts'

/** What the handler learns about a request besides its tag and entries. */
export interface ForwardMeta {
  /** The chunk id the sender asked to be acknowledged, if any. */
  chunk: string | undefined
  /** The carrier mode of the request. */
  mode: ForwardMode
  /** The sender, as `address:port`. */
  remote: string
}

/**
 * Receives the events of one request. The ack (when a chunk was sent) is written only after the
 * returned promise resolves and the acks of the connection's earlier requests are written — journal
 * the entries here to acknowledge only what is durable. Calls are made in arrival order; with
 * `maxInFlight` 1 (the default) the connection reads nothing more while one is pending. A throw or a
 * rejection closes the connection: no ack not yet written is written then, so the sender retries.
 */
export type ForwardHandler = (tag: string, entries: ForwardEntry[], meta: ForwardMeta) => Promise<void> | void

/** A request handed over undecoded: its head, its bytes and its sender. */
export interface ForwardRequest extends ForwardRequestHead {
  /** The whole request as received, one MessagePack value (decode it with `decodeRequest`); it may be kept. */
  bytes: Buffer
  /** The sender, as `address:port`. */
  remote: string
}

/** Receives one request undecoded; the same ack contract as {@link ForwardHandler}. */
export type ForwardRequestHandler = (request: ForwardRequest) => Promise<void> | void

/** Log sink: `level` is 'debug' | 'info' | 'warn' | 'error'; `fields` are structured details. */
export type ForwardLog = (level: 'debug' | 'info' | 'warn' | 'error', message: string, fields: object) => void

/** Counters of a server, all monotonic since it started. */
export interface ForwardMetrics {
  connections: number
  events: number
  messages: number
  bytes: number
  badFrames: number
  skippedEvents: number
  authFailures: number
  oversizedChunks: number
  handlerErrors: number
}

/** What a connection shares with its server. */
export interface ConnectionContext {
  /** Exactly one of `handler` and `onRequest` is set. */
  readonly handler: ForwardHandler | undefined
  readonly onRequest: ForwardRequestHandler | undefined
  /** Handler calls of one connection that may be pending at once. */
  readonly maxInFlight: number
  readonly log: ForwardLog
  readonly metrics: ForwardMetrics
  readonly limits: DecodeLimits
  readonly maxChunkBytes: number
  readonly handshake: (() => ServerHandshake) | undefined
}

/** A request whose handler call is pending or settled, waiting to be acknowledged in order. */
interface InFlight {
  readonly chunk: string | undefined
  settled: boolean
}

/**
 * Drives one socket. Handler calls start in arrival order; at most `maxInFlight` are pending at a
 * time, and the socket is paused while that many are. Acks are written in arrival order: a request
 * settled early waits for the ones before it. `shutdown()` lets pending handler calls finish and
 * their acks be written, then ends the socket.
 */
export class ServerConnection {
  private readonly reader: FrameReader
  private readonly remote: string
  private handshake: ServerHandshake | undefined
  private readonly inFlight: InFlight[] = []
  private closing = false
  private dead = false
  /** Acks are being gathered for one write (see `writeAck`). */
  private corked = false
  /** The peer closed the socket: frames already received are still handled, nothing is written. */
  private peerGone = false
  /** Resolves when the socket has closed. */
  readonly closed: Promise<void>

  constructor(
    private readonly socket: Socket,
    private readonly ctx: ConnectionContext,
  ) {
    this.reader = new FrameReader(ctx.maxChunkBytes)
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()))
    ctx.metrics.connections++
    if (ctx.handshake) {
      this.handshake = ctx.handshake()
      socket.write(this.handshake.helo())
    }
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('error', (error) => {
      ctx.log('debug', `forward: connection from ${this.remote} failed: ${error.message}`, {
        remote: this.remote,
      })
    })
    socket.on('close', () => {
      // A sender may write its last events and close at once: handle what was received.
      this.peerGone = true
      if (!this.dead) this.drain()
    })
  }

  /** Stops after the requests in progress (if any) are handled and acknowledged, then ends the socket. */
  shutdown(): void {
    this.closing = true
    if (this.inFlight.length === 0) this.endSoon(250)
  }

  /** Closes at once, whatever is in progress. */
  destroy(): void {
    this.dead = true
    this.socket.destroy()
  }

  private onData(chunk: Buffer): void {
    if (this.dead || this.closing) return
    this.ctx.metrics.bytes += chunk.length
    this.reader.push(chunk)
    this.drain()
  }

  private drain(): void {
    const { ctx } = this
    while (this.inFlight.length < ctx.maxInFlight && !this.dead && !this.closing) {
      let frame: Buffer | null
      try {
        frame = this.reader.next()
        if (frame === null) break
        if (this.handshake !== undefined) {
          this.onPing(frame)
          continue
        }
        const handled = ctx.onRequest ? this.handOver(frame, ctx.onRequest) : this.decode(frame)
        if (handled === null) continue
        const { chunk, result } = handled
        if (result !== undefined && typeof (result as Promise<void>).then === 'function') {
          const slot: InFlight = { chunk, settled: false }
          this.inFlight.push(slot)
          ;(result as Promise<void>).then(
            () => this.settled(slot),
            (error: unknown) => this.handlerFailed(error),
          )
        } else if (this.inFlight.length > 0) this.inFlight.push({ chunk, settled: true })
        else if (chunk !== undefined && !this.peerGone) this.writeAck(chunk)
      } catch (error) {
        if (error instanceof SquallError && error.code.startsWith('ERR_FORWARD_')) this.badInput(error)
        else this.handlerFailed(error)
        return
      }
    }
    if (this.inFlight.length >= ctx.maxInFlight) this.socket.pause()
  }

  /** Decodes a request and calls the events handler; null for a request that carries no events. */
  private decode(frame: Buffer): { chunk: string | undefined; result: unknown } | null {
    const { ctx } = this
    const msg = decodeRequest(frame, ctx.limits)
    if (msg === null) {
      if (frame[0] !== 0xc0) this.warnIgnored(frame)
      return null
    }
    ctx.metrics.messages++
    ctx.metrics.events += msg.entries.length
    if (msg.skipped > 0) {
      ctx.metrics.skippedEvents += msg.skipped
      ctx.log(
        'warn',
        `forward: skipped ${msg.skipped} invalid events of tag "${msg.tag}" from ${this.remote}`,
        {
          remote: this.remote,
          tag: msg.tag,
          skipped: msg.skipped,
        },
      )
    }
    const chunk = msg.chunk
    return {
      chunk,
      result: ctx.handler!(msg.tag, msg.entries, { chunk, mode: msg.mode, remote: this.remote }),
    }
  }

  /** Reads a request's head and hands the request over undecoded; null for one that carries no events. */
  private handOver(
    frame: Buffer,
    onRequest: ForwardRequestHandler,
  ): { chunk: string | undefined; result: unknown } | null {
    const head = readRequestHead(frame)
    if (head === null) {
      if (frame[0] !== 0xc0) this.warnIgnored(frame)
      return null
    }
    this.ctx.metrics.messages++
    const request: ForwardRequest = { ...head, bytes: frame, remote: this.remote }
    return { chunk: head.chunk, result: onRequest(request) }
  }

  /** Marks a request settled and writes the acks now due, in arrival order. */
  private settled(slot: InFlight): void {
    slot.settled = true
    if (this.dead) return
    const inFlight = this.inFlight
    while (inFlight.length > 0 && inFlight[0]!.settled) {
      const { chunk } = inFlight.shift()!
      if (chunk !== undefined && !this.peerGone) this.writeAck(chunk)
    }
    if (this.peerGone) {
      this.drain()
      return
    }
    if (this.closing) {
      if (inFlight.length === 0) this.endSoon(250)
      return
    }
    if (inFlight.length < this.ctx.maxInFlight) {
      this.socket.resume()
      this.drain()
    }
  }

  /**
   * Writes an ack. The acks written in one turn of the event loop (all those a journal sync made
   * due, say) leave in one write: the socket is corked until the next tick.
   */
  private writeAck(chunk: string): void {
    if (!this.corked) {
      this.corked = true
      this.socket.cork()
      process.nextTick(this.uncork)
    }
    this.socket.write(encodeAck(chunk))
  }

  private readonly uncork = (): void => {
    this.corked = false
    this.socket.uncork()
  }

  private handlerFailed(error: unknown): void {
    if (this.dead) return
    this.ctx.metrics.handlerErrors++
    const detail = error instanceof Error ? error.message : String(error)
    this.ctx.log(
      'error',
      `forward: the event handler failed, closing ${this.remote} without ack: ${detail}`,
      {
        remote: this.remote,
        error,
      },
    )
    this.close()
  }

  private onPing(frame: Buffer): void {
    let ping: unknown
    try {
      ping = unpackr.unpack(frame)
    } catch {
      ping = undefined
    }
    const verdict = this.handshake!.checkPing(ping)
    this.socket.write(verdict.pong)
    if (verdict.ok) {
      this.handshake = undefined
      this.ctx.log('debug', `forward: ${this.remote} authenticated`, { remote: this.remote })
      return
    }
    this.ctx.metrics.authFailures++
    this.ctx.log('warn', `forward: handshake from ${this.remote} refused: ${verdict.reason}`, {
      remote: this.remote,
      code: 'ERR_FORWARD_AUTH',
      reason: verdict.reason,
    })
    this.close()
  }

  private badInput(error: SquallError): void {
    if (error.code === 'ERR_FORWARD_CHUNK_TOO_LARGE') this.ctx.metrics.oversizedChunks++
    else this.ctx.metrics.badFrames++
    this.ctx.log('error', `${error.message}; closing the connection from ${this.remote}`, {
      remote: this.remote,
      code: error.code,
    })
    this.close()
  }

  private warnIgnored(frame: Buffer): void {
    this.ctx.metrics.badFrames++
    this.ctx.log('warn', `forward: ignored a request from ${this.remote} that is not an array`, {
      remote: this.remote,
      firstByte: frame[0],
    })
  }

  private close(): void {
    this.dead = true
    this.endSoon(1000)
  }

  /** Half-closes (what was written still arrives), discards input, and destroys after `ms`. */
  private endSoon(ms: number): void {
    this.socket.end()
    this.socket.resume()
    setTimeout(() => this.socket.destroy(), ms).unref()
  }
}

// One client connection to a forward-protocol server: connect (TCP or TLS), the optional
// handshake, pipelined writes, and matching `{ack: chunk}` answers to the chunks sent.

import { connect as netConnect } from 'node:net'
import type { Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import type { ConnectionOptions } from 'node:tls'
import { SquallError } from '../../core/errors.ts'
import { unpackr } from './event-time.ts'
import { FrameReader } from './framing.ts'
import { ClientHandshake } from './handshake.ts'
import type { ClientCredentials } from './handshake.ts'

/** Where to connect and how. */
export interface ConnectTarget {
  host: string
  port: number
  /** TLS options (`ca`, `cert`, `key`, `servername`, `rejectUnauthorized`); absent: plain TCP. */
  tls: ConnectionOptions | undefined
  credentials: ClientCredentials | undefined
  connectTimeoutMs: number
}

interface PendingAck {
  resolve: () => void
  reject: (error: SquallError) => void
  timer: NodeJS.Timeout
}

/**
 * An open, authenticated connection. Many chunks may be in flight at once; each `send` settles
 * on its own ack, its own timeout, or the loss of the connection — whichever comes first. Sends
 * of the same chunk id (the same chunk sent again while an earlier send still waits) all settle
 * on its ack. After the connection is lost every pending send is rejected with
 * ERR_FORWARD_CONNECTION.
 */
export class ClientConnection {
  /** Sends waiting for an ack, by chunk id. */
  private readonly pending = new Map<string, PendingAck[]>()
  private waiting = 0
  private readonly reader = new FrameReader(1024 * 1024)
  private lost: SquallError | undefined
  /** Called once when the connection is gone, with the reason. */
  onLost: (error: SquallError) => void = () => {}

  private constructor(
    private readonly socket: Socket,
    readonly name: string,
  ) {}

  /**
   * Connects and, with credentials, completes the handshake. Rejects with ERR_FORWARD_CONNECTION
   * (connect failure or timeout) or ERR_FORWARD_AUTH (refused, or the server's digest is wrong).
   */
  static open(target: ConnectTarget): Promise<ClientConnection> {
    const name = `${target.host}:${target.port}`
    return new Promise((resolve, reject) => {
      const socket = target.tls
        ? tlsConnect({ host: target.host, port: target.port, ...target.tls })
        : netConnect({ host: target.host, port: target.port })
      const conn = new ClientConnection(socket, name)
      let settled = false
      const fail = (error: SquallError): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        socket.destroy()
        reject(error)
      }
      const ready = (): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        socket.setNoDelay(true)
        resolve(conn)
      }
      const timer = setTimeout(
        () => fail(connectionError(name, `no connection within ${target.connectTimeoutMs} ms`)),
        target.connectTimeoutMs,
      )
      socket.once('error', (error) => fail(connectionError(name, error.message, error)))
      socket.once('close', () => fail(connectionError(name, 'closed during connect or handshake')))
      const handshake = target.credentials ? new ClientHandshake(target.credentials) : undefined
      let stage: 'helo' | 'pong' | 'open' = handshake ? 'helo' : 'open'
      socket.once(target.tls ? 'secureConnect' : 'connect', () => {
        if (stage === 'open') ready()
      })
      socket.on('data', (data: Buffer) => {
        if (stage === 'open') {
          conn.onData(data)
          return
        }
        conn.reader.push(data)
        try {
          let frame: Buffer | null
          while (stage !== 'open' && (frame = conn.reader.next()) !== null) {
            const message: unknown = unpackr.unpack(frame)
            if (stage === 'helo') {
              socket.write(handshake!.ping(message))
              stage = 'pong'
            } else {
              handshake!.checkPong(message)
              stage = 'open'
              ready()
              conn.drain()
            }
          }
        } catch (error) {
          fail(
            error instanceof SquallError
              ? error
              : new SquallError('ERR_FORWARD_AUTH', `forward: bad handshake message from ${name}`, {
                  cause: error,
                }),
          )
        }
      })
      socket.on('close', () => conn.gone(connectionError(name, 'connection closed')))
      socket.on('error', () => {})
    })
  }

  /** Chunks written and not yet acknowledged. */
  get inFlight(): number {
    return this.waiting
  }

  /** True until the connection is lost or closed. */
  get usable(): boolean {
    return this.lost === undefined
  }

  /**
   * Writes one encoded request. With `chunk`, resolves on `{ack: chunk}` or rejects with
   * ERR_FORWARD_ACK_TIMEOUT after `timeoutMs`; without, resolves once the bytes are handed to the
   * kernel. Rejects with ERR_FORWARD_CONNECTION if the connection is or becomes lost.
   */
  send(bytes: Buffer, chunk: string | undefined, timeoutMs: number): Promise<void> {
    if (this.lost) return Promise.reject(this.lost)
    if (chunk === undefined) {
      return new Promise((resolve, reject) => {
        this.socket.write(bytes, (error) =>
          error ? reject(connectionError(this.name, error.message, error)) : resolve(),
        )
      })
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const list = this.pending.get(chunk)
        const i = list === undefined ? -1 : list.indexOf(waiter)
        if (i >= 0) {
          list!.splice(i, 1)
          this.waiting--
          if (list!.length === 0) this.pending.delete(chunk)
        }
        reject(
          new SquallError(
            'ERR_FORWARD_ACK_TIMEOUT',
            `forward: ${this.name} did not acknowledge chunk ${chunk} within ${timeoutMs} ms`,
          ),
        )
      }, timeoutMs)
      const waiter: PendingAck = { resolve, reject, timer }
      const list = this.pending.get(chunk)
      if (list === undefined) this.pending.set(chunk, [waiter])
      else list.push(waiter)
      this.waiting++
      this.socket.write(bytes)
    })
  }

  /** Ends the connection; pending sends are rejected with ERR_FORWARD_CONNECTION. */
  close(): void {
    this.gone(connectionError(this.name, 'connection closed by the client'))
    this.socket.end()
    setTimeout(() => this.socket.destroy(), 1000).unref()
  }

  private onData(data: Buffer): void {
    this.reader.push(data)
    this.drain()
  }

  private drain(): void {
    try {
      let frame: Buffer | null
      while ((frame = this.reader.next()) !== null) {
        const answer = unpackr.unpack(frame) as { ack?: unknown } | null
        const chunk = answer !== null && typeof answer === 'object' ? answer.ack : undefined
        if (typeof chunk !== 'string') continue
        const list = this.pending.get(chunk)
        if (list === undefined) continue
        this.pending.delete(chunk)
        this.waiting -= list.length
        for (const p of list) {
          clearTimeout(p.timer)
          p.resolve()
        }
      }
    } catch (error) {
      this.gone(
        new SquallError(
          'ERR_FORWARD_PROTOCOL',
          `forward: ${this.name} sent an answer that is not MessagePack`,
          {
            cause: error,
          },
        ),
      )
      this.socket.destroy()
    }
  }

  private gone(error: SquallError): void {
    if (this.lost) return
    this.lost = error
    for (const list of this.pending.values()) {
      for (const p of list) {
        clearTimeout(p.timer)
        p.reject(error)
      }
    }
    this.pending.clear()
    this.waiting = 0
    this.onLost(error)
  }
}

function connectionError(name: string, detail: string, cause?: unknown): SquallError {
  return new SquallError('ERR_FORWARD_CONNECTION', `forward: ${name}: ${detail}`, cause ? { cause } : {})
}

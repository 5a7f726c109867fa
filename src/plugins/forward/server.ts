// The forward-protocol server (fluentd's in_forward): TCP or TLS on one port, UDP heartbeats on
// the same port, optional shared-key and user authentication, acks after the handler settles.

import { createSocket } from 'node:dgram'
import type { Socket as UdpSocket } from 'node:dgram'
import { createServer } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'
import { hostname } from 'node:os'
import { createServer as createTlsServer } from 'node:tls'
import { check } from '../../core/errors.ts'
import { ServerHandshake } from './handshake.ts'
import type { ForwardUser } from './handshake.ts'
import { ServerConnection } from './server-connection.ts'
import type {
  ConnectionContext,
  ForwardHandler,
  ForwardLog,
  ForwardMetrics,
  ForwardRequestHandler,
} from './server-connection.ts'

/** TLS material for the server, as PEM strings or buffers. */
export interface ForwardServerTls {
  cert: string | Buffer
  key: string | Buffer
  /** Certificates that client certificates must chain to; set `requireClientCert` to demand one. */
  ca?: string | Buffer
  requireClientCert?: boolean
}

/** Options of a ForwardServer. */
export interface ForwardServerOptions {
  /** TCP (and UDP heartbeat) port; 0 picks a free port, read it back from `server.port`. */
  port: number
  /** Address to listen on; default '127.0.0.1' (use '0.0.0.0' to accept remote senders). */
  bind?: string
  /** When set, every connection must pass the HELO/PING/PONG handshake with this key. */
  sharedKey?: string
  /** Our name in PONG; default the machine's hostname. */
  selfHostname?: string
  /** With `sharedKey`: the users allowed in; a PING must then carry one's name and password. */
  users?: ForwardUser[]
  /** Serve TLS instead of plain TCP. */
  tls?: ForwardServerTls
  /** The largest request accepted, in bytes; default 8 MiB. A larger one closes the connection. */
  maxChunkBytes?: number
  /** The largest decompressed CompressedPackedForward payload; default 256 MiB. */
  maxDecompressedBytes?: number
  /** Answer UDP heartbeats on the same port; default true. */
  heartbeat?: boolean
  /** Receives every request's events; see ForwardHandler for the ack contract. */
  onEvents?: ForwardHandler
  /**
   * Instead of `onEvents`: receives every request undecoded, once its framing, tag and option are
   * checked (see `readRequestHead`); for a handler that stores requests and decodes them later.
   * `metrics.events` and `metrics.skippedEvents` then stay 0. Exactly one of the two must be set.
   */
  onRequest?: ForwardRequestHandler
  /**
   * Handler calls one connection may have pending at once; default 1. Above 1, a sender that sends
   * several chunks before their acks come back (fluentd's out_forward with require_ack_response) has
   * them handled together; calls still start and acks are still written in arrival order.
   */
  maxInFlight?: number
  /** Where problems are reported; default: warnings and errors to stderr. */
  log?: ForwardLog
  /** Clock for Message-mode requests with time 0; default Date.now. */
  now?: () => number
}

const defaultLog: ForwardLog = (level, message) => {
  if (level === 'warn' || level === 'error') process.stderr.write(`[squall forward] ${level}: ${message}\n`)
}

/**
 * A running forward-protocol server. Create it with `ForwardServer.listen(options)`.
 *
 * Contract: within one connection, requests reach the handler in the order they were sent, with
 * at most `maxInFlight` (default 1) calls pending at a time; connections are independent of each
 * other. A request's `{ack: chunk}` is written only after its handler call has settled successfully
 * and the acks of the requests before it are written, so acks come in order and an acknowledged
 * request has been handled, as have all before it.
 * Bad input (malformed MessagePack, an unknown mode, an oversized request, a failed handshake)
 * is logged and counted, and closes only that connection.
 */
export class ForwardServer {
  /** Counters since start; read them at any time. */
  readonly metrics: ForwardMetrics = {
    connections: 0,
    events: 0,
    messages: 0,
    bytes: 0,
    badFrames: 0,
    skippedEvents: 0,
    authFailures: 0,
    oversizedChunks: 0,
    handlerErrors: 0,
  }
  private readonly connections = new Set<ServerConnection>()
  private readonly tcp: Server
  private udp: UdpSocket | undefined
  private readonly log: ForwardLog

  private constructor(private readonly options: ForwardServerOptions) {
    const { sharedKey, users } = options
    const selfHostname = options.selfHostname ?? hostname()
    this.log = options.log ?? defaultLog
    const ctx: ConnectionContext = {
      handler: options.onEvents,
      onRequest: options.onRequest,
      maxInFlight: options.maxInFlight ?? 1,
      log: this.log,
      metrics: this.metrics,
      limits: {
        maxDecompressedBytes: options.maxDecompressedBytes ?? 256 * 1024 * 1024,
        now: options.now ?? Date.now,
      },
      maxChunkBytes: options.maxChunkBytes ?? 8 * 1024 * 1024,
      handshake:
        sharedKey === undefined ? undefined : () => new ServerHandshake(sharedKey, selfHostname, users),
    }
    const accept = (socket: Socket): void => {
      socket.setNoDelay(true)
      const connection = new ServerConnection(socket, ctx)
      this.connections.add(connection)
      void connection.closed.then(() => this.connections.delete(connection))
    }
    const tls = options.tls
    this.tcp = tls
      ? createTlsServer(
          {
            cert: tls.cert,
            key: tls.key,
            ...(tls.ca ? { ca: tls.ca } : {}),
            requestCert: tls.requireClientCert === true,
            rejectUnauthorized: tls.requireClientCert === true,
          },
          accept,
        )
      : createServer(accept)
    this.tcp.on('tlsClientError', (error: Error) => {
      this.log('warn', `forward: a TLS handshake failed: ${error.message}`, {})
    })
  }

  /**
   * Starts listening on TCP (or TLS) and, unless `heartbeat: false`, on UDP at the same port.
   * Resolves once both are bound; rejects if the TCP port cannot be bound. A UDP bind failure
   * is only logged: heartbeats are optional in the protocol.
   */
  static async listen(options: ForwardServerOptions): Promise<ForwardServer> {
    check(
      Number.isInteger(options.port) && options.port >= 0 && options.port <= 65535,
      'port',
      'a port 0..65535',
      options.port,
    )
    check(
      (typeof options.onEvents === 'function') !== (typeof options.onRequest === 'function'),
      'onEvents',
      'a function, or onRequest instead (exactly one of the two)',
    )
    check(
      options.maxInFlight === undefined || (Number.isInteger(options.maxInFlight) && options.maxInFlight > 0),
      'maxInFlight',
      'a positive integer',
      options.maxInFlight,
    )
    check(
      options.maxChunkBytes === undefined ||
        (Number.isInteger(options.maxChunkBytes) && options.maxChunkBytes > 0),
      'maxChunkBytes',
      'a positive integer',
      options.maxChunkBytes,
    )
    check(options.sharedKey === undefined || options.sharedKey.length > 0, 'sharedKey', 'a non-empty string')
    check(
      options.users === undefined || options.sharedKey !== undefined,
      'users',
      'to be used with sharedKey',
    )
    const server = new ForwardServer(options)
    await server.start()
    return server
  }

  /** The bound TCP port. */
  get port(): number {
    return (this.tcp.address() as AddressInfo).port
  }

  /** Connections open now. */
  get openConnections(): number {
    return this.connections.size
  }

  private async start(): Promise<void> {
    const bind = this.options.bind ?? '127.0.0.1'
    await new Promise<void>((resolve, reject) => {
      this.tcp.once('error', reject)
      this.tcp.listen(this.options.port, bind, () => {
        this.tcp.off('error', reject)
        resolve()
      })
    })
    this.tcp.on('error', (error) => this.log('error', `forward: server error: ${error.message}`, {}))
    if (this.options.heartbeat === false) return
    const udp = createSocket(bind.includes(':') ? 'udp6' : 'udp4')
    udp.on('message', (_msg, rinfo) => {
      udp.send(HEARTBEAT, rinfo.port, rinfo.address)
    })
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject)
        udp.bind(this.port, bind, () => {
          udp.off('error', reject)
          resolve()
        })
      })
      udp.on('error', (error) => this.log('warn', `forward: heartbeat socket error: ${error.message}`, {}))
      this.udp = udp
    } catch (error) {
      udp.close()
      this.log(
        'warn',
        `forward: cannot answer UDP heartbeats on port ${this.port}: ${(error as Error).message}`,
        {},
      )
    }
  }

  /**
   * Stops accepting, lets every connection finish the requests it is handling (their acks are still
   * written), then closes them. Connections still open after `graceMs` (default 5000) are
   * destroyed. Resolves when everything is closed.
   */
  async close(graceMs = 5000): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.tcp.close(() => resolve()))
    this.udp?.close()
    this.udp = undefined
    const all = [...this.connections]
    for (const c of all) c.shutdown()
    const timer = setTimeout(() => {
      for (const c of all) c.destroy()
    }, graceMs)
    await Promise.all(all.map((c) => c.closed))
    clearTimeout(timer)
    await stopped
  }
}

const HEARTBEAT = Buffer.from([0])

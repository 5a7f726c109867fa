// The syslog transport: receives raw syslog messages over UDP or TCP and hands them over in batches,
// pausing a TCP connection while its batch is being handled. Parsing the message text is not its job.

import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram'
import { createServer, type Server, type Socket } from 'node:net'
import { check, SquallError } from '../../core/errors.ts'
import type { Logger } from '../../core/logger.ts'
import { FrameDecoder, type SyslogFraming, splitDatagram } from './framing.ts'

export type { SyslogFraming } from './framing.ts'

/** Where a batch of messages came from. */
export interface SyslogMeta {
  readonly remote: { readonly address: string; readonly port: number }
  readonly protocol: 'udp' | 'tcp'
}

export interface SyslogServerOptions {
  /** Port to listen on; 0 picks a free one (see `listen()`'s result). Default 5140, as fluentd's in_syslog. */
  port?: number
  /** Address to bind (default `127.0.0.1`; `0.0.0.0` or `::` to accept from other machines). */
  bind?: string
  /** Default `udp`. */
  protocol?: 'udp' | 'tcp'
  /** TCP only (default `auto`: octet counting when a connection starts with a digit, else newline). */
  framing?: SyslogFraming
  /** Longer messages are dropped and counted (default 65 536 bytes). */
  maxMessageBytes?: number
  /**
   * Receives raw message strings, in arrival order per connection. While a returned promise is
   * pending, that TCP connection is paused (backpressure to the sender); a rejection or a throw is
   * logged, counted and closes the connection. UDP cannot be paused: datagrams keep arriving.
   */
  onMessages: (messages: string[], meta: SyslogMeta) => Promise<void> | void
  log?: Logger
}

/** Counters of a syslog server, for metrics. */
export interface SyslogStats {
  messages: number
  /** Messages dropped for exceeding `maxMessageBytes`. */
  oversized: number
  /** Frames cut off by the end of their connection, dropped. */
  truncated: number
  /** Connections closed for a malformed octet-counting header. */
  framingErrors: number
  /** Batches whose `onMessages` threw or rejected. */
  deliveryErrors: number
  /** TCP connections open now. */
  connections: number
}

/**
 * A syslog listener. `listen()` binds and resolves with the address; `close()` stops listening and
 * closes open connections. Messages are delivered as raw strings (UTF-8 decoded), never parsed here.
 */
export class SyslogServer {
  private readonly options: Required<Omit<SyslogServerOptions, 'log'>> & { log: Logger | undefined }
  private tcp: Server | undefined
  private udp: UdpSocket | undefined
  private readonly sockets = new Set<Socket>()
  private readonly counters: SyslogStats = {
    messages: 0,
    oversized: 0,
    truncated: 0,
    framingErrors: 0,
    deliveryErrors: 0,
    connections: 0,
  }
  private udpQueue: string[] = []
  private udpFrom: RemoteInfo | undefined
  private udpScheduled = false

  constructor(options: SyslogServerOptions) {
    const protocol = options.protocol ?? 'udp'
    check(protocol === 'udp' || protocol === 'tcp', 'protocol', 'one of "udp", "tcp"', protocol)
    const framing = options.framing ?? 'auto'
    check(
      framing === 'auto' || framing === 'octet-counting' || framing === 'newline',
      'framing',
      'one of "auto", "octet-counting", "newline"',
      framing,
    )
    const port = options.port ?? 5140
    check(Number.isInteger(port) && port >= 0 && port < 65536, 'port', 'an integer from 0 to 65535', port)
    const max = options.maxMessageBytes ?? 65_536
    check(Number.isInteger(max) && max > 0, 'maxMessageBytes', 'a positive integer', max)
    check(typeof options.onMessages === 'function', 'onMessages', 'a function', options.onMessages)
    this.options = {
      port,
      bind: options.bind ?? '127.0.0.1',
      protocol,
      framing,
      maxMessageBytes: max,
      onMessages: options.onMessages,
      log: options.log,
    }
  }

  /** Binds the socket. Throws ERR_SOURCE_FAILED when the address cannot be bound. */
  async listen(): Promise<{ address: string; port: number }> {
    const { port, bind, protocol } = this.options
    try {
      if (protocol === 'tcp') {
        const server = createServer((socket) => this.accept(socket))
        this.tcp = server
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject)
          server.listen(port, bind, () => {
            server.off('error', reject)
            resolve()
          })
        })
        server.on('error', (error) =>
          this.options.log?.('error', 'syslog: server error', { error: String(error) }),
        )
      } else {
        const socket = createSocket(bind.includes(':') ? 'udp6' : 'udp4')
        this.udp = socket
        await new Promise<void>((resolve, reject) => {
          socket.once('error', reject)
          socket.bind(port, bind, () => {
            socket.off('error', reject)
            resolve()
          })
        })
        socket.on('message', (datagram, from) => this.datagram(datagram, from))
        socket.on('error', (error) =>
          this.options.log?.('error', 'syslog: socket error', { error: String(error) }),
        )
      }
    } catch (error) {
      throw new SquallError('ERR_SOURCE_FAILED', `syslog: cannot listen on ${protocol} ${bind}:${port}`, {
        cause: error,
      })
    }
    return this.address()
  }

  /** The bound address (after `listen()`). */
  address(): { address: string; port: number } {
    const a = this.tcp?.address() ?? this.udp?.address()
    check(
      a !== undefined && a !== null && typeof a === 'object',
      'address',
      'a listening server (call listen() first)',
    )
    return { address: a.address, port: a.port }
  }

  /** Counters since start. */
  stats(): SyslogStats {
    return { ...this.counters, connections: this.sockets.size }
  }

  /** Stops listening and closes every connection; messages not yet delivered are dropped. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy()
    this.sockets.clear()
    const tcp = this.tcp
    const udp = this.udp
    this.tcp = undefined
    this.udp = undefined
    if (tcp !== undefined) await new Promise<void>((resolve) => tcp.close(() => resolve()))
    if (udp !== undefined) await new Promise<void>((resolve) => udp.close(() => resolve()))
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket)
    const decoder = new FrameDecoder(this.options.framing, this.options.maxMessageBytes)
    const meta: SyslogMeta = {
      remote: { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 },
      protocol: 'tcp',
    }
    const where = `${meta.remote.address}:${meta.remote.port}`
    socket.on('data', (chunk: Buffer) => {
      const messages: string[] = []
      const before = decoder.oversized
      const ok = decoder.push(chunk, messages)
      if (decoder.oversized > before) this.dropOversized(decoder.oversized - before, where)
      if (messages.length > 0) this.deliver(socket, messages, meta)
      if (!ok) {
        this.counters.framingErrors++
        this.options.log?.('warn', `syslog: closing ${where}: ${decoder.error}`)
        socket.destroy()
      }
    })
    socket.on('end', () => {
      const pending = decoder.pendingBytes()
      if (pending > 0 && decoder.error === undefined) {
        this.counters.truncated++
        this.options.log?.(
          'warn',
          `syslog: ${where} closed in the middle of a frame; dropped ${pending} bytes`,
        )
      }
      socket.end()
    })
    socket.on('error', (error) => this.options.log?.('debug', `syslog: ${where}: ${error.message}`))
    socket.on('close', () => this.sockets.delete(socket))
  }

  private deliver(socket: Socket, messages: string[], meta: SyslogMeta): void {
    this.counters.messages += messages.length
    let result: Promise<void> | void
    try {
      result = this.options.onMessages(messages, meta)
    } catch (error) {
      this.failed(error, socket)
      return
    }
    if (result !== undefined && typeof result.then === 'function') {
      socket.pause()
      result.then(
        () => {
          if (!socket.destroyed) socket.resume()
        },
        (error: unknown) => this.failed(error, socket),
      )
    }
  }

  private failed(error: unknown, socket: Socket | undefined): void {
    this.counters.deliveryErrors++
    this.options.log?.('error', 'syslog: handling a batch of messages failed', {
      error: error instanceof Error ? error.message : String(error),
    })
    socket?.destroy()
  }

  private dropOversized(n: number, where: string): void {
    this.counters.oversized += n
    this.options.log?.(
      'warn',
      `syslog: dropped ${n} message(s) from ${where} longer than ${this.options.maxMessageBytes} bytes`,
    )
  }

  private datagram(datagram: Buffer, from: RemoteInfo): void {
    const prev = this.udpFrom
    if (prev !== undefined && (prev.address !== from.address || prev.port !== from.port)) this.flushUdp()
    this.udpFrom = from
    if (!splitDatagram(datagram, this.options.maxMessageBytes, this.udpQueue)) {
      this.dropOversized(1, `${from.address}:${from.port}`)
      return
    }
    if (!this.udpScheduled) {
      this.udpScheduled = true
      setImmediate(() => this.flushUdp())
    }
  }

  private flushUdp(): void {
    this.udpScheduled = false
    const messages = this.udpQueue
    const from = this.udpFrom
    if (messages.length === 0 || from === undefined) return
    this.udpQueue = []
    this.counters.messages += messages.length
    const meta: SyslogMeta = { remote: { address: from.address, port: from.port }, protocol: 'udp' }
    try {
      const result = this.options.onMessages(messages, meta)
      if (result !== undefined && typeof result.then === 'function') {
        result.then(undefined, (error: unknown) => this.failed(error, undefined))
      }
    } catch (error) {
      this.failed(error, undefined)
    }
  }
}

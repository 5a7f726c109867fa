// The forward-protocol client (fluentd's out_forward): PackedForward chunks with ack, round-robin
// over several servers with failover, the shared-key handshake, TLS. The base of the forward output.

import { createHash, randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { ConnectionOptions } from 'node:tls'
import { toMillis } from '../../core/duration.ts'
import type { Duration } from '../../core/duration.ts'
import { check, SquallError } from '../../core/errors.ts'
import { ClientConnection } from './client-connection.ts'
import type { ConnectTarget } from './client-connection.ts'
import type { ClientCredentials } from './handshake.ts'
import { encodeForwardRequest, packEntries } from './protocol.ts'
import type { ForwardEntry } from './protocol.ts'

/** Options of a ForwardClient. */
export interface ForwardClientOptions {
  /** The servers to send to, used round robin; a failed one is skipped until it answers again. */
  servers: Array<{ host: string; port: number }>
  /** Authenticate with this shared key (the server must have the same). */
  sharedKey?: string
  /** Our name in PING; default the machine's hostname. */
  selfHostname?: string
  /** User name and password, for servers that require user authentication. */
  username?: string
  password?: string
  /** Connect with TLS: `true` for the system CAs, or node:tls options (`ca`, `servername`, …). */
  tls?: boolean | ConnectionOptions
  /** Ask for an ack and wait for it; default true. Without, a send resolves once written. */
  requireAck?: boolean
  /** How long to wait for an ack; default '60s'. */
  timeout?: Duration
  /** How long to wait for a connection and its handshake; default '5s'. */
  connectTimeout?: Duration
  /** How often a failed server is tried again in the background; default '1s'. */
  recoverInterval?: Duration
  /** How many times a chunk is sent again (to the next server) after a timeout or loss; default 2. */
  retries?: number
}

interface ServerSlot {
  readonly target: ConnectTarget
  connection: ClientConnection | undefined
  connecting: Promise<ClientConnection> | undefined
  down: boolean
  lastError: SquallError | undefined
}

/**
 * A chunk id derived from `seed`, the tag and the encoded entries: 128 bits of their SHA-256 in
 * base64, the form of fluentd's random ids.
 */
export function forwardChunkId(seed: string, tag: string, payload: Uint8Array): string {
  return createHash('sha256')
    .update(seed)
    .update('\0')
    .update(tag)
    .update('\0')
    .update(payload)
    .digest()
    .subarray(0, 16)
    .toString('base64')
}

/**
 * Sends events to forward-protocol servers. `send` may be called many times without waiting:
 * chunks are pipelined on one connection per server. Each chunk carries a 128-bit id, random or
 * derived (see `send`); a retry re-sends the same bytes with the same id, so delivery is
 * at-least-once and a server may deduplicate by id. Never drops a chunk silently: `send` resolves
 * on its ack or rejects.
 */
export class ForwardClient {
  private readonly slots: ServerSlot[]
  private readonly requireAck: boolean
  private readonly timeoutMs: number
  private readonly retries: number
  private readonly recoverMs: number
  private next = 0
  private recoverTimer: NodeJS.Timeout | undefined
  private closed = false

  constructor(options: ForwardClientOptions) {
    check(
      Array.isArray(options.servers) && options.servers.length > 0,
      'servers',
      'at least one { host, port }',
    )
    for (const [i, s] of options.servers.entries()) {
      check(
        Number.isInteger(s.port) && s.port > 0 && s.port <= 65535,
        `servers[${i}].port`,
        'a port 1..65535',
        s.port,
      )
    }
    check(
      options.retries === undefined || (Number.isInteger(options.retries) && options.retries >= 0),
      'retries',
      'an integer ≥ 0',
      options.retries,
    )
    this.requireAck = options.requireAck ?? true
    this.timeoutMs = toMillis(options.timeout ?? '60s', 'timeout')
    this.retries = options.retries ?? 2
    this.recoverMs = toMillis(options.recoverInterval ?? '1s', 'recoverInterval')
    const connectTimeoutMs = toMillis(options.connectTimeout ?? '5s', 'connectTimeout')
    const credentials: ClientCredentials | undefined =
      options.sharedKey === undefined
        ? undefined
        : {
            sharedKey: options.sharedKey,
            hostname: options.selfHostname ?? hostname(),
            ...(options.username === undefined ? {} : { username: options.username }),
            ...(options.password === undefined ? {} : { password: options.password }),
          }
    const tls = options.tls === true ? {} : options.tls === false ? undefined : options.tls
    this.slots = options.servers.map((s) => ({
      target: { host: s.host, port: s.port, tls, credentials, connectTimeoutMs },
      connection: undefined,
      connecting: undefined,
      down: false,
      lastError: undefined,
    }))
  }

  /**
   * Sends `entries` under `tag` as one PackedForward chunk. Resolves when a server acknowledged
   * it (or, without `requireAck`, when it was written). On an ack timeout or a lost connection the
   * server is marked down and the chunk goes to the next server, up to `retries` times; then the
   * promise rejects with a retryable SquallError (ERR_FORWARD_ACK_TIMEOUT or ERR_FORWARD_CONNECTION).
   * A refused handshake rejects with ERR_FORWARD_AUTH when no server accepted.
   *
   * The chunk id is random, or with `idSeed` derived from it, the tag and the encoded entries
   * (`forwardChunkId`): a caller that passes the same seed for the same entries — an idempotency key
   * that a replay repeats — sends the same id again, so a server that remembers ids can drop the
   * repeat; other entries under the same seed get another id.
   */
  async send(tag: string, entries: readonly ForwardEntry[], idSeed?: string): Promise<void> {
    if (this.closed) throw new SquallError('ERR_FORWARD_CONNECTION', 'forward: send() after close()')
    const payload = packEntries(entries)
    const chunk = !this.requireAck
      ? undefined
      : idSeed === undefined
        ? randomBytes(16).toString('base64')
        : forwardChunkId(idSeed, tag, payload)
    const bytes = encodeForwardRequest(tag, payload, entries.length, chunk)
    let lastError: SquallError | undefined
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      const slot = await this.pick()
      const connection = slot.connection!
      try {
        await connection.send(bytes, chunk, this.timeoutMs)
        return
      } catch (error) {
        lastError = error as SquallError
        this.markDown(slot, lastError)
      }
    }
    throw lastError!
  }

  /** Closes every connection; sends still waiting for an ack are rejected. */
  async close(): Promise<void> {
    this.closed = true
    if (this.recoverTimer) clearInterval(this.recoverTimer)
    for (const slot of this.slots) {
      slot.connection?.close()
      slot.connection = undefined
    }
  }

  /** `host:port` of the servers currently considered down. */
  get downServers(): string[] {
    return this.slots.filter((s) => s.down).map((s) => `${s.target.host}:${s.target.port}`)
  }

  /** The next server in round-robin order that has (or gets) a usable connection. */
  private async pick(): Promise<ServerSlot> {
    const n = this.slots.length
    const start = this.next++ % n
    const tried = new Set<ServerSlot>()
    for (const wantDown of [false, true]) {
      for (let i = 0; i < n; i++) {
        const slot = this.slots[(start + i) % n]!
        if (slot.down !== wantDown || tried.has(slot)) continue
        tried.add(slot)
        if (await this.ensure(slot)) return slot
      }
    }
    const reasons = this.slots.map((s) => s.lastError?.message ?? `${s.target.host}:${s.target.port}: down`)
    const auth = this.slots.find((s) => s.lastError?.code === 'ERR_FORWARD_AUTH')?.lastError
    if (auth && this.slots.every((s) => s.lastError?.code === 'ERR_FORWARD_AUTH')) throw auth
    throw new SquallError('ERR_FORWARD_CONNECTION', `forward: no server reachable (${reasons.join('; ')})`)
  }

  /** True when `slot` has a usable connection, connecting if needed; marks it down otherwise. */
  private async ensure(slot: ServerSlot): Promise<boolean> {
    if (slot.connection?.usable) return true
    if (!slot.connecting) {
      slot.connecting = ClientConnection.open(slot.target)
      slot.connecting.then(
        (connection) => {
          slot.connecting = undefined
          if (this.closed) {
            connection.close()
            return
          }
          slot.connection = connection
          slot.down = false
          slot.lastError = undefined
          connection.onLost = (error) => {
            if (slot.connection === connection) this.markDown(slot, error)
          }
        },
        (error: SquallError) => {
          slot.connecting = undefined
          this.markDown(slot, error)
        },
      )
    }
    try {
      await slot.connecting
      return slot.connection?.usable === true
    } catch {
      return false
    }
  }

  private markDown(slot: ServerSlot, error: SquallError): void {
    slot.down = true
    slot.lastError = error
    if (slot.connection) {
      const c = slot.connection
      slot.connection = undefined
      c.close()
    }
    if (!this.recoverTimer && !this.closed) {
      this.recoverTimer = setInterval(() => this.recover(), this.recoverMs)
      this.recoverTimer.unref()
    }
  }

  private recover(): void {
    const down = this.slots.filter((s) => s.down)
    if (down.length === 0 || this.closed) {
      clearInterval(this.recoverTimer)
      this.recoverTimer = undefined
      return
    }
    for (const slot of down) if (!slot.connecting) void this.ensure(slot)
  }
}

// The forward protocol's shared-key handshake (HELO → PING → PONG) for both sides: digests,
// message shapes and the checks each side makes.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { SquallError } from '../../core/errors.ts'
import { packr } from './event-time.ts'

/** A user allowed in by a server with user authentication. */
export interface ForwardUser {
  username: string
  password: string
}

type Bytes = string | Uint8Array

/** `sha512_hex(salt + hostname + nonce + sharedKey)`, the digest both PING and PONG carry. */
export function sharedKeyDigest(salt: Bytes, hostname: string, nonce: Bytes, sharedKey: string): string {
  return createHash('sha512').update(salt).update(hostname).update(nonce).update(sharedKey).digest('hex')
}

/** `sha512_hex(authSalt + username + password)`, the password digest of a PING. */
export function passwordDigest(authSalt: Bytes, username: string, password: string): string {
  return createHash('sha512').update(authSalt).update(username).update(password).digest('hex')
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** What a server decides about one PING: the PONG to write, and whether the peer is in. */
export interface PingVerdict {
  ok: boolean
  reason: string
  pong: Buffer
}

/**
 * The server side of one connection's handshake. `helo()` is written right after accept; the
 * first request must then be a PING, which `checkPing` judges. Nonce and user salt are 16 random
 * bytes per connection, sent as bin; the user salt is `""` when no users are configured.
 */
export class ServerHandshake {
  private readonly nonce = randomBytes(16)
  private readonly authSalt: Buffer | null

  constructor(
    private readonly sharedKey: string,
    private readonly hostname: string,
    private readonly users: readonly ForwardUser[] | undefined,
  ) {
    this.authSalt = users && users.length > 0 ? randomBytes(16) : null
  }

  /** `["HELO", {nonce, auth, keepalive: true}]`, encoded. */
  helo(): Buffer {
    return packr.pack(['HELO', { nonce: this.nonce, auth: this.authSalt ?? '', keepalive: true }])
  }

  /** Judges a decoded PING; a failure's PONG is `["PONG", false, reason, "", ""]`. Never throws. */
  checkPing(ping: unknown): PingVerdict {
    if (!Array.isArray(ping) || ping.length !== 6 || ping[0] !== 'PING')
      return this.refuse('invalid ping message')
    const [, clientHostname, salt, digest, username, password] = ping as unknown[]
    if (
      typeof clientHostname !== 'string' ||
      (typeof salt !== 'string' && !(salt instanceof Uint8Array)) ||
      typeof digest !== 'string'
    ) {
      return this.refuse('invalid ping message')
    }
    if (!sameText(digest, sharedKeyDigest(salt, clientHostname, this.nonce, this.sharedKey))) {
      return this.refuse('shared_key mismatch')
    }
    if (this.authSalt !== null) {
      const user = this.users!.find((u) => u.username === username)
      const expected = user ? passwordDigest(this.authSalt, user.username, user.password) : ''
      if (!user || typeof password !== 'string' || !sameText(password, expected)) {
        return this.refuse('username/password mismatch')
      }
    }
    const pong = [
      'PONG',
      true,
      '',
      this.hostname,
      sharedKeyDigest(salt, this.hostname, this.nonce, this.sharedKey),
    ]
    return { ok: true, reason: '', pong: packr.pack(pong) }
  }

  private refuse(reason: string): PingVerdict {
    return { ok: false, reason, pong: packr.pack(['PONG', false, reason, '', '']) }
  }
}

/** The client's identity and secrets for the handshake. */
export interface ClientCredentials {
  sharedKey: string
  hostname: string
  username?: string
  password?: string
}

/**
 * The client side of one connection's handshake: `ping(helo)` answers the server's HELO;
 * `checkPong(pong)` throws ERR_FORWARD_AUTH unless the server accepted and proved it knows the
 * shared key (its digest over our salt and its hostname).
 */
export class ClientHandshake {
  private readonly salt = randomBytes(16).toString('hex')
  private nonce: Uint8Array | string = ''

  constructor(private readonly credentials: ClientCredentials) {}

  /** The encoded PING answering a decoded HELO; throws ERR_FORWARD_AUTH on a malformed HELO. */
  ping(helo: unknown): Buffer {
    const options =
      Array.isArray(helo) && helo[0] === 'HELO' ? (helo[1] as { [k: string]: unknown }) : undefined
    const nonce = options?.nonce
    if (!options || (typeof nonce !== 'string' && !(nonce instanceof Uint8Array))) {
      throw new SquallError('ERR_FORWARD_AUTH', 'forward: expected a HELO message from the server first')
    }
    this.nonce = nonce
    const { sharedKey, hostname, username = '', password = '' } = this.credentials
    const auth = options.auth
    const hasAuth = (typeof auth === 'string' || auth instanceof Uint8Array) && auth.length > 0
    const pwd = hasAuth ? passwordDigest(auth as Bytes, username, password) : ''
    const digest = sharedKeyDigest(this.salt, hostname, nonce, sharedKey)
    return packr.pack(['PING', hostname, this.salt, digest, hasAuth ? username : '', pwd])
  }

  /** Accepts a decoded PONG or throws ERR_FORWARD_AUTH naming the reason. */
  checkPong(pong: unknown): void {
    if (!Array.isArray(pong) || pong.length !== 5 || pong[0] !== 'PONG') {
      throw new SquallError('ERR_FORWARD_AUTH', 'forward: expected a PONG message answering our PING')
    }
    const [, ok, reason, serverHostname, digest] = pong as unknown[]
    if (ok !== true) {
      throw new SquallError(
        'ERR_FORWARD_AUTH',
        `forward: the server refused the handshake: ${String(reason)}`,
      )
    }
    const expected = sharedKeyDigest(
      this.salt,
      String(serverHostname),
      this.nonce,
      this.credentials.sharedKey,
    )
    if (typeof digest !== 'string' || !sameText(digest, expected)) {
      throw new SquallError(
        'ERR_FORWARD_AUTH',
        `forward: the PONG digest of server "${String(serverHostname)}" does not match: it does not know our shared key`,
      )
    }
  }
}

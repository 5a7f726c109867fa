// Cuts syslog messages out of a byte stream: octet counting (RFC 6587 `LEN SP MSG`) or non-transparent
// newline framing, chosen per connection or detected from its first byte; and out of UDP datagrams.

/** How messages are delimited on a TCP connection; `auto` picks per connection from the first byte. */
export type SyslogFraming = 'auto' | 'octet-counting' | 'newline'

const LF = 10
const CR = 13
const SP = 32
const ZERO = 48
const NINE = 57
/** `LEN` has at most this many digits (lengths up to 9 999 999 999 cannot fit a frame anyway). */
const MAX_LEN_DIGITS = 10

/**
 * The framing state of one TCP connection. `push` appends every complete message of a chunk to an
 * array, in order, and keeps an incomplete frame for the next chunk. Frames longer than
 * `maxMessageBytes` are skipped and counted in `oversized`. A malformed octet-counting header sets
 * `error`; the connection cannot be resynchronised and should be closed.
 */
export class FrameDecoder {
  private readonly maxBytes: number
  private mode: 'octet-counting' | 'newline' | undefined
  private rest: Buffer | undefined = undefined
  /** Bytes of an oversized frame still to skip (octet counting), or -1 to skip to the next LF (newline). */
  private skip = 0
  oversized = 0
  error: string | undefined = undefined

  constructor(framing: SyslogFraming, maxMessageBytes: number) {
    this.maxBytes = maxMessageBytes
    this.mode = framing === 'auto' ? undefined : framing
  }

  /** The framing in use, once known. */
  framing(): 'octet-counting' | 'newline' | undefined {
    return this.mode
  }

  /** Bytes of a frame begun but not complete (0 between frames). */
  pendingBytes(): number {
    return (this.rest?.length ?? 0) + Math.max(this.skip, 0)
  }

  /** Appends the complete messages in `chunk` to `out`. Returns false on a framing error. */
  push(chunk: Buffer, out: string[]): boolean {
    if (this.error !== undefined) return false
    let buf = chunk
    if (this.rest !== undefined) {
      buf = Buffer.concat([this.rest, chunk])
      this.rest = undefined
    }
    let pos = 0
    if (this.skip > 0) {
      const n = Math.min(this.skip, buf.length)
      this.skip -= n
      pos = n
    }
    if (this.mode === undefined) {
      while (pos < buf.length && isSpace(buf[pos]!)) pos++
      if (pos === buf.length) return true
      this.mode = buf[pos]! >= ZERO && buf[pos]! <= NINE ? 'octet-counting' : 'newline'
    }
    pos = this.mode === 'octet-counting' ? this.octets(buf, pos, out) : this.lines(buf, pos, out)
    if (this.error !== undefined) return false
    if (pos < buf.length) this.rest = buf.subarray(pos)
    return true
  }

  private octets(buf: Buffer, start: number, out: string[]): number {
    let pos = start
    const n = buf.length
    while (pos < n) {
      const first = buf[pos]!
      if (isSpace(first)) {
        pos++
        continue
      }
      let p = pos
      let len = 0
      while (p < n && buf[p]! >= ZERO && buf[p]! <= NINE && p - pos < MAX_LEN_DIGITS) {
        len = len * 10 + (buf[p]! - ZERO)
        p++
      }
      if (p === n) return pos
      if (buf[p] !== SP || p === pos || first === ZERO) {
        this.error = `octet counting: expected "LEN SP MSG" with LEN a number without leading zeros, got ${JSON.stringify(
          buf.toString('latin1', pos, Math.min(n, pos + 16)),
        )}`
        return pos
      }
      const body = p + 1
      if (len > this.maxBytes) {
        this.oversized++
        const have = Math.min(len, n - body)
        this.skip = len - have
        pos = body + have
        continue
      }
      if (n - body < len) return pos
      out.push(buf.toString('utf8', body, body + len))
      pos = body + len
    }
    return pos
  }

  private lines(buf: Buffer, start: number, out: string[]): number {
    let pos = start
    const n = buf.length
    while (pos < n) {
      const nl = buf.indexOf(LF, pos)
      if (nl < 0) {
        if (n - pos > this.maxBytes) {
          if (this.skip !== -1) this.oversized++
          this.skip = -1
          return n
        }
        return pos
      }
      if (this.skip === -1) {
        this.skip = 0
        pos = nl + 1
        continue
      }
      const end = nl > pos && buf[nl - 1] === CR ? nl - 1 : nl
      if (end - pos > this.maxBytes) this.oversized++
      else if (end > pos) out.push(buf.toString('utf8', pos, end))
      pos = nl + 1
    }
    return pos
  }
}

function isSpace(b: number): boolean {
  return b === LF || b === CR || b === SP || b === 0
}

/**
 * Appends the messages of one UDP datagram to `out`: the whole datagram, or each non-empty line when
 * it holds several separated by LF. Returns false (nothing appended) when it exceeds `maxMessageBytes`.
 */
export function splitDatagram(datagram: Buffer, maxMessageBytes: number, out: string[]): boolean {
  if (datagram.length > maxMessageBytes) return false
  let pos = 0
  const n = datagram.length
  while (pos < n) {
    let nl = datagram.indexOf(LF, pos)
    if (nl < 0) nl = n
    const end = nl > pos && datagram[nl - 1] === CR ? nl - 1 : nl
    if (end > pos) out.push(datagram.toString('utf8', pos, end))
    pos = nl + 1
  }
  return true
}

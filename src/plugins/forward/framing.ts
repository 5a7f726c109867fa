// Cuts a TCP byte stream into whole MessagePack values without decoding them, so a value split
// across any number of `data` events is decoded once, when its last byte has arrived.

import { SquallError } from '../../core/errors.ts'

/** `valueEnd` result: the value does not end inside the bytes given. */
export const INCOMPLETE = -1
/** `valueEnd` result: the bytes are not MessagePack (the reserved byte 0xc1). */
export const MALFORMED = -2

let needed = 0

/**
 * Returns the position just after the MessagePack value that starts at `start`, reading headers
 * only (strings, binaries and extensions are skipped by their length, containers by counting
 * their items). Returns INCOMPLETE when `end` comes first — `neededEnd()` then gives a lower bound
 * of the position the value reaches — or MALFORMED. Never throws, never recurses.
 */
export function valueEnd(buf: Uint8Array, start: number, end: number): number {
  let pos = start
  let remaining = 1
  while (remaining > 0) {
    if (pos >= end) {
      needed = pos + remaining
      return INCOMPLETE
    }
    const b = buf[pos]!
    remaining--
    if (b <= 0x7f || b >= 0xe0) {
      pos += 1
    } else if (b <= 0x8f) {
      remaining += (b & 0x0f) * 2
      pos += 1
    } else if (b <= 0x9f) {
      remaining += b & 0x0f
      pos += 1
    } else if (b <= 0xbf) {
      pos += 1 + (b & 0x1f)
    } else {
      switch (b) {
        case 0xc0:
        case 0xc2:
        case 0xc3:
          pos += 1
          break
        case 0xc4:
        case 0xd9:
          if (pos + 2 > end) return short(pos + 2)
          pos += 2 + buf[pos + 1]!
          break
        case 0xc5:
        case 0xda:
          if (pos + 3 > end) return short(pos + 3)
          pos += 3 + ((buf[pos + 1]! << 8) | buf[pos + 2]!)
          break
        case 0xc6:
        case 0xdb:
          if (pos + 5 > end) return short(pos + 5)
          pos += 5 + readUint32(buf, pos + 1)
          break
        case 0xc7:
          if (pos + 2 > end) return short(pos + 2)
          pos += 3 + buf[pos + 1]!
          break
        case 0xc8:
          if (pos + 3 > end) return short(pos + 3)
          pos += 4 + ((buf[pos + 1]! << 8) | buf[pos + 2]!)
          break
        case 0xc9:
          if (pos + 5 > end) return short(pos + 5)
          pos += 6 + readUint32(buf, pos + 1)
          break
        case 0xca:
        case 0xce:
        case 0xd2:
          pos += 5
          break
        case 0xcb:
        case 0xcf:
        case 0xd3:
          pos += 9
          break
        case 0xcc:
        case 0xd0:
          pos += 2
          break
        case 0xcd:
        case 0xd1:
          pos += 3
          break
        case 0xd4:
          pos += 3
          break
        case 0xd5:
          pos += 4
          break
        case 0xd6:
          pos += 6
          break
        case 0xd7:
          pos += 10
          break
        case 0xd8:
          pos += 18
          break
        case 0xdc:
          if (pos + 3 > end) return short(pos + 3)
          remaining += (buf[pos + 1]! << 8) | buf[pos + 2]!
          pos += 3
          break
        case 0xdd:
          if (pos + 5 > end) return short(pos + 5)
          remaining += readUint32(buf, pos + 1)
          pos += 5
          break
        case 0xde:
          if (pos + 3 > end) return short(pos + 3)
          remaining += ((buf[pos + 1]! << 8) | buf[pos + 2]!) * 2
          pos += 3
          break
        case 0xdf:
          if (pos + 5 > end) return short(pos + 5)
          remaining += readUint32(buf, pos + 1) * 2
          pos += 5
          break
        default:
          needed = pos
          return MALFORMED
      }
    }
  }
  if (pos > end) {
    needed = pos
    return INCOMPLETE
  }
  return pos
}

/**
 * After `valueEnd` returned INCOMPLETE: the least end position the value needs (a lower bound);
 * after MALFORMED: the position of the bad byte.
 */
export function neededEnd(): number {
  return needed
}

function short(at: number): number {
  needed = at
  return INCOMPLETE
}

function readUint32(buf: Uint8Array, at: number): number {
  return buf[at]! * 0x1000000 + ((buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!)
}

/**
 * Accumulates the chunks of one connection and hands out whole MessagePack values in order.
 * Bytes are concatenated only when enough of them have arrived to hold the next value, so a large
 * value costs one copy, not one per chunk. A frame is a view into an internal buffer that is never
 * written again: the caller may keep it.
 */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0)
  private pos = 0
  private tail: Buffer[] = []
  private tailBytes = 0
  private need = 1

  /** @param maxFrameBytes the largest value accepted; a larger one makes `next()` throw. */
  constructor(private readonly maxFrameBytes: number) {}

  /** Appends bytes as received; never copies here. */
  push(chunk: Buffer): void {
    if (this.pos === this.buf.length && this.tail.length === 0) {
      this.buf = chunk
      this.pos = 0
    } else {
      this.tail.push(chunk)
      this.tailBytes += chunk.length
    }
  }

  /** Bytes received and not yet handed out as frames. */
  get buffered(): number {
    return this.buf.length - this.pos + this.tailBytes
  }

  /**
   * The next whole value, or null when more bytes are needed. Throws ERR_FORWARD_PROTOCOL on bytes
   * that are not MessagePack and ERR_FORWARD_CHUNK_TOO_LARGE on a value above `maxFrameBytes`;
   * after a throw the reader must not be used again.
   */
  next(): Buffer | null {
    if (this.buffered < this.need) return null
    if (this.tail.length > 0) {
      this.tail.unshift(this.buf.subarray(this.pos))
      this.buf = Buffer.concat(this.tail, this.buffered)
      this.pos = 0
      this.tail = []
      this.tailBytes = 0
    }
    const start = this.pos
    const end = valueEnd(this.buf, start, this.buf.length)
    if (end === MALFORMED) {
      const at = neededEnd()
      throw new SquallError(
        'ERR_FORWARD_PROTOCOL',
        `forward: byte 0x${this.buf[at]!.toString(16)} at offset ${at - start} of a request is not MessagePack`,
      )
    }
    const size = end === INCOMPLETE ? neededEnd() - start : end - start
    if (size > this.maxFrameBytes) {
      throw new SquallError(
        'ERR_FORWARD_CHUNK_TOO_LARGE',
        `forward: a request of at least ${size} bytes exceeds maxChunkBytes ${this.maxFrameBytes}; send smaller chunks or raise maxChunkBytes`,
      )
    }
    if (end === INCOMPLETE) {
      this.need = size
      return null
    }
    this.need = 1
    this.pos = end
    return this.buf.subarray(start, end)
  }
}

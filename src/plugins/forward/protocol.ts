// The forward protocol's transport phase: decoding the four carrier modes (Message, Forward,
// PackedForward, CompressedPackedForward) into entries, and encoding PackedForward and acks.

import { gunzipSync } from 'node:zlib'
import { SquallError } from '../../core/errors.ts'
import { decodeEntries, type ForwardRecord, type MakeEvent, makeEntry } from './entries.ts'
import { EventTime, packr, unpackr } from './event-time.ts'
import { valueEnd } from './framing.ts'

export type { ForwardRecord, MakeEvent } from './entries.ts'

/**
 * One event of a request. `time` is ms since the epoch (rounded down); `nanos` is the nanosecond
 * within that second — exact when the sender used EventTime, `(time % 1000) * 1e6` otherwise.
 */
export interface ForwardEntry {
  time: number
  nanos: number
  record: ForwardRecord
}

/** The carrier mode a request used, found from its second element. */
export type ForwardMode = 'message' | 'forward' | 'packed' | 'compressed'

/**
 * One decoded request. `chunk` is the id to acknowledge (absent: no answer is due); `size` is the
 * event count the sender announced; `skipped` counts events dropped because their time was not a
 * number or EventTime or their record was not a map (fluentd's skip_invalid_event).
 */
export interface ForwardMessage<E = ForwardEntry> {
  tag: string
  entries: E[]
  mode: ForwardMode
  chunk: string | undefined
  size: number | undefined
  skipped: number
}

/** Limits applied while decoding. */
export interface DecodeLimits {
  /** Largest size of a decompressed CompressedPackedForward payload. */
  maxDecompressedBytes: number
  /** The clock that replaces a Message-mode time of 0 (fluentd does the same). */
  now: () => number
}

const DEFAULT_LIMITS: DecodeLimits = { maxDecompressedBytes: 256 * 1024 * 1024, now: Date.now }

function protocolError(message: string): SquallError {
  return new SquallError('ERR_FORWARD_PROTOCOL', `forward: ${message}`)
}

/**
 * Decodes one whole MessagePack value received in the transport phase. Returns null for what
 * carries no events: a heartbeat (`nil`) and, as the spec says, any request that is not an array.
 * Throws ERR_FORWARD_PROTOCOL for bytes that are not exactly one whole MessagePack array (the
 * reserved byte 0xc1 included, as `readRequestHead` refuses them), an array that is no known mode,
 * a bad tag, entries that are not whole MessagePack or that msgpackr cannot decode (an unknown
 * extension type), or a gzip payload that does not inflate. Entries decode to the values msgpackr
 * gives (see `entries.ts`).
 */
export function decodeRequest(frame: Buffer, limits: DecodeLimits = DEFAULT_LIMITS): ForwardMessage | null {
  return decodeRequestAs(frame, limits, toEntry)
}

const toEntry: MakeEvent<ForwardEntry> = (time, nanos, record) => ({ time, nanos, record })

/**
 * `decodeRequest`, with every valid event built by `make` instead of as a ForwardEntry: a reader
 * that turns events into its own objects builds each once. Same nulls and throws.
 */
export function decodeRequestAs<T>(
  frame: Buffer,
  limits: DecodeLimits,
  make: MakeEvent<T>,
): ForwardMessage<T> | null {
  const head = frame[0]!
  const isArray = (head >= 0x90 && head <= 0x9f) || head === 0xdc || head === 0xdd
  if (!isArray) return null
  const n = arrayLength(frame, 0)
  if (n < 0) throw protocolError('a request is not valid MessagePack (it ends inside its array header)')
  if (n < 2 || n > 4) throw protocolError(`expected an array of 2 to 4 elements, got ${n}`)
  const starts = elementStarts(frame, n)
  if (starts === null || starts[n] !== frame.length)
    throw protocolError('a request is not valid MessagePack (it is not exactly one whole array)')
  const element = (i: number): unknown => {
    try {
      return unpackr.unpack(frame, { start: starts[i]!, end: starts[i + 1]! })
    } catch (error) {
      throw protocolError(`a request is not valid MessagePack (${(error as Error).message})`)
    }
  }
  const tag = element(0)
  if (typeof tag !== 'string') throw protocolError(`the tag must be a string, got ${typeName(tag)}`)
  const at = starts[1]!
  const b = frame[at]!
  const out: T[] = []
  if ((b >= 0x90 && b <= 0x9f) || b === 0xdc || b === 0xdd) {
    const option = optionOf(n > 2 ? element(2) : undefined, n, 3)
    const first = at + (b <= 0x9f ? 1 : b === 0xdc ? 3 : 5)
    const count = arrayLength(frame, at)
    const skipped = decodeEntries(frame, first, starts[2]!, count, make, out, 'a Forward-mode request')
    return message(tag, out, 'forward', option, skipped)
  }
  const payload = binOrStrRange(frame, at)
  if (payload !== null) {
    // Legacy PackedForward sends the entries as a str: its raw bytes count, not a UTF-8 decoding.
    const option = optionOf(n > 2 ? element(2) : undefined, n, 3)
    if (option !== undefined && option.compressed === 'gzip') {
      let inflated: Buffer
      try {
        inflated = gunzipSync(frame.subarray(payload[0], payload[1]), {
          maxOutputLength: limits.maxDecompressedBytes,
        })
      } catch (error) {
        throw protocolError(
          `a CompressedPackedForward payload does not inflate (${(error as Error).message})`,
        )
      }
      const skipped = decodeEntries(inflated, 0, inflated.length, undefined, make, out, PACKED)
      return message(tag, out, 'compressed', option, skipped)
    }
    const skipped = decodeEntries(frame, payload[0], payload[1], undefined, make, out, PACKED)
    return message(tag, out, 'packed', option, skipped)
  }
  const second = element(1)
  if (typeof second === 'number' || second instanceof EventTime) {
    if (n < 3) throw protocolError('a Message-mode request needs [tag, time, record]')
    const option = optionOf(n > 3 ? element(3) : undefined, n, 4)
    const time = second === 0 ? limits.now() / 1000 : second
    const event = makeEntry(time, element(2), make)
    if (event !== undefined) out.push(event)
    return message(tag, out, 'message', option, event === undefined ? 1 : 0)
  }
  throw protocolError(
    `the second element must be a time, an array or a bin/str of entries, got ${typeName(second)}`,
  )
}

const PACKED = 'a PackedForward payload'

/** The item count of the array whose header is at `at`; -1 when the header is cut short. */
function arrayLength(frame: Buffer, at: number): number {
  const b = frame[at]!
  if (b <= 0x9f) return b & 0x0f
  if (b === 0xdc) return at + 3 <= frame.length ? frame.readUInt16BE(at + 1) : -1
  return at + 5 <= frame.length ? frame.readUInt32BE(at + 1) : -1
}

/**
 * Where each of the `n` elements of the request array at the start of `frame` begins, and (last)
 * where the array ends; null when they are not whole MessagePack values.
 */
function elementStarts(frame: Buffer, n: number): number[] | null {
  const head = frame[0]!
  const starts: number[] = [head <= 0x9f ? 1 : head === 0xdc ? 3 : 5]
  for (let i = 0; i < n; i++) {
    const end = valueEnd(frame, starts[i]!, frame.length)
    if (end < 0) return null
    starts.push(end)
  }
  return starts
}

/** What `readRequestHead` learns of a request without decoding its events. */
export interface ForwardRequestHead {
  tag: string
  mode: ForwardMode
  /** The chunk id to acknowledge; absent: no answer is due. */
  chunk: string | undefined
  /** The event count the sender announced, if any. */
  size: number | undefined
}

/**
 * Reads a request's tag, mode and option without decoding its events, for a server that keeps the
 * request's bytes and decodes them later with `decodeRequest`. `frame` must be one whole MessagePack
 * value (as FrameReader hands out). Returns null where `decodeRequest` does. Throws
 * ERR_FORWARD_PROTOCOL where `decodeRequest` would, with two exceptions that only decoding finds:
 * a gzip payload that does not inflate, and values inside the entries that MessagePack cannot
 * decode (an unknown extension type, invalid UTF-8). A PackedForward payload is checked to be whole
 * MessagePack values by reading their headers only.
 */
export function readRequestHead(frame: Buffer): ForwardRequestHead | null {
  const head = frame[0]!
  const isArray = (head >= 0x90 && head <= 0x9f) || head === 0xdc || head === 0xdd
  if (!isArray) return null
  const n = arrayLength(frame, 0)
  if (n < 0) throw protocolError('a request is not whole MessagePack')
  if (n < 2 || n > 4) throw protocolError(`expected an array of 2 to 4 elements, got ${n}`)
  const starts = elementStarts(frame, n)
  if (starts === null) throw protocolError('a request is not whole MessagePack')
  const element = (i: number): unknown => {
    try {
      return unpackr.unpack(frame.subarray(starts[i]!, starts[i + 1]!))
    } catch (error) {
      throw protocolError(`a request is not valid MessagePack (${(error as Error).message})`)
    }
  }
  const tag = element(0)
  if (typeof tag !== 'string') throw protocolError(`the tag must be a string, got ${typeName(tag)}`)
  const b = frame[starts[1]!]!
  if ((b >= 0x90 && b <= 0x9f) || b === 0xdc || b === 0xdd) {
    return headOf(tag, 'forward', optionOf(n > 2 ? element(2) : undefined, n, 3))
  }
  const payload = binOrStrRange(frame, starts[1]!)
  if (payload !== null) {
    const option = optionOf(n > 2 ? element(2) : undefined, n, 3)
    if (option !== undefined && option.compressed === 'gzip') return headOf(tag, 'compressed', option)
    for (let pos = payload[0]; pos < payload[1]; ) {
      pos = valueEnd(frame, pos, payload[1])
      if (pos < 0) throw protocolError('a PackedForward payload is not whole MessagePack entries')
    }
    return headOf(tag, 'packed', option)
  }
  const second = element(1)
  if (typeof second === 'number' || second instanceof EventTime) {
    if (n < 3) throw protocolError('a Message-mode request needs [tag, time, record]')
    return headOf(tag, 'message', optionOf(n > 3 ? element(3) : undefined, n, 4))
  }
  throw protocolError(
    `the second element must be a time, an array or a bin/str of entries, got ${typeName(second)}`,
  )
}

function headOf(tag: string, mode: ForwardMode, option: ForwardRecord | undefined): ForwardRequestHead {
  const chunk = option?.chunk
  const size = option?.size
  return {
    tag,
    mode,
    chunk: typeof chunk === 'string' ? chunk : undefined,
    size: typeof size === 'number' ? size : undefined,
  }
}

/** The byte range of the bin or str that starts at `at`, or null when the value there is neither. */
function binOrStrRange(frame: Buffer, at: number): [number, number] | null {
  const b = frame[at]!
  let start: number
  let len: number
  if (b >= 0xa0 && b <= 0xbf) {
    start = at + 1
    len = b & 0x1f
  } else if (b === 0xc4 || b === 0xd9) {
    start = at + 2
    len = frame[at + 1]!
  } else if (b === 0xc5 || b === 0xda) {
    start = at + 3
    len = frame.readUInt16BE(at + 1)
  } else if (b === 0xc6 || b === 0xdb) {
    start = at + 5
    len = frame.readUInt32BE(at + 1)
  } else {
    return null
  }
  return start + len <= frame.length ? [start, start + len] : null
}

function message<T>(
  tag: string,
  entries: T[],
  mode: ForwardMode,
  option: ForwardRecord | undefined,
  skipped: number,
): ForwardMessage<T> {
  const { chunk, size } = headOf(tag, mode, option)
  return { tag, entries, mode, chunk, size, skipped }
}

function optionOf(option: unknown, n: number, at: number): ForwardRecord | undefined {
  if (n < at || option === undefined || option === null) return undefined
  if (typeof option !== 'object' || Array.isArray(option) || option instanceof Uint8Array) {
    throw protocolError(`the option must be a map, got ${typeName(option)}`)
  }
  return option as ForwardRecord
}

function typeName(v: unknown): string {
  if (v === null) return 'nil'
  if (Array.isArray(v)) return 'an array'
  if (v instanceof Uint8Array) return 'a bin'
  if (typeof v === 'object') return 'a map'
  return `a ${typeof v}`
}

/**
 * Encodes entries as a PackedForward request `[tag, bin(<<[EventTime, record]>>*), {size, chunk?}]`.
 * Times are sent as EventTime (with `nanos`), so nothing below the millisecond is lost.
 */
export function encodePackedForward(tag: string, entries: readonly ForwardEntry[], chunk?: string): Buffer {
  return encodeForwardRequest(tag, packEntries(entries), entries.length, chunk)
}

/** The entries stream of a PackedForward request: `<<[EventTime, record]>>*`, concatenated. */
export function packEntries(entries: readonly ForwardEntry[]): Uint8Array {
  const pairs: unknown[] = new Array(entries.length)
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!
    pairs[i] = [EventTime.fromMillis(e.time, e.nanos), e.record]
  }
  const packed = packr.pack(pairs)
  const header = packed[0]! <= 0x9f ? 1 : packed[0] === 0xdc ? 3 : 5
  return packed.subarray(header)
}

/** A PackedForward request around an entries stream from `packEntries` holding `size` entries. */
export function encodeForwardRequest(tag: string, payload: Uint8Array, size: number, chunk?: string): Buffer {
  const option: ForwardRecord = chunk === undefined ? { size } : { size, chunk }
  return packr.pack([tag, payload, option])
}

/** The server's answer to a request that carried `chunk`: `{"ack": chunk}`. */
export function encodeAck(chunk: string): Buffer {
  return packr.pack({ ack: chunk })
}

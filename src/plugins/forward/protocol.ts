// The forward protocol's transport phase: decoding the four carrier modes (Message, Forward,
// PackedForward, CompressedPackedForward) into entries, and encoding PackedForward and acks.

import { gunzipSync } from 'node:zlib'
import { SquallError } from '../../core/errors.ts'
import { EventTime, packr, unpackr } from './event-time.ts'
import { valueEnd } from './framing.ts'

/** A record as fluentd carries it: a map with string keys. */
export type ForwardRecord = { [field: string]: unknown }

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
export interface ForwardMessage {
  tag: string
  entries: ForwardEntry[]
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
 * Throws ERR_FORWARD_PROTOCOL for an array that is no known mode, a bad tag, a packed payload
 * that is not whole MessagePack, or a gzip payload that does not inflate.
 */
export function decodeRequest(frame: Buffer, limits: DecodeLimits = DEFAULT_LIMITS): ForwardMessage | null {
  const head = frame[0]!
  const isArray = (head >= 0x90 && head <= 0x9f) || head === 0xdc || head === 0xdd
  if (!isArray) return null
  // Legacy PackedForward sends the entries as a str; take its raw bytes, not a UTF-8 decoding.
  const rawStr = strElementRange(frame)
  let value: unknown[]
  try {
    value = unpackr.unpack(frame) as unknown[]
  } catch (error) {
    throw protocolError(`a request is not valid MessagePack (${(error as Error).message})`)
  }
  const n = value.length
  if (n < 2 || n > 4) throw protocolError(`expected an array of 2 to 4 elements, got ${n}`)
  const tag = value[0]
  if (typeof tag !== 'string') throw protocolError(`the tag must be a string, got ${typeName(tag)}`)
  const second = value[1]
  if (Array.isArray(second)) {
    const option = optionOf(value[2], n, 3)
    const entries: ForwardEntry[] = []
    let skipped = 0
    for (let i = 0; i < second.length; i++) {
      const e = second[i]
      if (!Array.isArray(e) || e.length < 2 || !pushEntry(entries, e[0], e[1])) skipped++
    }
    return message(tag, entries, 'forward', option, skipped)
  }
  if (second instanceof Uint8Array || typeof second === 'string') {
    const option = optionOf(value[2], n, 3)
    let bytes: Uint8Array = rawStr ? frame.subarray(rawStr[0], rawStr[1]) : (second as Uint8Array)
    let mode: ForwardMode = 'packed'
    if (option !== undefined && option.compressed === 'gzip') {
      mode = 'compressed'
      try {
        bytes = gunzipSync(bytes, { maxOutputLength: limits.maxDecompressedBytes })
      } catch (error) {
        throw protocolError(
          `a CompressedPackedForward payload does not inflate (${(error as Error).message})`,
        )
      }
    }
    const entries: ForwardEntry[] = []
    const skipped = decodePacked(bytes, entries)
    return message(tag, entries, mode, option, skipped)
  }
  if (typeof second === 'number' || second instanceof EventTime) {
    if (n < 3) throw protocolError('a Message-mode request needs [tag, time, record]')
    const option = optionOf(value[3], n, 4)
    const entries: ForwardEntry[] = []
    const time = second === 0 ? limits.now() / 1000 : second
    const skipped = pushEntry(entries, time, value[2]) ? 0 : 1
    return message(tag, entries, 'message', option, skipped)
  }
  throw protocolError(
    `the second element must be a time, an array or a bin/str of entries, got ${typeName(second)}`,
  )
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
  const n = head <= 0x9f ? head & 0x0f : head === 0xdc ? frame.readUInt16BE(1) : frame.readUInt32BE(1)
  if (n < 2 || n > 4) throw protocolError(`expected an array of 2 to 4 elements, got ${n}`)
  const starts: number[] = [head <= 0x9f ? 1 : head === 0xdc ? 3 : 5]
  for (let i = 0; i < n; i++) {
    const end = valueEnd(frame, starts[i]!, frame.length)
    if (end < 0) throw protocolError('a request is not whole MessagePack')
    starts.push(end)
  }
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

function message(
  tag: string,
  entries: ForwardEntry[],
  mode: ForwardMode,
  option: ForwardRecord | undefined,
  skipped: number,
): ForwardMessage {
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

/** Appends `[time, record]` when both are valid; returns false (and appends nothing) otherwise. */
function pushEntry(out: ForwardEntry[], time: unknown, record: unknown): boolean {
  if (
    typeof record !== 'object' ||
    record === null ||
    Array.isArray(record) ||
    record instanceof Uint8Array
  ) {
    return false
  }
  if (typeof time === 'number') {
    if (!Number.isFinite(time)) return false
    const ms = Math.floor(time * 1000)
    out.push({
      time: ms,
      nanos: (ms - Math.floor(ms / 1000) * 1000) * 1_000_000,
      record: record as ForwardRecord,
    })
    return true
  }
  if (time instanceof EventTime) {
    out.push({ time: time.toMillis(), nanos: time.nanoseconds, record: record as ForwardRecord })
    return true
  }
  return false
}

/** Decodes concatenated `[time, record]` values; returns the number of invalid entries skipped. */
function decodePacked(bytes: Uint8Array, out: ForwardEntry[]): number {
  if (bytes.length === 0) return 0
  let values: unknown[]
  try {
    values = unpackr.unpackMultiple(bytes) as unknown[]
  } catch (error) {
    throw protocolError(
      `a PackedForward payload is not whole MessagePack entries (${(error as Error).message})`,
    )
  }
  let skipped = 0
  for (let i = 0; i < values.length; i++) {
    const e = values[i]
    if (!Array.isArray(e) || e.length < 2 || !pushEntry(out, e[0], e[1])) skipped++
  }
  return skipped
}

/** When element [1] of the array in `frame` is a str, its byte range; otherwise null. */
function strElementRange(frame: Buffer): [number, number] | null {
  const head = frame[0]!
  const first = head <= 0x9f ? 1 : head === 0xdc ? 3 : 5
  const tagEnd = valueEnd(frame, first, frame.length)
  if (tagEnd < 0 || tagEnd >= frame.length) return null
  const b = frame[tagEnd]!
  // A bin there is not a str.
  if (b >= 0xc4 && b <= 0xc6) return null
  return binOrStrRange(frame, tagEnd)
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

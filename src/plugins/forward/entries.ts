// Decodes the entries of a forward-protocol request (`[time, record]` pairs) straight from their
// MessagePack bytes into events: no intermediate pair arrays or EventTime objects, and field names
// taken from a table of the names seen. Whatever this fast path does not know goes to msgpackr, so
// every input decodes to what msgpackr gives.

import { SquallError } from '../../core/errors.ts'
import { EventTime, unpackr } from './event-time.ts'
import { valueEnd } from './framing.ts'

/** A record as fluentd carries it: a map with string keys. */
export type ForwardRecord = { [field: string]: unknown }

/**
 * Builds one event from a valid entry: `time` in ms since the epoch (rounded down), `nanos` the
 * nanosecond within that second (exact for an EventTime, `(time % 1000) * 1e6` for a number).
 */
export type MakeEvent<T> = (time: number, nanos: number, record: ForwardRecord) => T

/** Returned by the readers below when the bytes leave the fast path; the entry is decoded by msgpackr. */
const BAIL: unknown = Symbol('bail')

/** Longest field name looked up in (and added to) the table of names. */
const NAME_MAX = 32
/** The table of names has 2 ** SLOT_BITS slots. */
const SLOT_BITS = 10

/**
 * Field names seen recently, by a hash of their bytes: a record's names then cost no allocation, and
 * objects get the same string for each. A slot is overwritten on a collision; a name is returned
 * from the table only when its characters equal the bytes read.
 */
const names: (string | undefined)[] = new Array(2 ** SLOT_BITS).fill(undefined)

/**
 * A Buffer with the method that `toString('utf8', start, end)` ends in, called without its argument
 * checks; invalid UTF-8 becomes U+FFFD, and a leading BOM stays, as msgpackr decodes them.
 */
type Utf8Bytes = Buffer & { utf8Slice(start: number, end: number): string }

// The decoder's state: the bytes, the read position and where they end.
const EMPTY = Buffer.alloc(0) as Utf8Bytes
const EMPTY_VIEW = new DataView(EMPTY.buffer, 0, 0)
let src: Utf8Bytes = EMPTY
let view: DataView = EMPTY_VIEW
let pos = 0
let end = 0

/**
 * Appends `make(...)` for every valid entry of `bytes[start, stop)` to `out` and returns how many
 * invalid entries were skipped (a time that is neither a finite number nor an EventTime, a record
 * that is not a map, an entry that is not an array of at least two elements: fluentd's
 * skip_invalid_event). `count` is the number of entries (Forward mode, where they are the items of an
 * array); `undefined` reads entries until `stop` (PackedForward's concatenated stream). Throws
 * ERR_FORWARD_PROTOCOL, with `what` naming the bytes, when they are not whole MessagePack values or
 * msgpackr cannot decode an entry (such as an unknown extension type).
 */
export function decodeEntries<T>(
  bytes: Buffer,
  start: number,
  stop: number,
  count: number | undefined,
  make: MakeEvent<T>,
  out: T[],
  what: string,
): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let skipped = 0
  let at = start
  for (let i = 0; count === undefined ? at < stop : i < count; i++) {
    src = bytes as Utf8Bytes
    view = dv
    pos = at
    end = stop
    const made = fastEntry(make)
    if (made !== BAIL) {
      out.push(made as T)
      at = pos
      continue
    }
    const next = valueEnd(bytes, at, stop)
    if (next < 0) throw notWhole(what)
    let e: unknown
    try {
      e = unpackr.unpack(bytes, { start: at, end: next })
    } catch (error) {
      throw notWhole(what, error)
    }
    at = next
    if (!Array.isArray(e) || e.length < 2) skipped++
    else {
      const event = makeEntry(e[0], e[1], make)
      if (event === undefined) skipped++
      else out.push(event)
    }
  }
  src = EMPTY
  view = EMPTY_VIEW
  return skipped
}

function notWhole(what: string, cause?: unknown): SquallError {
  const detail = cause instanceof Error ? ` (${cause.message})` : ''
  return new SquallError('ERR_FORWARD_PROTOCOL', `forward: ${what} is not whole MessagePack entries${detail}`)
}

/**
 * The event of a decoded `[time, record]` when both are valid, else undefined: the rule every mode
 * applies to an entry msgpackr decoded.
 */
export function makeEntry<T>(time: unknown, record: unknown, make: MakeEvent<T>): T | undefined {
  if (typeof record !== 'object' || record === null || Array.isArray(record) || record instanceof Uint8Array)
    return undefined
  if (typeof time === 'number') {
    if (!Number.isFinite(time)) return undefined
    const ms = Math.floor(time * 1000)
    return make(ms, (ms - Math.floor(ms / 1000) * 1000) * 1_000_000, record as ForwardRecord)
  }
  if (time instanceof EventTime) return make(time.toMillis(), time.nanoseconds, record as ForwardRecord)
  return undefined
}

/**
 * Decodes the entry at `pos` when it is a fixarray of two elements, an EventTime (fixext8) or a
 * finite number, and a map of the value types `readValue` knows; BAIL otherwise (including every
 * invalid entry, so that msgpackr has the last word on what is skipped or refused).
 */
function fastEntry<T>(make: MakeEvent<T>): unknown {
  if (pos + 3 > end || src[pos] !== 0x92) return BAIL
  const t = src[pos + 1]!
  let time: number
  let nanos: number
  if (t === 0xd7) {
    if (src[pos + 2] !== 0 || pos + 11 > end) return BAIL
    const seconds = view.getUint32(pos + 3)
    nanos = view.getUint32(pos + 7)
    time = seconds * 1000 + Math.floor(nanos / 1_000_000)
    pos += 11
  } else {
    pos += 1
    const n = readValue()
    if (typeof n !== 'number' || !Number.isFinite(n)) return BAIL
    time = Math.floor(n * 1000)
    nanos = (time - Math.floor(time / 1000) * 1000) * 1_000_000
  }
  const m = src[pos]!
  let record: unknown
  if (m >= 0x80 && m <= 0x8f) {
    pos++
    record = readMap(m & 0x0f)
  } else if (m === 0xde || m === 0xdf) record = readValue()
  else return BAIL
  if (record === BAIL || pos > end) return BAIL
  return make(time, nanos, record as ForwardRecord)
}

/** Reads one value: nil, booleans, numbers up to 32 bits and floats, strings, arrays and maps. */
function readValue(): unknown {
  if (pos >= end) return BAIL
  const b = src[pos++]!
  if (b < 0x80) return b
  if (b < 0x90) return readMap(b & 0x0f)
  if (b < 0xa0) return readArray(b & 0x0f)
  if (b < 0xc0) return readString(b & 0x1f)
  if (b >= 0xe0) return b - 0x100
  const at = pos
  switch (b) {
    case 0xc0:
      return null
    case 0xc2:
      return false
    case 0xc3:
      return true
    case 0xca:
      if ((pos += 4) > end) return BAIL
      return view.getFloat32(at)
    case 0xcb:
      if ((pos += 8) > end) return BAIL
      return view.getFloat64(at)
    case 0xcc:
      if ((pos += 1) > end) return BAIL
      return src[at]
    case 0xcd:
      if ((pos += 2) > end) return BAIL
      return view.getUint16(at)
    case 0xce:
      if ((pos += 4) > end) return BAIL
      return view.getUint32(at)
    case 0xd0:
      if ((pos += 1) > end) return BAIL
      return view.getInt8(at)
    case 0xd1:
      if ((pos += 2) > end) return BAIL
      return view.getInt16(at)
    case 0xd2:
      if ((pos += 4) > end) return BAIL
      return view.getInt32(at)
    case 0xd9:
      if ((pos += 1) > end) return BAIL
      return readString(src[at]!)
    case 0xda:
      if ((pos += 2) > end) return BAIL
      return readString(view.getUint16(at))
    case 0xdb:
      if ((pos += 4) > end) return BAIL
      return readString(view.getUint32(at))
    case 0xdc:
      if ((pos += 2) > end) return BAIL
      return readArray(view.getUint16(at))
    case 0xdd:
      if ((pos += 4) > end) return BAIL
      return readArray(view.getUint32(at))
    case 0xde:
      if ((pos += 2) > end) return BAIL
      return readMap(view.getUint16(at))
    case 0xdf:
      if ((pos += 4) > end) return BAIL
      return readMap(view.getUint32(at))
    default:
      // bin, ext (timestamps, an EventTime inside a record), 64-bit integers, 0xc1: msgpackr's business.
      return BAIL
  }
}

function readArray(n: number): unknown {
  // Every element takes at least one byte: a longer count cannot be whole.
  if (n > end - pos) return BAIL
  const a: unknown[] = new Array(n)
  for (let i = 0; i < n; i++) {
    const v = readValue()
    if (v === BAIL) return BAIL
    a[i] = v
  }
  return a
}

function readMap(n: number): unknown {
  if (n * 2 > end - pos) return BAIL
  const o: ForwardRecord = {}
  for (let i = 0; i < n; i++) {
    const b = src[pos]!
    let key: string | undefined
    if (b >= 0xa0 && b <= 0xbf) {
      pos++
      key = readName(b & 0x1f)
    } else if (b === 0xd9 && pos + 1 < end) {
      pos += 2
      key = readName(src[pos - 1]!)
    } else return BAIL
    if (key === undefined) return BAIL
    const v = readValue()
    if (v === BAIL) return BAIL
    // msgpackr's rule, so that a record never gets a prototype from its sender.
    o[key === '__proto__' ? '__proto_' : key!] = v
  }
  return o
}

/** Reads a UTF-8 string of `len` bytes at `pos`. */
function readString(len: number): unknown {
  const at = pos
  if ((pos += len) > end) return BAIL
  return src.utf8Slice(at, pos)
}

/**
 * Reads a field name of `len` bytes at `pos`: names of up to SHARED_MAX ASCII bytes come from the
 * table of names seen (or enter it), others are decoded as UTF-8.
 */
function readName(len: number): string | undefined {
  const at = pos
  const stop = at + len
  if (stop > end) return undefined
  pos = stop
  if (len === 0) return ''
  if (len > NAME_MAX) return src.utf8Slice(at, stop)
  // Length, first, middle and last byte: cheap, and enough to tell a record's names apart.
  const h = len ^ (src[at]! << 5) ^ (src[at + (len >> 1)]! << 12) ^ (src[stop - 1]! << 19)
  const slot = Math.imul(h, 0x9e3779b1) >>> (32 - SLOT_BITS)
  const known = names[slot]
  if (known !== undefined && known.length === len) {
    let i = 0
    while (i < len && known.charCodeAt(i) === src[at + i]) i++
    if (i === len) return known
  }
  const name = src.utf8Slice(at, stop)
  // Only a name whose characters are its bytes can be matched against them later.
  if (name.length === len) names[slot] = name
  return name
}

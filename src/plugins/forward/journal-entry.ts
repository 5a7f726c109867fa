// How the forward input journals a request: its bytes as received behind a small header (sender,
// receive time, tag, chunk id), decoded into events only when the job reads them.

import { SquallError } from '../../core/errors.ts'
import { packr, unpackr } from './event-time.ts'
import { valueEnd } from './framing.ts'
import { decodeRequestAs, type ForwardEntry, type ForwardMessage, type MakeEvent } from './protocol.ts'
import type { ForwardRequest } from './server-connection.ts'

/** The first byte of an entry: 0xc1 is never MessagePack, so no msgpack-encoded entry starts with it. */
export const REQUEST_MARK = 0xc1

/** What the header of a journaled request says. */
export interface JournaledRequestHeader {
  /** The sender, as `address:port`. */
  remote: string
  /** When the request was received (ms): the time of a Message-mode event sent with time 0. */
  receivedAt: number
  /** The tag its events get (the sender's tag with the input's prefix). */
  tag: string
  chunk: string | undefined
}

/**
 * One journal entry for `request`: `0xc1`, the MessagePack header `[remote, receivedAt, tag, chunk]`,
 * then the request's bytes. The bytes are copied once, into the returned buffer.
 */
export function encodeJournaledRequest(request: ForwardRequest, tag: string, receivedAt: number): Buffer {
  const header = packr.pack([request.remote, receivedAt, tag, request.chunk ?? null])
  const bytes = request.bytes
  const entry = Buffer.allocUnsafe(1 + header.length + bytes.length)
  entry[0] = REQUEST_MARK
  header.copy(entry, 1)
  bytes.copy(entry, 1 + header.length)
  return entry
}

/**
 * Reads the header of an entry written by `encodeJournaledRequest` and returns it with the request's
 * bytes (a view). Throws ERR_JOURNAL_CORRUPT when the entry is not one (such as an entry journaled
 * one event at a time by an earlier version of the input).
 */
export function readJournaledRequest(entry: Buffer): { header: JournaledRequestHeader; bytes: Buffer } {
  const end = entry[0] === REQUEST_MARK ? valueEnd(entry, 1, entry.length) : -1
  let fields: unknown
  try {
    fields = end > 0 ? unpackr.unpack(entry.subarray(1, end)) : undefined
  } catch {
    fields = undefined
  }
  if (
    !Array.isArray(fields) ||
    typeof fields[0] !== 'string' ||
    typeof fields[1] !== 'number' ||
    typeof fields[2] !== 'string'
  ) {
    throw new SquallError(
      'ERR_JOURNAL_CORRUPT',
      'forward: a journal entry is not a journaled request (written by another input or version?)',
    )
  }
  const chunk = fields[3]
  return {
    header: {
      remote: fields[0],
      receivedAt: fields[1],
      tag: fields[2],
      chunk: typeof chunk === 'string' ? chunk : undefined,
    },
    bytes: entry.subarray(end),
  }
}

/**
 * Decodes the request bytes of a journaled request into its events, exactly as the server would
 * have on receipt (a Message-mode time of 0 becomes `receivedAt`), so decoding is deterministic and
 * a replay yields the same events. Throws ERR_FORWARD_PROTOCOL when the request cannot be decoded.
 */
export function decodeJournaledRequest(
  header: JournaledRequestHeader,
  bytes: Buffer,
  maxDecompressedBytes = 256 * 1024 * 1024,
): ForwardMessage {
  return decodeJournaledRequestAs(header, bytes, toEntry, maxDecompressedBytes)
}

const toEntry: MakeEvent<ForwardEntry> = (time, nanos, record) => ({ time, nanos, record })

/** `decodeJournaledRequest`, with each event built by `make` (see `decodeRequestAs`). */
export function decodeJournaledRequestAs<T>(
  header: JournaledRequestHeader,
  bytes: Buffer,
  make: MakeEvent<T>,
  maxDecompressedBytes = 256 * 1024 * 1024,
): ForwardMessage<T> {
  const message = decodeRequestAs(bytes, { maxDecompressedBytes, now: () => header.receivedAt }, make)
  if (message === null)
    throw new SquallError('ERR_FORWARD_PROTOCOL', 'forward: a journaled request is not an array')
  return message
}

// Decodes an HTTP request body into record objects by its content type: JSON, NDJSON or MessagePack,
// with errors that say what is wrong and where (line number, byte offset).

import { C1, Unpackr } from 'msgpackr'
import { SquallError } from '../../core/errors.ts'

/** One decoded record: a plain object (a JSON object or a MessagePack map with string keys). */
export type BodyRecord = { [field: string]: unknown }

const JSON_TYPES = new Set(['application/json', 'text/json'])
const NDJSON_TYPES = new Set([
  'application/x-ndjson',
  'application/ndjson',
  'application/jsonl',
  'application/x-jsonlines',
  'application/jsonlines',
])
const MSGPACK_TYPES = new Set(['application/msgpack', 'application/x-msgpack', 'application/vnd.msgpack'])

/** The content types `decodeBody` accepts, for error messages and documentation. */
export const BODY_CONTENT_TYPES: readonly string[] = [...JSON_TYPES, ...NDJSON_TYPES, ...MSGPACK_TYPES]

const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true })

/**
 * Decodes `body` by `contentType` (parameters such as `; charset=utf-8` are ignored):
 * - `application/json`: one object, or an array of objects;
 * - `application/x-ndjson` (and `ndjson`, `jsonl`, `jsonlines`): one object per non-blank line;
 * - `application/msgpack` / `application/x-msgpack`: a map, an array of maps, or a sequence of maps.
 *
 * Returns the objects in body order; an empty body gives `[]` for NDJSON and MessagePack. Throws
 * ERR_BAD_BODY naming the content type and where the body is wrong (line, byte offset or element
 * index); nothing is returned from a body with any bad part.
 */
export function decodeBody(contentType: string | undefined, body: Uint8Array): BodyRecord[] {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase()
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  if (JSON_TYPES.has(type)) return decodeJson(type, buf)
  if (NDJSON_TYPES.has(type)) return decodeNdjson(type, buf)
  if (MSGPACK_TYPES.has(type)) return decodeMsgpack(type, buf)
  throw bad(
    `content type ${JSON.stringify(contentType ?? '')} is not supported; send one of ${BODY_CONTENT_TYPES.map((t) => `"${t}"`).join(', ')}`,
  )
}

function decodeJson(type: string, buf: Buffer): BodyRecord[] {
  const text = buf.toString('utf8')
  let value: unknown
  try {
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text)
  } catch (error) {
    throw bad(`${type}: invalid JSON${jsonWhere(error, text)}: ${messageOf(error)}`, error)
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (!isRecord(value[i]))
        throw bad(`${type}: element [${i}] of the array is ${kind(value[i])}, expected an object`)
    }
    return value as BodyRecord[]
  }
  if (isRecord(value)) return [value]
  throw bad(`${type}: the body is ${kind(value)}, expected an object or an array of objects`)
}

function decodeNdjson(type: string, buf: Buffer): BodyRecord[] {
  const out: BodyRecord[] = []
  let pos = buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0
  let line = 0
  while (pos < buf.length) {
    let nl = buf.indexOf(10, pos)
    if (nl < 0) nl = buf.length
    line++
    const text = buf.toString('utf8', pos, nl)
    const start = pos
    pos = nl + 1
    if (text.trim() === '') continue
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch (error) {
      throw bad(
        `${type}: line ${line} (byte offset ${start}) is not valid JSON: ${messageOf(error)}`,
        error,
        line,
      )
    }
    if (!isRecord(value))
      throw bad(
        `${type}: line ${line} (byte offset ${start}) is ${kind(value)}, expected an object`,
        undefined,
        line,
      )
    out.push(value)
  }
  return out
}

function decodeMsgpack(type: string, buf: Buffer): BodyRecord[] {
  const values: unknown[] = []
  const offsets: number[] = []
  try {
    unpackr.unpackMultiple(buf, (value: unknown, start?: number) => {
      values.push(value)
      offsets.push(start ?? 0)
    })
  } catch (error) {
    const after = offsets.length
    throw bad(
      `${type}: invalid MessagePack after ${after} complete value(s)${after > 0 ? ` (the last starting at byte offset ${offsets[after - 1]})` : ''}: ${messageOf(error)}`,
      error,
    )
  }
  if (values.length === 1 && Array.isArray(values[0])) {
    const list = values[0] as unknown[]
    for (let i = 0; i < list.length; i++) {
      if (!isRecord(list[i]))
        throw bad(`${type}: element [${i}] of the array is ${kind(list[i])}, expected a map`)
    }
    return list as BodyRecord[]
  }
  for (let i = 0; i < values.length; i++) {
    if (!isRecord(values[i])) {
      throw bad(`${type}: value ${i + 1} (byte offset ${offsets[i]}) is ${kind(values[i])}, expected a map`)
    }
  }
  return values as BodyRecord[]
}

function isRecord(value: unknown): value is BodyRecord {
  return (
    typeof value === 'object' &&
    value !== null &&
    value !== C1 &&
    !Array.isArray(value) &&
    !(value instanceof Uint8Array)
  )
}

function kind(value: unknown): string {
  if (value === null) return 'null'
  if (value === C1) return 'the byte 0xc1, which MessagePack never uses'
  if (Array.isArray(value)) return 'an array'
  if (value instanceof Uint8Array) return 'binary data'
  if (value instanceof Map) return 'a map with non-string keys'
  const t = typeof value
  return t === 'object' ? 'an object' : `a ${t}`
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** ` at line L column C (byte offset B)` from a JSON.parse error that gives a position or ends early. */
function jsonWhere(error: unknown, text: string): string {
  const message = messageOf(error)
  const m = /position (\d+)/.exec(message)
  if (m === null && !message.startsWith('Unexpected end')) return ''
  const at = m === null ? text.length : Number(m[1])
  let line = 1
  let lineStart = 0
  for (let i = 0; i < at && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++
      lineStart = i + 1
    }
  }
  const byte = Buffer.byteLength(text.slice(0, at))
  return ` at line ${line} column ${at - lineStart + 1} (byte offset ${byte})`
}

function bad(message: string, cause?: unknown, line?: number): SquallError {
  return new SquallError('ERR_BAD_BODY', message, {
    ...(cause === undefined ? {} : { cause }),
    ...(line === undefined ? {} : { where: { line } }),
  })
}

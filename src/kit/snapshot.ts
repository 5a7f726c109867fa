// Checks shared by every kit building block's `restore()`: the snapshot's kind, version and fields.
// Snapshots are plain data (objects, arrays, Uint8Arrays) that survive structuredClone and msgpackr.
// Float64 arrays travel as the Uint8Array of their bytes: msgpackr's default packer mangles other typed arrays.

import { describeValue, SquallError } from '../core/errors.ts'

/** The envelope every kit snapshot carries, so that a snapshot is never restored as the wrong thing. */
export interface SnapshotHeader {
  readonly kind: string
  readonly version: number
}

/** The bytes of a Float64Array, copied, for a snapshot (platform byte order: little-endian in practice). */
export function float64Bytes(values: Float64Array): Uint8Array {
  return new Uint8Array(values.slice().buffer)
}

/** Throws ERR_KIT_SNAPSHOT naming the kind and the bad field. */
export function snapshotError(kind: string, field: string, expected: string, got: unknown): SquallError {
  return new SquallError(
    'ERR_KIT_SNAPSHOT',
    `${kind} snapshot: ${field}: expected ${expected}, got ${describeValue(got)}; restore a snapshot written by ${kind}.snapshot()`,
  )
}

/**
 * Returns `data` as a record of fields after checking that it is an object with the expected
 * `kind` and `version`. Throws ERR_KIT_SNAPSHOT otherwise.
 */
export function openSnapshot(
  data: unknown,
  kind: string,
  version: number,
): { readonly [field: string]: unknown } {
  if (typeof data !== 'object' || data === null) throw snapshotError(kind, 'snapshot', 'an object', data)
  const d = data as { readonly [field: string]: unknown }
  if (d['kind'] !== kind) throw snapshotError(kind, 'kind', JSON.stringify(kind), d['kind'])
  if (d['version'] !== version) throw snapshotError(kind, 'version', String(version), d['version'])
  return d
}

/** Reads a finite number field, or throws ERR_KIT_SNAPSHOT. */
export function numberField(d: { readonly [field: string]: unknown }, kind: string, field: string): number {
  const v = d[field]
  if (typeof v !== 'number' || !Number.isFinite(v)) throw snapshotError(kind, field, 'a finite number', v)
  return v
}

/** Reads an array field, or throws ERR_KIT_SNAPSHOT. */
export function arrayField(d: { readonly [field: string]: unknown }, kind: string, field: string): unknown[] {
  const v = d[field]
  if (!Array.isArray(v)) throw snapshotError(kind, field, 'an array', v)
  return v
}

/**
 * Reads a numeric array field into a fresh Float64Array of `length` elements (when given).
 * Accepts a Float64Array, any other typed array or plain array of numbers, and a Uint8Array holding
 * the bytes of a Float64Array (the form `float64Bytes` gives snapshots).
 */
export function float64Field(
  d: { readonly [field: string]: unknown },
  kind: string,
  field: string,
  length?: number,
): Float64Array {
  const v = d[field]
  let out: Float64Array | undefined
  if (v instanceof Uint8Array) {
    if (v.byteLength % 8 === 0) {
      const bytes = new Uint8Array(v.byteLength)
      bytes.set(v)
      out = new Float64Array(bytes.buffer)
    }
  } else if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    out = Float64Array.from(v as unknown as ArrayLike<number>)
  } else if (Array.isArray(v) && v.every((x) => typeof x === 'number')) {
    out = Float64Array.from(v as number[])
  }
  if (out === undefined || (length !== undefined && out.length !== length)) {
    throw snapshotError(kind, field, length === undefined ? 'an array of numbers' : `${length} numbers`, v)
  }
  return out
}

/** Reads a byte array field (a Uint8Array, Buffer or array of numbers) into a fresh Uint8Array of `length` bytes when given. */
export function uint8Field(
  d: { readonly [field: string]: unknown },
  kind: string,
  field: string,
  length?: number,
): Uint8Array {
  const v = d[field]
  const ok = v instanceof Uint8Array || (Array.isArray(v) && v.every((x) => typeof x === 'number'))
  const arr = v as ArrayLike<number>
  if (!ok || (length !== undefined && arr.length !== length)) {
    throw snapshotError(kind, field, length === undefined ? 'an array of bytes' : `${length} bytes`, v)
  }
  return Uint8Array.from(arr)
}

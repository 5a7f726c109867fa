// The file form of one operator task's snapshot: keyed stores grouped by key group, and timers,
// as a sequence of msgpack frames written off the hot path and read back by key-group range.

import { readFile, writeFile } from 'node:fs/promises'
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import { Packr } from 'msgpackr'
import { SquallError } from '../core/errors.ts'
import { keyGroupOf } from '../core/key-group.ts'
import type { Key } from '../core/record.ts'
import type { StateCapture, StoreInfo, StoreSnapshot } from './keyed-backend.ts'

/** Version of the task-file layout; a file of another version is refused (ERR_STATE_FORMAT). */
export const SNAPSHOT_FILE_VERSION = 2
/** Older layouts this version still reads: 1 (every frame carries its entries' key groups). */
const READABLE_VERSIONS: readonly number[] = [1, SNAPSHOT_FILE_VERSION]

/** Pending timers of a task as checkpoints keep them: [time, keys at that time]. */
export type TimerEntries = [number, (Key | undefined)[]][]

/** An operator task's snapshot, read back from its file (only the key groups asked for). */
export interface OperatorSnapshot {
  stores: StoreSnapshot[]
  eventTimers: TimerEntries
  processingTimers: TimerEntries
}

/** What is captured at the barrier: the state capture plus copies of the timer queues. */
export interface OperatorCapture {
  state: StateCapture
  eventTimers: TimerEntries
  processingTimers: TimerEntries
}

interface Header {
  v: number
  node: string
  task: number
  /** The key-group range `[from, to)` the task owned: every entry of the file lies in it (v2). */
  groups?: [number, number]
  stores: StoreInfo[]
  eventTimers: TimerEntries
  processingTimers: TimerEntries
}

/**
 * One frame of entries of one store, in capture order: keys and values side by side. Keys are `k`,
 * or `ks` (every key a string without NUL, joined by NUL: one string to encode instead of
 * thousands); values are `v`, or `vi` / `vn` when every value is an int32 / a number. Key groups
 * are not written (hashing every key at every checkpoint costs more than encoding it): they are
 * computed on restore, and only when the restoring task owns part of the file's range. Version 1
 * frames carry the key group of each entry (`gs`) or of all of them (`g`).
 */
interface Frame {
  s: number
  g?: number
  gs?: Uint8Array | Uint16Array
  k?: Key[]
  ks?: string
  v?: unknown[]
  vi?: Int32Array
  vn?: Float64Array
}

const packr = new Packr({ structuredClone: true })

/** Entries handled between two yields to the event loop while encoding (keeps pauses short). */
const SLICE = 16_384
/** Entries per frame at most. */
const FRAME = 8_192
/** Longest stretch of encoding between two yields to the event loop, in ms. */
const SLICE_MS = 8

/** Encodes entries `[from, to)` of one store as one frame. Synchronous and allocation-light. */
function packFrame(
  s: number,
  keys: readonly Key[],
  values: readonly unknown[],
  from: number,
  to: number,
): Uint8Array {
  const n = to - from
  const ks = keys.slice(from, to)
  let strings = true
  for (let i = 0; i < n; i++) {
    const k = ks[i]!
    if (typeof k !== 'string' || k.includes('\0')) {
      strings = false
      break
    }
  }
  const f: Frame = { s }
  if (strings) f.ks = ks.join('\0')
  else f.k = ks
  let ints = true
  let numbers = true
  for (let i = from; i < to; i++) {
    const v = values[i]
    if (typeof v !== 'number') {
      numbers = false
      break
    }
    if (ints && (v | 0) !== v) ints = false
  }
  if (numbers && ints) {
    const vi = new Int32Array(n)
    for (let i = 0; i < n; i++) vi[i] = values[from + i] as number
    f.vi = vi
  } else if (numbers) {
    const vn = new Float64Array(n)
    for (let i = 0; i < n; i++) vn[i] = values[from + i] as number
    f.vn = vn
  } else f.v = values.slice(from, to)
  return packr.pack(f)
}

/** A capture's store as two arrays (copied from `entries` when the capture has no columns). */
async function columnsOf(
  state: StateCapture,
  s: number,
): Promise<{ keys: readonly Key[]; values: readonly unknown[] }> {
  const c = state.columns?.(s)
  if (c !== undefined) return c
  const keys: Key[] = []
  const values: unknown[] = []
  for (const [k, v] of state.entries(s)) {
    keys.push(k)
    values.push(v)
    if (keys.length % SLICE === 0) await yieldToLoop()
  }
  return { keys, values }
}

/**
 * Encodes a capture into `path` and returns the file's size in bytes. Encoding runs in slices of
 * about 20 000 entries with a yield to the event loop between slices, so the task keeps processing
 * records while a large state is encoded; the file is then written and fsynced in one
 * asynchronous call. Releases the capture when done (also on failure). A rejection (e.g. ENOSPC)
 * may leave a partial file, which the caller discards with its checkpoint directory.
 */
export async function writeSnapshotFile(
  path: string,
  node: string,
  task: number,
  capture: OperatorCapture,
  groups: [number, number],
): Promise<number> {
  const parts: Uint8Array[] = []
  try {
    const { state } = capture
    const header: Header = {
      v: SNAPSHOT_FILE_VERSION,
      node,
      task,
      groups,
      stores: [...state.stores],
      eventTimers: capture.eventTimers,
      processingTimers: capture.processingTimers,
    }
    parts.push(packr.pack(header))
    for (let s = 0; s < state.stores.length; s++) {
      const { keys, values } = await columnsOf(state, s)
      // Frames of small values pack in microseconds, those of objects (sketches, detector state)
      // in up to milliseconds each: 32 of them per frame, so a time slice ends close to its 8 ms.
      const frame = values.length > 0 && typeof values[0] === 'object' ? FRAME / 256 : FRAME
      let sliceStart = performance.now()
      for (let from = 0; from < keys.length; from += frame) {
        const to = Math.min(from + frame, keys.length)
        state.resolve?.(s, from, to)
        parts.push(packFrame(s, keys, values, from, to))
        if (performance.now() - sliceStart > SLICE_MS) {
          await yieldToLoop()
          sliceStart = performance.now()
        }
      }
    }
  } finally {
    capture.state.release()
  }
  // Written frame by frame: no second copy of a large state in memory.
  await writeFile(path, parts, { flush: true })
  let bytes = 0
  for (const p of parts) bytes += p.length
  return bytes
}

/**
 * Reads a task file and keeps the entries and timers of the key groups in `[from, to)` (timers
 * without a key belong to task 0's range, i.e. `from === 0`). Throws ERR_STATE_FORMAT when the file
 * is damaged or of another version, naming the file.
 */
export async function readSnapshotFile(
  path: string,
  from: number,
  to: number,
  maxParallelism: number,
): Promise<OperatorSnapshot> {
  const bytes = await readFile(path)
  let items: unknown[]
  try {
    items = packr.unpackMultiple(bytes) as unknown[]
  } catch (e) {
    throw new SquallError(
      'ERR_STATE_FORMAT',
      `checkpoint file "${path}" is damaged: ${(e as Error).message}`,
      { cause: e },
    )
  }
  const header = items[0] as Header | undefined
  if (
    header === undefined ||
    !READABLE_VERSIONS.includes(header.v) ||
    !Array.isArray(header.stores) ||
    (header.v >= 2 && !Array.isArray(header.groups))
  ) {
    throw new SquallError(
      'ERR_STATE_FORMAT',
      `checkpoint file "${path}" has format version ${JSON.stringify(header?.v ?? null)}; this Squall reads versions ${READABLE_VERSIONS.join(' and ')}`,
    )
  }
  const stores: StoreSnapshot[] = header.stores.map((s) => ({
    name: s.name,
    kind: s.kind,
    ttlMs: s.ttlMs,
    groups: {},
  }))
  // A task owning the file's whole range takes every entry without hashing a key.
  const whole = header.groups !== undefined && header.groups[0] >= from && header.groups[1] <= to
  for (let i = 1; i < items.length; i++) {
    const f = items[i] as Frame
    if (f.gs === undefined && f.g !== undefined && (f.g < from || f.g >= to)) continue
    const store = stores[f.s]!
    const keys: Key[] = f.ks !== undefined ? f.ks.split('\0') : f.k!
    const values: ArrayLike<unknown> = f.vi ?? f.vn ?? f.v!
    if (whole) {
      if (store.ungrouped === undefined) store.ungrouped = []
      store.ungrouped.push({ keys, values })
      continue
    }
    const groups = store.groups
    for (let j = 0; j < keys.length; j++) {
      const g = f.gs !== undefined ? f.gs[j]! : f.g !== undefined ? f.g : keyGroupOf(keys[j]!, maxParallelism)
      if (g < from || g >= to) continue
      let list = groups[g]
      if (list === undefined) groups[g] = list = []
      list.push([keys[j]!, values[j]])
    }
  }
  const mine = (entries: TimerEntries): TimerEntries => {
    const out: TimerEntries = []
    for (const [time, keys] of entries) {
      const kept = keys.filter((k) => {
        if (k === undefined || k === null) return from === 0
        const g = keyGroupOf(k, maxParallelism)
        return g >= from && g < to
      })
      if (kept.length > 0) out.push([time, kept.map((k) => (k === null ? undefined : k))])
    }
    return out
  }
  return { stores, eventTimers: mine(header.eventTimers), processingTimers: mine(header.processingTimers) }
}

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
export const SNAPSHOT_FILE_VERSION = 1

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
  stores: StoreInfo[]
  eventTimers: TimerEntries
  processingTimers: TimerEntries
}

/** One frame of entries: store index, key group, then keys and values side by side. */
interface Frame {
  s: number
  g: number
  k: Key[]
  v: unknown[]
}

const packr = new Packr({ structuredClone: true })

/** Entries handled between two yields to the event loop while encoding (keeps pauses short). */
const SLICE = 20_000
/** Entries per frame at most. */
const FRAME = 8_192

/**
 * Encodes a capture into `path` and returns the file's size in bytes. Encoding runs in slices of
 * 20 000 entries with a yield to the event loop between slices, so the task keeps processing
 * records while a large state is encoded; the file is then written and fsynced in one
 * asynchronous call. Releases the capture when done (also on failure). A rejection (e.g. ENOSPC)
 * may leave a partial file, which the caller discards with its checkpoint directory.
 */
export async function writeSnapshotFile(
  path: string,
  node: string,
  task: number,
  capture: OperatorCapture,
  maxParallelism: number,
): Promise<number> {
  const parts: Uint8Array[] = []
  try {
    const { state } = capture
    const header: Header = {
      v: SNAPSHOT_FILE_VERSION,
      node,
      task,
      stores: [...state.stores],
      eventTimers: capture.eventTimers,
      processingTimers: capture.processingTimers,
    }
    parts.push(packr.pack(header))
    let n = 0
    for (let s = 0; s < state.stores.length; s++) {
      const groups = new Map<number, Frame>()
      for (const [k, v] of state.entries(s)) {
        const g = keyGroupOf(k, maxParallelism)
        let f = groups.get(g)
        if (f === undefined) groups.set(g, (f = { s, g, k: [], v: [] }))
        f.k.push(k)
        f.v.push(v)
        if (f.k.length >= FRAME) {
          groups.delete(g)
          parts.push(packr.pack(f))
        }
        if (++n % SLICE === 0) await yieldToLoop()
      }
      for (const f of groups.values()) parts.push(packr.pack(f))
    }
  } finally {
    capture.state.release()
  }
  const data = Buffer.concat(parts)
  await writeFile(path, data, { flush: true })
  return data.length
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
  if (header === undefined || header.v !== SNAPSHOT_FILE_VERSION || !Array.isArray(header.stores)) {
    throw new SquallError(
      'ERR_STATE_FORMAT',
      `checkpoint file "${path}" has format version ${JSON.stringify(header?.v ?? null)}; this Squall reads version ${SNAPSHOT_FILE_VERSION}`,
    )
  }
  const stores: StoreSnapshot[] = header.stores.map((s) => ({
    name: s.name,
    kind: s.kind,
    ttlMs: s.ttlMs,
    groups: {},
  }))
  for (let i = 1; i < items.length; i++) {
    const f = items[i] as Frame
    if (f.g < from || f.g >= to) continue
    const groups = stores[f.s]!.groups
    let list = groups[f.g]
    if (list === undefined) groups[f.g] = list = []
    for (let j = 0; j < f.k.length; j++) list.push([f.k[j]!, f.v[j]])
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

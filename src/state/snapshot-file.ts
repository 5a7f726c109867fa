// The file form of one operator task's snapshot: keyed stores grouped by key group, and timers,
// as a sequence of msgpack frames written off the hot path and read back by key-group range.

import { open, readFile } from 'node:fs/promises'
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import { encodePacer } from './encode-pacer.ts'
import { Packr } from 'msgpackr'
import { SquallError } from '../core/errors.ts'
import { keyGroupOf } from '../core/key-group.ts'
import type { Key } from '../core/record.ts'
import type { StateCapture, StoreInfo, StoreSnapshot } from './keyed-backend.ts'

/** Version of the task-file layout; a file of another version is refused (ERR_STATE_FORMAT). */
export const SNAPSHOT_FILE_VERSION = 4
/**
 * Older layouts this version still reads: 1 (every frame carries its entries' key groups), 2
 * (string keys as one NUL-joined string, `ks`) and 3 (every timer in the header).
 */
const READABLE_VERSIONS: readonly number[] = [1, 2, 3, SNAPSHOT_FILE_VERSION]

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
  /** Up to layout 3; from layout 4 timers come in timer frames and the header's lists are empty. */
  eventTimers: TimerEntries
  processingTimers: TimerEntries
}

/**
 * A frame of timers (layout 4): entries of the event-time (`t: 0`) or processing-time (`t: 1`)
 * queue holding up to {@link TIMER_FRAME} keys together; a time with more keys is split over
 * frames. Timers are written in frames, not in the header, so that a task with a timer per key (a
 * cleanup timer for each of 100 000 clients) encodes them in paced turns instead of in one pause.
 */
interface TimerFrame {
  t: 0 | 1
  e: TimerEntries
}

/** Timer keys per timer frame at most. */
const TIMER_FRAME = 2_048

/** `entries` cut into lists of entries of {@link TIMER_FRAME} keys at most (a time may recur). */
function* timerFrames(entries: TimerEntries): Generator<TimerEntries> {
  let frame: TimerEntries = []
  let size = 0
  for (const [time, keys] of entries) {
    for (let from = 0; from < keys.length; ) {
      const take = Math.min(keys.length - from, TIMER_FRAME - size)
      frame.push([time, from === 0 && take === keys.length ? keys : keys.slice(from, from + take)])
      size += take
      from += take
      if (size === TIMER_FRAME) {
        yield frame
        frame = []
        size = 0
      }
    }
  }
  if (frame.length > 0) yield frame
}

/**
 * One frame of entries of one store, in capture order: keys and values side by side. Keys are `k`,
 * or `kb` (every key a string without NUL: their UTF-8 bytes joined by NUL, one blob to encode
 * instead of thousands of strings, and one an encoder can reuse at the next checkpoint); values
 * are `v`, or `vi` / `vn` when every value is an int32 / a number. Key groups
 * are not written (hashing every key at every checkpoint costs more than encoding it): they are
 * computed on restore, and only when the restoring task owns part of the file's range. Version 1
 * frames carry the key group of each entry (`gs`) or of all of them (`g`).
 */
interface Frame {
  s: number
  g?: number
  gs?: Uint8Array | Uint16Array
  k?: Key[]
  kb?: Uint8Array
  /** Layout 2: the keys joined by NUL. */
  ks?: string
  v?: unknown[]
  vi?: Int32Array
  vn?: Float64Array
}

const packr = new Packr({ structuredClone: true })
/**
 * Reads task files. Binary values come out as copies, not views into the file's buffer: state keeps
 * them, and a view would keep the whole file in memory, and a deep copy of a value holding one
 * (copy-on-write at a checkpoint) copies the whole buffer (20 MB per value in the demo's crawler).
 */
const unpackr = new Packr({ structuredClone: true, copyBuffers: true })

/** Entries handled between two yields to the event loop while encoding (keeps pauses short). */
const SLICE = 16_384
/** Entries per frame at most. */
const FRAME = 8_192

/**
 * The encoded keys of the full frames at the start of a store part's last capture (a shard of its
 * map), kept for the next checkpoint: while the part has removed nothing (`removals` unchanged) its
 * keys keep their order, so those frames' keys are the same and are not encoded again. A store whose
 * key set is stable (counters per page, per user) so costs at a checkpoint the copy of its values,
 * not of its keys. Held weakly by the part's map; about the size of the keys in UTF-8.
 */
interface KeyFrames {
  readonly removals: number
  /** Entries per frame the blobs were made for. */
  readonly frame: number
  readonly blobs: readonly Uint8Array[]
}
const keyFrames = new WeakMap<object, KeyFrames>()

/**
 * Per task file and store (`node NUL task NUL store`), the entries per frame its last file came
 * down to because its values are large (see `writeSnapshotFile`).
 */
const learnedFrames = new Map<string, number>()

/** Keys `[from, to)` as a `kb` blob (all strings without NUL), else as an array. */
function encodeKeys(keys: readonly Key[], from: number, to: number): Uint8Array | Key[] {
  const ks = keys.slice(from, to)
  for (let i = 0; i < ks.length; i++) {
    const k = ks[i]!
    if (typeof k !== 'string' || k.includes('\0')) return ks
  }
  return Buffer.from(ks.join('\0'), 'utf8')
}

/**
 * Encodes entries `[from, to)` of one store as one frame, its keys already encoded (`encodeKeys`).
 * Synchronous and allocation-light.
 */
function packFrame(
  s: number,
  keys: Uint8Array | Key[],
  values: ArrayLike<unknown>,
  from: number,
  to: number,
): Uint8Array {
  const n = to - from
  const f: Frame = { s }
  if (Array.isArray(keys)) f.k = keys
  else f.kb = keys
  let ints = true
  let numbers = true
  for (let i = from; i < to; i++) {
    const v = values[i]
    if (typeof v !== 'number') {
      numbers = false
      break
    }
    // -0 is no int32: it would come back as 0.
    if (ints && ((v | 0) !== v || (v === 0 && 1 / v < 0))) ints = false
  }
  if (numbers && ints) {
    const vi = new Int32Array(n)
    for (let i = 0; i < n; i++) vi[i] = values[from + i] as number
    f.vi = vi
  } else if (numbers) {
    const vn = new Float64Array(n)
    for (let i = 0; i < n; i++) vn[i] = values[from + i] as number
    f.vn = vn
  } else f.v = Array.prototype.slice.call(values, from, to)
  return packr.pack(f)
}

/**
 * Part `part` of a capture's store as two arrays (when the capture has no columns, the whole store
 * copied from `entries`, as its only part).
 */
async function columnsOf(
  state: StateCapture,
  s: number,
  part: number,
): Promise<{ keys: readonly Key[]; values: ArrayLike<unknown> }> {
  const c = state.columns?.(s, part)
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
 * Encodes a capture into `path` and returns the file's size in bytes. Encoding runs in the turns
 * `encodePacer` hands out to every snapshot file of the thread (4 ms each, 12 ms apart), so the
 * thread keeps processing records while a large state is encoded; the frames are then written in one gathered write
 * (`writev`) and fsynced. Releases the capture when done (also on failure). A rejection (e.g. ENOSPC)
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
  await encodePacer.turn()
  try {
    const { state } = capture
    const header: Header = {
      v: SNAPSHOT_FILE_VERSION,
      node,
      task,
      groups,
      stores: [...state.stores],
      eventTimers: [],
      processingTimers: [],
    }
    parts.push(packr.pack(header))
    let sliceStart = performance.now()
    /** Ends the turn and waits for the next when this one has lasted its slice. */
    const pace = async () => {
      if (performance.now() - sliceStart > encodePacer.sliceMs) {
        encodePacer.done()
        await encodePacer.turn()
        sliceStart = performance.now()
      }
    }
    for (const [t, entries] of [capture.eventTimers, capture.processingTimers].entries()) {
      for (const e of timerFrames(entries)) {
        const frame: TimerFrame = { t: t as 0 | 1, e }
        parts.push(packr.pack(frame))
        await pace()
      }
    }
    for (let s = 0; s < state.stores.length; s++) {
      const partCount = state.columns === undefined ? 1 : (state.parts?.(s) ?? 1)
      for (let part = 0; part < partCount; part++) {
        const { keys, values } = await columnsOf(state, s, part)
        // Frames of small values pack in microseconds, those of objects (sketches, detector state)
        // in up to milliseconds each, and some objects are larger still (a window's slices of a
        // page): a frame of objects starts at one value and doubles while frames pack in under an
        // eighth of a turn, up to 32; one that takes longer than a turn divides the frames after it
        // by four. The store's next file starts at the size this one ended with.
        const learnedKey = `${node}\0${task}\0${state.stores[s]!.name}`
        const objects = values.length > 0 && typeof values[0] === 'object'
        const most = objects ? FRAME / 256 : FRAME
        const start = learnedFrames.get(learnedKey) ?? (objects ? 1 : FRAME)
        let frame = start
        const order = state.order?.(s, part)
        const earlier = order === undefined ? undefined : keyFrames.get(order.owner)
        const reuse =
          earlier !== undefined && earlier.removals === order!.removals && earlier.frame === start
            ? earlier.blobs
            : []
        const blobs: Uint8Array[] = []
        // `keys` may run past this capture's entries: `values` says how many are its own.
        const count = values.length
        for (let from = 0, index = 0; from < count; index++) {
          const to = Math.min(from + frame, count)
          state.resolve?.(s, part, from, to)
          // Only a run of full frames of the starting size from the start can be reused.
          const onGrid = frame === start && from === index * start
          const encoded = onGrid && index < reuse.length ? reuse[index]! : encodeKeys(keys, from, to)
          if (onGrid && to - from === frame && blobs.length === index && !Array.isArray(encoded))
            blobs.push(encoded)
          const began = performance.now()
          parts.push(packFrame(s, encoded, values, from, to))
          const took = performance.now() - began
          if (took > encodePacer.sliceMs && frame > 1) frame = Math.max(1, frame >> 2)
          else if (took < encodePacer.sliceMs / 8 && frame < most && to - from === frame)
            frame = Math.min(most, frame * 2)
          learnedFrames.set(learnedKey, frame)
          from = to
          await pace()
        }
        if (order !== undefined) keyFrames.set(order.owner, { removals: order.removals, frame: start, blobs })
      }
    }
  } finally {
    encodePacer.done()
    capture.state.release()
  }
  let bytes = 0
  for (const p of parts) bytes += p.length
  // Frame by frame (no second copy of a large state in memory), in one gathered write: each
  // asynchronous call waits for a turn of the task's busy event loop, so one per frame would take
  // seconds while the job runs.
  const file = await open(path, 'w')
  try {
    const { bytesWritten } = await file.writev(parts)
    if (bytesWritten !== bytes) throw new Error(`wrote ${bytesWritten} of ${bytes} bytes`)
    await file.sync()
  } finally {
    await file.close()
  }
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
    items = unpackr.unpackMultiple(bytes) as unknown[]
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
      `checkpoint file "${path}" has format version ${JSON.stringify(header?.v ?? null)}; this Squall reads versions ${READABLE_VERSIONS.slice(0, -1).join(', ')} and ${READABLE_VERSIONS.at(-1)}`,
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
  const timers: [TimerEntries, TimerEntries] = [header.eventTimers ?? [], header.processingTimers ?? []]
  for (let i = 1; i < items.length; i++) {
    const t = items[i] as Partial<TimerFrame>
    if (t.t !== undefined && t.e !== undefined) {
      for (const entry of t.e) timers[t.t]!.push(entry)
      continue
    }
    const f = items[i] as Frame
    if (f.gs === undefined && f.g !== undefined && (f.g < from || f.g >= to)) continue
    const store = stores[f.s]!
    const keys: Key[] =
      f.kb !== undefined
        ? Buffer.from(f.kb.buffer, f.kb.byteOffset, f.kb.byteLength).toString('utf8').split('\0')
        : f.ks !== undefined
          ? f.ks.split('\0')
          : f.k!
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
  return { stores, eventTimers: mine(timers[0]), processingTimers: mine(timers[1]) }
}

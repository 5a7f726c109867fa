// The on-disk format of a journal: segment file names, the segment header, length + CRC32 frames,
// and the scan that finds where the valid frames of a segment end.

import {
  closeSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import * as zlib from 'node:zlib'
import { SquallError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'

/** Every segment file starts with these 8 bytes; positions count only the frame bytes after them. */
export const SEGMENT_MAGIC: Buffer = Buffer.from('SQJRNL01', 'latin1')
export const SEGMENT_HEADER_BYTES = 8

/** A frame is `u32 LE payload length`, `u32 LE CRC32 of the payload`, then the payload. */
export const FRAME_HEADER_BYTES = 8

/** The largest payload a frame may hold (256 MiB); bigger lengths mean a damaged frame. */
export const MAX_PAYLOAD_BYTES = 256 * 1024 * 1024

const SUFFIX = '.seg'
const LOCK_FILE = 'LOCK'
const STRUCTURES_FILE = 'STRUCTURES.json'
const NAME_DIGITS = 20

/** The file name of the segment whose first frame is at logical position `base`. */
export function segmentFileName(base: number): string {
  return `${String(base).padStart(NAME_DIGITS, '0')}${SUFFIX}`
}

/** The base position encoded in a segment file name, or `undefined` for any other file. */
export function parseSegmentFileName(name: string): number | undefined {
  if (name.length !== NAME_DIGITS + SUFFIX.length || !name.endsWith(SUFFIX)) return undefined
  const digits = name.slice(0, NAME_DIGITS)
  if (!/^\d+$/.test(digits)) return undefined
  const base = Number(digits)
  return Number.isSafeInteger(base) ? base : undefined
}

const TABLES = makeTables()

function makeTables(): Int32Array {
  const t = new Int32Array(256 * 8)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    t[n] = c
  }
  for (let k = 1; k < 8; k++) {
    for (let n = 0; n < 256; n++) {
      const c = t[(k - 1) * 256 + n]!
      t[k * 256 + n] = t[c & 0xff]! ^ (c >>> 8)
    }
  }
  return t
}

/** Table-driven CRC-32 (slicing by 8) of `data[start, end)`. */
function sliceCrc32(d: Uint8Array, start: number, end: number): number {
  const t = TABLES
  let crc = -1
  let i = start
  for (; i + 8 <= end; i += 8) {
    const a = crc ^ (d[i]! | (d[i + 1]! << 8) | (d[i + 2]! << 16) | (d[i + 3]! << 24))
    crc =
      t[1792 + (a & 0xff)]! ^
      t[1536 + ((a >>> 8) & 0xff)]! ^
      t[1280 + ((a >>> 16) & 0xff)]! ^
      t[1024 + (a >>> 24)]! ^
      t[768 + d[i + 4]!]! ^
      t[512 + d[i + 5]!]! ^
      t[256 + d[i + 6]!]! ^
      t[d[i + 7]!]!
  }
  for (; i < end; i++) crc = t[(crc ^ d[i]!) & 0xff]! ^ (crc >>> 8)
  return ~crc >>> 0
}

const nativeCrc32: ((data: Uint8Array) => number) | undefined =
  typeof zlib.crc32 === 'function' ? (data) => zlib.crc32(data) : undefined

/**
 * CRC-32 (IEEE, as in zlib and gzip) of `data[start, end)`. Short ranges use a slicing-by-8 table
 * (a call into zlib costs more than the work for them); long ones use `zlib.crc32` where Node has it.
 */
export function crc32(data: Uint8Array, start = 0, end: number = data.length): number {
  if (end - start < 1024 || nativeCrc32 === undefined) return sliceCrc32(data, start, end)
  return nativeCrc32(data.subarray(start, end))
}

/** Writes one frame for `payload` into `target` at `offset`; returns the offset after it. */
export function writeFrame(target: Buffer, offset: number, payload: Uint8Array, crc: number): number {
  target.writeUInt32LE(payload.length, offset)
  target.writeUInt32LE(crc, offset + 4)
  target.set(payload, offset + FRAME_HEADER_BYTES)
  return offset + FRAME_HEADER_BYTES + payload.length
}

/** Where the valid frames of a segment end, and how many there are. */
export interface SegmentScan {
  /** File offset just after the last valid frame (at least the header size). */
  readonly validEnd: number
  readonly entries: number
  /** Why scanning stopped before the end of the file, when it did. */
  readonly stopReason?: string
}

/**
 * Reads the frames of an open segment from its header up to `fileSize`, checking each length and
 * CRC32, and returns where the valid data ends. Stops at the first short or damaged frame: a crash in
 * the middle of a write leaves exactly such a torn frame at the end of the last segment.
 * Synchronous: it runs once, when a journal opens.
 */
export function scanSegment(fd: number, fileSize: number): SegmentScan {
  const chunk = 1 << 20
  let buf: Buffer = Buffer.allocUnsafe(chunk)
  let bufStart = SEGMENT_HEADER_BYTES
  let bufLen = 0
  let pos = SEGMENT_HEADER_BYTES
  let entries = 0
  for (;;) {
    const at = pos - bufStart
    if (fileSize - pos < FRAME_HEADER_BYTES) {
      const reason = fileSize === pos ? undefined : `a frame header cut short at byte ${pos}`
      return reason === undefined
        ? { validEnd: pos, entries }
        : { validEnd: pos, entries, stopReason: reason }
    }
    if (bufLen - at < FRAME_HEADER_BYTES) {
      ;({ buf, bufStart, bufLen } = refill(fd, buf, bufStart, bufLen, pos, FRAME_HEADER_BYTES, fileSize))
      continue
    }
    const length = buf.readUInt32LE(at)
    const crc = buf.readUInt32LE(at + 4)
    if (length > MAX_PAYLOAD_BYTES || pos + FRAME_HEADER_BYTES + length > fileSize) {
      return { validEnd: pos, entries, stopReason: `a frame of ${length} bytes cut short at byte ${pos}` }
    }
    const need = FRAME_HEADER_BYTES + length
    if (bufLen - at < need) {
      ;({ buf, bufStart, bufLen } = refill(fd, buf, bufStart, bufLen, pos, need, fileSize))
      continue
    }
    if (crc32(buf, at + FRAME_HEADER_BYTES, at + need) !== crc) {
      return { validEnd: pos, entries, stopReason: `a frame with a wrong CRC32 at byte ${pos}` }
    }
    pos += need
    entries++
  }
}

function refill(
  fd: number,
  buf: Buffer,
  bufStart: number,
  bufLen: number,
  pos: number,
  need: number,
  fileSize: number,
): { buf: Buffer; bufStart: number; bufLen: number } {
  const keep = bufLen - (pos - bufStart)
  let target = buf
  if (need > buf.length) target = Buffer.allocUnsafe(Math.max(need, buf.length * 2))
  if (keep > 0) buf.copy(target, 0, pos - bufStart, bufLen)
  let filled = keep
  const want = Math.min(target.length, fileSize - pos)
  while (filled < want) {
    const n = readSync(fd, target, filled, want - filled, pos + filled)
    if (n === 0) break
    filled += n
  }
  return { buf: target, bufStart: pos, bufLen: filled }
}

/** One segment file: its first position, its path and its logical length (frame bytes). */
export interface Segment {
  readonly base: number
  readonly path: string
  length: number
}

/** Takes the directory's `LOCK` file (holding this pid); a lock left by a dead process is taken over. */
export function takeLock(dir: string): void {
  const path = join(dir, LOCK_FILE)
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx')
      writeSync(fd, String(process.pid))
      closeSync(fd)
      return
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    const pid = Number(readFileSync(path, 'utf8').trim())
    if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
      throw new SquallError(
        'ERR_JOURNAL_LOCKED',
        `journal ${dir}: already open in process ${pid}; stop it or use another directory`,
        { where: { path: dir } },
      )
    }
    unlinkSyncQuiet(path)
  }
  throw new SquallError('ERR_JOURNAL_LOCKED', `journal ${dir}: could not take ${LOCK_FILE}`, {
    where: { path: dir },
  })
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Removes the directory's `LOCK` file. */
export function releaseLock(dir: string): void {
  unlinkSyncQuiet(join(dir, LOCK_FILE))
}

function unlinkSyncQuiet(path: string): void {
  try {
    rmSync(path)
  } catch {}
}

/** fsyncs a directory, so that a file created in it survives a machine crash. */
export function syncDir(dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** Lists the segments of `dir`, creating the first one, and cuts a torn tail off the last one. */
export function recoverSegments(dir: string, log: Logger | undefined): Segment[] {
  const bases: number[] = []
  for (const name of readdirSync(dir)) {
    const base = parseSegmentFileName(name)
    if (base !== undefined) bases.push(base)
  }
  bases.sort((a, b) => a - b)
  if (bases.length === 0) {
    const path = join(dir, segmentFileName(0))
    const fd = openSync(path, 'wx')
    writeSync(fd, SEGMENT_MAGIC)
    fsyncSync(fd)
    closeSync(fd)
    syncDir(dir)
    return [{ base: 0, path, length: 0 }]
  }
  const segments: Segment[] = []
  for (let i = 0; i < bases.length; i++) {
    const base = bases[i]!
    const path = join(dir, segmentFileName(base))
    const last = i === bases.length - 1
    const fd = openSync(path, last ? 'r+' : 'r')
    try {
      const size = fstatSync(fd).size
      const header = Buffer.alloc(SEGMENT_HEADER_BYTES)
      const got = size >= SEGMENT_HEADER_BYTES ? readSync(fd, header, 0, SEGMENT_HEADER_BYTES, 0) : 0
      if (got < SEGMENT_HEADER_BYTES || !header.equals(SEGMENT_MAGIC)) {
        if (!last || size > SEGMENT_HEADER_BYTES) {
          throw new SquallError(
            'ERR_JOURNAL_CORRUPT',
            `journal segment ${path}: not a journal segment header`,
            {
              where: { file: path },
            },
          )
        }
        ftruncateSync(fd, 0)
        writeSync(fd, SEGMENT_MAGIC, 0, SEGMENT_HEADER_BYTES, 0)
        fsyncSync(fd)
        segments.push({ base, path, length: 0 })
        continue
      }
      let length = size - SEGMENT_HEADER_BYTES
      if (last) {
        const scan = scanSegment(fd, size)
        if (scan.validEnd < size) {
          log?.('warn', `journal: cut a torn last entry off ${path}`, {
            reason: scan.stopReason,
            bytes: size - scan.validEnd,
          })
          ftruncateSync(fd, scan.validEnd)
          fsyncSync(fd)
        }
        length = scan.validEnd - SEGMENT_HEADER_BYTES
      }
      const prev = segments[segments.length - 1]
      if (prev !== undefined && prev.base + prev.length !== base) {
        throw new SquallError(
          'ERR_JOURNAL_CORRUPT',
          `journal segment ${prev.path}: ends at position ${prev.base + prev.length} but the next segment starts at ${base}`,
          { where: { file: prev.path } },
        )
      }
      segments.push({ base, path, length })
    } finally {
      closeSync(fd)
    }
  }
  return segments
}

/** Key lists of msgpack records, by record id; `null` for an unused id. */
export type Structures = Array<string[] | null>

/**
 * The record shapes (key lists) that msgpack-encoded entries refer to by number, saved in
 * `STRUCTURES.json` next to the segments. Entries cannot be decoded without it. `[]` when absent.
 */
export function loadStructures(dir: string): Structures {
  let text: string
  try {
    text = readFileSync(join(dir, STRUCTURES_FILE), 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
  const parsed: unknown = JSON.parse(text)
  if (!Array.isArray(parsed) || !parsed.every((s) => s === null || Array.isArray(s))) {
    throw new SquallError(
      'ERR_JOURNAL_CORRUPT',
      `journal ${dir}: ${STRUCTURES_FILE} is not a list of key lists`,
      {
        where: { file: join(dir, STRUCTURES_FILE) },
      },
    )
  }
  return parsed as Structures
}

/** Replaces `STRUCTURES.json` durably (write, fsync, rename, fsync the directory) before returning. */
export function saveStructures(dir: string, structures: Structures): void {
  const path = join(dir, STRUCTURES_FILE)
  const tmp = `${path}.tmp`
  const fd = openSync(tmp, 'w')
  try {
    writeSync(fd, JSON.stringify(structures))
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, path)
  syncDir(dir)
}

/** A deep copy of a structures list: msgpackr decorates the arrays it is given. */
export function copyStructures(structures: ReadonlyArray<unknown>): Structures {
  const out: Structures = []
  for (let i = 0; i < structures.length; i++) {
    const keys = structures[i]
    out.push(Array.isArray(keys) ? keys.map(String) : null)
  }
  return out
}

// Reads a journal's entries in order from a position, for replay and for the job's normal reading.

import { closeSync, openSync, readSync } from 'node:fs'
import { Packr } from 'msgpackr'
import { SquallError } from '../core/errors.ts'
import type { Journal, JournalPosition } from './journal.ts'
import {
  copyStructures,
  crc32,
  FRAME_HEADER_BYTES,
  MAX_PAYLOAD_BYTES,
  SEGMENT_HEADER_BYTES,
  type Segment,
} from './journal-segment.ts'

/**
 * Reads a journal's entries in order from a position. Never blocks on the journal: `readBatch`
 * returns what is acknowledged now (possibly nothing), reading the segment files synchronously in
 * 1 MiB chunks. Returned values and payload views stay valid after later calls. Throws
 * ERR_JOURNAL_CORRUPT on a frame whose length or CRC32 is wrong.
 */
export class JournalReader {
  private readonly journal: Journal
  private packr: Packr | undefined
  private structuresVersion = -1
  private readonly range = { start: 0, end: 0 }
  private pos: JournalPosition
  private fd = -1
  private segment: Readonly<Segment> | undefined = undefined
  private buf: Buffer = Buffer.alloc(0)
  /** Logical position of `buf[0]`, and how many bytes of `buf` are valid. */
  private bufPos = 0
  private bufLen = 0

  /** Use `journal.reader(from)`. */
  constructor(journal: Journal, from: JournalPosition) {
    this.journal = journal
    this.pos = from
  }

  /** The position after the last entry handed out: what a checkpoint records. */
  position(): JournalPosition {
    return this.pos
  }

  /** Up to `max` msgpack-decoded entries available now, in order; `[]` when there are none yet. */
  readBatch(max: number): unknown[] {
    const out: unknown[] = []
    const range = this.range
    const packr = this.unpacker()
    this.read(max, (buf, start, end) => {
      range.start = start
      range.end = end
      out.push(packr.unpack(buf, range))
    })
    return out
  }

  /**
   * Decodes one payload read by `readBytes` that was written by `append` (a msgpack value with the
   * journal's shared structures): for readers of raw entries meeting entries of the other kind.
   */
  decode(payload: Buffer): unknown {
    return this.unpacker().unpack(payload)
  }

  private unpacker(): Packr {
    const shared = this.journal.sharedStructures()
    if (this.packr === undefined || shared.version !== this.structuresVersion) {
      this.packr = new Packr({ structures: copyStructures(shared.structures) as object[] })
      this.structuresVersion = shared.version
    }
    return this.packr
  }

  /** Up to `max` raw payloads available now (entries written with `appendBytes`). */
  readBytes(max: number): Buffer[] {
    const out: Buffer[] = []
    this.read(max, (buf, start, end) => out.push(buf.subarray(start, end)))
    return out
  }

  /** Resolves when an entry after `position()` is available (or the journal closed). */
  ready(): Promise<void> {
    return this.journal.waitFor(this.pos)
  }

  /** Releases the open segment file. */
  close(): void {
    if (this.fd >= 0) closeSync(this.fd)
    this.fd = -1
    this.segment = undefined
  }

  private read(max: number, emit: (buf: Buffer, start: number, end: number) => void): void {
    const end = this.journal.end()
    let n = 0
    while (n < max && this.pos < end) {
      const limit = this.locate(end)
      if (this.pos >= limit) break
      let at = this.pos - this.bufPos
      if (this.bufLen - at < FRAME_HEADER_BYTES) {
        this.fill(FRAME_HEADER_BYTES, limit)
        at = 0
      }
      const length = this.buf.readUInt32LE(at)
      const need = FRAME_HEADER_BYTES + length
      if (length > MAX_PAYLOAD_BYTES || this.pos + need > limit) this.corrupt(`a frame of ${length} bytes`)
      if (this.bufLen - at < need) {
        this.fill(need, limit)
        at = 0
      }
      if (crc32(this.buf, at + FRAME_HEADER_BYTES, at + need) !== this.buf.readUInt32LE(at + 4)) {
        this.corrupt('a frame with a wrong CRC32')
      }
      this.pos += need
      emit(this.buf, at + FRAME_HEADER_BYTES, at + need)
      n++
    }
  }

  /**
   * Opens the segment holding `pos` if needed; returns the logical end of readable data in it. A
   * segment deleted by truncation while this reader is inside it stays readable through its open file.
   */
  private locate(end: number): number {
    let segment = this.segment
    if (segment === undefined || this.pos >= segment.base + segment.length) {
      const segments = this.journal.segmentList()
      let i = segments.length - 1
      while (i > 0 && segments[i]!.base > this.pos) i--
      const found = segments[i]!
      if (found.base > this.pos) {
        throw new SquallError(
          'ERR_ARGUMENT',
          `journal reader: position ${this.pos} is before the oldest position held (${found.base}); ` +
            'the segments holding it were truncated — resume from a later checkpoint',
        )
      }
      if (found !== segment) {
        this.close()
        this.fd = openSync(found.path, 'r')
        this.segment = found
        this.bufPos = this.pos
        this.bufLen = 0
      }
      segment = found
    }
    return Math.min(end, segment.base + segment.length)
  }

  /** Makes `buf` start at `pos` and hold at least `need` bytes (never beyond `limit`). */
  private fill(need: number, limit: number): void {
    const keep = Math.max(0, this.bufLen - (this.pos - this.bufPos))
    const size = Math.max(need, 1 << 20)
    const next = Buffer.allocUnsafe(size)
    if (keep > 0) this.buf.copy(next, 0, this.pos - this.bufPos, this.bufLen)
    let filled = keep
    const want = Math.min(size, limit - this.pos)
    const fileOffset = SEGMENT_HEADER_BYTES + this.pos - this.segment!.base
    while (filled < want) {
      const r = readSync(this.fd, next, filled, want - filled, fileOffset + filled)
      if (r === 0) break
      filled += r
    }
    this.buf = next
    this.bufPos = this.pos
    this.bufLen = filled
    if (filled < need) this.corrupt(`a frame cut short (${filled} of ${need} bytes)`)
  }

  private corrupt(what: string): never {
    const path = this.segment!.path
    const offset = SEGMENT_HEADER_BYTES + this.pos - this.segment!.base
    throw new SquallError(
      'ERR_JOURNAL_CORRUPT',
      `journal segment ${path}: ${what} at byte ${offset} (position ${this.pos}); ` +
        'restore the directory from a backup or replay from a later checkpoint',
      { where: { file: path } },
    )
  }
}

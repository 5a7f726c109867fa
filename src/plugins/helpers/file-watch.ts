// One open file being followed: reads it in large chunks into a buffer and cuts complete lines out of
// it on demand, tracking the byte offset after the last line handed out.

import type { FileHandle } from 'node:fs/promises'

/** A line cut out of a followed file. `lineNo` (from 1) is known when the file was read from its start. */
export interface TailLine {
  readonly file: string
  readonly line: string
  readonly lineNo: number | undefined
}

const NEWLINE = 10
const CR = 13
/** Read size for a file that was idle: most polls of a quiet file find a few lines. */
const IDLE_CHUNK = 64 * 1024

/**
 * The read state of one inode. Reading (`fill`) is asynchronous and done by one owner at a time;
 * cutting lines (`take`) is synchronous and only moves the consumed mark forward, so the two may
 * interleave: a read only writes past `end`, `take` only reads before it.
 */
export class FileCursor {
  /** The followed path reported with each line (the name the file had when it was matched). */
  readonly path: string
  /** Where the file is open now (differs from `path` once it was found under a rotated name). */
  readonly realPath: string
  readonly inode: number
  handle: FileHandle | undefined
  /** File offset just after the bytes held in `buf`. */
  fileOffset: number
  buf: Buffer | undefined = undefined
  /** Unconsumed bytes are `buf[pos, end)`. */
  pos = 0
  end = 0
  /** Lines handed out so far, counted from the start of the file when that is known. */
  lineNo: number | undefined
  /** The last read found no more data. */
  eof = false
  /** Dropping the rest of a line longer than the limit. */
  skipping = false
  /** No data will come any more: the held partial line is handed out as the last line. */
  final = false
  /** When the path stopped naming this inode (rename or delete); `undefined` while it still does. */
  rotatedAt: number | undefined = undefined
  lastStat = 0
  lastPoll = 0

  constructor(
    path: string,
    realPath: string,
    inode: number,
    handle: FileHandle,
    offset: number,
    lineNo: number | undefined,
  ) {
    this.path = path
    this.realPath = realPath
    this.inode = inode
    this.handle = handle
    this.fileOffset = offset
    this.lineNo = lineNo
  }

  /** The file offset after the last line handed out: where a restore resumes. */
  offset(): number {
    return this.fileOffset - (this.end - this.pos)
  }

  /** Bytes read but not yet handed out. */
  held(): number {
    return this.end - this.pos
  }

  /** True when no byte is held and none will come. */
  done(): boolean {
    return this.final && this.end === this.pos
  }

  /**
   * Reads up to `chunk` more bytes at `fileOffset` unless `readAhead` bytes are already held. A held
   * partial line longer than `maxLineBytes` is dropped (returns -1 once for it, so it is counted).
   * Returns the number of bytes read (0 at end of file).
   */
  async fill(chunk: number, readAhead: number, maxLineBytes: number): Promise<number> {
    const handle = this.handle
    if (handle === undefined) return 0
    let held = this.end - this.pos
    let dropped = false
    if (held >= readAhead) {
      const buf = this.buf!
      if (buf.lastIndexOf(NEWLINE, this.end - 1) >= this.pos) return 0
      if (held >= maxLineBytes) {
        this.pos = this.end
        dropped = !this.skipping
        this.skipping = true
        held = 0
      }
    }
    const step = this.eof && held === 0 ? Math.min(chunk, IDLE_CHUNK) : chunk
    const size = held + step
    if (this.buf === undefined || this.buf.length - this.end < step) {
      if (this.buf !== undefined && this.buf.length >= size) {
        this.buf.copyWithin(0, this.pos, this.end)
      } else {
        const next = Buffer.allocUnsafe(size)
        if (held > 0) this.buf!.copy(next, 0, this.pos, this.end)
        this.buf = next
      }
      this.pos = 0
      this.end = held
    }
    const r = await handle.read(
      this.buf,
      this.end,
      Math.min(step, this.buf.length - this.end),
      this.fileOffset,
    )
    this.end += r.bytesRead
    this.fileOffset += r.bytesRead
    this.eof = r.bytesRead === 0
    if (this.eof) this.release()
    return dropped ? -1 : r.bytesRead
  }

  /** Keeps only the complete lines held and marks the cursor final (its file was truncated). */
  finishAtLastLine(): void {
    const buf = this.buf
    if (buf !== undefined) {
      const nl = this.end > this.pos ? buf.lastIndexOf(NEWLINE, this.end - 1) : -1
      this.end = nl >= this.pos ? nl + 1 : this.pos
    }
    this.final = true
  }

  /** Drops the buffer when nothing is held, so idle files cost no memory. */
  release(): void {
    if (this.end !== this.pos) return
    this.buf = undefined
    this.pos = 0
    this.end = 0
  }

  /**
   * Appends up to `max - out.length` complete lines to `out` (a trailing `\r` is removed). A partial
   * last line is held until its newline arrives, or handed out as is once the cursor is final.
   */
  take(out: TailLine[], max: number): void {
    const buf = this.buf
    if (buf === undefined) return
    const end = this.end
    let pos = this.pos
    const file = this.path
    let lineNo = this.lineNo
    while (out.length < max && pos < end) {
      let nl = buf.indexOf(NEWLINE, pos)
      if (nl >= end) nl = -1
      if (nl < 0) {
        if (!this.final) break
        nl = end
      }
      if (this.skipping) {
        this.skipping = false
        pos = nl + 1
        if (lineNo !== undefined) lineNo++
        continue
      }
      const stop = nl > pos && buf[nl - 1] === CR ? nl - 1 : nl
      if (lineNo !== undefined) lineNo++
      out.push({ file, line: buf.toString('utf8', pos, stop), lineNo })
      pos = nl + 1
    }
    this.pos = Math.min(pos, end)
    this.lineNo = lineNo
  }

  async close(): Promise<void> {
    const handle = this.handle
    this.handle = undefined
    if (handle !== undefined) await handle.close()
  }
}

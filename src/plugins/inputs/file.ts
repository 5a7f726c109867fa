// A bounded file source of lines or JSON lines, split into byte ranges read in parallel.

import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs'
import { SquallError, check } from '../../core/errors.ts'
import type { Record } from '../../core/record.ts'
import type { IoContext, SourceReader, SourceSpec } from '../../core/source.ts'

/** Options of the file source. */
export interface FileSourceOptions {
  path: string
  /** `lines` (default): each line is a string value; `jsonl`: each line is parsed as JSON. */
  format?: 'lines' | 'jsonl'
  tag?: string
  /** Read buffer size in bytes (default 1 MiB). */
  chunkBytes?: number
}

/**
 * The position of one partition: the byte offset after the last line handed out, the end of the
 * byte range being read, further ranges to read after it (after a rescale), and the file's inode.
 * A partition reads the lines that *start* in its ranges. `end` absent: the partition's own range.
 */
export interface FilePosition {
  offset: number
  ino: number
  line: number
  end?: number
  next?: [number, number][]
}

/**
 * Reads a file once. With P partitions, partition p reads the lines that *start* in the p-th of P
 * equal byte ranges, so every line is read exactly once at any parallelism. Empty lines are
 * skipped. An invalid JSON line goes to the node's error policy with file and line number (the
 * line number counts from the partition's start when the file is read in parallel; the byte
 * offset is exact). Rescalable: the unread byte ranges of every partition are split again over the
 * new partitions, so a restore at another parallelism reads each remaining line exactly once.
 */
export function file(options: FileSourceOptions): SourceSpec<unknown> {
  check(
    typeof options?.path === 'string' && options.path.length > 0,
    'file.path',
    'a file path',
    options?.path,
  )
  const format = options.format ?? 'lines'
  check(format === 'lines' || format === 'jsonl', 'file.format', '"lines" or "jsonl"', format)
  return {
    kind: 'file',
    bounded: true,
    create: (ctx) => new FileReader(options, format, ctx),
    rescale: (positions, partitions) =>
      rescaleFile(options.path, positions as readonly (FilePosition | null)[], partitions),
  }
}

/**
 * Splits the unread byte ranges of every old partition (`[offset, end)` plus its `next` ranges)
 * into `partitions` shares of about equal size, cut at any byte: a range starting mid-line leaves
 * that line to the range before it, which reads it to its end.
 */
export function rescaleFile(
  path: string,
  positions: readonly (FilePosition | null)[],
  partitions: number,
): FilePosition[] {
  let size: number | undefined
  const ranges: [number, number][] = []
  let ino = 0
  positions.forEach((p, index) => {
    if (p === null || typeof p?.offset !== 'number') {
      throw new SquallError(
        'ERR_STATE_FORMAT',
        `file source "${path}": partition ${index} has no position in the checkpoint; it cannot be rescaled`,
      )
    }
    ino = p.ino
    size ??= statSync(path).size
    const end = p.end ?? Math.floor((size * (index + 1)) / positions.length)
    if (p.offset < end) ranges.push([p.offset, end])
    for (const r of p.next ?? []) if (r[0] < r[1]) ranges.push([r[0], r[1]])
  })
  ranges.sort((a, b) => a[0] - b[0])
  const total = ranges.reduce((n, r) => n + r[1] - r[0], 0)
  const out: FilePosition[] = []
  let r = 0
  let at = ranges[0]?.[0] ?? 0
  for (let q = 0; q < partitions; q++) {
    let share = Math.floor((total * (q + 1)) / partitions) - Math.floor((total * q) / partitions)
    const mine: [number, number][] = []
    while (share > 0 && r < ranges.length) {
      const end = ranges[r]![1]
      const take = Math.min(share, end - at)
      mine.push([at, at + take])
      share -= take
      at += take
      if (at >= end) {
        r++
        at = ranges[r]?.[0] ?? at
      }
    }
    const [first, ...next] = mine
    out.push(
      first === undefined
        ? { offset: 0, end: 0, ino, line: 0 }
        : { offset: first[0], end: first[1], ino, line: 0, ...(next.length > 0 ? { next } : {}) },
    )
  }
  return out
}

class FileReader implements SourceReader<unknown> {
  private fd = -1
  private ino = 0
  private start = 0
  private end = 0
  /** Ranges to read after `[start, end)`. */
  private next: [number, number][] = []
  /** File offset of `buf[0]`. */
  private bufStart = 0
  private buf: Buffer = Buffer.alloc(0)
  private pos = 0
  private line = 0
  private eof = false
  private readonly chunk: Buffer

  constructor(
    private readonly options: FileSourceOptions,
    private readonly format: 'lines' | 'jsonl',
    private readonly ctx: IoContext,
  ) {
    this.chunk = Buffer.allocUnsafe(options.chunkBytes ?? 1 << 20)
  }

  open(): void {
    try {
      this.fd = openSync(this.options.path, 'r')
    } catch (e) {
      throw new SquallError(
        'ERR_SOURCE_FAILED',
        `file source "${this.ctx.nodeName}": cannot open "${this.options.path}": ${(e as Error).message}`,
        {
          where: { node: this.ctx.nodeName, file: this.options.path },
          cause: e,
        },
      )
    }
    const st = fstatSync(this.fd)
    this.ino = st.ino
    const size = st.size
    const { partition, partitions } = this.ctx
    this.start = Math.floor((size * partition) / partitions)
    this.end = Math.floor((size * (partition + 1)) / partitions)
    this.bufStart = this.start
    if (this.start > 0) this.skipPartialLine()
  }

  /** Starts reading the range `[start, end)`. */
  private enterRange(start: number, end: number): void {
    this.start = start
    this.end = end
    this.bufStart = start
    this.buf = Buffer.alloc(0)
    this.pos = 0
    this.eof = false
    if (start > 0 && start < end) this.skipPartialLine()
  }

  /** A range that starts mid-line leaves that line to the previous range. */
  private skipPartialLine(): void {
    const one = Buffer.alloc(1)
    if (readSync(this.fd, one, 0, 1, this.start - 1) === 1 && one[0] === 0x0a) return
    for (;;) {
      if (!this.fill()) return
      const nl = this.buf.indexOf(0x0a, this.pos)
      if (nl >= 0) {
        this.pos = nl + 1
        return
      }
      this.pos = this.buf.length
    }
  }

  /** Reads the next chunk, keeping the unconsumed tail. Returns false at end of file. */
  private fill(): boolean {
    if (this.eof) return false
    const rest = this.buf.subarray(this.pos)
    const at = this.bufStart + this.pos
    const n = readSync(this.fd, this.chunk, 0, this.chunk.length, at + rest.length)
    if (n === 0) {
      this.eof = true
      return false
    }
    this.buf =
      rest.length === 0
        ? Buffer.from(this.chunk.subarray(0, n))
        : Buffer.concat([rest, this.chunk.subarray(0, n)])
    this.bufStart = at
    this.pos = 0
    return true
  }

  nextBatch(max: number): Record<unknown>[] | null {
    const out: Record<unknown>[] = []
    const now = this.ctx.clock.now()
    const tag = this.options.tag ?? ''
    const jsonl = this.format === 'jsonl'
    while (out.length < max) {
      const lineStart = this.bufStart + this.pos
      if (lineStart >= this.end || (this.eof && this.pos >= this.buf.length)) {
        const range = this.next.shift()
        if (range === undefined) break
        this.enterRange(range[0], range[1])
        continue
      }
      let nl = this.buf.indexOf(0x0a, this.pos)
      if (nl < 0) {
        if (this.fill()) continue
        nl = this.buf.length
        if (nl === this.pos) continue
      }
      let stop = nl
      if (stop > this.pos && this.buf[stop - 1] === 0x0d) stop--
      const text = this.buf.toString('utf8', this.pos, stop)
      this.pos = nl + 1
      this.line++
      if (text.length === 0) continue
      if (!jsonl) {
        out.push({ value: text, key: undefined, time: now, tag })
        continue
      }
      let value: unknown
      try {
        value = JSON.parse(text)
      } catch (e) {
        const where =
          this.start === 0 ? `line ${this.line}` : `line ${this.line} of the range from byte ${this.start}`
        this.ctx.badRecord(
          new SquallError(
            'ERR_BAD_RECORD',
            `${this.options.path}: ${where} (byte ${lineStart}) is not valid JSON: ${(e as Error).message}`,
            {
              where: { node: this.ctx.nodeName, file: this.options.path, line: this.line },
            },
          ),
          text,
        )
        continue
      }
      out.push({ value, key: undefined, time: now, tag })
    }
    if (
      out.length === 0 &&
      this.next.length === 0 &&
      (this.bufStart + this.pos >= this.end || (this.eof && this.pos >= this.buf.length))
    )
      return null
    return out
  }

  snapshot(): FilePosition {
    const p: FilePosition = {
      offset: this.bufStart + this.pos,
      ino: this.ino,
      line: this.line,
      end: this.end,
    }
    if (this.next.length > 0) p.next = this.next.map((r): [number, number] => [r[0], r[1]])
    return p
  }

  restore(position: unknown): void {
    const p = position as FilePosition
    if (typeof p?.offset !== 'number') return
    if (p.ino !== this.ino) {
      throw new SquallError(
        'ERR_SOURCE_FAILED',
        `file source "${this.ctx.nodeName}": "${this.options.path}" was replaced since the checkpoint (inode ${p.ino}, now ${this.ino})`,
        { where: { node: this.ctx.nodeName, file: this.options.path } },
      )
    }
    this.next = (p.next ?? []).map((r): [number, number] => [r[0], r[1]])
    this.enterRange(p.offset, p.end ?? this.end)
    this.line = p.line
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd)
    this.fd = -1
  }
}

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
  /**
   * Bytes per split, the unit of work partitions take in turn (default: the file's size / (32 ×
   * partitions), between 1 MiB and 64 MiB).
   */
  splitBytes?: number
}

/**
 * The position of one partition. `todo` is the job's list of byte ranges to read (the same in every
 * partition: the file cut into splits, or what a restore left to read); `claimed` the indices of
 * `todo` this partition took, in order — all read but the last, read up to `offset`. A partition
 * reads the lines that *start* in its ranges. Positions of layout 1 (`offset`, `end`, `next`: one
 * range per partition) are still restored.
 */
export interface FilePosition {
  ino: number
  todo: [number, number][]
  claimed: number[]
  offset: number
  line: number
}

/** Layout 1: the byte offset after the last line handed out, the range's end, further ranges. */
interface FilePositionV1 {
  offset: number
  ino: number
  line: number
  end?: number
  next?: [number, number][]
}

const MIB = 1 << 20

/**
 * Split size: `splitBytes`, else about 32 splits per partition of 1–64 MiB each; at most an equal
 * share, so every partition has a split of its own to start with.
 */
function splitSize(bytes: number, partitions: number, splitBytes: number | undefined): number {
  const p = Math.max(1, partitions)
  const size = splitBytes ?? Math.min(64 * MIB, Math.max(MIB, Math.ceil(bytes / (32 * p))))
  return Math.max(1, Math.min(size, Math.ceil(bytes / p)))
}

/** Cuts sorted ranges into pieces of at most `size` bytes. */
function cut(ranges: readonly [number, number][], size: number): [number, number][] {
  const out: [number, number][] = []
  for (const [from, to] of ranges) {
    for (let at = from; at < to; at += size) out.push([at, Math.min(to, at + size)])
  }
  return out
}

/**
 * Reads a file once, as splits of `splitBytes` that partitions take in turn, as Flink's file source
 * hands splits to the readers that ask: a partition that reads faster (its thread has less other
 * work) reads more splits, so all end at about the same time. Each line is read exactly once at
 * any parallelism: a split reads the lines that *start* in it. Empty lines are skipped. An invalid
 * JSON line goes to the node's error policy with its line number in the file and its byte offset
 * (in a split after the first, the lines before it are counted once, when its first bad line is
 * reported). A checkpoint records the splits each partition took and how far it got in the last; a
 * restore, at any parallelism, cuts what no partition had read into new splits.
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
  if (options.splitBytes !== undefined)
    check(
      Number.isInteger(options.splitBytes) && options.splitBytes >= 1,
      'file.splitBytes',
      'a positive integer',
      options.splitBytes,
    )
  return {
    kind: 'file',
    bounded: true,
    sharedWork: true,
    create: (ctx) => new FileReader(options, format, ctx),
    rescale: (positions, partitions) =>
      rescaleFile(
        options.path,
        positions as readonly (FilePosition | FilePositionV1 | null)[],
        partitions,
        options.splitBytes,
      ),
  }
}

/**
 * What the partitions of an earlier run (`positions`, as `snapshot()` returned them) had not read,
 * cut into splits again, as the position of each of `partitions` new partitions (the same for all:
 * they take the splits in turn). Splits a partition took after its own barrier are in no position,
 * so they are read again, as the records read from them were not in the checkpoint.
 */
export function rescaleFile(
  path: string,
  positions: readonly (FilePosition | FilePositionV1 | null)[],
  partitions: number,
  splitBytes?: number,
): FilePosition[] {
  let size: number | undefined
  const ranges: [number, number][] = []
  let ino = 0
  let todo: [number, number][] | undefined
  const taken = new Set<number>()
  positions.forEach((p, index) => {
    if (p === null || typeof p?.offset !== 'number') {
      throw new SquallError(
        'ERR_STATE_FORMAT',
        `file source "${path}": partition ${index} has no position in the checkpoint; it cannot be rescaled`,
      )
    }
    ino = p.ino
    if ('todo' in p && Array.isArray(p.todo)) {
      todo ??= p.todo
      if (JSON.stringify(p.todo) !== JSON.stringify(todo)) {
        throw new SquallError(
          'ERR_STATE_FORMAT',
          `file source "${path}": the partitions' positions in the checkpoint list different splits`,
        )
      }
      p.claimed.forEach((i, n) => {
        taken.add(i)
        // The last split taken is read up to `offset`; the rest of it is still to read.
        if (n === p.claimed.length - 1 && p.offset < todo![i]![1]) ranges.push([p.offset, todo![i]![1]])
      })
      return
    }
    const v1 = p as FilePositionV1
    size ??= statSync(path).size
    const end = v1.end ?? Math.floor((size * (index + 1)) / positions.length)
    if (v1.offset < end) ranges.push([v1.offset, end])
    for (const r of v1.next ?? []) if (r[0] < r[1]) ranges.push([r[0], r[1]])
  })
  if (todo !== undefined) {
    for (let i = 0; i < todo.length; i++) if (!taken.has(i)) ranges.push([todo[i]![0], todo[i]![1]])
  }
  ranges.sort((a, b) => a[0] - b[0])
  const total = ranges.reduce((n, r) => n + r[1] - r[0], 0)
  const next = cut(ranges, splitSize(total, partitions, splitBytes))
  return Array.from({ length: partitions }, () => ({
    ino,
    todo: next,
    claimed: [],
    offset: next[0]?.[0] ?? 0,
    line: 0,
  }))
}

class FileReader implements SourceReader<unknown> {
  private fd = -1
  private ino = 0
  private start = 0
  private end = 0
  /** The job's byte ranges to read; this partition takes them in turn with the others. */
  private todo: [number, number][] = []
  /** Indices of `todo` this partition took; the last is `[start, end)`. */
  private claimed: number[] = []
  /** Splits taken in this run: the first is split p, the rest come from the shared claims. */
  private taken = 0
  /** File offset of `buf[0]`. */
  private bufStart = 0
  private buf: Buffer = Buffer.alloc(0)
  private pos = 0
  /** Lines read since the start of the range (the position's `line`). */
  private line = 0
  /** File offset where the lines counted by `line` started, and `line` at that offset. */
  private anchor = 0
  private anchorLine = 0
  /** Lines before `anchor` in the file; computed when a bad line is first reported there. */
  private anchorBase: number | undefined
  /** The last count of newlines made: those in `[0, countedTo)`, reused for later anchors. */
  private countedTo = 0
  private counted = 0
  private eof = false
  /** No split left to take: the partition has ended. */
  private done = false
  private readonly chunk: Buffer

  constructor(
    private readonly options: FileSourceOptions,
    private readonly format: 'lines' | 'jsonl',
    private readonly ctx: IoContext,
  ) {
    this.chunk = Buffer.allocUnsafe(options.chunkBytes ?? MIB)
    if ((options.tag ?? '') === '') this.nextValues = (max) => this.read(max, true)
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
    this.todo = cut([[0, size]], splitSize(size, this.ctx.partitions, this.options.splitBytes))
  }

  /**
   * Takes the next split; false when none is left. Partition p starts with split p, so every
   * partition has work from the start (a partition that ends early ends periodic checkpoints); the
   * splits after the first P go to whichever partition asks first (`IoContext.claim`), or without
   * shared claims to p + P, p + 2P, ….
   */
  private claimNext(): boolean {
    const { partition, partitions, claim } = this.ctx
    const n = this.taken++
    const i = n === 0 ? partition : claim !== undefined ? partitions + claim() : partition + n * partitions
    const range = this.todo[i]
    if (range === undefined) return false
    this.claimed.push(i)
    this.enterRange(range[0], range[1])
    return true
  }

  /** Starts reading the range `[start, end)`. */
  private enterRange(start: number, end: number): void {
    this.start = start
    this.end = end
    this.bufStart = start
    this.buf = Buffer.alloc(0)
    this.pos = 0
    this.line = 0
    this.eof = false
    if (start > 0 && start < end) this.skipPartialLine()
    this.setAnchor()
  }

  /** Line numbers from here on count from the current offset, where `line` stands now. */
  private setAnchor(): void {
    this.anchor = this.bufStart + this.pos
    this.anchorLine = this.line
    this.anchorBase = this.anchor === 0 ? 0 : undefined
  }

  /**
   * The file's line number (from 1) of the line just read: the lines before the anchor (counted
   * once per anchor, reading the file in chunks from the last count made) plus those read since.
   */
  private fileLine(): number {
    if (this.anchorBase === undefined) {
      if (this.anchor < this.countedTo) this.countedTo = this.counted = 0
      const chunk = this.chunk
      let at = this.countedTo
      while (at < this.anchor) {
        const n = readSync(this.fd, chunk, 0, Math.min(chunk.length, this.anchor - at), at)
        if (n === 0) break
        const read = chunk.subarray(0, n)
        for (let i = read.indexOf(0x0a); i >= 0; i = read.indexOf(0x0a, i + 1)) this.counted++
        at += n
      }
      this.countedTo = at
      this.anchorBase = this.counted
    }
    return this.anchorBase + this.line - this.anchorLine
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
    return this.read(max, false) as Record<unknown>[] | null
  }

  /**
   * The values of the next lines, as `nextBatch` would make them (see `SourceReader.nextValues`):
   * set only when the records carry no tag, the one thing besides the value they would carry.
   */
  readonly nextValues?: (max: number) => unknown[] | null

  /** Up to `max` next lines as records, or as their values alone (`asValues`); null at the end. */
  private read(max: number, asValues: boolean): unknown[] | null {
    if (this.done) return null
    const out: unknown[] = []
    const now = this.ctx.clock.now()
    const tag = this.options.tag ?? ''
    const jsonl = this.format === 'jsonl'
    while (out.length < max) {
      const lineStart = this.bufStart + this.pos
      if (lineStart >= this.end || (this.eof && this.pos >= this.buf.length)) {
        if (this.claimNext()) continue
        this.done = true
        break
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
        out.push(asValues ? text : { value: text, key: undefined, time: now, tag })
        continue
      }
      let value: unknown
      try {
        value = JSON.parse(text)
      } catch (e) {
        const line = this.fileLine()
        this.ctx.badRecord(
          new SquallError(
            'ERR_BAD_RECORD',
            `${this.options.path}: line ${line} (byte ${lineStart}) is not valid JSON: ${(e as Error).message}`,
            {
              where: { node: this.ctx.nodeName, file: this.options.path, line },
            },
          ),
          text,
        )
        continue
      }
      out.push(asValues ? value : { value, key: undefined, time: now, tag })
    }
    return out.length === 0 && this.done ? null : out
  }

  snapshot(): FilePosition {
    return {
      ino: this.ino,
      todo: this.todo,
      claimed: this.claimed.slice(),
      offset: this.bufStart + this.pos,
      line: this.line,
    }
  }

  /** Takes a position made by `rescaleFile` (restores always go through it: see `sharedWork`). */
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
    if (!Array.isArray(p.todo) || !Array.isArray(p.claimed)) {
      throw new SquallError(
        'ERR_STATE_FORMAT',
        `file source "${this.ctx.nodeName}": the checkpoint's position of "${this.options.path}" lists no splits; it must pass through rescaleFile`,
        { where: { node: this.ctx.nodeName, file: this.options.path } },
      )
    }
    this.todo = p.todo
    this.claimed = p.claimed.slice()
    this.taken = this.claimed.length
    this.start = this.end = 0
    this.bufStart = this.pos = 0
    this.buf = Buffer.alloc(0)
    const last = this.claimed.at(-1)
    if (last !== undefined) {
      this.enterRange(p.offset, this.todo[last]![1])
      this.line = p.line
      this.setAnchor()
    }
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd)
    this.fd = -1
  }
}

// Follows files and globs like fluentd's in_tail (tail -F): rotation by rename or copy-truncate,
// truncation, partial lines, new and deleted files, and exact positions to resume after a crash.

import { type Stats, statSync } from 'node:fs'
import { open, readdir, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { glob } from 'tinyglobby'
import { check } from '../../core/errors.ts'
import type { Logger } from '../../core/logger.ts'
import { FileCursor, type TailLine } from './file-watch.ts'

export type { TailLine } from './file-watch.ts'

export interface TailOptions {
  /** Files or glob patterns to follow (fluentd `path`). */
  path: string | readonly string[]
  /** Glob patterns never followed (fluentd `exclude_path`). */
  excludePath?: string | readonly string[]
  /** Read files found at start from their first line instead of their end (default false). */
  readFromHead?: boolean
  /** How often the globs are expanded again to find new files, in ms (default 60 000). */
  refreshIntervalMs?: number
  /** How often an idle file is checked for new data, rotation and truncation, in ms (default 250). */
  pollIntervalMs?: number
  /** How long a renamed or deleted file is still read before switching to the new one (default 5000). */
  rotateWaitMs?: number
  /** Lines longer than this are dropped and counted (default 4 MiB). */
  maxLineBytes?: number
  /** Bytes read per system call (default 1 MiB); also how much is read ahead per file. */
  chunkBytes?: number
  log?: Logger
}

/** Where reading of one inode stands: the byte offset after the last line handed out. */
export interface TailPosition {
  readonly path: string
  readonly inode: number
  readonly offset: number
  readonly lineNo?: number
}

/** Counters of a follower, for metrics. */
export interface TailStats {
  lines: number
  bytes: number
  rotations: number
  truncations: number
  droppedLongLines: number
  files: number
}

interface Target {
  readonly path: string
  /** Oldest first; only the last one may still be named by `path`; earlier ones were rotated away. */
  cursors: FileCursor[]
  /** When the path was last checked for a new file while nothing was open for it. */
  lastCheck: number
}

/**
 * Follows the files matching `path`. Reading happens in the background (one pass at a time, reading
 * 1 MiB chunks on open files); `readBatch` is synchronous and hands out the complete lines held now.
 *
 * Lines of one file come in file order; a rotated file's remaining lines come before the new file's.
 * A renamed or deleted file is read for `rotateWaitMs` more, then to its end, then the new file at the
 * path is read from its head. A file that shrinks below the read offset (copy-truncate) is read again
 * from offset 0. Lifecycle: construct → `restore` (optional) → `start` → `readBatch`/`snapshot` →
 * `close`. Errors reading one file are logged and that file is retried at the next poll.
 */
export class TailFollower {
  private readonly patterns: string[]
  private readonly ignore: string[]
  private readonly readFromHead: boolean
  private readonly refreshMs: number
  private readonly pollMs: number
  private readonly rotateWaitMs: number
  private readonly maxLineBytes: number
  private readonly chunk: number
  private readonly log: Logger | undefined
  private readonly targets = new Map<string, Target>()
  private order: Target[] = []
  private restored: TailPosition[] | undefined
  private started = false
  private closed = false
  private running = false
  private timer: NodeJS.Timeout | undefined
  private immediate: NodeJS.Immediate | undefined
  private nextRefresh = 0
  private rr = 0
  private waiters: Array<() => void> = []
  private readonly counters: TailStats = {
    lines: 0,
    bytes: 0,
    rotations: 0,
    truncations: 0,
    droppedLongLines: 0,
    files: 0,
  }

  constructor(options: TailOptions) {
    const paths = typeof options.path === 'string' ? [options.path] : [...options.path]
    check(
      paths.length > 0 && paths.every((p) => typeof p === 'string' && p !== ''),
      'path',
      'file paths or globs',
      options.path,
    )
    this.patterns = paths
    const ex = options.excludePath ?? []
    this.ignore = typeof ex === 'string' ? [ex] : [...ex]
    this.readFromHead = options.readFromHead ?? false
    this.refreshMs = positive(options.refreshIntervalMs, 60_000, 'refreshIntervalMs')
    this.pollMs = positive(options.pollIntervalMs, 250, 'pollIntervalMs')
    this.rotateWaitMs = options.rotateWaitMs ?? 5000
    check(
      Number.isFinite(this.rotateWaitMs) && this.rotateWaitMs >= 0,
      'rotateWaitMs',
      'a number ≥ 0',
      this.rotateWaitMs,
    )
    this.maxLineBytes = positive(options.maxLineBytes, 4 * 1024 * 1024, 'maxLineBytes')
    this.chunk = positive(options.chunkBytes, 1024 * 1024, 'chunkBytes')
    this.log = options.log
  }

  /**
   * Resumes from positions taken by `snapshot()`; call before `start`. Each inode continues at its
   * offset; an inode no longer at its path is looked up by inode in the same directory (a rotated
   * file) and read to its end first. After a restore, files without a position are read from head,
   * since they appeared after the snapshot.
   */
  restore(positions: readonly TailPosition[]): void {
    check(!this.started, 'restore', 'to be called before start()')
    this.restored = [...positions]
  }

  /** Finds the files, opens them at their start positions and starts reading in the background. */
  async start(): Promise<void> {
    check(!this.started, 'start', 'to be called once')
    this.started = true
    if (this.restored !== undefined) await this.applyRestore(this.restored)
    await this.refresh(this.restored === undefined && !this.readFromHead ? 'end' : 'head')
    if (this.order.length === 0)
      this.log?.(
        'warn',
        `tail: no file matches ${this.patterns.join(', ')}; it is followed once it appears (looked for every ${this.refreshMs} ms)`,
      )
    this.nextRefresh = Date.now() + this.refreshMs
    this.schedule(0)
  }

  /**
   * Up to `max` complete lines available now (possibly none), visiting files in turn. Never waits.
   */
  readBatch(max: number): TailLine[] {
    const out: TailLine[] = []
    const n = this.order.length
    let wake = false
    for (let k = 0; k < n && out.length < max; k++) {
      const target = this.order[(this.rr + k) % n]!
      const cursors = target.cursors
      while (cursors.length > 0 && out.length < max) {
        const cur = cursors[0]!
        const before = cur.held()
        cur.take(out, max)
        if (before >= this.chunk && cur.held() < this.chunk) wake = true
        if (!cur.done()) break
        cursors.shift()
      }
    }
    if (n > 0) this.rr = (this.rr + 1) % n
    this.counters.lines += out.length
    if (wake) this.schedule(0)
    return out
  }

  /** Resolves when lines may be ready (after a background read found data), or at close. */
  ready(): Promise<void> {
    if (this.closed) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  /** The position after the last line handed out, for every inode still followed. */
  snapshot(): TailPosition[] {
    const out: TailPosition[] = []
    for (const target of this.order) {
      const cursors = target.cursors
      for (let i = 0; i < cursors.length; i++) {
        const cur = cursors[i]!
        if (cur.done() || (cur.final && cursors[i + 1]?.inode === cur.inode)) continue
        const p = { path: target.path, inode: cur.inode, offset: cur.offset() }
        out.push(cur.lineNo === undefined ? p : { ...p, lineNo: cur.lineNo })
      }
    }
    return out
  }

  /** Counters since start. */
  stats(): TailStats {
    let files = 0
    for (const t of this.order) for (const c of t.cursors) if (!c.final) files++
    this.counters.files = files
    return { ...this.counters }
  }

  /** Stops reading and closes every file. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    if (this.immediate) clearImmediate(this.immediate)
    while (this.running) await new Promise((r) => setTimeout(r, 5))
    for (const t of this.order) for (const c of t.cursors) await c.close()
    this.notify()
  }

  private schedule(delay: number): void {
    if (this.closed) return
    if (this.running) {
      if (delay === 0) this.wantAgain = true
      return
    }
    if (delay === 0) {
      if (this.immediate !== undefined) return
      if (this.timer !== undefined) clearTimeout(this.timer)
      this.timer = undefined
      this.immediate = setImmediate(() => {
        this.immediate = undefined
        void this.pass()
      })
    } else if (this.timer === undefined && this.immediate === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined
        void this.pass()
      }, delay)
    }
  }

  private wantAgain = false

  private async pass(): Promise<void> {
    if (this.closed || this.running) return
    this.running = true
    let progress = false
    try {
      const now = Date.now()
      if (now >= this.nextRefresh) {
        this.nextRefresh = now + this.refreshMs
        await this.refresh('head')
      }
      for (const target of this.order) {
        if (this.closed) break
        try {
          if (await this.service(target, now)) progress = true
        } catch (error) {
          this.log?.('warn', `tail: cannot read ${target.path}; retrying`, { error: String(error) })
        }
      }
    } finally {
      this.running = false
    }
    if (progress) this.notify()
    const again = progress || this.wantAgain
    this.wantAgain = false
    this.schedule(again ? 0 : this.pollMs)
  }

  /** Reads, detects rotation and truncation, and switches files for one path. True when data came. */
  private async service(target: Target, now: number): Promise<boolean> {
    let progress = false
    const cursors = target.cursors
    const count = cursors.length
    for (let i = 0; i < count; i++) {
      const cur = cursors[i]!
      if (cur.final || (cur.eof && now - cur.lastPoll < this.pollMs)) continue
      cur.lastPoll = now
      const n = await cur.fill(this.chunk, this.chunk, this.maxLineBytes)
      if (n === -1) {
        this.counters.droppedLongLines++
        this.log?.('warn', `tail: dropped a line longer than ${this.maxLineBytes} bytes`, {
          file: target.path,
        })
      }
      if (n !== 0) {
        progress = true
        if (n > 0) this.counters.bytes += n
      }
      if (cur.rotatedAt === undefined && (cur.eof || now - cur.lastStat >= this.pollMs)) {
        cur.lastStat = now
        const st = await statOrNull(target.path)
        if (st === null || st.ino !== cur.inode) {
          cur.rotatedAt = now
          this.counters.rotations++
          this.log?.('info', `tail: ${target.path} was ${st === null ? 'removed' : 'rotated'}`, {
            inode: cur.inode,
          })
        } else if (st.size < cur.fileOffset) {
          this.counters.truncations++
          this.log?.('info', `tail: ${target.path} was truncated; reading it again from offset 0`)
          cur.finishAtLastLine()
          await cur.close()
          const again = await this.openCursor(target.path, target.path, st, 0, 0)
          if (again !== undefined) cursors.push(again)
          progress = true
          continue
        }
      }
      if (
        cur.rotatedAt !== undefined &&
        cur.eof &&
        cur.held() < this.chunk &&
        now - cur.rotatedAt >= this.rotateWaitMs
      ) {
        cur.final = true
        await cur.close()
        progress = true
      }
    }
    if (cursors.every((c) => c.final) && !this.closed && now - target.lastCheck >= this.pollMs) {
      target.lastCheck = now
      const st = await statOrNull(target.path)
      if (st?.isFile() && !cursors.some((c) => c.inode === st.ino)) {
        const cur = await this.openCursor(target.path, target.path, st, 0, 0)
        if (cur !== undefined) {
          cursors.push(cur)
          progress = true
        }
      }
    }
    return progress
  }

  private async openCursor(
    path: string,
    realPath: string,
    st: Stats,
    offset: number,
    lineNo: number | undefined,
  ): Promise<FileCursor | undefined> {
    try {
      const handle = await open(realPath, 'r')
      return new FileCursor(path, realPath, st.ino, handle, offset, lineNo)
    } catch (error) {
      this.log?.('warn', `tail: cannot open ${realPath}`, { error: String(error) })
      return undefined
    }
  }

  private addTarget(path: string): Target {
    let target = this.targets.get(path)
    if (target === undefined) {
      target = { path, cursors: [], lastCheck: 0 }
      this.targets.set(path, target)
      this.order.push(target)
    }
    return target
  }

  /** Expands the globs; opens newly matched files (at their end for `end`), forgets idle vanished ones. */
  private async refresh(from: 'head' | 'end'): Promise<void> {
    const found = await glob(this.patterns, {
      absolute: true,
      onlyFiles: true,
      expandDirectories: false,
      ignore: this.ignore,
    })
    const seen = new Set(found)
    for (const path of found) {
      if (this.targets.has(path)) continue
      const st = await statOrNull(path)
      if (st === null || !st.isFile()) continue
      const start = from === 'end' ? st.size : 0
      const cur = await this.openCursor(path, path, st, start, from === 'end' ? undefined : 0)
      if (cur !== undefined) this.addTarget(path).cursors.push(cur)
    }
    for (const target of [...this.order]) {
      if (target.cursors.length === 0 && !seen.has(target.path) && statSyncOrNull(target.path) === null) {
        this.targets.delete(target.path)
        this.order = this.order.filter((t) => t !== target)
      }
    }
  }

  private async applyRestore(positions: readonly TailPosition[]): Promise<void> {
    const now = Date.now()
    const byPath = new Map<string, TailPosition[]>()
    for (const p of positions) {
      const list = byPath.get(p.path)
      if (list === undefined) byPath.set(p.path, [p])
      else list.push(p)
    }
    for (const [path, list] of byPath) {
      const target = this.addTarget(path)
      const st = await statOrNull(path)
      let active: FileCursor | undefined
      for (const p of list) {
        if (st !== null && st.ino === p.inode) {
          const offset = st.size < p.offset ? 0 : p.offset
          active = await this.openCursor(path, path, st, offset, offset === 0 ? 0 : p.lineNo)
          continue
        }
        const moved = await findByInode(dirname(path), p.inode)
        if (moved === undefined) {
          this.log?.('warn', `tail: ${path} inode ${p.inode} is gone; its unread lines cannot be recovered`)
          continue
        }
        const cur = await this.openCursor(path, moved.path, moved.stats, p.offset, p.lineNo)
        if (cur !== undefined) {
          cur.rotatedAt = now - this.rotateWaitMs
          target.cursors.push(cur)
        }
      }
      if (active !== undefined) target.cursors.push(active)
    }
  }

  private notify(): void {
    if (this.waiters.length === 0) return
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }
}

function positive(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback
  check(Number.isFinite(v) && v > 0, name, 'a positive number', value)
  return v
}

async function statOrNull(path: string): Promise<Stats | null> {
  try {
    return await stat(path)
  } catch {
    return null
  }
}

function statSyncOrNull(path: string): Stats | null {
  try {
    return statSync(path)
  } catch {
    return null
  }
}

async function findByInode(dir: string, inode: number): Promise<{ path: string; stats: Stats } | undefined> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return undefined
  }
  for (const name of names) {
    const path = join(dir, name)
    const st = await statOrNull(path)
    if (st?.isFile() && st.ino === inode) return { path, stats: st }
  }
  return undefined
}

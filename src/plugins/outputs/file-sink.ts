// An exactly-once file sink: records go to pending files, which a completed checkpoint publishes
// by rename (two-phase commit); a crash publishes what was committed and discards the rest.

import { randomBytes } from 'node:crypto'
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import { check } from '../../core/errors.ts'
import type { IoContext, SinkSpec, SinkWriter } from '../../core/source.ts'

/** Options of the file sink. */
export interface FileSinkOptions {
  /** The output directory; published files are `part-<checkpoint>-<task>-<n>.<ext>` in it. */
  path: string
  /** `jsonl` (default): each value as one line of JSON; `lines`: each value as text, one per line. */
  format?: 'jsonl' | 'lines'
}

/** The transaction data a file sink task stores in a checkpoint: pending files and their final names. */
export interface FileSinkTransaction {
  files: [pending: string, published: string][]
}

/**
 * Writes each sink task's records to a pending file under `<path>/.pending/`. At a checkpoint's
 * barrier the file is fsynced and closed (pre-commit) and its final name recorded in the
 * checkpoint; once the checkpoint is complete it is renamed into `<path>` (commit). So a published
 * file holds exactly the records of a completed checkpoint: after a crash and restore, the replayed
 * records are not published twice, and nothing committed is lost (recovery finishes interrupted
 * renames and deletes pending files of checkpoints that never completed).
 *
 * Without a state directory there are no checkpoints: the files are published when the job ends.
 * Output becomes visible once per checkpoint interval — that is the price of exactly-once.
 */
export function fileSink(options: FileSinkOptions): SinkSpec<unknown> {
  check(
    typeof options?.path === 'string' && options.path.length > 0,
    'fileSink.path',
    'a directory path',
    options?.path,
  )
  const format = options.format ?? 'jsonl'
  check(format === 'jsonl' || format === 'lines', 'fileSink.format', '"jsonl" or "lines"', format)
  // Published part files are final: a retracted row would stay in them as if it were still true.
  return { kind: 'file', accepts: 'inserts', create: (ctx) => new FileSinkWriter(options.path, format, ctx) }
}

/** Renames `pending` to `published` unless that was done before; fsyncs nothing (the caller does). */
function publish(dir: string, pending: string, published: string): boolean {
  const from = join(dir, '.pending', pending)
  const to = join(dir, published)
  if (existsSync(from)) {
    renameSync(from, to)
    return true
  }
  return existsSync(to)
}

function fsyncDir(dir: string): void {
  let fd = -1
  try {
    fd = openSync(dir, 'r')
    fsyncSync(fd)
  } catch {
    // Not supported everywhere; the renames are atomic regardless.
  } finally {
    if (fd >= 0) closeSync(fd)
  }
}

class FileSinkWriter implements SinkWriter<unknown> {
  private fd = -1
  private current = ''
  private n = 0
  private readonly token = `${process.pid}-${randomBytes(4).toString('hex')}`
  private readonly ext: string
  /** Pre-committed files not yet published, oldest first. */
  private uncommitted: [string, string][] = []

  constructor(
    private readonly dir: string,
    private readonly format: 'jsonl' | 'lines',
    private readonly ctx: IoContext,
  ) {
    this.ext = format === 'jsonl' ? 'jsonl' : 'txt'
  }

  open(): void {
    mkdirSync(join(this.dir, '.pending'), { recursive: true })
  }

  write(records: { value: unknown }[]): void {
    if (records.length === 0) return
    if (this.fd < 0) {
      this.current = `${this.token}-${this.ctx.partition}-${this.n}.${this.ext}`
      this.fd = openSync(join(this.dir, '.pending', this.current), 'w')
    }
    let text = ''
    if (this.format === 'jsonl')
      for (let i = 0; i < records.length; i++) text += `${JSON.stringify(records[i]!.value)}\n`
    else for (let i = 0; i < records.length; i++) text += `${String(records[i]!.value)}\n`
    writeSync(this.fd, text)
  }

  preCommit(checkpointId: number): FileSinkTransaction {
    if (this.fd >= 0) {
      fsyncSync(this.fd)
      closeSync(this.fd)
      this.fd = -1
      const published = `part-${String(checkpointId).padStart(10, '0')}-${this.ctx.partition}-${this.n}.${this.ext}`
      this.uncommitted.push([this.current, published])
      this.n++
    }
    return { files: this.uncommitted.slice() }
  }

  commit(_checkpointId: number, data: unknown): void {
    const files = (data as FileSinkTransaction | undefined)?.files ?? []
    if (files.length === 0) return
    for (const [pending, published] of files) {
      if (!publish(this.dir, pending, published)) {
        this.ctx.log(
          'warn',
          `file sink "${this.ctx.nodeName}": pending file ${pending} is gone; ${published} was not published`,
        )
      }
    }
    fsyncDir(this.dir)
    const done = new Set(files.map((f) => f[0]))
    this.uncommitted = this.uncommitted.filter((f) => !done.has(f[0]))
  }

  recover(committed: unknown[]): void {
    if (!existsSync(this.dir)) return
    for (const data of committed)
      for (const [pending, published] of (data as FileSinkTransaction).files ?? [])
        publish(this.dir, pending, published)
    const pendingDir = join(this.dir, '.pending')
    if (existsSync(pendingDir))
      for (const f of readdirSync(pendingDir)) rmSync(join(pendingDir, f), { force: true })
    fsyncDir(this.dir)
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd)
    this.fd = -1
  }
}

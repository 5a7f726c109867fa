// The state directory on disk: its lock, its format marker, and checkpoints written atomically
// (temporary directory, fsync, rename) with a MANIFEST.json each, listed, validated and pruned.

import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { SquallError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { SinkKeyPosition } from './sink-keys.ts'

/** Version of the state directory layout and manifest; other versions are refused, never half-read. */
export const STATE_FORMAT_VERSION = 1

/** One operator task's state file in a checkpoint. */
export interface TaskFile {
  task: number
  file: string
  bytes: number
}

/**
 * What a complete checkpoint holds, written last (its presence makes the checkpoint complete).
 * `sources` and `sinks` hold one entry per task index of the run that wrote it. `finished` marks
 * the checkpoint taken when every source had ended: a job restarted on it has nothing left to do.
 */
export interface Manifest {
  formatVersion: number
  id: number
  time: number
  job: string
  finished: boolean
  nodes: string[]
  parallelism: { [node: string]: number }
  maxParallelism: number
  sources: { [node: string]: unknown[] }
  stores: { [node: string]: TaskFile[] }
  sinks: { [node: string]: unknown[] }
  /**
   * Per sink node and task, where its idempotency key sequence stood at the barrier (see
   * `IoContext.idempotencyKey`). Absent in checkpoints written before keys were recorded.
   */
  sinkKeys?: { [node: string]: (SinkKeyPosition | null)[] }
  /**
   * Per operator or sink node, the tasks that had finished (all their inputs ended) when the
   * checkpoint was taken: they are restored finished. Absent when none had.
   */
  ended?: { [node: string]: number[] }
  bytes: number
}

/** A checkpoint directory as `squall checkpoints` lists it. */
export interface CheckpointInfo {
  id: number
  dir: string
  complete: boolean
  time: number | undefined
  bytes: number
  /** Why it is not usable, when it is not. */
  problem?: string
}

const MARKER = 'squall-state.json'

/** Where checkpoints live under a state directory. */
export function checkpointsDir(stateDir: string): string {
  return join(stateDir, 'checkpoints')
}

/** The final directory of checkpoint `id`. */
export function checkpointDir(stateDir: string, id: number): string {
  return join(checkpointsDir(stateDir), `chk-${id}`)
}

function fsyncPath(path: string): void {
  let fd = -1
  try {
    fd = openSync(path, 'r')
    fsyncSync(fd)
  } catch {
    // Directories cannot be fsynced on every platform; the rename is still atomic.
  } finally {
    if (fd >= 0) closeSync(fd)
  }
}

/**
 * Prepares a state directory for a job: refuses one written by another format version
 * (ERR_STATE_FORMAT, before anything in it is created or changed), creates it and takes its lock
 * (ERR_STATE_LOCKED when a live process holds it; the lock of a dead process is taken over).
 * Returns the function that releases the lock.
 */
export function openStateDir(stateDir: string, job: string): () => void {
  const marker = join(stateDir, MARKER)
  // The marker is checked before anything is created: a refused directory is left as it was.
  if (existsSync(marker)) {
    let version: unknown
    try {
      version = (JSON.parse(readFileSync(marker, 'utf8')) as { formatVersion?: unknown }).formatVersion
    } catch {
      version = 'unreadable'
    }
    if (version !== STATE_FORMAT_VERSION) {
      throw new SquallError(
        'ERR_STATE_FORMAT',
        `state directory "${stateDir}" has format version ${JSON.stringify(version)}; this Squall reads version ${STATE_FORMAT_VERSION}. Use another --state-dir (nothing was read)`,
      )
    }
  }
  mkdirSync(checkpointsDir(stateDir), { recursive: true })
  if (!existsSync(marker))
    writeFileSync(marker, `${JSON.stringify({ formatVersion: STATE_FORMAT_VERSION, job })}\n`)
  const lock = join(stateDir, 'LOCK')
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(lock, `${process.pid}\n`, { flag: 'wx' })
      break
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw e
      const pid = Number(readFileSync(lock, 'utf8').trim())
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new SquallError(
          'ERR_STATE_LOCKED',
          `state directory "${stateDir}" is in use by process ${pid} (see ${lock}); stop that job or use another --state-dir`,
        )
      }
      rmSync(lock, { force: true })
    }
  }
  return () => {
    try {
      if (readFileSync(lock, 'utf8').trim() === String(process.pid)) rmSync(lock, { force: true })
    } catch {
      // Already gone.
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Creates the temporary directory checkpoint `id` is written into. */
export function beginCheckpoint(stateDir: string, id: number): string {
  const tmp = join(checkpointsDir(stateDir), `chk-${id}.tmp-${process.pid}`)
  rmSync(tmp, { recursive: true, force: true })
  mkdirSync(tmp, { recursive: true })
  return tmp
}

/**
 * Completes a checkpoint: writes MANIFEST.json into its temporary directory, fsyncs it and the
 * directory, renames the directory to `chk-<id>` and fsyncs the parent. Task files must already be
 * fsynced (the snapshot writer does it). A throw leaves no `chk-<id>` behind.
 */
export function completeCheckpoint(stateDir: string, tmp: string, manifest: Manifest): string {
  const path = join(tmp, 'MANIFEST.json')
  const fd = openSync(path, 'w')
  try {
    writeFileSync(fd, `${JSON.stringify(manifest, null, 1)}\n`)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  fsyncPath(tmp)
  const final = checkpointDir(stateDir, manifest.id)
  rmSync(final, { recursive: true, force: true })
  renameSync(tmp, final)
  fsyncPath(checkpointsDir(stateDir))
  return final
}

/**
 * Reads and checks one checkpoint directory. Returns the manifest, or a problem (missing or garbled
 * manifest, missing or truncated task file). Throws ERR_STATE_FORMAT for a manifest of another
 * format version: such a directory is refused, not skipped.
 */
export function readCheckpoint(dir: string): { manifest: Manifest } | { problem: string } {
  const path = join(dir, 'MANIFEST.json')
  if (!existsSync(path)) return { problem: 'no MANIFEST.json (incomplete)' }
  let m: Manifest
  try {
    m = JSON.parse(readFileSync(path, 'utf8')) as Manifest
  } catch (e) {
    return { problem: `MANIFEST.json is not valid JSON: ${(e as Error).message}` }
  }
  if (m === null || typeof m !== 'object' || typeof m.id !== 'number')
    return { problem: 'MANIFEST.json has no checkpoint id' }
  if (m.formatVersion !== STATE_FORMAT_VERSION) {
    throw new SquallError(
      'ERR_STATE_FORMAT',
      `checkpoint "${dir}" has format version ${JSON.stringify(m.formatVersion)}; this Squall reads version ${STATE_FORMAT_VERSION}`,
    )
  }
  for (const files of Object.values(m.stores ?? {})) {
    for (const f of files) {
      const p = join(dir, f.file)
      if (!existsSync(p)) return { problem: `task file ${f.file} is missing` }
      if (statSync(p).size !== f.bytes)
        return { problem: `task file ${f.file} has ${statSync(p).size} bytes, the manifest says ${f.bytes}` }
    }
  }
  return { manifest: m }
}

/**
 * Every checkpoint directory under a state directory, newest first, complete or not. A directory
 * that disappears while it is read (a running job deleting old checkpoints) is left out. One of
 * another format version throws ERR_STATE_FORMAT, unless `otherFormats` is `'list'`: then it is
 * listed as not usable, with the reason (for `squall checkpoints`, which only reads).
 */
export function listCheckpoints(
  stateDir: string,
  otherFormats: 'refuse' | 'list' = 'refuse',
): CheckpointInfo[] {
  const root = checkpointsDir(stateDir)
  if (!existsSync(root)) return []
  const out: CheckpointInfo[] = []
  for (const name of readdirSync(root)) {
    const m = /^chk-(\d+)(\.tmp-\d+)?$/.exec(name)
    if (!m) continue
    const dir = join(root, name)
    try {
      out.push(describeCheckpoint(dir, Number(m[1]), m[2] !== undefined))
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue
      if (otherFormats === 'list' && e instanceof SquallError && e.code === 'ERR_STATE_FORMAT') {
        out.push({ id: Number(m[1]), dir, complete: false, time: undefined, bytes: 0, problem: e.message })
        continue
      }
      throw e
    }
  }
  return out.sort((a, b) => b.id - a.id || Number(b.complete) - Number(a.complete))
}

function describeCheckpoint(dir: string, id: number, temporary: boolean): CheckpointInfo {
  let bytes = 0
  for (const f of readdirSync(dir)) bytes += statSync(join(dir, f)).size
  if (temporary) {
    return {
      id,
      dir,
      complete: false,
      time: undefined,
      bytes,
      problem: 'being written, or abandoned by a crash',
    }
  }
  const r = readCheckpoint(dir)
  if ('manifest' in r) return { id: r.manifest.id, dir, complete: true, time: r.manifest.time, bytes }
  return { id, dir, complete: false, time: undefined, bytes, problem: r.problem }
}

/**
 * The newest complete checkpoint under `stateDir`, or undefined. Incomplete or damaged ones are
 * skipped with a warning naming the problem; one of another format version is refused (throws).
 */
export function latestCheckpoint(
  stateDir: string,
  log: Logger,
): { dir: string; manifest: Manifest } | undefined {
  for (const c of listCheckpoints(stateDir)) {
    if (c.complete) {
      const r = readCheckpoint(c.dir)
      if ('manifest' in r) return { dir: c.dir, manifest: r.manifest }
    }
    log('warn', `skipping checkpoint ${c.id} in "${c.dir}": ${c.problem ?? 'unreadable'}`, {
      checkpoint: c.id,
    })
  }
  return undefined
}

/**
 * Keeps the newest `keep` complete checkpoints and deletes older ones, plus every incomplete
 * directory older than the newest complete one (left by crashes or failed checkpoints). Deletes
 * asynchronously (freeing a large file's pages takes milliseconds); never rejects.
 */
export async function pruneCheckpoints(stateDir: string, keep: number, log: Logger): Promise<void> {
  let kept = 0
  let newestComplete = -1
  for (const c of listCheckpoints(stateDir)) {
    if (c.complete) {
      if (newestComplete < 0) newestComplete = c.id
      if (++kept <= keep) continue
    } else if (newestComplete < 0 || c.id > newestComplete) continue
    try {
      await rm(c.dir, { recursive: true, force: true })
    } catch (e) {
      log('warn', `could not delete old checkpoint "${c.dir}": ${(e as Error).message}`)
    }
  }
}

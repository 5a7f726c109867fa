// What a job with a state directory does before it starts: lock the directory, pick the checkpoint
// to restore (the latest complete one, or the one asked for), and let two-phase sinks recover.

import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { systemClock } from '../core/clock.ts'
import { type Duration, toMillis } from '../core/duration.ts'
import { SquallError, check } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { IoContext } from '../core/source.ts'
import type { Topology } from '../core/topology.ts'
import { type Manifest, latestCheckpoint, openStateDir, readCheckpoint } from './checkpoint-storage.ts'

/** Where keyed state lives while the job runs. Checkpoints have one format for both. */
export type StateBackendKind = 'memory' | 'lmdb'

/** The `state` option of a job: where its checkpoints go, how often, and which backend holds state. */
export interface JobStateOptions {
  /** The state directory (checkpoints, lock, LMDB files). Required for checkpoints. */
  dir: string
  /** `memory` (default) or `lmdb` (state larger than memory, in `<dir>/lmdb`). */
  backend?: StateBackendKind
  /** Time between checkpoints (default `5s`); `0` takes only the final checkpoint. */
  checkpointInterval?: Duration
  /** Complete checkpoints kept (default 3). */
  retain?: number
  /**
   * Restore from this checkpoint directory (`…/chk-<n>`) or state directory (its latest complete
   * checkpoint) instead of the latest one under `dir`: savepoints, or another parallelism.
   */
  fromCheckpoint?: string
  /**
   * Restore a checkpoint marked `finished` as any other, and run (default false: such a job has
   * nothing left to do and ends at once): for a job whose input may go on after it ended, as a
   * registered query's tables do when the job they come from resumes after a drain.
   */
  continueFinished?: boolean
}

/** Resolved state options, as the runner and its worker threads use them. */
export interface ResolvedStateOptions {
  dir: string
  backend: StateBackendKind
  intervalMs: number
  retain: number
  continueFinished: boolean
}

/** Checks and fills in the defaults of `state`. */
export function resolveStateOptions(state: JobStateOptions): ResolvedStateOptions {
  check(typeof state?.dir === 'string' && state.dir.length > 0, 'state.dir', 'a directory path', state?.dir)
  const backend = state.backend ?? 'memory'
  check(backend === 'memory' || backend === 'lmdb', 'state.backend', '"memory" or "lmdb"', backend)
  const retain = state.retain ?? 3
  check(Number.isInteger(retain) && retain >= 1, 'state.retain', 'an integer ≥ 1', retain)
  const intervalMs =
    state.checkpointInterval === undefined
      ? 5000
      : toMillis(state.checkpointInterval, 'state.checkpointInterval')
  return { dir: state.dir, backend, intervalMs, retain, continueFinished: state.continueFinished === true }
}

/** The outcome of recovery. */
export interface Recovery {
  /** Releases the state directory's lock (when the job ends). */
  release(): void
  /** The checkpoint to restore, if any. */
  restore: { dir: string; manifest: Manifest } | undefined
  /** The id of the next checkpoint. */
  firstId: number
  /** The restored checkpoint was taken after every source ended: there is nothing left to run. */
  finished: boolean
}

function findCheckpoint(path: string, log: Logger): { dir: string; manifest: Manifest } {
  if (existsSync(join(path, 'MANIFEST.json'))) {
    const r = readCheckpoint(path)
    if ('manifest' in r) return { dir: path, manifest: r.manifest }
    throw new SquallError('ERR_CHECKPOINT_NOT_FOUND', `--from-checkpoint "${path}": ${r.problem}`)
  }
  const latest = existsSync(path) ? latestCheckpoint(path, log) : undefined
  if (latest === undefined) {
    throw new SquallError(
      'ERR_CHECKPOINT_NOT_FOUND',
      `--from-checkpoint "${path}": no complete checkpoint there (expected a chk-<n> directory with a MANIFEST.json, or a state directory holding one)`,
    )
  }
  return latest
}

function recoveryContext(node: string, log: Logger): IoContext {
  return {
    nodeName: node,
    partition: 0,
    partitions: 1,
    log,
    clock: systemClock,
    count: () => {},
    report: () => {},
    badRecord: () => {},
  }
}

/**
 * The checkpoint a job with `state` restores at start: the one `fromCheckpoint` names, else the
 * latest complete one under `dir` (damaged ones skipped with a warning), or undefined. Reads only;
 * throws ERR_STATE_FORMAT or ERR_CHECKPOINT_NOT_FOUND as the job's start would.
 */
export function checkpointToRestore(
  state: { dir: string; fromCheckpoint?: string | undefined },
  log: Logger,
): { dir: string; manifest: Manifest } | undefined {
  if (state.fromCheckpoint) return findCheckpoint(state.fromCheckpoint, log)
  return latestCheckpoint(state.dir, log)
}

/**
 * Locks the state directory, chooses the checkpoint to restore, and runs `recover` of every sink
 * (with the restored checkpoint's transaction data, or none) so output committed by the crashed
 * run is published and the rest discarded. Throws ERR_STATE_LOCKED, ERR_STATE_FORMAT or
 * ERR_CHECKPOINT_NOT_FOUND before anything is read into the job; the lock is released on a throw.
 * `locked`: the release of a lock the caller already took (`openStateDir`), used instead.
 */
export async function recoverJob(
  topology: Topology,
  state: ResolvedStateOptions & { fromCheckpoint?: string | undefined },
  log: Logger,
  locked?: () => void,
): Promise<Recovery> {
  const release = locked ?? openStateDir(state.dir, topology.name)
  try {
    const restore = checkpointToRestore(state, log)
    if (restore) {
      log('info', `restoring checkpoint ${restore.manifest.id} from "${restore.dir}"`, {
        checkpoint: restore.manifest.id,
      })
    }
    for (const node of topology.nodes) {
      if (node.kind !== 'sink') continue
      const writer = node.sink!.create(recoveryContext(node.name, log))
      if (writer.recover === undefined) continue
      const committed = (restore?.manifest.sinks[node.name] ?? []).filter(
        (d) => d !== null && d !== undefined,
      )
      try {
        await writer.recover(committed)
      } finally {
        await writer.close?.()
      }
    }
    return {
      release,
      restore,
      firstId: (restore?.manifest.id ?? 0) + 1,
      finished: restore?.manifest.finished === true && !state.continueFinished,
    }
  } catch (e) {
    release()
    throw e
  }
}

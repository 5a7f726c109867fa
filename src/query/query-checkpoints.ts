// Registered queries in the job's checkpoints: each query aligns the checkpoint markers of the
// tables it reads and takes its own checkpoint under the same id, kept in the job's state directory.

import { rmSync } from 'node:fs'
import { join } from 'node:path'
import type { Logger } from '../core/logger.ts'
import { type CheckpointInfo, listCheckpoints, readCheckpoint } from '../runtime/checkpoint-storage.ts'
import type { Job } from '../runtime/job.ts'
import type { BusBarriers, BusSubscription } from './bus.ts'

/**
 * Where the checkpoints of registered queries go, and which checkpoint they resume from: what a
 * QueryManager needs from the job it serves.
 */
export interface QueryCheckpointOptions {
  /** The job's state directory; query `q` keeps its checkpoints in `<dir>/queries/q`. */
  readonly dir: string
  /** Complete checkpoints kept per query (the job's `state.retain`, default 3). */
  readonly retain?: number
  /**
   * The job's checkpoint the job resumes from, its id and whether it is `finished` (undefined: it
   * starts without one, or from one of another state directory): restored queries resume from
   * theirs of that id.
   */
  readonly resumedFrom?: { readonly id: number; readonly finished: boolean }
}

/** The state directory of query `name`. */
export function queryStateDir(dir: string, name: string): string {
  return join(dir, 'queries', name)
}

/**
 * The checkpoint barriers of one query, which runs as its own job on the bus's thread. The job's
 * taps put checkpoint marker N into every table after the records before checkpoint N of the job
 * (see `StreamBus.marker`); each bus source of the query stops at its marker. Once every open
 * source has stopped at marker N (or subscribed after it, so that it has nothing before it), the
 * query's job takes its checkpoint N: its sources emit their barriers, its operators snapshot
 * their state when aligned, its result sink saves the result table. The sources then go on, and
 * when that checkpoint is complete (or has failed, which is logged) the sources' subscriptions
 * acknowledge N, which lets the job's checkpoint N complete. One checkpoint at a time: a marker
 * reached while one is being taken waits for it.
 */
export class QueryBarriers implements BusBarriers {
  private readonly readers = new Set<BusSubscription>()
  private readonly subscriptions: BusSubscription[] = []
  private job: Job | undefined
  private taking = false
  private scheduled = false
  private ended = false

  constructor(
    private readonly query: string,
    private readonly log: Logger,
  ) {}

  /** Starts aligning for `job`, the query's job (one thread, with a state directory). */
  attach(job: Job): void {
    this.job = job
    // A job that ends (also one that had nothing to run) no longer reads: nothing may wait for it.
    void job.done
      .catch(() => {})
      .then(() => {
        this.ended = true
        for (const r of [...this.readers]) r.close()
        this.readers.clear()
      })
    this.schedule()
  }

  /** True once every table the query reads has ended and the query has read all of it. */
  get inputEnded(): boolean {
    return this.subscriptions.length > 0 && this.subscriptions.every((s) => s.closed || s.ended)
  }

  opened(sub: BusSubscription): void {
    this.subscriptions.push(sub)
    if (this.ended) sub.close()
    else this.readers.add(sub)
  }

  reached(_sub: BusSubscription, _id: number): void {
    this.schedule()
  }

  closed(sub: BusSubscription): void {
    this.readers.delete(sub)
    sub.acknowledge(Number.POSITIVE_INFINITY)
    this.schedule()
  }

  /** Checks the alignment after the current task's step: never inside a source's `nextBatch`. */
  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      this.align()
    })
  }

  private align(): void {
    if (this.taking || this.job === undefined || this.ended) return
    let id = Number.POSITIVE_INFINITY
    for (const r of this.readers) if (r.marker > 0 && r.marker < id) id = r.marker
    if (id === Number.POSITIVE_INFINITY) return
    for (const r of this.readers) if (r.marker === 0 && r.since < id) return
    this.take(id)
  }

  private take(id: number): void {
    this.taking = true
    const job = this.job!
    let done: Promise<void>
    try {
      done = job.triggerCheckpoint!(id)
    } catch (e) {
      done = Promise.reject(e)
    }
    // The barriers have left the query's sources: they go on past the marker.
    for (const r of this.readers) if (r.marker === id) r.pass()
    done
      .catch((e: unknown) => {
        this.log(
          job.status() === 'running' ? 'warn' : 'debug',
          `query "${this.query}": its state is not in checkpoint ${id}: ${e instanceof Error ? e.message : String(e)}`,
          { query: this.query, checkpoint: id },
        )
      })
      .then(() => {
        for (const r of this.readers) r.acknowledge(id)
        this.taking = false
        this.align()
      })
  }
}

/**
 * Prepares the state directory `dir` of a restored query for a job that resumes from checkpoint
 * `resumedFrom`, and returns the checkpoint directory the query resumes from, if any: its
 * checkpoint of that id; else, when its newest complete checkpoint before that id is its final
 * one (`finished`: taken when every table it reads had ended, which they had before the job's
 * checkpoint, else it would have its marker), that one.
 * Its checkpoints above `resumedFrom` are deleted (the job never completed them, or they belong
 * to a run it did not resume). Without a checkpoint to resume from, the query starts empty: its
 * directory is deleted and the reason logged.
 */
export function queryRestorePoint(
  dir: string,
  resumedFrom: number | undefined,
  query: string,
  log: Logger,
): string | undefined {
  let all: CheckpointInfo[]
  try {
    all = listCheckpoints(dir)
  } catch (e) {
    return startEmpty(dir, query, log, `its checkpoints cannot be read: ${(e as Error).message}`)
  }
  if (resumedFrom === undefined) {
    if (all.length === 0) return startEmpty(dir, query, log, undefined)
    return startEmpty(dir, query, log, 'the job starts from no checkpoint of its state directory')
  }
  const exact = all.find((c) => c.id === resumedFrom && c.complete)
  let from = exact?.dir
  if (from === undefined) {
    const before = all.find((c) => c.complete && c.id < resumedFrom)
    const r = before === undefined ? undefined : readCheckpoint(before.dir)
    if (r !== undefined && 'manifest' in r && r.manifest.finished) from = before!.dir
  }
  if (from === undefined) {
    const damaged = all.find((c) => c.id === resumedFrom)
    return startEmpty(
      dir,
      query,
      log,
      damaged === undefined
        ? `it has no state for checkpoint ${resumedFrom}, which the job resumes from (registered after it, or the job's checkpoint completed without it)`
        : `its state for checkpoint ${resumedFrom} is not usable: ${damaged.problem ?? 'incomplete'}`,
    )
  }
  for (const c of all) if (c.id > resumedFrom) rmSync(c.dir, { recursive: true, force: true })
  return from
}

function startEmpty(dir: string, query: string, log: Logger, reason: string | undefined): undefined {
  rmSync(dir, { recursive: true, force: true })
  if (reason !== undefined) log('warn', `query "${query}" starts with empty state: ${reason}`, { query })
  return undefined
}

// One parallel instance of a sink node: writes batches in order, with a bounded queue.

import { wrapError } from '../core/errors.ts'
import type { Record } from '../core/record.ts'
import type { SinkWriter } from '../core/source.ts'
import { type GateHandler, InputGate } from './input-gate.ts'
import type { NodePlan } from './plan.ts'
import { SinkKeys } from './sink-keys.ts'
import type { NodeMetrics, TaskEnv } from './task-env.ts'

/** A batch handed over as values and their event times (see `SinkWriter.writeValues`). */
interface ValueBatch {
  readonly values: unknown[]
  readonly times: number[]
}

/**
 * Runs one sink task. `write` calls are made one at a time, in order; while a write's promise is
 * pending, arriving batches wait in a queue. `backlog()` is that queue's length: the executor stops
 * reading sources while any sink's backlog is at its bound, so a slow sink slows the sources down
 * and memory stays bounded. `maxQueued` records the highest backlog seen (tests assert the bound).
 * Each batch is numbered (`keys`) just before its `write`, for the writer's idempotency keys.
 */
export class SinkTask implements GateHandler {
  readonly gate: InputGate
  readonly metrics: NodeMetrics
  /** Batches waiting for the writer; a number is a checkpoint barrier, handled in order. */
  private readonly queue: (Record[] | ValueBatch | number)[] = []
  private writing: Promise<void> | undefined
  /** Every input has ended. */
  ended = false
  finished = false
  /** Restored from a checkpoint taken after its inputs had all ended (see `restoreEnded`). */
  private restoredEnded = false
  maxQueued = 0
  /**
   * Called with the writer's pre-commit data once a barrier has passed every batch before it
   * (the checkpoint hook); `data` is undefined for writers without two-phase commit.
   */
  onCheckpoint: ((task: SinkTask, id: number, data: unknown) => void) | undefined
  /** Called once every input has ended (no barrier can reach the sink after that). */
  onInputEnded: ((task: SinkTask) => void) | undefined
  /** The last checkpoint barrier that reached the sink (0: none). */
  lastBarrier = 0
  /** Resolves when the queue drains and the writer has finished (after end of input). */
  readonly done: Promise<void>
  private resolveDone!: () => void
  private drainWaiters: (() => void)[] = []

  constructor(
    readonly node: NodePlan,
    readonly index: number,
    readonly taskId: number,
    readonly writer: SinkWriter,
    channels: number,
    private readonly env: TaskEnv,
    /** The numbering behind the writer's `IoContext.batchSequence` and `idempotencyKey`. */
    readonly keys: SinkKeys = new SinkKeys(index),
  ) {
    this.gate = new InputGate(channels, this)
    this.metrics = env.metrics(node.spec.name)
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve
    })
  }

  async open(): Promise<void> {
    await this.writer.open?.()
  }

  backlog(): number {
    return this.queue.length + (this.writing ? 1 : 0)
  }

  /** Resolves when the backlog drops below `bound`. */
  waitBelow(bound: number): Promise<void> {
    if (this.backlog() < bound) return Promise.resolve()
    return new Promise((resolve) => this.drainWaiters.push(resolve))
  }

  onRecords(records: Record[]): void {
    this.arrive(records, records.length)
  }

  /** A batch as values and event times (`SinkWriter.writeValues`), in order with record batches. */
  onValues(values: unknown[], times: number[]): void {
    this.arrive({ values, times }, values.length)
  }

  /** A batch of `n` records: written now, or queued behind the pending write. */
  private arrive(batch: Record[] | ValueBatch, n: number): void {
    this.metrics.in = (this.metrics.in ?? 0) + n
    if (this.writing) {
      this.queue.push(batch)
      if (this.queue.length > this.maxQueued) this.maxQueued = this.queue.length
      return
    }
    this.write(batch)
  }

  private write(item: Record[] | ValueBatch | number): void {
    if (typeof item === 'number') {
      this.preCommit(item)
      return
    }
    let result: void | Promise<void>
    try {
      if (Array.isArray(item)) {
        this.keys.advance(item.length)
        result = this.writer.write(item)
      } else {
        this.keys.advance(item.values.length)
        result = this.writer.writeValues!(item.values, item.times)
      }
    } catch (e) {
      this.env.fail(
        wrapError('ERR_SINK_FAILED', `sink "${this.node.spec.name}" failed to write`, e, {
          node: this.node.spec.name,
        }),
      )
      return
    }
    if (result && typeof (result as Promise<void>).then === 'function') {
      this.writing = (result as Promise<void>).then(
        () => this.next(),
        (e) =>
          this.env.fail(
            wrapError('ERR_SINK_FAILED', `sink "${this.node.spec.name}" failed to write`, e, {
              node: this.node.spec.name,
            }),
          ),
      )
    }
  }

  /** The pending write settled: writes what waits, in order, until one is pending again. */
  private next(): void {
    this.writing = undefined
    while (this.writing === undefined) {
      const item = this.queue.shift()
      if (item === undefined) break
      this.write(item)
    }
    if (this.backlog() === 0 || this.drainWaiters.length > 0) {
      const waiters = this.drainWaiters
      this.drainWaiters = []
      for (const w of waiters) w()
    }
    if (!this.writing && this.ended) void this.complete()
  }

  onWatermark(): void {}

  onBarrier(id: number): void {
    this.lastBarrier = id
    if (this.writing) this.queue.push(id)
    else this.preCommit(id)
  }

  /** Phase one of the checkpoint at this sink: every earlier write has settled. */
  private preCommit(id: number): void {
    const fail = (e: unknown) =>
      this.env.fail(
        wrapError(
          'ERR_SINK_FAILED',
          `sink "${this.node.spec.name}" failed to pre-commit checkpoint ${id}`,
          e,
          { node: this.node.spec.name },
        ),
      )
    let result: unknown
    try {
      result = this.writer.preCommit?.(id)
    } catch (e) {
      fail(e)
      return
    }
    if (result && typeof (result as Promise<unknown>).then === 'function') {
      this.writing = (result as Promise<unknown>).then((data) => {
        this.onCheckpoint?.(this, id, data)
        this.next()
      }, fail)
    } else {
      this.onCheckpoint?.(this, id, result)
    }
  }

  /** Phase two: publishes what `preCommit` returned for a checkpoint that is now complete. */
  async commit(id: number, data: unknown): Promise<void> {
    try {
      await this.writer.commit?.(id, data)
    } catch (e) {
      throw wrapError(
        'ERR_SINK_FAILED',
        `sink "${this.node.spec.name}" failed to commit checkpoint ${id}`,
        e,
        { node: this.node.spec.name },
      )
    }
  }

  /** Pre-commits directly, outside the barrier flow: the final checkpoint, after the queue drained. */
  async preCommitNow(id: number): Promise<unknown> {
    try {
      return await this.writer.preCommit?.(id)
    } catch (e) {
      throw wrapError(
        'ERR_SINK_FAILED',
        `sink "${this.node.spec.name}" failed to pre-commit checkpoint ${id}`,
        e,
        { node: this.node.spec.name },
      )
    }
  }

  onEnd(): void {
    this.ended = true
    this.onInputEnded?.(this)
    if (!this.writing) void this.complete()
  }

  /**
   * Marks the task as restored from a checkpoint taken after its inputs had all ended: the
   * writer's `finish`, which ran before the checkpoint, does not run again (its `restoredEnded`
   * runs instead).
   */
  restoreEnded(): void {
    this.restoredEnded = true
  }

  private async complete(): Promise<void> {
    if (this.finished) return
    this.finished = true
    try {
      if (this.restoredEnded) await this.writer.restoredEnded?.()
      else await this.writer.finish?.()
    } catch (e) {
      this.env.fail(
        wrapError('ERR_SINK_FAILED', `sink "${this.node.spec.name}" failed to finish`, e, {
          node: this.node.spec.name,
        }),
      )
    }
    this.resolveDone()
  }

  async close(): Promise<void> {
    await this.writer.close?.()
  }
}

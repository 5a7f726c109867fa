// One partition of a source node: reads batches, assigns event time, emits watermarks and barriers.

import { SquallError, describeValue, wrapError } from '../core/errors.ts'
import type { Record } from '../core/record.ts'
import type { SourceReader } from '../core/source.ts'
import type { WatermarkGenerator, WatermarkStrategy } from '../core/watermark.ts'
import type { NodePlan } from './plan.ts'
import type { OutputRouter } from './router.ts'
import { type NodeMetrics, type TaskEnv, handleRecordError } from './task-env.ts'

/**
 * Runs one source partition. `poll(max)` never blocks: it takes what the reader has ready, assigns
 * event time (per the node's WatermarkStrategy), routes the batch downstream, then emits the
 * partition's watermark if it advanced. A partition that stays quiet past the strategy's idleness
 * timeout is marked idle downstream, so it does not hold the watermark back.
 */
export class SourceTask {
  readonly metrics: NodeMetrics
  ended = false
  private readonly strategy: WatermarkStrategy<unknown> | undefined
  private readonly generator: WatermarkGenerator | undefined
  private lastWatermark = Number.NEGATIVE_INFINITY
  private lastActivity: number
  private idle = false

  constructor(
    readonly node: NodePlan,
    readonly index: number,
    readonly taskId: number,
    readonly reader: SourceReader,
    readonly router: OutputRouter,
    private readonly env: TaskEnv,
  ) {
    this.metrics = env.metrics(node.spec.name)
    this.strategy = node.spec.watermarks
    this.generator = this.strategy?.createGenerator()
    this.lastActivity = env.clock.now()
  }

  async open(): Promise<void> {
    try {
      await this.reader.open?.()
    } catch (e) {
      throw wrapError(
        'ERR_SOURCE_FAILED',
        `source "${this.node.spec.name}" (partition ${this.index}) could not open`,
        e,
        {
          node: this.node.spec.name,
          partition: this.index,
        },
      )
    }
  }

  /** Reads and routes up to `max` records. Returns how many were read (0 when none were ready). */
  poll(max: number): number {
    let batch: Record[] | null
    try {
      batch = this.reader.nextBatch(max)
    } catch (e) {
      throw wrapError(
        'ERR_SOURCE_FAILED',
        `source "${this.node.spec.name}" (partition ${this.index}) failed`,
        e,
        {
          node: this.node.spec.name,
          partition: this.index,
        },
      )
    }
    if (batch === null) {
      this.end()
      return 0
    }
    return this.route(batch)
  }

  /** Routes a batch read from the reader: event time, then the records, then the watermark. */
  private route(batch: Record[]): number {
    const n = batch.length
    if (n === 0) return 0
    this.metrics.out = (this.metrics.out ?? 0) + n
    if (this.idle) {
      this.idle = false
      this.router.idle(false)
    }
    if (this.strategy !== undefined) this.timestamped(batch)
    else for (let i = 0; i < n; i++) this.router.emit(batch[i]!)
    this.router.flush()
    if (this.generator !== undefined) {
      const wm = this.generator.current()
      if (wm > this.lastWatermark) {
        this.lastWatermark = wm
        this.router.watermark(wm)
      }
    }
    if (this.strategy?.idleTimeoutMs) this.lastActivity = this.env.clock.now()
    return n
  }

  private timestamped(batch: Record[]): void {
    const s = this.strategy!
    const gen = this.generator!
    const assign = s.timestamp
    const ingestion = assign === undefined && s.timeSource === 'ingestion time' ? this.env.clock.now() : 0
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i]!
      let time = r.time
      if (assign !== undefined) {
        const t = assign(r.value, r)
        if (typeof t !== 'number' || !Number.isFinite(t)) {
          this.badTime(r, s.timeSource)
          continue
        }
        time = t
      } else if (ingestion !== 0) {
        time = ingestion
      }
      gen.onEvent(time)
      this.router.emit(time === r.time ? r : { value: r.value, key: r.key, time, tag: r.tag })
    }
  }

  private badTime(r: Record, source: string): void {
    const error = new SquallError(
      'ERR_BAD_RECORD',
      `source "${this.node.spec.name}": no usable event time in ${source} of record ${describeValue(r.value)}`,
      { where: { node: this.node.spec.name, partition: this.index } },
    )
    handleRecordError(
      this.env,
      this.node.spec.name,
      this.index,
      this.node.spec.onError,
      error,
      r,
      this.router,
      this.metrics,
    )
  }

  /** Marks the partition idle once it has been quiet for the strategy's idleness timeout. */
  checkIdle(now: number): void {
    const timeout = this.strategy?.idleTimeoutMs ?? 0
    if (timeout > 0 && !this.idle && !this.ended && now - this.lastActivity >= timeout) {
      this.idle = true
      this.router.idle(true)
    }
  }

  /** Emits a checkpoint barrier and returns the reader's position at it. */
  barrier(id: number): unknown {
    const position = this.reader.snapshot?.()
    this.router.barrier(id)
    return position
  }

  /**
   * Ends this partition: routes what the reader still holds (`finish`), then tells downstream
   * (their watermark from it goes to +∞). Called when the reader's input ends and when the job
   * drains; the records it routes come before any final checkpoint, which then does not hold them.
   */
  end(): void {
    if (this.ended) return
    this.ended = true
    if (this.reader.finish !== undefined) {
      let rest: Record[]
      try {
        rest = this.reader.finish()
      } catch (e) {
        throw wrapError(
          'ERR_SOURCE_FAILED',
          `source "${this.node.spec.name}" (partition ${this.index}) failed to finish`,
          e,
          { node: this.node.spec.name, partition: this.index },
        )
      }
      this.route(rest)
    }
    this.router.end()
  }

  async close(): Promise<void> {
    await this.reader.close?.()
  }
}

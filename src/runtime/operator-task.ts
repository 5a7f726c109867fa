// One parallel instance of an operator node: runs its Processor over batches, watermarks and timers.

import type { Collector, Processor, ProcessorContext, Timer, TimerService } from '../core/processor.ts'
import type { Key, Record } from '../core/record.ts'
import { generate } from '../core/generated.ts'
import { keyGroupOf } from '../core/key-group.ts'
import {
  KeyedBackend,
  type StateBackend,
  type StoreSnapshot,
  snapshotStores,
} from '../state/keyed-backend.ts'
import type { OperatorCapture } from '../state/snapshot-file.ts'
import { type GateHandler, InputGate } from './input-gate.ts'
import type { NodePlan } from './plan.ts'
import type { OutputRouter } from './router.ts'
import { type NodeMetrics, type TaskEnv, handleRecordError } from './task-env.ts'
import { TimerQueue } from './timers.ts'

/** An operator task's snapshot: its keyed stores and pending timers. */
export interface OperatorSnapshot {
  stores: StoreSnapshot[]
  eventTimers: [number, (Key | undefined)[]][]
  processingTimers: [number, (Key | undefined)[]][]
}

/** What reached a task while it was still firing the timers of a watermark, in arrival order. */
type Arrival =
  | { kind: 'records'; records: Record[] }
  | { kind: 'watermark'; time: number }
  | { kind: 'barrier'; id: number }
  | { kind: 'end' }

/** Event timers of watermark `upTo` still to fire (`due` from `next` on), and what arrived meanwhile. */
interface Deferred {
  upTo: number
  due: [number, Key | undefined][]
  next: number
  arrivals: Arrival[]
}

/** Runs `processor` over `records`, each as `task`'s current record and key (see `recordsLoop`). */
type RecordsLoop = (
  records: readonly Record[],
  processor: Processor<unknown, unknown>,
  state: StateBackend,
  task: OperatorTask,
) => void

/**
 * The loop running a batch through a processor, made for each task: every operator task shares
 * `onRecords`, so a loop written there would call many processors' `process` from one call site,
 * which the JIT then leaves as a generic call; a loop of its own calls one, and inlines it. It sets
 * the task's `current` record and key as `onRecords` would. A record whose processing throws goes
 * to `failed` (the node's error policy).
 */
function recordsLoop(failed: (e: unknown, r: Record) => void): RecordsLoop {
  return generate<RecordsLoop>(
    ['failed'],
    `return function runRecords(records, processor, state, task) {
      for (let i = 0; i < records.length; i++) {
        const r = records[i]
        task.current = r
        task.currentKey = r.key
        state.currentKey = r.key
        try {
          processor.process(r, task)
        } catch (e) {
          failed(e, r)
        }
      }
    }`,
    [failed],
  )
}

/**
 * Runs one task of an operator node. Records from all input channels go through the InputGate
 * (watermark = minimum over channels, aligned barriers); each batch runs through the Processor
 * synchronously and the outputs are flushed to the router at the end of the batch.
 *
 * A watermark that makes many event timers due (every key's window ending at once) fires them in
 * slices of `timerSliceMs`: when a slice runs out, the rest waits for `resume()` from the executor,
 * which meanwhile runs other tasks, and what reaches this task in between (records, watermarks,
 * barriers, end) waits in order until the watermark's timers have all fired, as in Flink's mailbox.
 * So the output is the same, and one operator's burst of timers does not stall the whole thread.
 */
export class OperatorTask implements GateHandler, Collector<unknown>, TimerService {
  readonly gate: InputGate
  state: StateBackend
  readonly metrics: NodeMetrics
  private readonly eventTimers = new TimerQueue()
  private readonly processingTimers = new TimerQueue()
  private current: Record | undefined
  private currentKey: Key | undefined
  private readonly ctx: ProcessorContext
  finished = false
  /** Restored from a checkpoint taken after this task had finished (see `restoreEnded`). */
  private restoredEnded = false
  /** Longest stretch of event-timer firing before the rest waits for `resume()`, in ms (0: no limit). */
  timerSliceMs = 0
  /** The watermark being handled (its timers firing) or last handled: what `currentWatermark` says. */
  private watermark = Number.NEGATIVE_INFINITY
  private deferred: Deferred | undefined
  /** Called when a barrier is aligned, before it is forwarded (the checkpoint hook). */
  onCheckpoint: ((task: OperatorTask, id: number) => void) | undefined
  /** Called once the task has finished (every input ended, `finish` ran). */
  onFinished: ((task: OperatorTask) => void) | undefined
  /** This task's own loop over a batch's records (see `recordsLoop`). */
  private readonly runRecords: RecordsLoop

  constructor(
    readonly node: NodePlan,
    readonly index: number,
    readonly taskId: number,
    readonly processor: Processor<unknown, unknown>,
    readonly router: OutputRouter,
    channels: number,
    private readonly env: TaskEnv,
  ) {
    this.gate = new InputGate(channels, this)
    this.metrics = env.metrics(node.spec.name)
    this.state = new KeyedBackend(node.spec.name, env.maxParallelism, () => env.clock.now())
    this.runRecords = recordsLoop((e, r) =>
      handleRecordError(env, node.spec.name, index, node.spec.onError, e, r, router, this.metrics),
    )
    const task = this
    this.ctx = {
      nodeName: node.spec.name,
      taskIndex: index,
      parallelism: node.parallelism,
      maxParallelism: env.maxParallelism,
      get currentKey() {
        return task.currentKey
      },
      get state() {
        return task.state
      },
      timers: this,
      log: env.log,
      count: (metric, n = 1) => {
        task.metrics[metric] = (task.metrics[metric] ?? 0) + n
      },
    }
  }

  async open(): Promise<void> {
    await this.processor.open?.(this.ctx)
  }

  // --- GateHandler ---

  onRecords(records: Record[]): void {
    if (this.deferred !== undefined) {
      this.deferred.arrivals.push({ kind: 'records', records })
      return
    }
    const n = records.length
    this.metrics.in = (this.metrics.in ?? 0) + n
    this.runRecords(records, this.processor, this.state, this)
    this.router.flush()
  }

  onWatermark(time: number): void {
    if (this.deferred !== undefined) {
      this.deferred.arrivals.push({ kind: 'watermark', time })
      return
    }
    this.watermark = time
    if (this.fireEventTimers(time, undefined)) this.passWatermark(time)
  }

  onBarrier(id: number): void {
    if (this.deferred !== undefined) {
      this.deferred.arrivals.push({ kind: 'barrier', id })
      return
    }
    this.onCheckpoint?.(this, id)
    this.router.barrier(id)
  }

  onEnd(): void {
    if (this.deferred !== undefined) {
      this.deferred.arrivals.push({ kind: 'end' })
      return
    }
    // Restored finished, it emitted its final results before the checkpoint: they are downstream.
    if (!this.restoredEnded) this.processor.finish?.(this)
    this.router.end()
    this.finished = true
    this.onFinished?.(this)
  }

  /**
   * Marks the task as restored from a checkpoint taken after it had finished: its inputs end at
   * once, and its `finish` step, which ran before the checkpoint, does not run again.
   */
  restoreEnded(): void {
    this.restoredEnded = true
  }

  /** True while the timers of a watermark are still firing (the executor calls `resume`). */
  get busy(): boolean {
    return this.deferred !== undefined
  }

  /**
   * Fires the next slice of the deferred timers; once they have all fired, forwards their watermark
   * and handles what arrived meanwhile, in order (a watermark among it may defer again).
   */
  resume(): void {
    const d = this.deferred
    if (d === undefined) return
    this.deferred = undefined
    if (!this.fireEventTimers(d.upTo, d)) return
    this.passWatermark(d.upTo)
    for (const a of d.arrivals) {
      if (a.kind === 'records') this.onRecords(a.records)
      else if (a.kind === 'watermark') this.onWatermark(a.time)
      else if (a.kind === 'barrier') this.onBarrier(a.id)
      else this.onEnd()
    }
  }

  private passWatermark(time: number): void {
    this.processor.onWatermark?.(time, this)
    this.router.watermark(time)
  }

  /**
   * Fires the event timers due at `upTo`, continuing `from` a deferred firing. Returns false when
   * the time slice ran out first: the rest is then in `deferred` (with `from`'s arrivals).
   */
  private fireEventTimers(upTo: number, from: Deferred | undefined): boolean {
    const queue = this.eventTimers
    const processor = this.processor
    if (processor.onTimer === undefined) return true
    const slice = this.timerSliceMs
    const started = slice > 0 ? performance.now() : 0
    let due = from?.due ?? []
    let i = from?.next ?? 0
    for (;;) {
      if (i >= due.length) {
        // One timestamp at a time: a timer registered while firing, earlier than others due, fires first.
        const at = queue.peek()
        if (at > upTo) break
        due = queue.popUpTo(at)
        i = 0
        if (due.length === 0) break
      }
      const [time, key] = due[i++]!
      this.currentKey = key
      this.state.currentKey = key
      this.current = { value: undefined, key, time, tag: '' }
      processor.onTimer({ time, key, domain: 'event' }, this)
      // The clock is read after every timer: one key's firing may take milliseconds (a window of
      // large sketches rebuilding its partial merges); read every 32 timers, a demo slice ran 88.6 ms.
      if (slice > 0 && performance.now() - started > slice) {
        if (i < due.length || queue.peek() <= upTo) {
          this.router.flush()
          this.deferred = { upTo, due, next: i, arrivals: from?.arrivals ?? [] }
          return false
        }
      }
    }
    this.router.flush()
    return true
  }

  /** Fires processing-time timers due at `now` and expires TTL state (later while event timers fire). */
  onProcessingTime(now: number): void {
    if (this.deferred !== undefined) return
    if (this.processingTimers.peek() <= now) this.fireTimers(this.processingTimers, now, 'processing')
    if (this.state.hasTtl) this.state.expire(now)
  }

  /** Replaces the keyed state (e.g. by an LMDB backend); only before `open`. */
  useState(state: StateBackend): void {
    this.state = state
  }

  private fireTimers(queue: TimerQueue, upTo: number, domain: Timer['domain']): void {
    if (queue.peek() > upTo || this.processor.onTimer === undefined) return
    // One timestamp at a time: a timer registered while firing, earlier than others due, fires first.
    for (let at = queue.peek(); at <= upTo; at = queue.peek()) {
      const due = queue.popUpTo(at)
      if (due.length === 0) break
      for (const [time, key] of due) {
        this.currentKey = key
        this.state.currentKey = key
        this.current = { value: undefined, key, time: domain === 'event' ? time : this.watermark, tag: '' }
        this.processor.onTimer({ time, key, domain }, this)
      }
    }
    this.router.flush()
  }

  // --- Collector ---

  emit(value: unknown): void {
    const c = this.current ?? this.noRecord()
    this.router.emit({ value, key: c.key, time: c.time, tag: c.tag })
  }

  /** What an output is stamped with when no record or timer is current (a `finish` step on no input). */
  private noRecord(): Record {
    return { value: undefined, key: this.currentKey, time: this.watermark, tag: '' }
  }

  emitRecord(record: Record): void {
    this.router.emit(record)
  }

  side(output: string, value: unknown): void {
    const c = this.current ?? this.noRecord()
    const n = `side.${output}`
    this.metrics[n] = (this.metrics[n] ?? 0) + 1
    this.router.emitSide(output, { value, key: c.key, time: c.time, tag: c.tag })
  }

  // --- TimerService ---

  currentWatermark(): number {
    return this.watermark
  }

  currentProcessingTime(): number {
    return this.env.clock.now()
  }

  registerEventTimer(time: number): void {
    this.eventTimers.add(time, this.currentKey)
  }

  registerProcessingTimer(time: number): void {
    this.processingTimers.add(time, this.currentKey)
  }

  deleteEventTimer(time: number): void {
    this.eventTimers.delete(time, this.currentKey)
  }

  deleteProcessingTimer(time: number): void {
    this.processingTimers.delete(time, this.currentKey)
  }

  /** Pending timers (for metrics and tests). */
  timerCount(): number {
    return this.eventTimers.size + this.processingTimers.size
  }

  // --- State ---

  snapshot(): OperatorSnapshot {
    return {
      stores: snapshotStores(this.state.capture(), this.env.maxParallelism),
      eventTimers: this.eventTimers.toArray(),
      processingTimers: this.processingTimers.toArray(),
    }
  }

  /**
   * Takes a consistent copy of the state and timers at a barrier, cheaply (see `capture` of the
   * backend); encoding and writing it is left to the caller, off the hot path.
   */
  capture(): OperatorCapture {
    return {
      state: this.state.capture(),
      eventTimers: this.eventTimers.toArray(),
      processingTimers: this.processingTimers.toArray(),
    }
  }

  /** Restores the key groups this task owns from snapshots of any earlier parallelism. */
  restore(snapshots: readonly OperatorSnapshot[], from: number, to: number): void {
    const max = this.env.maxParallelism
    const mine = (k: Key | undefined) => {
      if (k === undefined) return this.index === 0
      const kg = keyGroupOf(k, max)
      return kg >= from && kg < to
    }
    for (const s of snapshots) {
      this.state.restore(s.stores, from, to)
      this.eventTimers.load(s.eventTimers, mine)
      this.processingTimers.load(s.processingTimers, mine)
    }
  }

  async close(): Promise<void> {
    try {
      await this.processor.close?.()
    } finally {
      this.state.close?.()
    }
  }
}

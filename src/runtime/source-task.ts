// One partition of a source node: reads batches, assigns event time, emits watermarks and barriers.

import { SquallError, describeValue, wrapError } from '../core/errors.ts'
import { generate } from '../core/generated.ts'
import type { Record } from '../core/record.ts'
import type { SourceReader, ValuesRange } from '../core/source.ts'
import { DROP, type FusedStep } from '../core/value-step.ts'
import type { WatermarkGenerator, WatermarkStrategy } from '../core/watermark.ts'
import type { NodePlan } from './plan.ts'
import type { OutputRouter, Target } from './router.ts'
import { type NodeMetrics, type TaskEnv, handleRecordError } from './task-env.ts'

/** Hands the event time of each record of `batch` to `gen`, in order. */
type FeedTimes = (batch: readonly Record[], gen: WatermarkGenerator) => void

/**
 * A generated loop over `input[from]` up to `input[to - 1]`, putting what it keeps at `out[0]`,
 * `out[1]`, … (and their times in `times`, when it hands on values); returns how many it kept.
 */
type BatchLoop<I, O> = (
  input: readonly I[],
  from: number,
  to: number,
  out: O[],
  times: number[] | undefined,
) => number

/**
 * The loop feeding a batch's times to a watermark generator, made for each task as the loops of
 * `valuesLoop` are: written once and shared, its call would see every generator class of the
 * process; a loop of its own sees one, and inlines it.
 */
function feedTimesLoop(): FeedTimes {
  return generate<FeedTimes>(
    [],
    `return function feedTimes(batch, gen) {
      for (let i = 0; i < batch.length; i++) gen.onEvent(batch[i].time)
    }`,
    [],
  )
}

/**
 * Runs one source partition. `poll(max)` never blocks: it takes what the reader has ready, assigns
 * event time (per the node's WatermarkStrategy), routes the batch downstream, then emits the
 * partition's watermark if it advanced. A partition that stays quiet past the strategy's idleness
 * timeout is marked idle downstream, so it does not hold the watermark back.
 */
export class SourceTask {
  readonly metrics: NodeMetrics
  ended = false
  /** The source ends by itself (`SourceSpec.bounded`). */
  readonly bounded: boolean
  private readonly strategy: WatermarkStrategy<unknown> | undefined
  private readonly generator: WatermarkGenerator | undefined
  private lastWatermark = Number.NEGATIVE_INFINITY
  private lastActivity: number
  private idle = false
  /** The operators fused into this source (`NodeSpec.fused`), whose steps run in this task. */
  private readonly fused: readonly FusedStep[]
  /** This task's own loop running the fused steps on timed records (see `stepsLoop`). */
  private readonly runSteps: BatchLoop<Record, Record> | undefined
  /** Reads with `nextValues`: the reader offers it and event time comes from the values. */
  private readonly readsValues: boolean
  /**
   * The one target of this task when it takes batches as values (`Target.pushValues`): then no
   * record is made for what is read with `nextValues`.
   */
  private readonly valuesTarget: Target | undefined
  /** This task's own loop over values read (see `valuesLoop`). */
  private readonly readValues: BatchLoop<unknown, unknown> | undefined
  /** This task's own loop handing a batch's times to its watermark generator (see `feedTimesLoop`). */
  private readonly feedTimes: FeedTimes | undefined
  /** The fused steps kept at least 3/4 of the last batch (see `batchArray`). */
  private keepsMost = true

  constructor(
    readonly node: NodePlan,
    readonly index: number,
    readonly taskId: number,
    readonly reader: SourceReader,
    readonly router: OutputRouter,
    private readonly env: TaskEnv,
  ) {
    this.metrics = env.metrics(node.spec.name)
    this.bounded = node.spec.source?.bounded === true
    this.strategy = node.spec.watermarks
    this.generator = this.strategy?.createGenerator()
    this.feedTimes = this.generator === undefined ? undefined : feedTimesLoop()
    this.fused = node.spec.fused ?? []
    this.runSteps = this.fused.length > 0 ? this.stepsLoop() : undefined
    this.readsValues = reader.nextValues !== undefined && this.strategy?.timestamp !== undefined
    this.valuesTarget = this.readsValues ? router.valuesTarget() : undefined
    this.readValues = this.readsValues ? this.valuesLoop(this.valuesTarget !== undefined) : undefined
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
    if (this.readsValues) return this.pollValues(max)
    let batch: Record[] | null
    try {
      batch = this.reader.nextBatch(max)
    } catch (e) {
      throw this.readFailed(e)
    }
    if (batch === null) {
      this.end()
      return 0
    }
    return this.route(batch)
  }

  /** The error of a reader's read that threw, naming the source and partition. */
  private readFailed(e: unknown): Error {
    return wrapError(
      'ERR_SOURCE_FAILED',
      `source "${this.node.spec.name}" (partition ${this.index}) failed`,
      e,
      {
        node: this.node.spec.name,
        partition: this.index,
      },
    )
  }

  /**
   * Routes a batch read from the reader: event time, then the fused steps (if any), then the
   * records, then the watermark.
   */
  private route(batch: Record[]): number {
    const n = batch.length
    if (n === 0) return 0
    this.active(n)
    const records = this.strategy !== undefined ? this.timestamped(batch) : batch
    if (this.runSteps !== undefined) {
      this.router.emitOwned(this.loopInto(this.runSteps, records, 0, records.length))
    } else if (this.reader.handsOver === true) this.router.emitOwned(records)
    else this.router.emitAll(records)
    this.routed()
    return n
  }

  /**
   * Reads values (`SourceReader.nextValues`) instead of records, when event time comes from the
   * values: each record is made once, after the fused steps, and only for the values they keep;
   * none at all when the target takes values (`valuesTarget`), which get their times beside them.
   */
  private pollValues(max: number): number {
    let read: unknown[] | ValuesRange | null
    try {
      read = this.reader.nextValues!(max)
    } catch (e) {
      throw this.readFailed(e)
    }
    if (read === null) {
      this.end()
      return 0
    }
    let values: readonly unknown[]
    let from = 0
    let to: number
    if (Array.isArray(read)) {
      values = read
      to = read.length
    } else {
      ;({ values, from, to } = read as ValuesRange)
      if (!(Array.isArray(values) && Number.isInteger(from) && Number.isInteger(to))) {
        throw this.readFailed(
          new TypeError(`nextValues returned ${describeValue(read)}, not values or a range of them`),
        )
      }
      if (!(from >= 0 && from <= to && to <= values.length)) {
        throw this.readFailed(
          new RangeError(
            `nextValues returned the range ${from}..${to} of an array of ${values.length} values`,
          ),
        )
      }
    }
    const n = to - from
    if (n === 0) return 0
    this.active(n)
    const target = this.valuesTarget
    if (target === undefined) {
      this.router.emitOwned(this.loopInto(this.readValues!, values, from, to) as Record[])
    } else {
      const times = this.batchArray<number>(n)
      const out = this.loopInto(this.readValues!, values, from, to, times)
      times.length = out.length
      if (out.length > 0) target.pushValues!(out, times)
    }
    this.routed()
    return n
  }

  /**
   * Runs a generated loop over `input[from]` up to `input[to - 1]` into a new array of records (or
   * of values, with their times in `times`), cut to what the loop kept (see `batchArray`).
   */
  private loopInto<T, O>(
    loop: BatchLoop<T, O>,
    input: readonly T[],
    from: number,
    to: number,
    times?: number[],
  ): O[] {
    const n = to - from
    const out = this.batchArray<O>(n)
    const kept = loop(input, from, to, out, times)
    if (kept < out.length) out.length = kept
    this.keepsMost = kept * 4 >= n * 3
    return out
  }

  /**
   * A new array for what the steps keep of a batch of `n`: while they keep most of what they read
   * (the last batch kept at least 3/4 of it), made at the batch's size, to be cut to what was
   * kept (one allocation, where growing it copies it several times); otherwise empty, so a filter
   * that keeps little grows a small one.
   */
  private batchArray<X>(n: number): X[] {
    return this.keepsMost ? new Array<X>(n) : []
  }

  /**
   * The loop turning values into timed records: event time, the watermark generator, the fused
   * steps. Generated for each task, so its calls see one timestamp function, one generator and one
   * step each (monomorphic, inlined by the JIT), however many sources the process runs. `asValues`:
   * it puts the values the steps keep in `out` and their times in `times`, and makes no record.
   */
  private valuesLoop(asValues: boolean): BatchLoop<unknown, unknown> {
    const assign = this.strategy!.timestamp!
    const timeSource = this.strategy!.timeSource
    const bad = (value: unknown) =>
      this.badTime({ value, key: undefined, time: Number.NaN, tag: '' }, timeSource)
    // What an assigner that takes a second argument sees as the record: each value in turn, with
    // no key and no tag.
    const record =
      assign.length < 2
        ? 'const time = assign(value)'
        : 'current.value = value; const time = assign(value, current)'
    const body = `const current = { value: undefined, key: undefined, time: Number.NaN, tag: "" }
    return function readValues(values, from, to, out, times) {
      let o = 0
      for (let i = from; i < to; i++) {
        const value = values[i]
        ${record}
        if (!Number.isFinite(time)) { bad(value); continue }
        gen.onEvent(time)
        ${this.stepsCode('undefined', 'time', '""', asValues)}
      }
      return o
    }`
    return this.stepsFunction(body, ['assign', 'gen', 'bad'], [assign, this.generator, bad])
  }

  /** The loop running the fused steps on records already timed, generated as `valuesLoop` is. */
  private stepsLoop(): BatchLoop<Record, Record> {
    const body = `return function runSteps(records, from, to, out) {
      let o = 0
      for (let i = from; i < to; i++) {
        const r = records[i]
        const value = r.value
        ${this.stepsCode('r.key', 'r.time', 'r.tag')}
      }
      return o
    }`
    return this.stepsFunction(body, [], [])
  }

  /**
   * Code taking `value` through the fused steps (`s0`, `s1`, … in order; one returning
   * `DROP` drops it) and putting the record it becomes, with the given key, time and tag, at
   * `out[o++]` (`asValues`: the value at `out[o]` and its time at `times[o++]`). A throwing step
   * fails the job naming its node (`failed`).
   */
  private stepsCode(key: string, time: string, tag: string, asValues = false): string {
    const push = (v: string) =>
      asValues
        ? `{ out[o] = ${v}; times[o++] = ${time} }`
        : `out[o++] = { value: ${v}, key: ${key}, time: ${time}, tag: ${tag} }`
    if (this.fused.length === 0) return push('value')
    let code = 'let v = value, at = 0\ntry {\n'
    this.fused.forEach((_, i) => {
      code += i === 0 ? 'v = s0(v)\n' : `if (v !== DROP) { at = ${i}; v = s${i}(v) }\n`
    })
    code += `} catch (e) { failed(e, at, { value, key: ${key}, time: ${time}, tag: ${tag} }) }\n`
    return `${code}if (v !== DROP) ${push('v')}`
  }

  /** Makes a generated loop: `body` sees `names` bound to `values`, the steps and `failed`. */
  private stepsFunction<F>(body: string, names: string[], values: unknown[]): F {
    const steps = this.fused.map((f) => f.calc)
    const failed = (e: unknown, at: number, r: Record) => this.stepFailed(e, this.fused[at]!.name, r)
    const params = [...names, ...steps.map((_, i) => `s${i}`), 'failed', 'DROP']
    return generate<F>(params, body, [...values, ...steps, failed, DROP])
  }

  /** Counts `n` records read, and marks the partition active again. */
  private active(n: number): void {
    this.metrics.out = (this.metrics.out ?? 0) + n
    if (this.idle) {
      this.idle = false
      this.router.idle(false)
    }
  }

  /** A fused step threw: the job fails naming its node (fused operators fail on errors). */
  private stepFailed(e: unknown, node: string, r: Record): never {
    handleRecordError(this.env, node, this.index, 'fail', e, r, this.router, this.metrics)
    throw e
  }

  /** After a batch's records: hands them over, then emits the watermark if it advanced. */
  private routed(): void {
    this.router.flush()
    if (this.generator !== undefined) {
      const wm = this.generator.current()
      if (wm > this.lastWatermark) {
        this.lastWatermark = wm
        this.router.watermark(wm)
      }
    }
    if (this.strategy?.idleTimeoutMs) this.lastActivity = this.env.clock.now()
  }

  /**
   * Assigns event time to a batch and feeds the watermark generator. Returns the records to route:
   * `batch` itself when every record keeps its time, else a new array (records with a new time are
   * copies; records without a usable time are handled by the error policy and left out).
   */
  private timestamped(batch: Record[]): Record[] {
    const s = this.strategy!
    const gen = this.generator!
    const assign = s.timestamp
    const n = batch.length
    if (assign === undefined && s.timeSource !== 'ingestion time') {
      this.feedTimes!(batch, gen)
      return batch
    }
    const ingestion = assign === undefined ? this.env.clock.now() : 0
    let out: Record[] | undefined
    for (let i = 0; i < n; i++) {
      const r = batch[i]!
      let time = ingestion !== 0 ? ingestion : r.time
      if (assign !== undefined) {
        const t = assign(r.value, r)
        if (typeof t !== 'number' || !Number.isFinite(t)) {
          if (out === undefined) out = batch.slice(0, i)
          this.badTime(r, s.timeSource)
          continue
        }
        time = t
      }
      gen.onEvent(time)
      if (time !== r.time && out === undefined) out = batch.slice(0, i)
      if (out !== undefined) out.push(time === r.time ? r : { value: r.value, key: r.key, time, tag: r.tag })
    }
    return out ?? batch
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

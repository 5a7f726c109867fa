// Window TVF aggregation (`FROM TABLE(TUMBLE(...)) GROUP BY window_start, window_end, ...`): the
// core window operators folding rows with a RowAccumulator; one final row per window (append-only).

import type { Collector, Processor, ProcessorContext, Timer } from '../../core/processor.ts'
import type { ValueState } from '../../core/state.ts'
import type { Key } from '../../core/record.ts'
import {
  CumulatingWindows,
  HoppingWindows,
  SessionWindows,
  TumblingWindows,
  type WindowAssigner,
} from '../../core/window/assigners.ts'
import type { WindowLogic } from '../../core/window/window-logic.ts'
import { windowProcessor } from '../../core/window/windowed-stream.ts'
import type { Exchange } from '../../core/topology.ts'
import type { IntervalLiteral, WindowTvf } from '../ast.ts'
import { type GroupAcc, RowAccumulator } from '../aggregates.ts'
import type { SqlRow } from '../compile-expr.ts'
import { formatExpr } from '../format-expr.ts'
import type { Aggregation } from './aggregation.ts'
import { type PlanContext, type Rel, keyFunction, planError } from './relation.ts'

function ms(i: IntervalLiteral | undefined, what: string): number {
  if (i === undefined) throw planError(`${what} is missing`)
  if (i.yearMonth)
    throw planError(`${what}: expected a day-time interval such as INTERVAL '10' SECOND, got ${i.text}`)
  return i.value
}

/**
 * The core window assigner of a window TVF. Throws ERR_SQL_PLAN for sizes that do not fit: a HOP
 * slide larger than its size, a CUMULATE max size that is not a multiple of its step. An offset
 * counts modulo the period windows repeat at (TUMBLE size, HOP slide, CUMULATE max size), as in
 * Flink, so a negative or large one shifts the windows the same way.
 */
export function assignerOf(tvf: WindowTvf): WindowAssigner {
  let a: WindowAssigner
  let period: number
  switch (tvf.fn) {
    case 'TUMBLE':
      period = ms(tvf.size, 'TUMBLE size')
      a = TumblingWindows.of(period)
      break
    case 'HOP': {
      const size = ms(tvf.size, 'HOP size')
      period = ms(tvf.slide, 'HOP slide')
      if (period > size)
        throw planError(
          `HOP: the slide (${tvf.slide!.text}) is larger than the size (${tvf.size!.text}); HOP takes the slide first, then the size: HOP(TABLE t, DESCRIPTOR(ts), slide, size)`,
        )
      a = HoppingWindows.of(size, period)
      break
    }
    case 'CUMULATE': {
      const step = ms(tvf.step, 'CUMULATE step')
      period = ms(tvf.size, 'CUMULATE max size')
      if (period % step !== 0)
        throw planError(
          `CUMULATE: the max size (${tvf.size!.text}) must be a multiple of the step (${tvf.step!.text}); CUMULATE takes the step first, then the max size`,
        )
      a = CumulatingWindows.of(step, period)
      break
    }
    case 'SESSION':
      return SessionWindows.withGap(ms(tvf.gap, 'SESSION gap'))
  }
  if (tvf.offset !== undefined) {
    const off = ((ms(tvf.offset, `${tvf.fn} offset`) % period) + period) % period
    if (off !== 0) a = (a as HoppingWindows).withOffset(off)
  }
  return a
}

/** A readable description of a window TVF for explain. */
export function describeTvf(tvf: WindowTvf): string {
  const i = (x: IntervalLiteral | undefined) => (x ? `${x.value} ms` : '?')
  switch (tvf.fn) {
    case 'TUMBLE':
      return `TUMBLE(${tvf.timeColumn}, size ${i(tvf.size)})`
    case 'HOP':
      return `HOP(${tvf.timeColumn}, slide ${i(tvf.slide)}, size ${i(tvf.size)})`
    case 'CUMULATE':
      return `CUMULATE(${tvf.timeColumn}, step ${i(tvf.step)}, max ${i(tvf.size)})`
    case 'SESSION':
      return `SESSION(${tvf.timeColumn}, gap ${i(tvf.gap)})`
  }
}

/**
 * Adds the window aggregate node: rows keyed by the non-window group keys, folded per window, and
 * one row `{ keys, window_start, window_end, window_time, aggregates }` emitted when the watermark
 * passes the window's end (time `window_end − 1`). Its state is one accumulator per key and slice,
 * freed when the window fires.
 */
export function planWindowAggregate(ctx: PlanContext, rel: Rel, tvf: WindowTvf, agg: Aggregation): Rel {
  if (rel.updating)
    throw planError(
      `${tvf.fn} needs an append-only input; its input is an updating result (a GROUP BY or a join)`,
    )
  const acc = new RowAccumulator(
    agg.calls,
    agg.keys.map((k) => k.fn),
  )
  const keyFields = agg.keys.map((k) => k.field)
  const callFields = agg.callFields
  const wins = agg.windowColumns
  const nk = keyFields.length
  const nc = callFields.length
  const logic: WindowLogic<SqlRow, unknown> = {
    fold: acc as unknown as WindowLogic<SqlRow, unknown>['fold'],
    emit(key: Key, start: number, end: number, _firing, a: unknown, out: Collector<unknown>) {
      const g = a as GroupAcc
      const row: { [c: string]: unknown } = {}
      for (let i = 0; i < nk; i++) row[keyFields[i]!] = g.keys[i]
      for (let i = 0; i < wins.length; i++) {
        const w = wins[i]!
        const n = w.name.toLowerCase()
        row[w.field] = n === 'window_start' ? start : n === 'window_end' ? end : end - 1
      }
      for (let i = 0; i < nc; i++) {
        const c = agg.calls[i]!
        row[callFields[i]!] = c.fn.result(g.accs[i])
      }
      out.emitRecord({ value: row, key, time: end - 1, tag: '' })
    },
  }
  const assigner = assignerOf(tvf)
  const keyOf = keyFunction(agg.keys.map((k) => k.fn))
  const exchange: Exchange = {
    type: 'key',
    key: ((v: SqlRow) => keyOf(v)) as unknown as (value: never, record: never) => Key,
  }
  const name = ctx.name('window-aggregate')
  ctx.topology.addProcessor(
    name,
    () => windowProcessor<SqlRow>(assigner, logic, []) as Processor<unknown, unknown>,
    [{ from: rel.node, exchange }],
    { keyed: true },
  )
  ctx.lines.push({
    node: name,
    operator: 'WindowAggregate',
    detail: `${describeTvf(tvf)} keys [${agg.keys.map((k) => formatExpr(k.expr)).join(', ') || 'none'}] aggregates [${agg.callText.join(', ')}]`,
    state: 'one accumulator per key and window slice, freed when the window fires',
    updating: false,
  })
  const hasTime = wins.some((w) => w.name.toLowerCase() === 'window_time')
  const ws = wins.find((w) => w.name.toLowerCase() === 'window_start')
  const we = wins.find((w) => w.name.toLowerCase() === 'window_end')
  return {
    node: name,
    schema: agg.schema,
    updating: false,
    // One row per group and window: the group keys and the window bounds are the result's key.
    ...(ws && we
      ? { windowStart: ws.field, windowEnd: we.field, key: [...keyFields, ws.field, we.field] }
      : {}),
    ...(hasTime ? { rowtime: wins.find((w) => w.name.toLowerCase() === 'window_time')!.field } : {}),
  }
}

/**
 * Groups the rows of an earlier window result again per window (`GROUP BY starttime, endtime`
 * over a window aggregate): keyed by the group keys, which include the window bounds; one final
 * row per group when the watermark passes the window's end. Append-only, state freed on firing.
 */
class WindowGroupOperator implements Processor<SqlRow, SqlRow> {
  private state!: ValueState<GroupAcc>
  private ctx!: ProcessorContext

  constructor(
    private readonly acc: RowAccumulator,
    private readonly endField: string,
    private readonly keyFields: readonly string[],
    private readonly callFields: readonly string[],
  ) {}

  open(ctx: ProcessorContext): void {
    this.ctx = ctx
    this.state = ctx.state.value<GroupAcc>('group')
  }

  process(r: { value: SqlRow }): void {
    const end = r.value[this.endField] as number
    if (end - 1 <= this.ctx.timers.currentWatermark()) {
      this.ctx.count('late')
      return
    }
    const g = this.state.get() ?? this.acc.create()
    this.acc.add(g, r.value)
    this.state.set(g)
    this.ctx.timers.registerEventTimer(end - 1)
  }

  onTimer(timer: Timer, out: Collector<SqlRow>): void {
    const g = this.state.get()
    if (g === undefined) return
    this.state.clear()
    const row: { [c: string]: unknown } = {}
    for (let i = 0; i < this.keyFields.length; i++) row[this.keyFields[i]!] = g.keys[i]
    const res = this.acc.results(g)
    for (let i = 0; i < this.callFields.length; i++) row[this.callFields[i]!] = res[i]
    out.emitRecord({ value: row, key: timer.key, time: timer.time, tag: '' })
  }
}

/** The key index of the group-by column holding `field`, or −1. */
function keyIndexOf(rel: Rel, agg: Aggregation, field: string | undefined): number {
  return agg.keys.findIndex(
    (k) => k.expr.kind === 'column' && field !== undefined && fieldOfRef(rel, k.expr.name) === field,
  )
}

function fieldOfRef(rel: Rel, name: string): string | undefined {
  const c = rel.schema.columns.find((x) => x.name.toLowerCase() === name.toLowerCase())
  return c === undefined ? undefined : (c.field ?? c.name)
}

/** True when `agg` groups an append-only window result by both its window bounds. */
export function groupsByWindow(rel: Rel, agg: Aggregation): boolean {
  return (
    !rel.updating &&
    rel.windowEnd !== undefined &&
    keyIndexOf(rel, agg, rel.windowStart) >= 0 &&
    keyIndexOf(rel, agg, rel.windowEnd) >= 0
  )
}

/** Adds the per-window regrouping of a window result (see WindowGroupOperator). */
export function planWindowGroupAggregate(ctx: PlanContext, rel: Rel, agg: Aggregation): Rel {
  const acc = new RowAccumulator(
    agg.calls,
    agg.keys.map((k) => k.fn),
  )
  const keyFields = agg.keys.map((k) => k.field)
  const keyOf = keyFunction(agg.keys.map((k) => k.fn))
  const exchange: Exchange = {
    type: 'key',
    key: ((v: SqlRow) => keyOf(v)) as unknown as (value: never, record: never) => Key,
  }
  const name = ctx.name('window-group-aggregate')
  const endField = rel.windowEnd!
  ctx.topology.addProcessor(
    name,
    () =>
      new WindowGroupOperator(acc, endField, keyFields, agg.callFields) as unknown as Processor<
        unknown,
        unknown
      >,
    [{ from: rel.node, exchange }],
    { keyed: true },
  )
  ctx.lines.push({
    node: name,
    operator: 'WindowAggregate',
    detail: `per window of the input (${rel.windowStart}, ${rel.windowEnd}) keys [${agg.keys.map((k) => formatExpr(k.expr)).join(', ')}] aggregates [${agg.callText.join(', ')}]`,
    state: 'one accumulator per key and window, freed when the watermark passes the window end',
    updating: false,
  })
  return {
    node: name,
    schema: agg.schema,
    updating: false,
    key: keyFields,
    windowStart: agg.keys[keyIndexOf(rel, agg, rel.windowStart)]!.field,
    windowEnd: agg.keys[keyIndexOf(rel, agg, rel.windowEnd)]!.field,
  }
}

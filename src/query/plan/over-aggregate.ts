// OVER aggregation: `AGG(x) OVER (PARTITION BY p ORDER BY time ROWS|RANGE BETWEEN n PRECEDING AND
// CURRENT ROW)` — each row, in event-time order once the watermark passes it, gets the aggregate
// of its frame. Append-only; state: the rows waiting for the watermark and the frame of each key.

import type { Collector, Processor, ProcessorContext, Timer } from '../../core/processor.ts'
import type { Key, Record } from '../../core/record.ts'
import type { ValueState } from '../../core/state.ts'
import type { Exchange } from '../../core/topology.ts'
import type { Call, Expr, Select, WindowSpec } from '../ast.ts'
import { RowAccumulator } from '../aggregates.ts'
import { compileExpr, inferType, type SqlRow } from '../compile-expr.ts'
import { formatExpr, formatWindowSpec } from '../format-expr.ts'
import type { Column } from '../row-schema.ts'
import { analyseAggregation, isAggregateCall } from './aggregation.ts'
import {
  type PlanContext,
  type Rel,
  columnOf,
  keyFunction,
  planError,
  ref,
  rewrite,
  unbounded,
  walk,
} from './relation.ts'

/** True for an aggregate call with OVER (ranking functions with OVER are Top-N, planned elsewhere). */
function isOverAggregate(e: Expr): e is Call {
  return e.kind === 'call' && e.over !== undefined && e.name !== 'ROW_NUMBER'
}

/** The OVER aggregate calls of a SELECT list. */
export function overCalls(sel: Select): Call[] {
  const out: Call[] = []
  for (const it of sel.items)
    walk(it.expr, (x) => {
      if (isOverAggregate(x)) out.push(x)
    })
  return out
}

interface Pending {
  row: SqlRow
  t: number
}

interface OverState {
  pending: Pending[]
  frame: Pending[]
}

class OverOperator implements Processor<SqlRow, SqlRow> {
  private state!: ValueState<OverState>
  private ctx!: ProcessorContext

  constructor(
    private readonly acc: RowAccumulator,
    private readonly fields: readonly string[],
    private readonly rows: number,
    private readonly rangeMs: number,
  ) {}

  open(ctx: ProcessorContext): void {
    this.ctx = ctx
    this.state = ctx.state.value<OverState>('over')
  }

  process(r: Record<SqlRow>): void {
    if (r.time <= this.ctx.timers.currentWatermark()) {
      this.ctx.count('late')
      return
    }
    const s = this.state.get() ?? { pending: [], frame: [] }
    s.pending.push({ row: r.value, t: r.time })
    this.state.set(s)
    this.ctx.timers.registerEventTimer(r.time)
  }

  onTimer(timer: Timer, out: Collector<SqlRow>): void {
    const s = this.state.get()
    if (s === undefined) return
    const due = s.pending.filter((p) => p.t <= timer.time).sort((a, b) => a.t - b.t)
    s.pending = s.pending.filter((p) => p.t > timer.time)
    for (const p of due) {
      s.frame.push(p)
      if (this.rows >= 0) while (s.frame.length > this.rows + 1) s.frame.shift()
      if (this.rangeMs >= 0) while (s.frame.length > 0 && s.frame[0]!.t < p.t - this.rangeMs) s.frame.shift()
      let g = this.acc.create()
      for (const f of s.frame) g = this.acc.add(g, f.row)
      const res = this.acc.results(g)
      const o: { [c: string]: unknown } = { ...p.row }
      for (let i = 0; i < this.fields.length; i++) o[this.fields[i]!] = res[i]
      out.emitRecord({ value: o, key: timer.key, time: p.t, tag: '' })
    }
    this.state.set(s)
  }
}

function boundOf(spec: WindowSpec): { rows: number; rangeMs: number } {
  const f = spec.frame
  if (f === undefined) return { rows: -1, rangeMs: -1 }
  if (f.end.kind !== 'currentRow')
    throw planError(
      'OVER frames must end at CURRENT ROW on streams: rows after the current one have not arrived yet',
    )
  if (f.start.kind === 'unboundedPreceding') return { rows: -1, rangeMs: -1 }
  const off = f.start.offset
  if (f.start.kind !== 'preceding' || off === undefined)
    throw planError('OVER frames start at n PRECEDING or UNBOUNDED PRECEDING')
  const v = off.kind === 'interval' || off.kind === 'literal' ? Number(off.value) : Number.NaN
  if (!Number.isFinite(v) || v < 0)
    throw planError(`OVER frame offset must be a constant, got ${formatExpr(off)}`)
  return f.unit === 'ROWS' ? { rows: v, rangeMs: -1 } : { rows: -1, rangeMs: v }
}

/**
 * Plans the OVER aggregate `calls` of a SELECT over `rel`, returning the relation with one extra column per
 * call and a rewrite of the SELECT expressions onto it. Every call must share one window spec,
 * ordered by the time attribute ascending, on an append-only input (ERR_SQL_PLAN otherwise). A frame
 * without bounds (UNBOUNDED PRECEDING) keeps every row of its key: a warning from the caller.
 */
export function planOverAggregate(
  ctx: PlanContext,
  rel: Rel,
  calls: readonly Call[],
): { rel: Rel; over: (e: Expr) => Expr } {
  if (rel.updating) {
    throw planError(
      'OVER aggregation needs an append-only input ordered by its time attribute, but its input is an updating result (a GROUP BY, a regular join or a continuous Top-N); Flink refuses it too',
    )
  }
  const specs = new Set(calls.map((c) => (typeof c.over === 'string' ? c.over : formatWindowSpec(c.over!))))
  if (specs.size > 1)
    throw planError(`OVER aggregates must share one window; got ${[...specs].join(' and ')}`)
  const spec = calls[0]!.over
  if (typeof spec === 'string' || spec === undefined)
    throw planError(`OVER names the window ${String(spec)}, which the query does not define`)
  const order = spec.orderBy[0]
  const col = order ? columnOf(order.expr, rel.schema) : undefined
  if (
    !order ||
    order.desc ||
    spec.orderBy.length > 1 ||
    col === undefined ||
    (col.field ?? col.name) !== rel.rowtime
  ) {
    throw planError(
      `OVER (... ORDER BY ...) must order by the time attribute${rel.rowtime ? ` (${rel.rowtime})` : ''} ascending on a stream`,
    )
  }
  const { rows, rangeMs } = boundOf(spec)
  if (rows < 0 && rangeMs < 0)
    unbounded(ctx, 'OVER (... UNBOUNDED PRECEDING) keeps every row of each partition for ever')
  const plain = calls.map(({ over: _over, ...c }) => c as Call)
  const fake: Select = {
    kind: 'select',
    at: 0,
    distinct: false,
    items: plain.map((c) => ({ expr: c })),
    groupBy: [],
    windows: [],
  }
  for (const c of plain)
    if (!isAggregateCall(c as Expr))
      throw planError(
        `${(c as Call).name} OVER (...) is not supported; use an aggregate such as AVG, SUM, COUNT, MIN, MAX`,
      )
  const agg = analyseAggregation(fake, rel, false)
  for (const c of plain) agg.over(c)
  const fields = calls.map((_, i) => `$w${i}`)
  const acc = new RowAccumulator(agg.calls, [])
  const part = spec.partitionBy.map((e) => compileExpr(e, rel.schema))
  const keyOf = keyFunction(part)
  const exchange: Exchange = {
    type: 'key',
    key: ((v: SqlRow) => keyOf(v)) as unknown as (value: never, record: never) => Key,
  }
  const name = ctx.name('over-aggregate')
  ctx.topology.addProcessor(
    name,
    () => new OverOperator(acc, fields, rows, rangeMs) as unknown as Processor<unknown, unknown>,
    [{ from: rel.node, exchange }],
    { keyed: true },
  )
  ctx.lines.push({
    node: name,
    operator: 'OverAggregate',
    detail: `${plain.map(formatExpr).join(', ')} OVER (${formatWindowSpec(spec)})`,
    state:
      rows < 0 && rangeMs < 0
        ? 'every row of each partition (UNBOUNDED PRECEDING)'
        : 'the frame of each partition and the rows waiting for the watermark',
    updating: false,
  })
  const columns: Column[] = [
    ...rel.schema.columns,
    ...calls.map((_c, i) => ({
      name: fields[i]!,
      type: inferType(plain[i]!, rel.schema),
      field: fields[i]!,
    })),
  ]
  const byText = new Map(calls.map((c, i) => [formatExpr(c), fields[i]!]))
  const over = (e: Expr) =>
    rewrite(e, (x) => {
      if (!isOverAggregate(x)) return undefined
      const f = byText.get(formatExpr(x))
      return f === undefined ? undefined : ref(f, x.at)
    })
  return { rel: { ...rel, node: name, schema: { name: rel.schema.name, columns } }, over }
}

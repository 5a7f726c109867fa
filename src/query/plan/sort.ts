// Temporal sort: `ORDER BY <time attribute> [ASC], c2 [DESC], ...` on an append-only stream. Rows
// wait in keyed state until the watermark passes their time, then leave in time order, ties broken
// by the other ORDER BY items, then by arrival. LIMIT and OFFSET keep the first rows of that order
// (or of arrival, without ORDER BY), counted in a checkpointed counter: see planOrderBy.

import type { Collector, Processor, ProcessorContext, Timer } from '../../core/processor.ts'
import type { Key, Record } from '../../core/record.ts'
import type { ListState, ValueState } from '../../core/state.ts'
import type { Exchange } from '../../core/topology.ts'
import type { Expr, OrderItem, QueryExpr } from '../ast.ts'
import { compileExpr, type RowEvaluator, type SqlRow } from '../compile-expr.ts'
import { formatExpr, formatOrder } from '../format-expr.ts'
import { type PlanContext, type Rel, columnOf, planError } from './relation.ts'

const TOP_N_HINT =
  'for the first rows per group or window write a Top-N: SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY ... ORDER BY ...) AS rownum FROM ...) WHERE rownum <= N'

/**
 * Orders rows of one event time by the secondary ORDER BY items, as Flink does: NULL is the
 * smallest value unless `NULLS FIRST | LAST` says otherwise. Rows equal on every item keep their
 * arrival order (the sort is stable).
 */
export function rowComparator(
  items: readonly OrderItem[],
  fns: readonly RowEvaluator[],
): (a: SqlRow, b: SqlRow) => number {
  const desc = items.map((o) => o.desc)
  const nullsFirst = items.map((o) => (o.nulls === undefined ? !o.desc : o.nulls === 'FIRST'))
  return (a, b) => {
    for (let i = 0; i < fns.length; i++) {
      const x = fns[i]!(a)
      const y = fns[i]!(b)
      if (x === y) continue
      if (x === null) return nullsFirst[i] ? -1 : 1
      if (y === null) return nullsFirst[i] ? 1 : -1
      const c = (x as number) < (y as number) ? -1 : (x as number) > (y as number) ? 1 : 0
      if (c !== 0) return desc[i] ? -c : c
    }
    return 0
  }
}

/**
 * The temporal sort operator, keyed by event time: a row whose time the watermark has passed is
 * late (counted in `late` and sent to the `late` side output, as window aggregates do with rows
 * past their window); any other row is appended to the list of its time and an event-time timer
 * is set for that time. When the timer fires, the list leaves sorted by `cmp` (stable) and is
 * cleared, so state holds exactly the rows the watermark has not passed and checkpoints cover
 * them. Timers fire in time order, so output follows event time.
 */
class TemporalSortOperator implements Processor<SqlRow, SqlRow> {
  private rows!: ListState<SqlRow>
  private ctx!: ProcessorContext

  constructor(private readonly cmp: ((a: SqlRow, b: SqlRow) => number) | undefined) {}

  open(ctx: ProcessorContext): void {
    this.ctx = ctx
    this.rows = ctx.state.list<SqlRow>('rows')
  }

  process(r: Record<SqlRow>, out: Collector<SqlRow>): void {
    if (r.time <= this.ctx.timers.currentWatermark()) {
      this.ctx.count('late')
      out.side('late', r.value)
      return
    }
    this.rows.add(r.value)
    this.ctx.timers.registerEventTimer(r.time)
  }

  onTimer(timer: Timer, out: Collector<SqlRow>): void {
    const rows = this.rows.get()
    if (rows.length === 0) return
    const ordered = this.cmp !== undefined && rows.length > 1 ? [...rows].sort(this.cmp) : rows
    for (const row of ordered) out.emitRecord({ value: row, key: timer.key, time: timer.time, tag: '' })
    this.rows.clear()
  }
}

/**
 * `LIMIT n OFFSET m` on an append-only stream, in one task: skips the first `m` rows, emits the
 * next `n` (every later row without LIMIT) and drops the rest. The count of rows seen is keyed
 * state under a single key, so a restored job goes on counting where its checkpoint left off and
 * emits no row twice.
 */
class LimitOperator implements Processor<SqlRow, SqlRow> {
  private seen!: ValueState<number>

  /** `end`: the number of rows after which nothing is emitted (offset + limit), or Infinity. */
  constructor(
    private readonly offset: number,
    private readonly end: number,
  ) {}

  open(ctx: ProcessorContext): void {
    this.seen = ctx.state.value<number>('seen')
  }

  process(r: Record<SqlRow>, out: Collector<SqlRow>): void {
    const before = this.seen.get() ?? 0
    if (before >= this.end) return
    this.seen.set(before + 1)
    if (before >= this.offset) out.emit(r.value)
  }
}

function planLimit(ctx: PlanContext, rel: Rel, q: QueryExpr, ordered: boolean): Rel {
  const offset = q.offset ?? 0
  const end = q.limit === undefined ? Number.POSITIVE_INFINITY : offset + q.limit
  const exchange: Exchange = {
    type: 'key',
    key: (() => 0) as unknown as (value: never, record: never) => Key,
  }
  const name = ctx.name('limit')
  ctx.topology.addProcessor(
    name,
    () => new LimitOperator(offset, end) as unknown as Processor<unknown, unknown>,
    [{ from: rel.node, exchange }],
    { keyed: true, parallelism: 1 },
  )
  const which = `${q.limit === undefined ? 'every row' : `the first ${q.limit} row(s)`}${offset > 0 ? ` after the first ${offset}` : ''}`
  ctx.lines.push({
    node: name,
    operator: 'Limit',
    detail: `${clauseText({ ...q, orderBy: [] })}: ${which} in ${ordered ? 'event-time order' : 'arrival order'}; later rows are dropped`,
    state: 'the number of rows seen, one counter',
    updating: false,
  })
  return { ...rel, node: name }
}

function clauseText(q: QueryExpr): string {
  const parts: string[] = []
  if (q.orderBy.length > 0) parts.push(`ORDER BY ${q.orderBy.map(formatOrder).join(', ')}`)
  if (q.limit !== undefined) parts.push(`LIMIT ${q.limit}`)
  if (q.offset !== undefined) parts.push(`OFFSET ${q.offset}`)
  return parts.join(' ')
}

/** The ORDER BY item as a column of `rel` when it is one, without failing on an unknown name. */
function orderColumn(e: Expr, rel: Rel) {
  try {
    return columnOf(e, rel.schema)
  } catch {
    return undefined
  }
}

/**
 * Plans the `ORDER BY` / `LIMIT` / `OFFSET` of a query over its planned body `rel`. Nothing to do
 * without them. `ORDER BY` whose first item is the time attribute of an append-only `rel`,
 * ascending, becomes a temporal sort (one task; state: the rows the watermark has not passed,
 * keyed by their time). `LIMIT` / `FETCH FIRST` and `OFFSET` on an append-only `rel` keep the first
 * rows of that order, or of arrival without ORDER BY (one task; state: a counter), as Flink's
 * streaming LIMIT does. Throws ERR_SQL_PLAN naming the clause and the way out for an ORDER BY that
 * does not start with the time attribute ascending, or an updating `rel`.
 */
export function planOrderBy(ctx: PlanContext, rel: Rel, q: QueryExpr): Rel {
  if (q.orderBy.length === 0 && q.limit === undefined && q.offset === undefined) return rel
  const clause = clauseText(q)
  if (rel.updating) {
    throw planError(
      `${clause}: the result updates earlier rows (a GROUP BY without a window, a regular join of updating inputs or a continuous Top-N), and only an append-only stream can be sorted, by its time attribute, or cut by LIMIT; ${TOP_N_HINT}`,
    )
  }
  const sorted = q.orderBy.length > 0 ? planTemporalSort(ctx, rel, q, clause) : rel
  if (q.limit === undefined && q.offset === undefined) return sorted
  return planLimit(ctx, sorted, q, q.orderBy.length > 0)
}

function planTemporalSort(ctx: PlanContext, rel: Rel, q: QueryExpr, clause: string): Rel {
  const first = q.orderBy[0]!
  const col = orderColumn(first.expr, rel)
  const time = rel.schema.columns.find((c) => (c.field ?? c.name) === rel.rowtime)
  const isTime = col !== undefined && rel.rowtime !== undefined && (col.field ?? col.name) === rel.rowtime
  if (!isTime || first.desc) {
    const attr = time
      ? `its time attribute ${time.name}`
      : 'its time attribute (select the event-time column, or window_time of a window aggregate)'
    throw planError(
      `${clause}: an unbounded stream can only be sorted by ${attr} ascending, optionally followed by other columns (ORDER BY ${time?.name ?? 'ts'}, ...); ${TOP_N_HINT}`,
    )
  }
  const rest = q.orderBy.slice(1)
  const cmp =
    rest.length > 0
      ? rowComparator(
          rest,
          rest.map((o) => compileExpr(o.expr, rel.schema)),
        )
      : undefined
  const exchange: Exchange = {
    type: 'key',
    key: ((_v: SqlRow, r: Record<SqlRow>) => r.time) as unknown as (value: never, record: never) => Key,
  }
  const name = ctx.name('temporal-sort')
  ctx.topology.addProcessor(
    name,
    () => new TemporalSortOperator(cmp) as unknown as Processor<unknown, unknown>,
    [{ from: rel.node, exchange }],
    { keyed: true, parallelism: 1 },
  )
  ctx.lines.push({
    node: name,
    operator: 'TemporalSort',
    detail: `ORDER BY ${q.orderBy.map(formatOrder).join(', ')}: rows leave in event-time order as the watermark passes them; ties by ${rest.length > 0 ? `${rest.map((o) => formatExpr(o.expr)).join(', ')}, then ` : ''}arrival`,
    state: 'the rows the watermark has not passed yet, keyed by their time; late rows go to the late output',
    updating: false,
  })
  return { ...rel, node: name }
}

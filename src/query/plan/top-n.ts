// Top-N: `SELECT ... FROM (SELECT ..., ROW_NUMBER() OVER (PARTITION BY p ORDER BY o) AS rownum
// FROM t) WHERE rownum <= N` — per window (append-only, when the watermark passes the window end)
// or continuously (updating: ranks change as rows arrive or are retracted).

import type { Collector, Processor, ProcessorContext, Timer } from '../../core/processor.ts'
import type { Key, Record } from '../../core/record.ts'
import type { ValueState } from '../../core/state.ts'
import type { Exchange } from '../../core/topology.ts'
import type { Call, Expr, OrderItem, Select, SelectItem } from '../ast.ts'
import { type Change, isAdd } from '../changelog.ts'
import { compileExpr, type RowEvaluator, type SqlRow } from '../compile-expr.ts'
import { formatExpr } from '../format-expr.ts'
import type { RowSchema } from '../row-schema.ts'
import { SqlTypes } from '../types.ts'
import {
  type PlanContext,
  type Rel,
  andOf,
  conjuncts,
  inlineWindows,
  keyFunction,
  planError,
  ref,
} from './relation.ts'

/** A Top-N query recognised in a SELECT: the inner select, its ROW_NUMBER item and N. */
export interface TopNShape {
  readonly inner: Select
  readonly rank: SelectItem & { readonly expr: Call }
  readonly n: number
  /** The outer WHERE without the rank condition. */
  readonly where: Expr[]
}

function isRowNumber(e: Expr): e is Call {
  return e.kind === 'call' && e.name === 'ROW_NUMBER' && e.over !== undefined
}

/** Recognises the Top-N shape; undefined when `sel` is not one. */
export function topNShape(sel: Select): TopNShape | undefined {
  const from = sel.from
  if (from?.kind !== 'subquery' || from.query.body.kind !== 'select') return undefined
  const inner = inlineWindows(from.query.body)
  const rank = inner.items.find((it) => isRowNumber(it.expr)) as (SelectItem & { expr: Call }) | undefined
  if (rank === undefined) return undefined
  const name = (rank.alias ?? '').toLowerCase()
  const where = conjuncts(sel.where)
  let n: number | undefined
  const rest: Expr[] = []
  for (const c of where) {
    if (
      c.kind === 'binary' &&
      c.left.kind === 'column' &&
      c.left.name.toLowerCase() === name &&
      c.right.kind === 'literal' &&
      typeof c.right.value === 'number'
    ) {
      const v = c.right.value
      if (c.op === '<=') n = v
      else if (c.op === '<') n = v - 1
      else if (c.op === '=' && v === 1) n = 1
      else rest.push(c)
    } else rest.push(c)
  }
  if (n === undefined) {
    throw planError(
      `ROW_NUMBER() AS ${rank.alias ?? '?'} needs an outer WHERE ${rank.alias ?? 'rownum'} <= N: without it every row must be kept and re-ranked for ever`,
    )
  }
  return { inner, rank, n, where: rest }
}

interface Ranked {
  row: SqlRow
  t: number
}

type TopState = { rows: Ranked[]; top: SqlRow[] }

function comparator(
  order: readonly OrderItem[],
  fns: readonly RowEvaluator[],
): (a: SqlRow, b: SqlRow) => number {
  return (a, b) => {
    for (let i = 0; i < fns.length; i++) {
      const x = fns[i]!(a) as number
      const y = fns[i]!(b) as number
      if (x === y) continue
      if (x === null) return 1
      if (y === null) return -1
      const c = x < y ? -1 : 1
      return order[i]!.desc ? -c : c
    }
    return 0
  }
}

class TopNOperator implements Processor<unknown, unknown> {
  private state!: ValueState<TopState>
  private ctx!: ProcessorContext

  constructor(
    private readonly n: number,
    private readonly rankField: string,
    private readonly cmp: (a: SqlRow, b: SqlRow) => number,
    private readonly windowEnd: string | undefined,
    private readonly updatingIn: boolean,
    private readonly updatingOut: boolean,
  ) {}

  open(ctx: ProcessorContext): void {
    this.ctx = ctx
    this.state = ctx.state.value<TopState>('topn')
  }

  process(r: Record<unknown>, out: Collector<unknown>): void {
    let row: SqlRow
    let add = true
    if (this.updatingIn) {
      const c = r.value as Change
      row = c.row
      add = isAdd(c.op)
    } else row = r.value as SqlRow
    const s = this.state.get() ?? { rows: [], top: [] }
    if (add) {
      s.rows.push({ row, t: r.time })
      if (this.windowEnd !== undefined)
        this.ctx.timers.registerEventTimer((row[this.windowEnd] as number) - 1)
    } else {
      const text = JSON.stringify(row)
      const i = s.rows.findIndex((e) => JSON.stringify(e.row) === text)
      if (i >= 0) s.rows.splice(i, 1)
    }
    if (this.windowEnd === undefined) this.rerank(s, out)
    if (s.rows.length === 0 && s.top.length === 0) this.state.clear()
    else this.state.set(s)
  }

  /** Continuous Top-N: sorts, keeps what can still rank (all rows when they may be retracted), diffs ranks. */
  private rerank(s: TopState, out: Collector<unknown>): void {
    const cmp = this.cmp
    s.rows.sort((a, b) => cmp(a.row, b.row))
    if (!this.updatingIn && s.rows.length > this.n) s.rows.length = this.n
    const next: SqlRow[] = []
    for (let i = 0; i < Math.min(this.n, s.rows.length); i++)
      next.push({ ...s.rows[i]!.row, [this.rankField]: i + 1 })
    const old = s.top
    const len = Math.max(old.length, next.length)
    for (let i = 0; i < len; i++) {
      const a = old[i]
      const b = next[i]
      if (a !== undefined && b !== undefined) {
        if (JSON.stringify(a) === JSON.stringify(b)) continue
        this.emit(out, '-U', a)
        this.emit(out, '+U', b)
      } else if (b !== undefined) this.emit(out, '+I', b)
      else if (a !== undefined) this.emit(out, '-D', a)
    }
    s.top = next
  }

  private emit(out: Collector<unknown>, op: Change['op'], row: SqlRow): void {
    out.emit(this.updatingOut ? { op, row } : row)
  }

  /** Window Top-N: the window's rows are ranked and emitted once, then forgotten. */
  onTimer(timer: Timer, out: Collector<unknown>): void {
    const s = this.state.get()
    if (s === undefined) return
    const end = this.windowEnd!
    const due = s.rows.filter((e) => (e.row[end] as number) - 1 <= timer.time)
    const later = s.rows.filter((e) => (e.row[end] as number) - 1 > timer.time)
    due.sort((a, b) => this.cmp(a.row, b.row))
    for (let i = 0; i < Math.min(this.n, due.length); i++) {
      out.emitRecord({
        value: { ...due[i]!.row, [this.rankField]: i + 1 },
        key: timer.key,
        time: timer.time,
        tag: '',
      })
    }
    if (later.length === 0) this.state.clear()
    else this.state.set({ rows: later, top: [] })
  }
}

/**
 * Plans a Top-N shape. `planInner` plans a SELECT (the inner one, with the rank item replaced by
 * the PARTITION BY and ORDER BY expressions as hidden `$` columns); `finish` plans the outer
 * SELECT's WHERE and projection over the ranked rows.
 */
export function planTopN(ctx: PlanContext, shape: TopNShape, planInner: (sel: Select) => Rel): Rel {
  const over = shape.rank.expr.over
  if (over === undefined || typeof over === 'string')
    throw planError(`ROW_NUMBER() OVER names the window ${String(over)}, which the query does not define`)
  if (over.orderBy.length === 0) throw planError('ROW_NUMBER() OVER (...) needs ORDER BY to rank rows')
  const hidden: SelectItem[] = [
    ...over.partitionBy.map((e, i) => ({ expr: e, alias: `$p${i}` })),
    ...over.orderBy.map((o, i) => ({ expr: o.expr, alias: `$o${i}` })),
  ]
  const items = shape.inner.items.filter((it) => it !== shape.rank)
  const rel = planInner({ ...shape.inner, items: [...items, ...hidden] })
  const schema = rel.schema
  const part = over.partitionBy.map((_, i) => compileExpr(ref(`$p${i}`, 0), schema))
  const ord = over.orderBy.map((_, i) => compileExpr(ref(`$o${i}`, 0), schema))
  const cmp = comparator(over.orderBy, ord)
  const endName = (rel.windowEnd ?? 'window_end').toLowerCase()
  const endIdx = over.partitionBy.findIndex((e) => e.kind === 'column' && e.name.toLowerCase() === endName)
  const windowed = !rel.updating && endIdx >= 0
  const rankField = shape.rank.alias ?? 'rownum'
  const orderText = over.orderBy.map((o) => `${formatExpr(o.expr)}${o.desc ? ' DESC' : ''}`).join(', ')
  const keepFirst =
    !rel.updating &&
    shape.n === 1 &&
    !over.orderBy[0]!.desc &&
    rel.rowtime !== undefined &&
    over.orderBy[0]!.expr.kind === 'column' &&
    ord.length === 1
  const updatingOut = !windowed && !keepFirst
  const keyOf = keyFunction(part)
  const key = rel.updating ? (v: Change) => keyOf(v.row) : (v: SqlRow) => keyOf(v)
  const exchange: Exchange = { type: 'key', key: key as unknown as (value: never, record: never) => Key }
  const name = ctx.name(windowed ? 'window-top-n' : 'top-n')
  const n = shape.n
  ctx.topology.addProcessor(
    name,
    () =>
      new TopNOperator(
        n,
        rankField,
        cmp,
        windowed ? `$p${endIdx}` : undefined,
        rel.updating,
        updatingOut,
      ) as Processor<unknown, unknown>,
    [{ from: rel.node, exchange }],
    { keyed: true },
  )
  ctx.lines.push({
    node: name,
    operator: windowed ? 'WindowTopN' : 'TopN',
    detail: `top ${n} by ${orderText} per [${over.partitionBy.map(formatExpr).join(', ') || 'all rows'}]`,
    state: windowed
      ? 'the rows of each window until the watermark passes its end'
      : rel.updating
        ? 'every row of each partition (the input retracts rows)'
        : `the best ${n} rows of each partition`,
    updating: updatingOut,
  })
  const partition = over.partitionBy.map((e) => partitionColumn(e, items, schema))
  const unique = partition.every((f) => f !== undefined) ? [...partition, rankField] : undefined
  return {
    node: name,
    schema: {
      name: schema.name,
      columns: [...schema.columns, { name: rankField, type: SqlTypes.BIGINT, field: rankField }],
    },
    updating: updatingOut,
    ...(windowed || keepFirst ? (rel.rowtime ? { rowtime: rel.rowtime } : {}) : {}),
    ...(unique !== undefined ? { key: unique } : {}),
  }
}

/**
 * The field of the inner SELECT's column that holds partition expression `e` — the same expression
 * as one of its items, or, for `SELECT *`, the column `e` names — so that the partition columns and
 * the rank form the unique key of the ranked rows (as Flink's rank operator has it). Undefined when
 * no column plainly holds it; the result then has no key.
 */
function partitionColumn(e: Expr, items: readonly SelectItem[], schema: RowSchema): string | undefined {
  const visible = schema.columns.filter((c) => !c.name.startsWith('$'))
  if (!items.some((it) => it.expr.kind === 'star')) {
    const text = formatExpr(e)
    const i = items.findIndex((it) => formatExpr(it.expr) === text)
    const c = i >= 0 ? visible[i] : undefined
    return c === undefined ? undefined : (c.field ?? c.name)
  }
  const star = items.length === 1 ? items[0]!.expr : undefined
  if (
    star?.kind !== 'star' ||
    star.qualifier !== undefined ||
    e.kind !== 'column' ||
    e.qualifier !== undefined
  )
    return undefined
  const c = visible.find((x) => x.name.toLowerCase() === e.name.toLowerCase())
  return c === undefined ? undefined : (c.field ?? c.name)
}

/** The outer WHERE of a Top-N without its rank condition, as one expression. */
export function outerWhere(shape: TopNShape): Expr | undefined {
  return andOf(shape.where)
}

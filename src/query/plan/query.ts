// Planning of query bodies: WITH, SELECT (FROM, WHERE, GROUP BY, HAVING, DISTINCT, projection),
// UNION ALL, and ORDER BY where a stream allows it (sort.ts).

import type { Processor } from '../../core/processor.ts'
import type { Expr, FromItem, Query, QueryBody, Select, SelectItem, WindowTvf } from '../ast.ts'
import { compileExpr, compilePredicate } from '../compile-expr.ts'
import { formatExpr } from '../format-expr.ts'
import { closestName } from '../sql-error.ts'
import { SqlTypes } from '../types.ts'
import { analyseAggregation, overAggregated, selectAggregates } from './aggregation.ts'
import { planGroupAggregate } from './group-aggregate.ts'
import { planJoin } from './join.ts'
import { planMatchRecognize } from './match-recognize.ts'
import { overCalls, planOverAggregate } from './over-aggregate.ts'
import { type Projected, planFilter, planProject, uniqueNames } from './project.ts'
import {
  type PlanContext,
  type Rel,
  andOf,
  conjuncts,
  inlineWindows,
  planError,
  ref,
  resolvesIn,
  unbounded,
  withAlias,
} from './relation.ts'
import { planOrderBy } from './sort.ts'
import { planTopN, topNShape } from './top-n.ts'
import { groupsByWindow, planWindowAggregate, planWindowGroupAggregate } from './window-aggregate.ts'
import { planWindowAssign } from './window-tvf.ts'

/** A view or WITH entry: its query, planned once where it is first read. */
export interface ViewDef {
  readonly query: Query
  readonly columns?: readonly string[]
  planned?: Rel
}

/** Names a query can read: views (and WITH entries) first, then the catalog's tables. */
export interface QueryScope {
  readonly views: Map<string, ViewDef>
  table(name: string): Rel | undefined
  tableNames(): string[]
}

/** A FROM item planned: its relation, and the window TVF it applies when not yet materialised. */
interface FromResult {
  rel: Rel
  tvf?: WindowTvf
}

/**
 * Plans a complete query (WITH, body, then ORDER BY as a temporal sort and LIMIT / OFFSET as a
 * counter: see planOrderBy). `final` formats TIMESTAMP results as text.
 */
export function planQueryExpr(ctx: PlanContext, scope: QueryScope, q: Query, final: boolean): Rel {
  let inner = scope
  if (q.with.length > 0) {
    const views = new Map(scope.views)
    for (const c of q.with)
      views.set(c.name, { query: c.query, ...(c.columns ? { columns: c.columns } : {}) })
    inner = { ...scope, views }
  }
  return planOrderBy(ctx, planBody(ctx, inner, q.body, final), q)
}

function planBody(ctx: PlanContext, scope: QueryScope, body: QueryBody, final: boolean): Rel {
  switch (body.kind) {
    case 'select':
      return planSelect(ctx, scope, body, final)
    case 'query':
      return planQueryExpr(ctx, scope, body, final)
    case 'union': {
      if (!body.all)
        throw planError(
          'UNION without ALL needs to remember every row for ever; write UNION ALL (or SELECT DISTINCT over it)',
        )
      return planUnion(ctx, planBody(ctx, scope, body.left, final), planBody(ctx, scope, body.right, final))
    }
    default:
      throw planError(
        `${body.kind.toUpperCase()} is not supported on streams; use UNION ALL, or a join with a condition`,
      )
  }
}

function planUnion(ctx: PlanContext, left: Rel, right: Rel): Rel {
  const lc = left.schema.columns
  const rc = right.schema.columns
  if (lc.length !== rc.length) {
    throw planError(
      `UNION ALL: the left side has ${lc.length} columns (${lc.map((c) => c.name).join(', ')}), the right side ${rc.length} (${rc.map((c) => c.name).join(', ')})`,
    )
  }
  const lf = lc.map((c) => c.field ?? c.name)
  const rf = rc.map((c) => c.field ?? c.name)
  const same = lf.every((f, i) => f === rf[i])
  let rightNode = right.node
  if (!same) {
    const name = ctx.name('rename')
    const factory = right.updating
      ? (): Processor<{ op: string; row: { [c: string]: unknown } }, unknown> => ({
          process: (r, out) => out.emit({ op: r.value.op, row: renameRow(r.value.row, rf, lf) }),
        })
      : (): Processor<{ [c: string]: unknown }, unknown> => ({
          process: (r, out) => out.emit(renameRow(r.value, rf, lf)),
        })
    ctx.topology.addProcessor(name, factory as () => Processor<unknown, unknown>, [{ from: right.node }])
    rightNode = name
  }
  const updating = left.updating || right.updating
  if (updating && !(left.updating && right.updating)) {
    throw planError(
      'UNION ALL of an updating and an append-only input: project both to the same kind (aggregate or window both sides)',
    )
  }
  const name = ctx.name('union')
  ctx.topology.addProcessor(name, () => ({ process: (r, out) => out.emitRecord(r) }), [
    { from: left.node },
    { from: rightNode },
  ])
  ctx.lines.push({ node: name, operator: 'Union', detail: 'UNION ALL', updating })
  const rowtime =
    left.rowtime !== undefined &&
    right.rowtime !== undefined &&
    lf.indexOf(left.rowtime) === rf.indexOf(right.rowtime)
      ? left.rowtime
      : undefined
  return { node: name, schema: left.schema, updating, ...(rowtime ? { rowtime } : {}) }
}

function renameRow(
  row: { [c: string]: unknown },
  from: readonly string[],
  to: readonly string[],
): { [c: string]: unknown } {
  const o: { [c: string]: unknown } = {}
  for (let i = 0; i < from.length; i++) o[to[i]!] = row[from[i]!]
  return o
}

/** Plans one FROM item; WHERE conjuncts a comma join needs are passed in and may be consumed. */
function planFrom(ctx: PlanContext, scope: QueryScope, item: FromItem, where: Expr[]): FromResult {
  switch (item.kind) {
    case 'table': {
      const name = item.name[item.name.length - 1]!
      let rel: Rel | undefined
      const view = scope.views.get(name)
      if (view !== undefined) {
        view.planned ??= planQueryExpr(ctx, scope, view.query, false)
        rel = view.planned
        if (view.columns) rel = { ...rel, schema: withAlias(rel.schema, name, view.columns) }
      } else rel = scope.table(name)
      if (rel === undefined) {
        const known = [...scope.views.keys(), ...scope.tableNames()]
        const guess = closestName(name, known)
        throw planError(
          `unknown table "${name}"${guess ? `; did you mean "${guess}"?` : known.length ? `; tables are ${known.join(', ')}` : ''}`,
        )
      }
      const alias = item.alias ?? name
      return { rel: { ...rel, schema: withAlias(rel.schema, alias, item.columnAliases) } }
    }
    case 'subquery': {
      const rel = planQueryExpr(ctx, scope, item.query, false)
      return { rel: { ...rel, schema: withAlias(rel.schema, item.alias ?? '$subquery', item.columnAliases) } }
    }
    case 'windowTvf': {
      const input = planFrom(ctx, scope, item.input, [])
      if (input.tvf) throw planError(`${item.fn} over another window TVF: aggregate the inner one first`)
      const rel = input.rel
      const time = rel.schema.columns.find((c) => c.name.toLowerCase() === item.timeColumn.toLowerCase())
      if (time === undefined) {
        throw planError(
          `${item.fn}: DESCRIPTOR(${item.timeColumn}) is not a column of ${rel.schema.name} (${rel.schema.columns.map((c) => c.name).join(', ')})`,
        )
      }
      if (rel.rowtime === undefined || (time.field ?? time.name) !== rel.rowtime) {
        const attribute = rel.schema.columns.find((c) => (c.field ?? c.name) === rel.rowtime)?.name
        throw planError(
          attribute !== undefined
            ? `${item.fn}: column "${item.timeColumn}" is not a time attribute; the time attribute of ${rel.schema.name} is "${attribute}": use DESCRIPTOR(${attribute})`
            : `${item.fn}: column "${item.timeColumn}" is not a time attribute: window TVFs need the table's event-time column (give the table eventTime, or --event-time ${rel.schema.name}=${item.timeColumn}; a running job's table has the column "time" when its source has a watermark strategy)`,
        )
      }
      const table = item.alias ?? rel.schema.name
      const extra = ['window_start', 'window_end', 'window_time'].map((n) => ({
        name: n,
        type: SqlTypes.TIMESTAMP3,
        table,
        field: n,
      }))
      const schema = { name: table, columns: [...rel.schema.columns.map((c) => ({ ...c, table })), ...extra] }
      return { rel: { ...rel, schema }, tvf: item }
    }
    case 'join': {
      const left = materialise(ctx, planFrom(ctx, scope, item.left, []))
      const right = materialise(ctx, planFrom(ctx, scope, item.right, []))
      let conditions = conjuncts(item.on)
      if (item.type === 'comma' || item.type === 'cross') {
        const both = { name: '$join', columns: [...left.schema.columns, ...right.schema.columns] }
        const mine = where.filter((w) => resolvesIn(w, both))
        for (const w of mine) where.splice(where.indexOf(w), 1)
        conditions = mine
      }
      const temporal = item.right.kind === 'table' && item.right.forSystemTime !== undefined
      return { rel: planJoin(ctx, left, right, item.type, conditions, item.using, temporal) }
    }
    case 'matchRecognize': {
      const input = materialise(ctx, planFrom(ctx, scope, item.input, []))
      return { rel: planMatchRecognize(ctx, input, item) }
    }
  }
}

function materialise(ctx: PlanContext, f: FromResult): Rel {
  return f.tvf ? planWindowAssign(ctx, f.rel, f.tvf) : f.rel
}

function itemName(it: SelectItem, i: number): string {
  if (it.alias !== undefined) return it.alias
  if (it.expr.kind === 'column') return it.expr.name
  if (it.expr.kind === 'field') return it.expr.field
  return `EXPR$${i}`
}

/** The SELECT list with `*` and `t.*` expanded into column references. */
function expandItems(items: readonly SelectItem[], rel: Rel): SelectItem[] {
  const out: SelectItem[] = []
  for (const it of items) {
    if (it.expr.kind !== 'star') {
      out.push(it)
      continue
    }
    const q = it.expr.qualifier
    const cols = rel.schema.columns.filter(
      (c) => !c.name.startsWith('$') && (q === undefined || c.table?.toLowerCase() === q.toLowerCase()),
    )
    if (cols.length === 0) throw planError(`${q}.* names no table in FROM`)
    for (const c of cols) out.push({ expr: ref(c.name, it.expr.at, c.table), alias: c.name })
  }
  return out
}

function planSelect(ctx: PlanContext, scope: QueryScope, named: Select, final: boolean): Rel {
  const sel = inlineWindows(named)
  if (sel.from === undefined) throw planError('SELECT without FROM has no stream to read; name a table')
  const shape = topNShape(sel)
  if (shape !== undefined) {
    if (selectAggregates(sel))
      throw planError('aggregate over a Top-N subquery directly: wrap the Top-N in a view or subquery first')
    let rel = planTopN(ctx, shape, (inner) => planSelect(ctx, scope, inner, false))
    const alias = sel.from.kind === 'subquery' ? sel.from.alias : undefined
    if (alias !== undefined) rel = { ...rel, schema: withAlias(rel.schema, alias) }
    const cond = andOf(shape.where)
    if (cond !== undefined) rel = planFilter(ctx, rel, cond)
    let items = expandItems(sel.items, rel)
    const oc = overCalls(sel)
    if (oc.length > 0) {
      const o = planOverAggregate(ctx, rel, oc)
      rel = o.rel
      items = items.map((it) => ({ ...it, expr: o.over(it.expr) }))
    }
    const names = uniqueNames(items.map(itemName))
    return planProject(
      ctx,
      rel,
      items.map((it, i) => ({ expr: it.expr, name: names[i]! })),
      { formatTimes: final },
    )
  }
  const where = conjuncts(sel.where)
  const from = planFrom(ctx, scope, sel.from, where)
  let rel = from.rel
  const aggregates = selectAggregates(sel)
  if (!aggregates && from.tvf) rel = planWindowAssign(ctx, rel, from.tvf)
  const cond = andOf(where)
  if (cond !== undefined) rel = planFilter(ctx, rel, cond)
  let items = expandItems(sel.items, rel)
  const names = uniqueNames(items.map(itemName))
  const oc = overCalls(sel)
  if (oc.length > 0) {
    if (aggregates) throw planError('OVER aggregates and GROUP BY in one SELECT: group in a subquery first')
    const o = planOverAggregate(ctx, rel, oc)
    rel = o.rel
    items = items.map((it) => ({ ...it, expr: o.over(it.expr) }))
  }
  if (aggregates) {
    const grouped = sel.groupBy.map((g) => formatExpr(g).toLowerCase())
    const windowed = from.tvf !== undefined
    if (
      windowed &&
      !(grouped.some((g) => g.endsWith('window_start')) && grouped.some((g) => g.endsWith('window_end')))
    ) {
      throw planError(
        `an aggregation over ${from.tvf!.fn}(...) must GROUP BY window_start, window_end (and its other keys)`,
      )
    }
    const agg = analyseAggregation(sel, rel, rel.updating)
    const projected: Projected[] = items.map((it, i) => ({ expr: agg.over(it.expr), name: names[i]! }))
    const having = sel.having ? agg.over(sel.having) : undefined
    for (const p of projected) overAggregated(p.expr, { ...agg, over: (e) => e }, compileExpr)
    if (having) overAggregated(having, { ...agg, over: (e) => e }, compilePredicate)
    if (windowed) rel = planWindowAggregate(ctx, rel, from.tvf!, agg)
    else if (groupsByWindow(rel, agg)) rel = planWindowGroupAggregate(ctx, rel, agg)
    else {
      unbounded(
        ctx,
        `GROUP BY ${sel.groupBy.map(formatExpr).join(', ') || '(global)'} keeps one accumulator per group for ever; its state grows with the number of distinct keys (use a window TVF to bound it)`,
      )
      rel = planGroupAggregate(ctx, rel, agg)
    }
    if (having) rel = planFilter(ctx, rel, having, 'HAVING')
    rel = planProject(ctx, rel, projected, {
      formatTimes: final && !sel.distinct,
      detail: items.map((it, i) => `${formatExpr(it.expr)} AS ${names[i]}`).join(', '),
    })
  } else {
    if (sel.having) throw planError('HAVING without GROUP BY or aggregates: use WHERE')
    rel = planProject(
      ctx,
      rel,
      items.map((it, i) => ({ expr: it.expr, name: names[i]! })),
      { formatTimes: final && !sel.distinct },
    )
  }
  if (sel.distinct) rel = planDistinct(ctx, rel, final)
  return rel
}

/** SELECT DISTINCT: an updating GROUP BY over every column, without aggregates. */
function planDistinct(ctx: PlanContext, rel: Rel, final: boolean): Rel {
  const cols = rel.schema.columns
  const groupBy = cols.map((c) => ref(c.name, 0))
  const sel: Select = { kind: 'select', at: 0, distinct: false, items: [], groupBy, windows: [] }
  const agg = analyseAggregation(sel, rel, rel.updating)
  unbounded(ctx, 'SELECT DISTINCT remembers every distinct row for ever')
  const grouped = planGroupAggregate(ctx, rel, agg)
  return planProject(
    ctx,
    grouped,
    cols.map((c) => ({ expr: ref(c.name, 0), name: c.name })),
    { formatTimes: final },
  )
}

// Stateless plan steps: WHERE/HAVING filters and SELECT projections, on append-only rows or on the
// changes of an updating relation (each change's row is filtered or projected, its op kept).

import type { Processor } from '../../core/processor.ts'
import type { Expr } from '../ast.ts'
import type { Change } from '../changelog.ts'
import {
  codeOfEvaluator,
  compileFilterStep,
  compilePredicate,
  compileTyped,
  type RowEvaluator,
  type SqlRow,
} from '../compile-expr.ts'
import { ExprCode } from '../expr-code.ts'
import { formatExpr } from '../format-expr.ts'
import type { Column } from '../row-schema.ts'
import { formatDate, formatTimeOfDay, formatTimestamp } from '../sql-time.ts'
import { isTemporal, isTimestamp, type SqlType } from '../types.ts'
import { columnOf, type PlanContext, type Rel } from './relation.ts'

/** Adds a filter node keeping the rows (or changes) for which `condition` is TRUE. */
export function planFilter(ctx: PlanContext, rel: Rel, condition: Expr, what = 'WHERE'): Rel {
  const test = compilePredicate(condition, rel.schema)
  const name = ctx.name('filter')
  const factory = rel.updating
    ? (): Processor<Change, Change> => ({
        process: (r, out) => {
          if (test(r.value.row)) out.emitRecord(r)
        },
      })
    : (): Processor<SqlRow, SqlRow> => ({
        process: (r, out) => {
          if (test(r.value)) out.emitRecord(r)
        },
      })
  const calc = rel.updating ? undefined : compileFilterStep(condition, rel.schema)
  ctx.topology.addProcessor(name, factory as () => Processor<unknown, unknown>, [{ from: rel.node }], {
    ...(calc !== undefined ? { calc } : {}),
  })
  ctx.lines.push({
    node: name,
    operator: 'Filter',
    detail: `${what} ${formatExpr(condition)}`,
    updating: rel.updating,
  })
  return { ...rel, node: name }
}

/** One output column of a projection: its expression and its (unique) name. */
export interface Projected {
  readonly expr: Expr
  readonly name: string
}

/** Makes output names unique the way Flink does: a repeated `id` becomes `id0`, `id1`, ... */
export function uniqueNames(names: readonly string[]): string[] {
  const seen = new Set<string>()
  return names.map((n) => {
    let name = n
    for (let i = 0; seen.has(name.toLowerCase()); i++) name = `${n}${i}`
    seen.add(name.toLowerCase())
    return name
  })
}

/**
 * Adds a projection node computing `items` from each row. The output keeps the time attribute
 * when it is projected as a plain column. With `formatTimes`, TIMESTAMP columns leave as text
 * (`2020-04-15 08:05:00.000`, UTC), DATE as `2020-04-15` and TIME as `08:05:00`, instead of
 * milliseconds: for a query's final output.
 */
export function planProject(
  ctx: PlanContext,
  rel: Rel,
  items: readonly Projected[],
  options: { formatTimes?: boolean; detail?: string } = {},
): Rel {
  const names = items.map((i) => i.name)
  const fns: RowEvaluator[] = []
  const columns: Column[] = []
  let rowtime: string | undefined
  let windowStart: string | undefined
  let windowEnd: string | undefined
  const renamed = new Map<string, string>()
  for (let i = 0; i < items.length; i++) {
    const it = items[i]!
    const typed = compileTyped(it.expr, rel.schema)
    const type: SqlType = typed.type
    let fn = typed.evaluate
    if (options.formatTimes && isTemporal(type)) {
      const inner = fn
      const format = isTimestamp(type) ? formatTimestamp : type.kind === 'DATE' ? formatDate : formatTimeOfDay
      fn = (row) => {
        const v = inner(row)
        return typeof v === 'number' ? format(v) : v
      }
    }
    fns.push(fn)
    columns.push({ name: it.name, type, field: it.name })
    const col = columnOf(it.expr, rel.schema)
    if (col !== undefined && !renamed.has(col.field ?? col.name)) renamed.set(col.field ?? col.name, it.name)
    if (col !== undefined && (col.field ?? col.name) === rel.windowStart) windowStart ??= it.name
    if (col !== undefined && (col.field ?? col.name) === rel.windowEnd) windowEnd ??= it.name
    if (
      rowtime === undefined &&
      rel.rowtime !== undefined &&
      col !== undefined &&
      (col.field ?? col.name) === rel.rowtime
    ) {
      rowtime = it.name
    }
  }
  const build = rowBuilder(names, fns)
  const name = ctx.name('project')
  const factory = rel.updating
    ? (): Processor<Change, Change> => ({
        process: (r, out) => out.emit({ op: r.value.op, row: build(r.value.row) }),
      })
    : (): Processor<SqlRow, SqlRow> => ({ process: (r, out) => out.emit(build(r.value)) })
  ctx.topology.addProcessor(name, factory as () => Processor<unknown, unknown>, [{ from: rel.node }], {
    ...(rel.updating ? {} : { calc: build as (v: unknown) => unknown }),
  })
  ctx.lines.push({
    node: name,
    operator: 'Project',
    detail: options.detail ?? items.map((i) => `${formatExpr(i.expr)} AS ${i.name}`).join(', '),
    updating: rel.updating,
  })
  const key = rel.key?.every((k) => renamed.has(k)) ? rel.key.map((k) => renamed.get(k)!) : undefined
  return {
    node: name,
    schema: { name: rel.schema.name, columns },
    updating: rel.updating,
    ...(rowtime !== undefined ? { rowtime } : {}),
    ...(windowStart !== undefined && windowEnd !== undefined && !rel.updating
      ? { windowStart, windowEnd }
      : {}),
    ...(key !== undefined ? { key } : {}),
  }
}

/**
 * A function building `{ [names[i]]: fns[i](row) }` as one object literal, so every output row
 * shares one hidden class and is created in a single allocation (the per-row hot path). Columns
 * whose evaluator has code (field reads, generated expressions: `codeOfEvaluator`) are computed in
 * the generated function itself, without a call.
 */
export function rowBuilder(names: readonly string[], fns: readonly RowEvaluator[]): (row: SqlRow) => SqlRow {
  const c = new ExprCode()
  const fields = names.map((n, i) => {
    const fn = fns[i]!
    const code = codeOfEvaluator(fn)
    return `${JSON.stringify(n)}: ${code === undefined ? `${c.outside(fn)}(row)` : code(c)}`
  })
  return c.build(`{ ${fields.join(', ')} }`)
}

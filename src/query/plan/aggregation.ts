// Analysis shared by grouped aggregations: which aggregate calls a SELECT makes, what it groups by,
// the columns of the aggregated rows, and the SELECT/HAVING expressions rewritten over them.

import { SquallError } from '../../core/errors.ts'
import type { Call, Expr, Select } from '../ast.ts'
import { type AggCall, aggFunction } from '../aggregates.ts'
import { compileExpr, compilePredicate, inferType, type RowEvaluator } from '../compile-expr.ts'
import { formatExpr } from '../format-expr.ts'
import { lookupFunction } from '../functions.ts'
import type { Column, RowSchema } from '../row-schema.ts'
import { isInteger, SqlTypes } from '../types.ts'
import { type Rel, columnOf, planError, ref, rewrite, walk } from './relation.ts'

/** True for a call of an aggregate function (without OVER). */
export function isAggregateCall(e: Expr): e is Call {
  if (e.kind !== 'call' || e.over !== undefined) return false
  const f = lookupFunction(e.name)
  return f !== undefined && 'kind' in f && f.kind === 'aggregate'
}

/** True when the SELECT aggregates: it has GROUP BY, or an aggregate call in its list or HAVING. */
export function selectAggregates(sel: Select): boolean {
  if (sel.groupBy.length > 0) return true
  let found = false
  const look = (e: Expr) =>
    walk(e, (x) => {
      if (isAggregateCall(x)) found = true
    })
  for (const it of sel.items) look(it.expr)
  if (sel.having) look(sel.having)
  return found
}

const WINDOW_COLUMNS = ['window_start', 'window_end', 'window_time']

/** The result of analysing a grouped SELECT. */
export interface Aggregation {
  /** Group-by expressions that are not window columns, with their fields in the aggregated row. */
  readonly keys: readonly { readonly expr: Expr; readonly field: string; readonly fn: RowEvaluator }[]
  /** Window columns grouped by (`window_start`, ...), with their fields in the aggregated row. */
  readonly windowColumns: readonly { readonly name: string; readonly field: string }[]
  readonly calls: readonly AggCall[]
  /** The aggregated rows' fields of the calls, in call order. */
  readonly callFields: readonly string[]
  readonly callText: readonly string[]
  /** The columns of the aggregated rows. */
  readonly schema: RowSchema
  /** Rewrites an expression of the SELECT over the aggregated rows. */
  over(e: Expr): Expr
}

/**
 * Analyses the grouping of `sel` over `rel`. `retracting` picks accumulators that can undo rows.
 * Throws ERR_SQL_PLAN for aggregates that cannot run, and ERR_SQL_TYPE/UNKNOWN_COLUMN from the
 * arguments.
 */
export function analyseAggregation(sel: Select, rel: Rel, retracting: boolean): Aggregation {
  const input = rel.schema
  const columns: Column[] = []
  const keys: { expr: Expr; field: string; fn: RowEvaluator }[] = []
  const windowColumns: { name: string; field: string }[] = []
  const keyText = new Map<string, string>()
  sel.groupBy.forEach((g, i) => {
    const col = columnOf(g, input)
    if (
      col !== undefined &&
      WINDOW_COLUMNS.includes(col.name.toLowerCase()) &&
      (col.field ?? col.name) === col.name
    ) {
      windowColumns.push({ name: col.name, field: col.name })
      columns.push({
        name: col.name,
        type: col.type,
        field: col.name,
        ...(col.table ? { table: col.table } : {}),
      })
      return
    }
    const field = `$k${i}`
    const fn = compileExpr(g, input)
    keys.push({ expr: g, field, fn })
    if (col !== undefined)
      columns.push({ name: col.name, type: col.type, field, ...(col.table ? { table: col.table } : {}) })
    else {
      columns.push({ name: field, type: inferType(g, input), field })
      keyText.set(formatExpr(g), field)
    }
  })
  const calls: AggCall[] = []
  const callFields: string[] = []
  const callText: string[] = []
  const byText = new Map<string, string>()
  const addCall = (c: Call): Expr => {
    const text = formatExpr(c)
    let field = byText.get(text)
    if (field === undefined) {
      field = `$a${calls.length}`
      byText.set(text, field)
      calls.push(compileCall(c, input, retracting))
      callFields.push(field)
      callText.push(text)
      columns.push({ name: field, type: inferType(c, input), field })
    }
    return ref(field, c.at)
  }
  const over = (e: Expr): Expr =>
    rewrite(e, (x) => {
      if (isAggregateCall(x)) return addCall(x)
      const k = keyText.get(formatExpr(x))
      return k === undefined ? undefined : ref(k, x.at)
    })
  const schema: RowSchema = { name: input.name, columns }
  return { keys, windowColumns, calls, callFields, callText, schema, over }
}

function compileCall(c: Call, input: RowSchema, retracting: boolean): AggCall {
  const star = c.args.length === 0 || c.args[0]!.kind === 'star'
  const arg = star ? null : compileExpr(c.args[0]!, input)
  let constant: unknown
  if (c.args.length > 1) {
    const a = c.args[1]!
    if (a.kind !== 'literal')
      throw planError(`${c.name}: argument 2 must be a constant, got ${formatExpr(a)}`)
    constant = a.value
  }
  const argType = star ? SqlTypes.BIGINT : inferType(c.args[0]!, input)
  const fn = aggFunction(c.name, {
    distinct: c.distinct,
    integer: isInteger(argType),
    ...(argType.kind === 'DECIMAL' ? { decimalScale: argType.scale } : {}),
    retracting,
    constant,
  })
  if (c.distinct && c.name !== 'COUNT')
    throw planError(`${c.name}(DISTINCT ...) is not supported; only COUNT(DISTINCT x)`)
  const filter = c.filter ? compilePredicate(c.filter, input) : null
  return { fn, arg, filter }
}

/**
 * Compiles an expression rewritten over the aggregated rows. A column that is neither grouped nor
 * aggregated turns the unknown-column error into one saying so.
 */
export function overAggregated<T>(e: Expr, agg: Aggregation, compile: (e: Expr, s: RowSchema) => T): T {
  try {
    return compile(agg.over(e), agg.schema)
  } catch (err) {
    if (err instanceof SquallError && err.code === 'ERR_SQL_UNKNOWN_COLUMN') {
      throw planError(
        `expression "${formatExpr(e)}" is neither grouped nor aggregated: add it to GROUP BY or wrap it in an aggregate such as MAX(...) (${err.message})`,
      )
    }
    throw err
  }
}

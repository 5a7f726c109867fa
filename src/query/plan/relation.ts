// What the planner knows about an intermediate result: the node producing it, its columns, whether
// it updates, its time attribute; plus the walks over expressions the plan steps share.

import { SquallError } from '../../core/errors.ts'
import type { Topology } from '../../core/topology.ts'
import type { ColumnRef, Expr, OrderItem, Select } from '../ast.ts'
import type { Column, RowSchema } from '../row-schema.ts'
import { resolveColumn } from '../row-schema.ts'

/**
 * An intermediate result of a query. Its node's output values are rows (plain objects keyed by
 * each column's `field`), or `Change`s of such rows when `updating`. `rowtime` is the field of the
 * event-time attribute: on an append-only relation with a rowtime, every record's `time` equals
 * that column's value, and watermarks hold for it.
 */
export interface Rel {
  readonly node: string
  readonly schema: RowSchema
  readonly updating: boolean
  readonly rowtime?: string
  /**
   * On an append-only relation of window results: the fields holding each row's window bounds
   * (`window_start`/`window_end`, also under other names). Rows of a window all arrive before the
   * watermark passes `window_end − 1`, so later operators can group, join and rank per window.
   */
  readonly windowStart?: string
  readonly windowEnd?: string
  /**
   * Fields that together identify a row of the relation's current result (its unique key: the
   * upsert key of an updating relation; group and window columns of window results). Absent when
   * none is known: the rows are then a multiset.
   */
  readonly key?: readonly string[]
}

/** One line of `explain()`: an operator, its keys, its state, and whether its output updates. */
export interface ExplainLine {
  readonly node: string
  readonly operator: string
  readonly detail: string
  readonly state?: string
  readonly updating: boolean
}

/** The mutable context of one planning run: the topology being built, explain lines and warnings. */
export interface PlanContext {
  readonly topology: Topology
  readonly sql: string
  readonly lines: ExplainLine[]
  readonly warnings: string[]
  readonly strict: boolean
  /** A fresh node name for an operator kind, e.g. `window-aggregate-2`. */
  name(kind: string): string
}

/** A SquallError with code ERR_SQL_PLAN. */
export function planError(message: string): SquallError {
  return new SquallError('ERR_SQL_PLAN', message)
}

/** Calls `fn` on every sub-expression of `e` (pre-order), not entering subqueries. */
export function walk(e: Expr, fn: (e: Expr) => void): void {
  fn(e)
  switch (e.kind) {
    case 'unary':
      walk(e.operand, fn)
      break
    case 'binary':
      walk(e.left, fn)
      walk(e.right, fn)
      break
    case 'is':
      walk(e.operand, fn)
      if (e.other) walk(e.other, fn)
      break
    case 'in':
      walk(e.operand, fn)
      for (const x of e.list ?? []) walk(x, fn)
      break
    case 'between':
      walk(e.operand, fn)
      walk(e.low, fn)
      walk(e.high, fn)
      break
    case 'like':
      walk(e.operand, fn)
      walk(e.pattern, fn)
      if (e.escape) walk(e.escape, fn)
      break
    case 'case':
      if (e.operand) walk(e.operand, fn)
      for (const w of e.whens) {
        walk(w.when, fn)
        walk(w.result, fn)
      }
      if (e.else) walk(e.else, fn)
      break
    case 'cast':
    case 'extract':
      walk(e.operand, fn)
      break
    case 'call':
      for (const a of e.args) walk(a, fn)
      if (e.filter) walk(e.filter, fn)
      break
    case 'index':
      walk(e.target, fn)
      walk(e.index, fn)
      break
    case 'field':
      walk(e.target, fn)
      break
    case 'constructor':
      for (const x of e.items) walk(x, fn)
      break
    case 'named':
      walk(e.value, fn)
      break
    default:
      break
  }
}

/**
 * Rebuilds `e` bottom-up, replacing any sub-expression for which `fn` returns a new expression
 * (its children are then not visited). Subqueries are left as they are.
 */
export function rewrite(e: Expr, fn: (e: Expr) => Expr | undefined): Expr {
  const r = fn(e)
  if (r !== undefined) return r
  const g = (x: Expr) => rewrite(x, fn)
  switch (e.kind) {
    case 'unary':
      return { ...e, operand: g(e.operand) }
    case 'binary':
      return { ...e, left: g(e.left), right: g(e.right) }
    case 'is':
      return { ...e, operand: g(e.operand), ...(e.other ? { other: g(e.other) } : {}) }
    case 'in':
      return { ...e, operand: g(e.operand), ...(e.list ? { list: e.list.map(g) } : {}) }
    case 'between':
      return { ...e, operand: g(e.operand), low: g(e.low), high: g(e.high) }
    case 'like':
      return {
        ...e,
        operand: g(e.operand),
        pattern: g(e.pattern),
        ...(e.escape ? { escape: g(e.escape) } : {}),
      }
    case 'case':
      return {
        ...e,
        ...(e.operand ? { operand: g(e.operand) } : {}),
        whens: e.whens.map((w) => ({ when: g(w.when), result: g(w.result) })),
        ...(e.else ? { else: g(e.else) } : {}),
      }
    case 'cast':
    case 'extract':
      return { ...e, operand: g(e.operand) }
    case 'call':
      return { ...e, args: e.args.map(g), ...(e.filter ? { filter: g(e.filter) } : {}) }
    case 'index':
      return { ...e, target: g(e.target), index: g(e.index) }
    case 'field':
      return { ...e, target: g(e.target) }
    case 'constructor':
      return { ...e, items: e.items.map(g) }
    default:
      return e
  }
}

/**
 * `sel` with every `OVER name` of its SELECT list replaced by the spec its `WINDOW name AS (...)`
 * clause gives. Throws ERR_SQL_PLAN for a name the clause does not define.
 */
export function inlineWindows(sel: Select): Select {
  if (!sel.items.some((it) => hasNamedOver(it.expr))) return sel
  const spec = (name: string) => {
    const w = sel.windows.find((n) => n.name.toLowerCase() === name.toLowerCase())
    if (w !== undefined) return w.spec
    const known = sel.windows.map((n) => n.name).join(', ')
    throw planError(
      `OVER ${name} names no window of this SELECT${known ? ` (its WINDOW clause defines ${known})` : `; define it with WINDOW ${name} AS (...)`}`,
    )
  }
  const items = sel.items.map((it) => ({
    ...it,
    expr: rewrite(it.expr, (e) =>
      e.kind === 'call' && typeof e.over === 'string' ? { ...e, over: spec(e.over) } : undefined,
    ),
  }))
  return { ...sel, items }
}

function hasNamedOver(e: Expr): boolean {
  let found = false
  walk(e, (x) => {
    if (x.kind === 'call' && typeof x.over === 'string') found = true
  })
  return found
}

/** The column references in `e`. */
export function columnRefs(e: Expr): ColumnRef[] {
  const out: ColumnRef[] = []
  walk(e, (x) => {
    if (x.kind === 'column') out.push(x)
  })
  return out
}

/** True when every column `e` names resolves in `schema`. */
export function resolvesIn(e: Expr, schema: RowSchema): boolean {
  for (const ref of columnRefs(e)) {
    try {
      resolveColumn(ref, schema)
    } catch {
      return false
    }
  }
  return true
}

/** The conjuncts of an AND tree: `a AND (b AND c)` gives `[a, b, c]`. */
export function conjuncts(e: Expr | undefined): Expr[] {
  if (e === undefined) return []
  if (e.kind === 'binary' && e.op === 'AND') return [...conjuncts(e.left), ...conjuncts(e.right)]
  return [e]
}

/** `a AND b AND ...` of the given conjuncts, or undefined for none. */
export function andOf(list: readonly Expr[]): Expr | undefined {
  if (list.length === 0) return undefined
  return list.reduce((a, b) => ({ kind: 'binary', at: a.at, op: 'AND', left: a, right: b }))
}

/** A column reference to `name` (qualified by `table` when given) at offset `at`. */
export function ref(name: string, at: number, table?: string): ColumnRef {
  return table === undefined ? { kind: 'column', at, name } : { kind: 'column', at, name, qualifier: table }
}

/** The column of `schema` a column expression names, or undefined when `e` is not a plain column. */
export function columnOf(e: Expr, schema: RowSchema): Column | undefined {
  if (e.kind !== 'column') return undefined
  const r = resolveColumn(e, schema)
  return r.path.length === 0 ? r.column : undefined
}

/** The field a column expression reads, when `e` is a column of `schema` (not a ROW field). */
export function fieldOf(e: Expr, schema: RowSchema): string | undefined {
  const c = columnOf(e, schema)
  return c === undefined ? undefined : (c.field ?? c.name)
}

/** Re-qualifies every column of a schema by `alias` (FROM (...) AS alias, table aliases). */
export function withAlias(schema: RowSchema, alias: string, names?: readonly string[]): RowSchema {
  if (names !== undefined && names.length !== schema.columns.length) {
    throw planError(
      `${alias}(${names.join(', ')}) names ${names.length} columns, but the input has ${schema.columns.length}`,
    )
  }
  return {
    name: alias,
    columns: schema.columns.map((c, i) => ({
      name: names?.[i] ?? c.name,
      type: c.type,
      table: alias,
      field: c.field ?? c.name,
    })),
  }
}

/** The field of column `name` of a relation, or undefined. */
export function fieldNamed(rel: Rel, name: string): string | undefined {
  const c = rel.schema.columns.find((x) => x.name.toLowerCase() === name.toLowerCase())
  return c === undefined ? undefined : (c.field ?? c.name)
}

/** ORDER BY items as text for messages and explain. */
export function orderText(items: readonly OrderItem[], show: (e: Expr) => string): string {
  return items.map((o) => `${show(o.expr)}${o.desc ? ' DESC' : ''}`).join(', ')
}

/**
 * A primitive key for a list of values (keyBy needs one): the value itself for one string or
 * number, otherwise a JSON text. NULL keys are kept apart from the string "null".
 */
export function keyFunction(
  fns: readonly ((row: { readonly [c: string]: unknown }) => unknown)[],
): (row: { readonly [c: string]: unknown }) => string | number | boolean {
  if (fns.length === 0) return () => 0
  if (fns.length === 1) {
    const f = fns[0]!
    return (row) => {
      const v = f(row)
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v
      return v === null ? '\u0000null' : JSON.stringify(v)
    }
  }
  return (row) => {
    const parts = new Array<unknown>(fns.length)
    for (let i = 0; i < fns.length; i++) parts[i] = fns[i]!(row)
    return JSON.stringify(parts)
  }
}

/** Warns about state that grows without bound, or refuses it (ERR_SQL_UNBOUNDED_STATE) under strict planning. */
export function unbounded(ctx: PlanContext, message: string): void {
  if (ctx.strict)
    throw new SquallError(
      'ERR_SQL_UNBOUNDED_STATE',
      `${message}; refused because the query is planned with strict: true`,
    )
  ctx.warnings.push(message)
}

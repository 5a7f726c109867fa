// MATCH_RECOGNIZE: DEFINE conditions and MEASURES compiled over a match context (the current row,
// `X.col` of the rows mapped to a variable, FIRST/LAST/PREV, aggregates per variable), run by the
// CEP operator per partition key in event-time order. ONE ROW PER MATCH, append-only.

import type { Processor } from '../../core/processor.ts'
import type { Key } from '../../core/record.ts'
import type { Exchange } from '../../core/topology.ts'
import type { Call, Expr, MatchRecognize } from '../ast.ts'
import { aggFunction } from '../aggregates.ts'
import { CepOperator } from '../cep/operator.ts'
import { type Match, Matcher, type Run, compilePattern } from '../cep/nfa.ts'
import { compileExpr, compilePredicate, inferType, type RowEvaluator, type SqlRow } from '../compile-expr.ts'
import { formatExpr } from '../format-expr.ts'
import { lookupFunction } from '../functions.ts'
import type { Column, RowSchema } from '../row-schema.ts'
import { type PlanContext, type Rel, columnOf, keyFunction, planError, ref, rewrite } from './relation.ts'

/** What a context row is built from: the rows matched so far, their variables, the current row. */
interface Frame {
  /** Rows of the partition right before the match's first row, oldest first (for PREV). */
  before: readonly SqlRow[]
  rows: readonly SqlRow[]
  vars: readonly string[]
  times: readonly number[]
  current: SqlRow
  /** The variable the current row is tested for (DEFINE), or undefined (MEASURES). */
  variable: string | undefined
  matchNumber: number
}

type Nav = (f: Frame) => unknown

const SEP = '\u0001'

/** Compiles expressions of DEFINE and MEASURES into functions of a Frame. */
class MatchCompiler {
  readonly schema: RowSchema
  private readonly navs: Nav[] = []
  private readonly navColumns: Column[] = []
  private readonly inputFields: string[]
  /** How many rows before a match's first row PREV may reach. */
  lookback = 0

  constructor(
    private readonly input: RowSchema,
    private readonly variables: readonly string[],
  ) {
    this.inputFields = input.columns.map((c) => c.field ?? c.name)
    const columns: Column[] = input.columns.map((c) => ({
      name: c.name,
      type: c.type,
      field: c.field ?? c.name,
    }))
    for (const v of variables)
      for (const c of input.columns)
        columns.push({ name: c.name, type: c.type, table: v, field: `${v}${SEP}${c.field ?? c.name}` })
    this.schema = { name: input.name, columns }
  }

  private isVar(q: string | undefined): q is string {
    return q !== undefined && this.variables.some((v) => v.toLowerCase() === q.toLowerCase())
  }

  private canonical(q: string): string {
    return this.variables.find((v) => v.toLowerCase() === q.toLowerCase())!
  }

  /** The variable named in an argument (`A.price` → A), or undefined for all rows. */
  private varOf(e: Expr): string | undefined {
    let found: string | undefined
    rewrite(e, (x) => {
      if ((x.kind === 'column' || x.kind === 'star') && this.isVar(x.qualifier))
        found ??= this.canonical(x.qualifier)
      return undefined
    })
    return found
  }

  /** An argument compiled over one input row (variable qualifiers dropped). */
  private overRow(e: Expr): RowEvaluator {
    const plain = rewrite(e, (x) =>
      x.kind === 'column' && this.isVar(x.qualifier) ? ref(x.name, x.at) : undefined,
    )
    return compileExpr(plain, {
      name: this.input.name,
      columns: this.input.columns.map((c) => ({ name: c.name, type: c.type, field: c.field ?? c.name })),
    })
  }

  private nav(call: Call, fn: Nav): Expr {
    const field = `$nav${this.navs.length}`
    this.navs.push(fn)
    this.navColumns.push({ name: field, type: inferType(call, this.schema), field })
    return ref(field, call.at)
  }

  /** Rows mapped to `v` (all rows when undefined), the current one included when it is tested for `v`. */
  private static rowsOf(f: Frame, v: string | undefined): SqlRow[] {
    const out: SqlRow[] = []
    for (let i = 0; i < f.rows.length; i++) if (v === undefined || f.vars[i] === v) out.push(f.rows[i]!)
    if (f.variable !== undefined && (v === undefined || f.variable === v)) out.push(f.current)
    return out
  }

  private rewriteCalls(e: Expr): Expr {
    return rewrite(e, (x) => {
      if (x.kind !== 'call' || x.over !== undefined) return undefined
      const def = lookupFunction(x.name)
      if (def === undefined || !('kind' in def) || def.kind === 'scalar') return undefined
      const n =
        x.args[1]?.kind === 'literal'
          ? Number(x.args[1].value)
          : x.name === 'PREV' || x.name === 'NEXT'
            ? 1
            : 0
      switch (x.name) {
        case 'PREV': {
          const arg = this.overRow(x.args[0]!)
          if (Number.isInteger(n) && n > this.lookback) this.lookback = n
          return this.nav(x, (f) => {
            const seq =
              f.variable !== undefined ? [...f.before, ...f.rows, f.current] : [...f.before, ...f.rows]
            const row = seq[seq.length - 1 - n]
            return row === undefined ? null : arg(row)
          })
        }
        case 'FIRST':
        case 'LAST': {
          const v = this.varOf(x.args[0]!)
          const arg = this.overRow(x.args[0]!)
          const first = x.name === 'FIRST'
          return this.nav(x, (f) => {
            const rows = MatchCompiler.rowsOf(f, v)
            const row = first ? rows[n] : rows[rows.length - 1 - n]
            return row === undefined ? null : arg(row)
          })
        }
        case 'MATCH_ROWTIME':
          return this.nav(x, (f) => f.times[f.times.length - 1] ?? null)
        case 'MATCH_NUMBER':
          return this.nav(x, (f) => f.matchNumber)
        case 'CLASSIFIER':
          return this.nav(x, (f) => f.variable ?? f.vars[f.vars.length - 1] ?? null)
        default: {
          if (def.kind !== 'aggregate') throw planError(`${x.name} cannot be used in MATCH_RECOGNIZE`)
          const star = x.args.length === 0 || x.args[0]!.kind === 'star'
          const v = star
            ? x.args[0]?.kind === 'star' && this.isVar(x.args[0].qualifier)
              ? this.canonical(x.args[0].qualifier)
              : undefined
            : this.varOf(x.args[0]!)
          const arg = star ? null : this.overRow(x.args[0]!)
          const agg = aggFunction(x.name, { distinct: x.distinct })
          return this.nav(x, (f) => {
            let acc = agg.create()
            for (const row of MatchCompiler.rowsOf(f, v)) {
              const value = arg === null ? 1 : arg(row)
              if (value !== null) acc = agg.add(acc, value)
            }
            return agg.result(acc)
          })
        }
      }
    })
  }

  /** Compiles `e` into a function of a frame: `X.col` reads the last row mapped to X (the current row when testing X). */
  compile(e: Expr, predicate: boolean): (f: Frame) => unknown {
    const rewritten = this.rewriteCalls(e)
    const refs: { v: string; field: string; out: string }[] = []
    rewrite(rewritten, (x) => {
      if (x.kind === 'column' && this.isVar(x.qualifier)) {
        const v = this.canonical(x.qualifier)
        const col = this.input.columns.find((c) => c.name.toLowerCase() === x.name.toLowerCase())
        if (col !== undefined)
          refs.push({ v, field: col.field ?? col.name, out: `${v}${SEP}${col.field ?? col.name}` })
      }
      return undefined
    })
    const schema: RowSchema = {
      name: this.schema.name,
      columns: [...this.schema.columns, ...this.navColumns],
    }
    const fn = predicate ? compilePredicate(rewritten, schema) : compileExpr(rewritten, schema)
    const navs = [...this.navs]
    const fields = this.inputFields
    return (f) => {
      const o: { [c: string]: unknown } = {}
      const cur = f.variable !== undefined ? f.current : (f.rows[f.rows.length - 1] ?? f.current)
      for (const k of fields) o[k] = cur[k]
      for (const r of refs) {
        let row: SqlRow | undefined
        if (r.v === f.variable) row = f.current
        else
          for (let i = f.rows.length - 1; i >= 0 && row === undefined; i--)
            if (f.vars[i] === r.v) row = f.rows[i]
        o[r.out] = row === undefined ? null : row[r.field]
      }
      for (let i = 0; i < navs.length; i++) o[`$nav${i}`] = navs[i]!(f)
      return fn(o)
    }
  }
}

/**
 * Plans `input MATCH_RECOGNIZE (...)` over the planned input `rel` (append-only, with a time
 * attribute to ORDER BY). Output: the PARTITION BY columns then the MEASURES, one row per match,
 * at the time of its last row. Throws ERR_SQL_PLAN for ALL ROWS PER MATCH and other unsupported forms.
 */
export function planMatchRecognize(ctx: PlanContext, rel: Rel, mr: MatchRecognize): Rel {
  if (rel.updating)
    throw planError('MATCH_RECOGNIZE needs an append-only input; its input is an updating result')
  if (mr.rowsPerMatch !== 'one')
    throw planError('ALL ROWS PER MATCH is not supported; use ONE ROW PER MATCH with MEASURES')
  if (mr.subsets.length > 0) throw planError('SUBSET is not supported in MATCH_RECOGNIZE')
  const order = mr.orderBy[0]
  const col = order ? columnOf(order.expr, rel.schema) : undefined
  if (!order || order.desc || col === undefined || (col.field ?? col.name) !== rel.rowtime) {
    throw planError(
      `MATCH_RECOGNIZE must ORDER BY the time attribute${rel.rowtime ? ` (${rel.rowtime})` : ''} ascending`,
    )
  }
  const nfa = compilePattern(mr.pattern)
  const mc = new MatchCompiler(rel.schema, nfa.variables)
  const defines = new Map<string, (f: Frame) => unknown>()
  for (const d of mr.define) {
    const v = nfa.variables.find((x) => x.toLowerCase() === d.name.toLowerCase())
    if (v === undefined) throw planError(`DEFINE ${d.name}: the variable is not in PATTERN`)
    defines.set(v, mc.compile(d.expr, true))
  }
  const measures = mr.measures.map((m) => ({
    name: m.name,
    fn: mc.compile(m.expr, false),
    type: inferType(m.expr, mc.schema),
  }))
  const partCols = mr.partitionBy.map((e) => {
    const c = columnOf(e, rel.schema)
    if (c === undefined) throw planError(`MATCH_RECOGNIZE PARTITION BY ${formatExpr(e)}: expected a column`)
    return c
  })
  const partFns = mr.partitionBy.map((e) => compileExpr(e, rel.schema))
  const test = (variable: string, row: SqlRow, run: Run<SqlRow>): boolean => {
    const d = defines.get(variable)
    if (d === undefined) return true
    return (
      d({
        before: run.before ?? [],
        rows: run.rows,
        vars: run.vars,
        times: run.times,
        current: row,
        variable,
        matchNumber: 0,
      }) === true
    )
  }
  const within = mr.within?.value ?? -1
  const skip = mr.afterMatch
  const select = (m: Match<SqlRow>, _key: Key | undefined, n: number): SqlRow => {
    const o: { [c: string]: unknown } = {}
    const last = m.rows[m.rows.length - 1]!
    for (let i = 0; i < partCols.length; i++) o[partCols[i]!.name] = partFns[i]!(last)
    const frame: Frame = {
      before: m.before,
      rows: m.rows,
      vars: m.vars,
      times: m.times,
      current: last,
      variable: undefined,
      matchNumber: n,
    }
    for (const ms of measures) o[ms.name] = ms.fn(frame)
    return o
  }
  const keyOf = keyFunction(partFns)
  const exchange: Exchange = {
    type: 'key',
    key: ((v: SqlRow) => keyOf(v)) as unknown as (value: never, record: never) => Key,
  }
  const name = ctx.name('match-recognize')
  ctx.topology.addProcessor(
    name,
    () =>
      new CepOperator<SqlRow, SqlRow>(
        new Matcher(nfa, test, skip, within, mc.lookback),
        select,
        within,
      ) as unknown as Processor<unknown, unknown>,
    [{ from: rel.node, exchange }],
    { keyed: true },
  )
  ctx.lines.push({
    node: name,
    operator: 'MatchRecognize',
    detail: `PATTERN over [${nfa.variables.join(', ')}] per [${mr.partitionBy.map(formatExpr).join(', ') || 'all rows'}], AFTER MATCH ${skip.kind}${within >= 0 ? `, WITHIN ${within} ms` : ''}`,
    state:
      within >= 0
        ? 'rows waiting for the watermark and partial matches, dropped after WITHIN'
        : 'rows waiting for the watermark and partial matches (without WITHIN, a partial match may wait for ever)',
    updating: false,
  })
  const columns: Column[] = [
    ...partCols.map((c) => ({
      name: c.name,
      type: c.type,
      field: c.name,
      ...(mr.alias ? { table: mr.alias } : {}),
    })),
    ...measures.map((m) => ({
      name: m.name,
      type: m.type,
      field: m.name,
      ...(mr.alias ? { table: mr.alias } : {}),
    })),
  ]
  const rowtimeMeasure = mr.measures.find((m) => m.expr.kind === 'call' && m.expr.name === 'MATCH_ROWTIME')
  return {
    node: name,
    schema: { name: mr.alias ?? rel.schema.name, columns },
    updating: false,
    ...(rowtimeMeasure ? { rowtime: rowtimeMeasure.name } : {}),
  }
}

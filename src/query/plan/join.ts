// SQL joins on keyed state: regular joins (inner and outer, over append-only or updating inputs),
// interval joins (bounds between the two time attributes) and window joins (same window bounds).

import type { Collector, Processor, ProcessorContext, Timer } from '../../core/processor.ts'
import type { Key, Record } from '../../core/record.ts'
import type { ValueState } from '../../core/state.ts'
import type { Exchange } from '../../core/topology.ts'
import { type Sided, sidedInput } from '../../core/join/sides.ts'
import { planTemporalJoin } from './temporal-join.ts'
import type { Expr, JoinType } from '../ast.ts'
import { type Change, isAdd } from '../changelog.ts'
import { compileExpr, compilePredicate, type SqlRow } from '../compile-expr.ts'
import { formatExpr } from '../format-expr.ts'
import type { Column, RowSchema } from '../row-schema.ts'
import {
  type PlanContext,
  type Rel,
  andOf,
  columnOf,
  keyFunction,
  planError,
  resolvesIn,
  unbounded,
} from './relation.ts'

type Row = { [c: string]: unknown }

/** One buffered row of a side: the row, its time, and how many rows of the other side it matches. */
interface Entry {
  row: SqlRow
  t: number
  n: number
}

interface JoinState {
  l: Entry[]
  r: Entry[]
}

/** How rows leave the join's state. */
type Mode =
  | { kind: 'regular' }
  /** left time − right time must lie in [lo, hi]. */
  | { kind: 'interval'; lo: number; hi: number }
  /** Rows expire when the watermark passes their window end (field of each side). */
  | { kind: 'window'; leftEnd: string; rightEnd: string }

interface JoinSpec {
  mode: Mode
  keepLeft: boolean
  keepRight: boolean
  updatingIn: [boolean, boolean]
  updatingOut: boolean
  residual: ((row: SqlRow) => boolean) | null
  combine: (l: SqlRow | null, r: SqlRow | null) => SqlRow
}

/**
 * The keyed two-input join processor. Each arriving row is matched against the other side's rows
 * of the same key (and the residual condition) and the pairs are emitted at once; the row is kept
 * for later rows of the other side until its mode lets it go (never, for regular joins). In a
 * regular join, outer sides emit a NULL-padded row while they have no match, retracted when a
 * match comes. In an interval or window join (append-only), a row of an outer side that matched
 * nothing is emitted NULL-padded once, when the watermark shows nothing can match it any more
 * (with its own time), as Flink's outer interval joins do; matched rows never are.
 */
class JoinOperator implements Processor<Sided<unknown>, unknown> {
  private state!: ValueState<JoinState>
  private ctx!: ProcessorContext
  /** Outer rows are padded when they expire, not when they arrive (timed modes: append-only). */
  private readonly padAtExpiry: boolean

  constructor(private readonly spec: JoinSpec) {
    this.padAtExpiry = spec.mode.kind !== 'regular' && !spec.updatingOut
  }

  open(ctx: ProcessorContext): void {
    this.ctx = ctx
    this.state = ctx.state.value<JoinState>('rows')
  }

  process(r: Record<Sided<unknown>>, out: Collector<unknown>): void {
    const side = r.value.s
    const spec = this.spec
    let row: SqlRow
    let add = true
    if (spec.updatingIn[side]) {
      const c = r.value.v as Change
      row = c.row
      add = isAdd(c.op)
    } else row = r.value.v as SqlRow
    const mode = spec.mode
    const wm = this.ctx.timers.currentWatermark()
    if (mode.kind !== 'regular' && this.expiry(side, row, r.time) <= wm) {
      this.ctx.count('late')
      return
    }
    const s = this.state.get() ?? { l: [], r: [] }
    const mine = side === 0 ? s.l : s.r
    const other = side === 0 ? s.r : s.l
    const keepMine = side === 0 ? spec.keepLeft : spec.keepRight
    const keepOther = side === 0 ? spec.keepRight : spec.keepLeft
    const otherSide = side === 0 ? 1 : 0
    if (add) {
      let n = 0
      for (const e of other) {
        if (!this.inRange(side, r.time, e.t)) continue
        const joined = side === 0 ? spec.combine(row, e.row) : spec.combine(e.row, row)
        if (spec.residual !== null && !spec.residual(joined)) continue
        if (keepOther && e.n === 0 && !this.padAtExpiry) this.out(out, '-D', this.pad(otherSide, e.row))
        e.n++
        n++
        this.out(out, '+I', joined)
      }
      if (keepMine && n === 0 && !this.padAtExpiry) this.out(out, '+I', this.pad(side, row))
      mine.push({ row, t: r.time, n })
      if (mode.kind !== 'regular') this.ctx.timers.registerEventTimer(this.expiry(side, row, r.time))
    } else {
      const text = JSON.stringify(row)
      const i = mine.findIndex((e) => JSON.stringify(e.row) === text)
      if (i < 0) return
      const gone = mine.splice(i, 1)[0]!
      for (const e of other) {
        const joined = side === 0 ? spec.combine(row, e.row) : spec.combine(e.row, row)
        if (spec.residual !== null && !spec.residual(joined)) continue
        this.out(out, '-D', joined)
        e.n--
        if (keepOther && e.n === 0) this.out(out, '+I', this.pad(otherSide, e.row))
      }
      if (keepMine && gone.n === 0) this.out(out, '-D', this.pad(side, row))
    }
    if (s.l.length === 0 && s.r.length === 0) this.state.clear()
    else this.state.set(s)
  }

  onTimer(timer: Timer, out: Collector<unknown>): void {
    const s = this.state.get()
    if (s === undefined) return
    const wm = timer.time
    const spec = this.spec
    const expire = (side: 0 | 1, rows: Entry[], keep: boolean): Entry[] =>
      rows.filter((e) => {
        if (this.expiry(side, e.row, e.t) > wm) return true
        if (keep && e.n === 0 && this.padAtExpiry) {
          out.emitRecord({ value: this.pad(side, e.row), key: this.ctx.currentKey, time: e.t, tag: '' })
        }
        return false
      })
    s.l = expire(0, s.l, spec.keepLeft)
    s.r = expire(1, s.r, spec.keepRight)
    if (s.l.length === 0 && s.r.length === 0) this.state.clear()
    else this.state.set(s)
  }

  /** Row `row` of side `side` with NULLs for the other side's columns. */
  private pad(side: 0 | 1, row: SqlRow): SqlRow {
    return side === 0 ? this.spec.combine(row, null) : this.spec.combine(null, row)
  }

  /** The watermark at which a row can match nothing more. */
  private expiry(side: 0 | 1, row: SqlRow, t: number): number {
    const m = this.spec.mode
    if (m.kind === 'interval') return side === 0 ? t - m.lo : t + m.hi
    if (m.kind === 'window') return (row[side === 0 ? m.leftEnd : m.rightEnd] as number) - 1
    return Number.POSITIVE_INFINITY
  }

  private inRange(side: 0 | 1, t: number, other: number): boolean {
    const m = this.spec.mode
    if (m.kind !== 'interval') return true
    const d = side === 0 ? t - other : other - t
    return d >= m.lo && d <= m.hi
  }

  private out(out: Collector<unknown>, op: '+I' | '-D', row: SqlRow): void {
    out.emit(this.spec.updatingOut ? { op, row } : row)
  }
}

/** Matches `a = b` with one side in each input: the key expressions, left first. */
function equiPair(e: Expr, left: RowSchema, right: RowSchema): [Expr, Expr] | undefined {
  if (e.kind !== 'binary' || e.op !== '=') return undefined
  if (resolvesIn(e.left, left) && resolvesIn(e.right, right) && !resolvesIn(e.left, right))
    return [e.left, e.right]
  if (resolvesIn(e.left, right) && resolvesIn(e.right, left) && !resolvesIn(e.left, left))
    return [e.right, e.left]
  if (resolvesIn(e.left, left) && resolvesIn(e.right, right)) return [e.left, e.right]
  return undefined
}

/** `t ± INTERVAL` as [column expression, offset ms], or the column alone. */
function timeOffset(e: Expr): [Expr, number] {
  if (e.kind === 'binary' && (e.op === '+' || e.op === '-') && e.right.kind === 'interval') {
    return [e.left, e.op === '+' ? e.right.value : -e.right.value]
  }
  return [e, 0]
}

function isTimeOf(e: Expr, rel: Rel): boolean {
  if (rel.rowtime === undefined || !resolvesIn(e, rel.schema)) return false
  const c = columnOf(e, rel.schema)
  return c !== undefined && (c.field ?? c.name) === rel.rowtime
}

/**
 * Reads a bound between the time attributes from a conjunct: `l >= r + a`, `l <= r + b`,
 * `l BETWEEN r - a AND r + b` (either side first). Returns updated [lo, hi] of `l − r`, or
 * undefined when the conjunct is not such a bound.
 */
function timeBound(e: Expr, left: Rel, right: Rel, lo: number, hi: number): [number, number] | undefined {
  if (e.kind === 'between' && !e.not) {
    const ge: Expr = { kind: 'binary', at: e.at, op: '>=', left: e.operand, right: e.low }
    const le: Expr = { kind: 'binary', at: e.at, op: '<=', left: e.operand, right: e.high }
    const a = timeBound(ge, left, right, lo, hi)
    return a === undefined ? undefined : timeBound(le, left, right, a[0], a[1])
  }
  if (e.kind !== 'binary' || !['<', '<=', '>', '>='].includes(e.op)) return undefined
  const [x, dx] = timeOffset(e.left)
  const [y, dy] = timeOffset(e.right)
  let op = e.op
  let d: number
  if (isTimeOf(x, left) && isTimeOf(y, right)) d = dy - dx
  else if (isTimeOf(x, right) && isTimeOf(y, left)) {
    d = dx - dy
    op = op === '<' ? '>' : op === '<=' ? '>=' : op === '>' ? '<' : '<='
  } else return undefined
  if (op === '>=' || op === '>') return [Math.max(lo, op === '>' ? d + 1 : d), hi]
  return [lo, Math.min(hi, op === '<' ? d - 1 : d)]
}

function joinedSchema(
  left: Rel,
  right: Rel,
): { schema: RowSchema; leftFields: string[]; rightFields: string[]; outFields: string[] } {
  const used = new Set<string>()
  const columns: Column[] = []
  const leftFields: string[] = []
  const rightFields: string[] = []
  const outFields: string[] = []
  const take = (c: Column, into: string[]) => {
    const f = c.field ?? c.name
    let out = f
    if (used.has(out)) out = `${c.table ?? 'right'}.${f}`
    for (let i = 0; used.has(out); i++) out = `${c.table ?? 'right'}.${f}${i}`
    used.add(out)
    into.push(f)
    outFields.push(out)
    columns.push({ ...c, field: out })
  }
  for (const c of left.schema.columns) take(c, leftFields)
  for (const c of right.schema.columns) take(c, rightFields)
  return {
    schema: { name: `${left.schema.name}_${right.schema.name}`, columns },
    leftFields,
    rightFields,
    outFields,
  }
}

/**
 * Adds a join of `left` and `right` under `conditions` (the ON conjuncts, or the WHERE conjuncts
 * of a comma join). Equalities between the sides key the join; bounds between the two time
 * attributes make it an interval join; equal `window_start`/`window_end` make it a window join
 * (both append-only, inner or outer, state freed by the watermark). Anything else is a regular
 * join whose state keeps every row (a warning, or ERR_SQL_UNBOUNDED_STATE under strict).
 */
export function planJoin(
  ctx: PlanContext,
  left: Rel,
  right: Rel,
  type: JoinType,
  conditions: readonly Expr[],
  using?: readonly string[],
  temporal = false,
): Rel {
  const conds: Expr[] = [...conditions]
  for (const u of using ?? []) {
    conds.push({
      kind: 'binary',
      at: 0,
      op: '=',
      left: {
        kind: 'column',
        at: 0,
        name: u,
        qualifier: left.schema.columns.find((c) => c.name === u)?.table ?? left.schema.name,
      },
      right: {
        kind: 'column',
        at: 0,
        name: u,
        qualifier: right.schema.columns.find((c) => c.name === u)?.table ?? right.schema.name,
      },
    })
  }
  if (temporal) {
    const j = joinedSchema(left, right)
    const nl0 = j.leftFields.length
    const combineT = (l: SqlRow | null, r: SqlRow | null): SqlRow => {
      const o: Row = {}
      for (let i = 0; i < nl0; i++) o[j.outFields[i]!] = l === null ? null : l[j.leftFields[i]!]
      for (let i = 0; i < j.rightFields.length; i++)
        o[j.outFields[nl0 + i]!] = r === null ? null : r[j.rightFields[i]!]
      return o
    }
    return planTemporalJoin(ctx, left, right, type, conds, { schema: j.schema, combine: combineT })
  }
  const lkeys: Expr[] = []
  const rkeys: Expr[] = []
  const rest: Expr[] = []
  let lo = Number.NEGATIVE_INFINITY
  let hi = Number.POSITIVE_INFINITY
  let timed = false
  for (const c of conds) {
    const pair = equiPair(c, left.schema, right.schema)
    if (pair !== undefined) {
      lkeys.push(pair[0])
      rkeys.push(pair[1])
      continue
    }
    const b = left.updating || right.updating ? undefined : timeBound(c, left, right, lo, hi)
    if (b !== undefined) {
      ;[lo, hi] = b
      timed = true
      continue
    }
    rest.push(c)
  }
  const fieldName = (e: Expr, rel: Rel) => columnOf(e, rel.schema)
  const appendIn = !left.updating && !right.updating
  let mode: Mode = { kind: 'regular' }
  const boundIdx = (l: string | undefined, r: string | undefined) =>
    lkeys.findIndex((k, i) => {
      const a = fieldName(k, left)
      const b = fieldName(rkeys[i]!, right)
      return a !== undefined && b !== undefined && (a.field ?? a.name) === l && (b.field ?? b.name) === r
    })
  const ws = boundIdx(left.windowStart, right.windowStart)
  const we = boundIdx(left.windowEnd, right.windowEnd)
  if (appendIn && left.windowEnd !== undefined && right.windowEnd !== undefined && ws >= 0 && we >= 0) {
    mode = { kind: 'window', leftEnd: left.windowEnd, rightEnd: right.windowEnd }
  } else if (appendIn && timed && Number.isFinite(lo) && Number.isFinite(hi))
    mode = { kind: 'interval', lo, hi }
  else if (timed)
    for (const c of conds)
      if (!rest.includes(c) && equiPair(c, left.schema, right.schema) === undefined) rest.push(c)
  const { schema, leftFields, rightFields, outFields } = joinedSchema(left, right)
  const nl = leftFields.length
  const nr = rightFields.length
  const combine = (l: SqlRow | null, r: SqlRow | null): SqlRow => {
    const o: Row = {}
    for (let i = 0; i < nl; i++) o[outFields[i]!] = l === null ? null : l[leftFields[i]!]
    for (let i = 0; i < nr; i++) o[outFields[nl + i]!] = r === null ? null : r[rightFields[i]!]
    return o
  }
  const residualExpr = andOf(rest)
  const residual = residualExpr ? compilePredicate(residualExpr, schema) : null
  const keepLeft = type === 'left' || type === 'full'
  const keepRight = type === 'right' || type === 'full'
  // Outer interval and window joins stay append-only: unmatched rows are padded once they expire.
  const updatingOut = !appendIn || (mode.kind === 'regular' && (keepLeft || keepRight))
  const spec: JoinSpec = {
    mode,
    keepLeft,
    keepRight,
    updatingIn: [left.updating, right.updating],
    updatingOut,
    residual,
    combine,
  }
  const name = ctx.name('join')
  const keyed = (rel: Rel, keys: Expr[]) => {
    const f = keyFunction(keys.map((k) => compileExpr(k, rel.schema)))
    const key = rel.updating ? (v: Change) => f(v.row) : (v: SqlRow) => f(v)
    const exchange: Exchange = { type: 'key', key: key as unknown as (value: never, record: never) => Key }
    return { from: rel.node, exchange }
  }
  const inputs = [
    sidedInput(ctx.topology, name, keyed(left, lkeys), 0),
    sidedInput(ctx.topology, name, keyed(right, rkeys), 1),
  ]
  ctx.topology.addProcessor(name, () => new JoinOperator(spec) as Processor<unknown, unknown>, inputs, {
    keyed: true,
  })
  const keyText =
    lkeys.map((k, i) => `${formatExpr(k)} = ${formatExpr(rkeys[i]!)}`).join(' AND ') ||
    'none (every row meets every row)'
  const kindText = mode.kind === 'window' ? 'WindowJoin' : mode.kind === 'interval' ? 'IntervalJoin' : 'Join'
  const padded =
    mode.kind !== 'regular' && (keepLeft || keepRight)
      ? '; an outer row that matched nothing is emitted with NULLs when it leaves'
      : ''
  const stateText =
    mode.kind === 'window'
      ? `rows of both sides until the watermark passes their window end${padded}`
      : mode.kind === 'interval'
        ? `rows of both sides while the other side may still match (left − right time in [${lo}, ${hi}] ms)${padded}`
        : 'every row of both sides, for ever (grows with the input)'
  ctx.lines.push({
    node: name,
    operator: kindText,
    detail: `${type.toUpperCase()} on ${keyText}${residualExpr ? `, where ${formatExpr(residualExpr)}` : ''}`,
    state: stateText,
    updating: updatingOut,
  })
  if (mode.kind === 'regular') {
    unbounded(
      ctx,
      `the regular join on ${keyText} keeps every row of both inputs for ever; its state grows with the input (an interval join on the time attributes, or a window join, bounds it)`,
    )
  }
  if (
    lkeys.length === 0 &&
    mode.kind === 'regular' &&
    conds.length === 0 &&
    type !== 'cross' &&
    type !== 'comma'
  ) {
    throw planError(`JOIN without a condition: write ON ... or CROSS JOIN`)
  }
  const bounds =
    mode.kind === 'window' && left.windowStart !== undefined
      ? { windowStart: left.windowStart, windowEnd: left.windowEnd! }
      : {}
  return { node: name, schema, updating: updatingOut, ...bounds }
}

// Temporal (lookup) joins: `left JOIN right FOR SYSTEM_TIME AS OF left.ts ON left.k = right.k` —
// each left row meets the version of the right row with its key that was valid at its time.

import type { Collector, Processor, ProcessorContext, Timer } from '../../core/processor.ts'
import type { Key, Record } from '../../core/record.ts'
import type { ValueState } from '../../core/state.ts'
import type { Exchange } from '../../core/topology.ts'
import { type Sided, sidedInput } from '../../core/join/sides.ts'
import type { Expr, JoinType } from '../ast.ts'
import { compileExpr, compilePredicate, type SqlRow } from '../compile-expr.ts'
import { formatExpr } from '../format-expr.ts'
import type { Column, RowSchema } from '../row-schema.ts'
import { type PlanContext, type Rel, andOf, keyFunction, planError, resolvesIn } from './relation.ts'

interface Version {
  row: SqlRow
  t: number
}

interface TemporalState {
  /** Right versions in time order. */
  versions: Version[]
  /** Left rows waiting for the watermark (event-time mode). */
  waiting: Version[]
}

/**
 * The keyed temporal join. In event-time mode a left row waits until the watermark passes its
 * time, then meets the latest right version at or before it; versions no waiting row can need are
 * dropped. Without time attributes (a lookup), a left row meets the latest right version at once.
 * Left rows without a version are dropped (inner) or padded with NULLs (LEFT JOIN).
 */
class TemporalJoinOperator implements Processor<Sided<SqlRow>, SqlRow> {
  private state!: ValueState<TemporalState>
  private ctx!: ProcessorContext

  constructor(
    private readonly eventTime: boolean,
    private readonly keepLeft: boolean,
    private readonly residual: ((row: SqlRow) => boolean) | null,
    private readonly combine: (l: SqlRow, r: SqlRow | null) => SqlRow,
  ) {}

  open(ctx: ProcessorContext): void {
    this.ctx = ctx
    this.state = ctx.state.value<TemporalState>('versions')
  }

  process(r: Record<Sided<SqlRow>>, out: Collector<SqlRow>): void {
    const s = this.state.get() ?? { versions: [], waiting: [] }
    if (r.value.s === 1) {
      let i = s.versions.length
      while (i > 0 && s.versions[i - 1]!.t > r.time) i--
      s.versions.splice(i, 0, { row: r.value.v, t: r.time })
      if (!this.eventTime) s.versions.splice(0, s.versions.length - 1)
    } else if (this.eventTime) {
      s.waiting.push({ row: r.value.v, t: r.time })
      this.ctx.timers.registerEventTimer(r.time)
    } else this.join(s, r.value.v, Number.POSITIVE_INFINITY, r.time, out)
    this.state.set(s)
  }

  onTimer(timer: Timer, out: Collector<SqlRow>): void {
    const s = this.state.get()
    if (s === undefined) return
    const due = s.waiting.filter((w) => w.t <= timer.time)
    s.waiting = s.waiting.filter((w) => w.t > timer.time)
    for (const w of due) this.join(s, w.row, w.t, w.t, out)
    const oldest = s.waiting.reduce((m, w) => Math.min(m, w.t), timer.time)
    let keep = 0
    for (let i = 0; i < s.versions.length; i++) if (s.versions[i]!.t <= oldest) keep = i
    s.versions.splice(0, keep)
    this.state.set(s)
  }

  private join(s: TemporalState, left: SqlRow, asOf: number, time: number, out: Collector<SqlRow>): void {
    let v: Version | undefined
    for (let i = s.versions.length - 1; i >= 0; i--) {
      if (s.versions[i]!.t <= asOf) {
        v = s.versions[i]
        break
      }
    }
    const joined = v === undefined ? null : this.combine(left, v.row)
    if (joined !== null && (this.residual === null || this.residual(joined))) {
      out.emitRecord({ value: joined, key: this.ctx.currentKey, time, tag: '' })
    } else if (this.keepLeft)
      out.emitRecord({ value: this.combine(left, null), key: this.ctx.currentKey, time, tag: '' })
  }
}

/**
 * Plans a temporal join of `left` with the versions of `right`. The ON condition needs an equality
 * between the sides (the right side's key). With time attributes on both sides the join is in
 * event time; otherwise it looks up the latest right row. Append-only; state: the right versions
 * per key (only the latest in lookup mode) and, in event time, left rows waiting for the watermark.
 */
export function planTemporalJoin(
  ctx: PlanContext,
  left: Rel,
  right: Rel,
  type: JoinType,
  conditions: readonly Expr[],
  joined: { schema: RowSchema; combine: (l: SqlRow | null, r: SqlRow | null) => SqlRow },
): Rel {
  if (type !== 'inner' && type !== 'left')
    throw planError(
      `${type.toUpperCase()} JOIN ... FOR SYSTEM_TIME AS OF is not supported; use JOIN or LEFT JOIN`,
    )
  if (left.updating || right.updating)
    throw planError('FOR SYSTEM_TIME AS OF needs append-only inputs: the right side is a stream of versions')
  const lk: Expr[] = []
  const rk: Expr[] = []
  const rest: Expr[] = []
  for (const c of conditions) {
    if (
      c.kind === 'binary' &&
      c.op === '=' &&
      resolvesIn(c.left, left.schema) &&
      resolvesIn(c.right, right.schema) &&
      !resolvesIn(c.left, right.schema)
    ) {
      lk.push(c.left)
      rk.push(c.right)
    } else if (
      c.kind === 'binary' &&
      c.op === '=' &&
      resolvesIn(c.right, left.schema) &&
      resolvesIn(c.left, right.schema) &&
      !resolvesIn(c.right, right.schema)
    ) {
      lk.push(c.right)
      rk.push(c.left)
    } else rest.push(c)
  }
  if (lk.length === 0)
    throw planError(
      'FOR SYSTEM_TIME AS OF needs an equality between the sides in ON (the key of the versioned table)',
    )
  const eventTime = left.rowtime !== undefined && right.rowtime !== undefined
  const residualExpr = andOf(rest)
  const residual = residualExpr ? compilePredicate(residualExpr, joined.schema) : null
  const name = ctx.name('temporal-join')
  const keyed = (rel: Rel, keys: Expr[]) => {
    const f = keyFunction(keys.map((k) => compileExpr(k, rel.schema)))
    const exchange: Exchange = {
      type: 'key',
      key: ((v: SqlRow) => f(v)) as unknown as (value: never, record: never) => Key,
    }
    return { from: rel.node, exchange }
  }
  const inputs = [
    sidedInput(ctx.topology, name, keyed(left, lk), 0),
    sidedInput(ctx.topology, name, keyed(right, rk), 1),
  ]
  const keepLeft = type === 'left'
  const combine = (l: SqlRow, r: SqlRow | null) => joined.combine(l, r)
  ctx.topology.addProcessor(
    name,
    () =>
      new TemporalJoinOperator(eventTime, keepLeft, residual, combine) as unknown as Processor<
        unknown,
        unknown
      >,
    inputs,
    {
      keyed: true,
    },
  )
  ctx.lines.push({
    node: name,
    operator: eventTime ? 'TemporalJoin' : 'LookupJoin',
    detail: `${type.toUpperCase()} on ${lk.map((k, i) => `${formatExpr(k)} = ${formatExpr(rk[i]!)}`).join(' AND ')}${eventTime ? ', the right version valid at the left row time' : ', the latest right row'}`,
    state: eventTime
      ? 'right versions per key until no waiting left row needs them, left rows until the watermark passes them'
      : 'the latest right row per key',
    updating: false,
  })
  const columns: Column[] = joined.schema.columns.map((c) => ({ ...c }))
  return {
    node: name,
    schema: { name: joined.schema.name, columns },
    updating: false,
    ...(left.rowtime ? { rowtime: left.rowtime } : {}),
  }
}

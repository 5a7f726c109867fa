// Non-windowed GROUP BY: an updating aggregate per key in keyed state, emitting a changelog
// (`+I` for a new group, `-U`/`+U` when its row changes, `-D` when its last row is retracted).

import type { Collector, Processor, ProcessorContext } from '../../core/processor.ts'
import type { Key, Record } from '../../core/record.ts'
import type { ValueState } from '../../core/state.ts'
import type { Exchange } from '../../core/topology.ts'
import { type GroupAcc, RowAccumulator } from '../aggregates.ts'
import { type Change, isAdd } from '../changelog.ts'
import type { SqlRow } from '../compile-expr.ts'
import { formatExpr } from '../format-expr.ts'
import type { Aggregation } from './aggregation.ts'
import { type PlanContext, type Rel, keyFunction } from './relation.ts'

/** The state of one group: its accumulator and the row last emitted for it. */
interface GroupState {
  acc: GroupAcc
  last: SqlRow | null
}

function sameRow(a: SqlRow, b: SqlRow, fields: readonly string[]): boolean {
  for (let i = 0; i < fields.length; i++) {
    const x = a[fields[i]!]
    const y = b[fields[i]!]
    if (x !== y && JSON.stringify(x) !== JSON.stringify(y)) return false
  }
  return true
}

/**
 * The keyed processor of an updating GROUP BY. Input values are rows (an append-only input) or
 * changes (an updating input, whose `-U`/`-D` retract rows). After each input row it emits the
 * group's change, unless the group's row did not change. State: one GroupState per group, kept
 * until the group's last row is retracted.
 */
class GroupAggregateOperator implements Processor<unknown, Change> {
  private state!: ValueState<GroupState>

  constructor(
    private readonly acc: RowAccumulator,
    private readonly keyFields: readonly string[],
    private readonly callFields: readonly string[],
    private readonly updatingInput: boolean,
  ) {}

  open(ctx: ProcessorContext): void {
    this.state = ctx.state.value<GroupState>('groups')
  }

  process(r: Record<unknown>, out: Collector<Change>): void {
    let row: SqlRow
    let add = true
    if (this.updatingInput) {
      const c = r.value as Change
      row = c.row
      add = isAdd(c.op)
    } else row = r.value as SqlRow
    let s = this.state.get()
    if (s === undefined) {
      if (!add) return
      s = { acc: this.acc.create(), last: null }
    }
    if (add) this.acc.add(s.acc, row)
    else this.acc.retract(s.acc, row)
    const last = s.last
    if (s.acc.rows <= 0) {
      this.state.clear()
      if (last !== null) out.emit({ op: '-D', row: last })
      return
    }
    const next = this.rowOf(s.acc)
    if (last !== null && sameRow(last, next, this.callFields)) {
      this.state.set(s)
      return
    }
    s.last = next
    this.state.set(s)
    if (last === null) out.emit({ op: '+I', row: next })
    else {
      out.emit({ op: '-U', row: last })
      out.emit({ op: '+U', row: next })
    }
  }

  private rowOf(g: GroupAcc): SqlRow {
    const row: { [c: string]: unknown } = {}
    const kf = this.keyFields
    for (let i = 0; i < kf.length; i++) row[kf[i]!] = g.keys[i]
    const cf = this.callFields
    const calls = this.acc.calls
    for (let i = 0; i < cf.length; i++) row[cf[i]!] = calls[i]!.fn.result(g.accs[i])
    return row
  }
}

/**
 * Adds an updating GROUP BY node. Keyed by the group keys (a global aggregate without GROUP BY
 * runs on one key). Its state grows with the number of distinct groups: a warning says so, and
 * `strict` planning refuses it (ERR_SQL_UNBOUNDED_STATE), from the caller.
 */
export function planGroupAggregate(ctx: PlanContext, rel: Rel, agg: Aggregation): Rel {
  const acc = new RowAccumulator(
    agg.calls,
    agg.keys.map((k) => k.fn),
  )
  const keyFields = agg.keys.map((k) => k.field)
  const keyOf = rel.updating
    ? (() => {
        const f = keyFunction(agg.keys.map((k) => k.fn))
        return (v: Change) => f(v.row)
      })()
    : keyFunction(agg.keys.map((k) => k.fn))
  const exchange: Exchange = {
    type: 'key',
    key: keyOf as unknown as (value: never, record: never) => Key,
  }
  const name = ctx.name('group-aggregate')
  const updatingInput = rel.updating
  const callFields = agg.callFields
  ctx.topology.addProcessor(
    name,
    () =>
      new GroupAggregateOperator(acc, keyFields, callFields, updatingInput) as Processor<unknown, unknown>,
    [{ from: rel.node, exchange }],
    { keyed: true },
  )
  const keys = agg.keys.map((k) => k.field)
  ctx.lines.push({
    node: name,
    operator: 'GroupAggregate',
    detail: `keys [${agg.keys.map((k) => formatExpr(k.expr)).join(', ') || 'none (one global group)'}] aggregates [${agg.callText.join(', ')}]${updatingInput ? ', retracting' : ''}`,
    state: 'one accumulator per group, kept while the group has rows (grows with distinct keys)',
    updating: true,
  })
  return { node: name, schema: agg.schema, updating: true, key: keys }
}

// Runtime implementations of SQL aggregate functions, and the row accumulator that folds every
// aggregate of one GROUP BY (windowed or updating) in a single keyed state entry.

import { SquallError } from '../core/errors.ts'
import type { Aggregate } from '../core/operators.ts'
import { HyperLogLog } from '../kit/hyperloglog.ts'
import { roundDecimal, unscaled } from './decimal.ts'
import type { RowEvaluator, SqlRow } from './compile-expr.ts'

/**
 * One aggregate function over non-NULL argument values. Accumulators are plain data (numbers,
 * arrays, Maps) or a HyperLogLog, so keyed state can checkpoint them. `add` and `retract` may
 * mutate and return the accumulator they get; `merge` returns a new one and changes neither input.
 * `retract` exists only where a removal can be undone exactly (updating inputs need it).
 */
export interface AggFunction {
  readonly name: string
  create(): unknown
  add(acc: unknown, v: unknown): unknown
  retract?(acc: unknown, v: unknown): unknown
  merge(a: unknown, b: unknown): unknown
  result(acc: unknown): unknown
  /** True when the accumulator grows with the (distinct) values: see `Aggregate.growing`. */
  readonly growing?: boolean
}

type Pair = [number, number]

function count(): AggFunction {
  return {
    name: 'COUNT',
    create: () => 0,
    add: (a) => (a as number) + 1,
    retract: (a) => (a as number) - 1,
    merge: (a, b) => (a as number) + (b as number),
    result: (a) => a,
  }
}

function sum(name: string, zero: boolean): AggFunction {
  return {
    name,
    create: (): Pair => [0, 0],
    add: (a, v) => {
      const p = a as Pair
      p[0] += v as number
      p[1]++
      return p
    },
    retract: (a, v) => {
      const p = a as Pair
      p[0] -= v as number
      p[1]--
      return p
    },
    merge: (a, b) => [(a as Pair)[0] + (b as Pair)[0], (a as Pair)[1] + (b as Pair)[1]],
    result: (a) => ((a as Pair)[1] > 0 ? (a as Pair)[0] : zero ? 0 : null),
  }
}

/**
 * SUM (or SUM0) of DECIMAL values of scale `scale`: each value counted in units of 10^−scale, so
 * the sum is an exact integer while it stays below 2^53 units (about 9·10^15 / 10^scale).
 */
function decimalSum(name: string, zero: boolean, scale: number): AggFunction {
  const unit = 10 ** scale
  const base = sum(name, zero)
  return {
    ...base,
    add: (a, v) => base.add(a, unscaled(v as number, scale)),
    retract: (a, v) => base.retract!(a, unscaled(v as number, scale)),
    result: (a) => ((a as Pair)[1] > 0 ? (a as Pair)[0] / unit : zero ? 0 : null),
  }
}

/** AVG of DECIMAL values of scale `scale`: the exact sum over the count, rounded to max(6, scale) digits. */
function decimalAvg(scale: number): AggFunction {
  const unit = 10 ** scale
  const digits = Math.max(6, scale)
  return {
    ...decimalSum('AVG', false, scale),
    result: (a) => {
      const [s, n] = a as Pair
      return n === 0 ? null : roundDecimal(s / n / unit, digits)
    },
  }
}

function avg(integer: boolean): AggFunction {
  const base = sum('AVG', false)
  return {
    ...base,
    name: 'AVG',
    result: (a) => {
      const [s, n] = a as Pair
      if (n === 0) return null
      return integer ? Math.trunc(s / n) : s / n
    },
  }
}

function less(a: unknown, b: unknown): boolean {
  return (a as number) < (b as number)
}

/** MIN/MAX of an append-only input: one value. */
function extreme(name: string, max: boolean): AggFunction {
  const better = max ? (a: unknown, b: unknown) => less(b, a) : less
  return {
    name,
    create: () => null,
    add: (a, v) => (a === null || better(v, a) ? v : a),
    merge: (a, b) => (a === null ? b : b === null ? a : better(b, a) ? b : a),
    result: (a) => a,
  }
}

/** MIN/MAX that can retract: a count per value; the result scans the distinct values. */
function retractableExtreme(name: string, max: boolean): AggFunction {
  const better = max ? (a: unknown, b: unknown) => less(b, a) : less
  return {
    name,
    create: () => new Map<unknown, number>(),
    add: (a, v) => bump(a as Map<unknown, number>, v, 1),
    retract: (a, v) => bump(a as Map<unknown, number>, v, -1),
    merge: (a, b) => mergeCounts(a as Map<unknown, number>, b as Map<unknown, number>),
    result: (a) => {
      let best: unknown = null
      for (const v of (a as Map<unknown, number>).keys()) if (best === null || better(v, best)) best = v
      return best
    },
    growing: true,
  }
}

function bump(m: Map<unknown, number>, v: unknown, d: number): Map<unknown, number> {
  const n = (m.get(v) ?? 0) + d
  if (n <= 0) m.delete(v)
  else m.set(v, n)
  return m
}

function mergeCounts(a: Map<unknown, number>, b: Map<unknown, number>): Map<unknown, number> {
  const m = new Map(a)
  for (const [v, n] of b) m.set(v, (m.get(v) ?? 0) + n)
  return m
}

function countDistinct(): AggFunction {
  return {
    name: 'COUNT DISTINCT',
    create: () => new Map<unknown, number>(),
    add: (a, v) => bump(a as Map<unknown, number>, v, 1),
    retract: (a, v) => bump(a as Map<unknown, number>, v, -1),
    merge: (a, b) => mergeCounts(a as Map<unknown, number>, b as Map<unknown, number>),
    result: (a) => (a as Map<unknown, number>).size,
    growing: true,
  }
}

/** A HyperLogLog back from a checkpoint is plain data; this gives the counter back. */
function hll(a: unknown): HyperLogLog {
  if (a instanceof HyperLogLog) return a
  const d = a as { p: number; registers: Uint8Array }
  return HyperLogLog.restore({ kind: 'hyperloglog', version: 1, p: d.p, registers: d.registers })
}

function approxCountDistinct(): AggFunction {
  return {
    name: 'APPROX_COUNT_DISTINCT',
    create: () => HyperLogLog.create({ p: 12 }),
    add: (a, v) => {
      const h = hll(a)
      h.add(typeof v === 'number' || typeof v === 'string' ? v : JSON.stringify(v))
      return h
    },
    merge: (a, b) => hll(a).clone().merge(hll(b)),
    result: (a) => hll(a).count(),
  }
}

function topK(k: number): AggFunction {
  const base = countDistinct()
  return {
    ...base,
    name: 'TOPK',
    result: (a) =>
      [...(a as Map<unknown, number>)]
        .sort((x, y) => y[1] - x[1] || (String(x[0]) < String(y[0]) ? -1 : 1))
        .slice(0, k)
        .map(([value, n]) => ({ value, count: n })),
  }
}

type Holder = { v: unknown; set: boolean }

function firstValue(): AggFunction {
  return {
    name: 'FIRST_VALUE',
    create: (): Holder => ({ v: null, set: false }),
    add: (a, v) => {
      const h = a as Holder
      if (!h.set) {
        h.v = v
        h.set = true
      }
      return h
    },
    merge: (a, b) => ((a as Holder).set ? { ...(a as Holder) } : { ...(b as Holder) }),
    result: (a) => (a as Holder).v,
  }
}

function lastValue(): AggFunction {
  return {
    name: 'LAST_VALUE',
    create: (): Holder => ({ v: null, set: false }),
    add: (a, v) => {
      const h = a as Holder
      h.v = v
      h.set = true
      return h
    },
    merge: (a, b) => ((b as Holder).set ? { ...(b as Holder) } : { ...(a as Holder) }),
    result: (a) => (a as Holder).v,
  }
}

function listOf(name: string, finish: (values: unknown[]) => unknown): AggFunction {
  return {
    name,
    create: () => [] as unknown[],
    add: (a, v) => {
      ;(a as unknown[]).push(v)
      return a
    },
    retract: (a, v) => {
      const list = a as unknown[]
      const i = list.lastIndexOf(v)
      if (i >= 0) list.splice(i, 1)
      return list
    },
    merge: (a, b) => [...(a as unknown[]), ...(b as unknown[])],
    result: (a) => ((a as unknown[]).length === 0 ? null : finish(a as unknown[])),
    growing: true,
  }
}

type Moments = [number, number, number]

function variance(name: string, sample: boolean, root: boolean): AggFunction {
  return {
    name,
    create: (): Moments => [0, 0, 0],
    add: (a, v) => {
      const m = a as Moments
      const x = v as number
      m[0]++
      m[1] += x
      m[2] += x * x
      return m
    },
    retract: (a, v) => {
      const m = a as Moments
      const x = v as number
      m[0]--
      m[1] -= x
      m[2] -= x * x
      return m
    },
    merge: (a, b) => (a as Moments).map((x, i) => x + (b as Moments)[i]!) as Moments,
    result: (a) => {
      const [n, s, q] = a as Moments
      const d = sample ? n - 1 : n
      if (d <= 0) return null
      const v = Math.max(0, (q - (s * s) / n) / d)
      return root ? Math.sqrt(v) : v
    },
  }
}

/** What an aggregate call needs besides its name: how its result is typed and its constant arguments. */
export interface AggOptions {
  readonly distinct?: boolean
  /** The argument is an integer type (AVG truncates like Flink). */
  readonly integer?: boolean
  /** The argument is DECIMAL of this scale: SUM counts exactly, AVG rounds to max(6, scale) digits. */
  readonly decimalScale?: number
  /** The input retracts rows (an updating input): pick accumulators that can undo an add. */
  readonly retracting?: boolean
  /** Constant second argument: TOPK's k, LISTAGG's separator. */
  readonly constant?: unknown
}

/**
 * The runtime function of aggregate `name` (upper case). Throws ERR_SQL_PLAN for an aggregate
 * that has no runtime form, or that cannot retract when `retracting` is set.
 */
export function aggFunction(name: string, options: AggOptions = {}): AggFunction {
  const r = options.retracting === true
  const dec = options.decimalScale
  let f: AggFunction
  switch (name) {
    case 'COUNT':
      f = options.distinct ? countDistinct() : count()
      break
    case 'SUM':
    case 'SUM0':
      f = dec === undefined ? sum(name, name === 'SUM0') : decimalSum(name, name === 'SUM0', dec)
      break
    case 'AVG':
      f = dec === undefined ? avg(options.integer === true) : decimalAvg(dec)
      break
    case 'MIN':
      f = r ? retractableExtreme('MIN', false) : extreme('MIN', false)
      break
    case 'MAX':
      f = r ? retractableExtreme('MAX', true) : extreme('MAX', true)
      break
    case 'APPROX_COUNT_DISTINCT':
      f = approxCountDistinct()
      break
    case 'TOPK':
      f = topK(typeof options.constant === 'number' ? options.constant : 10)
      break
    case 'FIRST_VALUE':
      f = firstValue()
      break
    case 'LAST_VALUE':
      f = lastValue()
      break
    case 'LISTAGG': {
      const sep = typeof options.constant === 'string' ? options.constant : ','
      f = listOf('LISTAGG', (values) => values.join(sep))
      break
    }
    case 'COLLECT':
      f = listOf('COLLECT', (values) => [...values])
      break
    case 'VAR_POP':
      f = variance(name, false, false)
      break
    case 'VAR_SAMP':
      f = variance(name, true, false)
      break
    case 'STDDEV_POP':
      f = variance(name, false, true)
      break
    case 'STDDEV_SAMP':
      f = variance(name, true, true)
      break
    default:
      throw new SquallError('ERR_SQL_PLAN', `aggregate ${name} has no streaming implementation`)
  }
  if (r && f.retract === undefined) {
    throw new SquallError(
      'ERR_SQL_PLAN',
      `${f.name} cannot take an updating input (its rows may be retracted and ${f.name} cannot undo a row); aggregate an append-only input or use a windowed query`,
    )
  }
  return f
}

/** One aggregate call of a query, compiled: its function, argument and FILTER (WHERE ...). */
export interface AggCall {
  readonly fn: AggFunction
  /** The argument; null for COUNT(*). */
  readonly arg: RowEvaluator | null
  readonly filter: ((row: SqlRow) => boolean) | null
}

/**
 * The accumulator of one group: the group's key values (taken from its first row), the number of
 * rows in it (net of retractions), and one accumulator per aggregate call.
 */
export interface GroupAcc {
  keys: unknown[]
  rows: number
  accs: unknown[]
}

/**
 * Folds rows into a GroupAcc for all `calls` at once. NULL arguments are skipped (COUNT(*) counts
 * every row); a FILTER that is not TRUE skips the row for that call only. Used as a core window
 * Aggregate (result: the GroupAcc itself) and by the updating group operator (with `retract`).
 */
export class RowAccumulator implements Aggregate<SqlRow, GroupAcc, GroupAcc> {
  private readonly n: number
  readonly growing: boolean

  constructor(
    readonly calls: readonly AggCall[],
    private readonly keyFns: readonly RowEvaluator[],
  ) {
    this.n = calls.length
    this.growing = calls.some((c) => c.fn.growing === true)
  }

  create(): GroupAcc {
    const accs = new Array<unknown>(this.n)
    for (let i = 0; i < this.n; i++) accs[i] = this.calls[i]!.fn.create()
    return { keys: [], rows: 0, accs }
  }

  add(acc: GroupAcc, row: SqlRow): GroupAcc {
    if (acc.rows === 0 && acc.keys.length === 0 && this.keyFns.length > 0)
      acc.keys = this.keyFns.map((f) => f(row))
    acc.rows++
    const calls = this.calls
    const accs = acc.accs
    for (let i = 0; i < this.n; i++) {
      const c = calls[i]!
      if (c.filter !== null && !c.filter(row)) continue
      if (c.arg === null) accs[i] = c.fn.add(accs[i], 1)
      else {
        const v = c.arg(row)
        if (v !== null) accs[i] = c.fn.add(accs[i], v)
      }
    }
    return acc
  }

  /** Undoes `add(acc, row)` for a row that was added earlier. */
  retract(acc: GroupAcc, row: SqlRow): GroupAcc {
    acc.rows--
    const calls = this.calls
    const accs = acc.accs
    for (let i = 0; i < this.n; i++) {
      const c = calls[i]!
      if (c.filter !== null && !c.filter(row)) continue
      const v = c.arg === null ? 1 : c.arg(row)
      if (v !== null) accs[i] = c.fn.retract!(accs[i], v)
    }
    return acc
  }

  merge(a: GroupAcc, b: GroupAcc): GroupAcc {
    const accs = new Array<unknown>(this.n)
    for (let i = 0; i < this.n; i++) accs[i] = this.calls[i]!.fn.merge(a.accs[i], b.accs[i])
    return { keys: a.keys.length > 0 ? a.keys : b.keys, rows: a.rows + b.rows, accs }
  }

  result(acc: GroupAcc): GroupAcc {
    return acc
  }

  /** The results of every call, in call order. */
  results(acc: GroupAcc): unknown[] {
    const out = new Array<unknown>(this.n)
    for (let i = 0; i < this.n; i++) out[i] = this.calls[i]!.fn.result(acc.accs[i])
    return out
  }
}

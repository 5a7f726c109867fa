// Type checking and compilation of SQL expressions into nested JS closures `(row) => value`,
// with SQL's three-valued NULL logic. Built once per query; the closures allocate nothing per row
// except the values they produce. The common operators also carry their code (`expr-code.ts`), and
// an expression made of them becomes one generated function.

import { SquallError } from '../core/errors.ts'
import { generate } from '../core/generated.ts'
import { DROP } from '../core/value-step.ts'
import type { Binary, Call, Case, Expr, InTest, Like } from './ast.ts'
import {
  arithmeticOnNumbers,
  callFn,
  compareFn,
  likeToRegExp,
  numericOp,
  similarToRegExp,
  simpleLike,
  timePlusInterval,
} from './compile-ops.ts'
import { decimalCode, decimalOp } from './decimal.ts'
import {
  type CodeOf,
  callCode,
  compareCode,
  compareTest,
  constantCode,
  ExprCode,
  logicCode,
  logicTest,
  numericCode,
  unaryCode,
} from './expr-code.ts'
import { formatExpr } from './format-expr.ts'
import { typeName } from './function-def.ts'
import { resolveCall } from './functions.ts'
import { bothIntegers } from './functions-math.ts'
import { cachedRegex, toText } from './functions-string.ts'
import { extractField } from './functions-time.ts'
import { parseExpression } from './parser.ts'
import { type RowSchema, resolveColumn } from './row-schema.ts'
import { makeCast } from './sql-cast.ts'
import { parseTimestamp } from './sql-time.ts'
import {
  castable,
  commonType,
  comparable,
  decimalArithmeticType,
  formatType,
  isInterval,
  isNumeric,
  isString,
  isTemporal,
  numericCommonType,
  type SqlType,
  SqlTypes,
} from './types.ts'

/** A row as expressions read it: a plain object keyed by column (or `Column.field`) name. */
export type SqlRow = { readonly [column: string]: unknown }

/** A compiled expression. Returns null for SQL NULL (never undefined). May throw ERR_SQL_RUNTIME. */
export type RowEvaluator = (row: SqlRow) => unknown

/** A compiled expression with its result type. */
export interface TypedEvaluator {
  readonly type: SqlType
  readonly evaluate: RowEvaluator
}

interface Node {
  readonly type: SqlType
  readonly fn: RowEvaluator
  /** Set when the value does not depend on the row. */
  readonly constant: boolean
  /** The node as generated code computing what `fn` does, when it has one. */
  readonly code?: CodeOf
  /** Its value with NULL possibly `undefined`, where cheaper than `code` (see `ExprCode.loose`). */
  readonly loose?: CodeOf
  /** Its code as a condition, where cheaper than `code` (see `ExprCode.test`). */
  readonly test?: CodeOf
}

const typeError = (message: string) => new SquallError('ERR_SQL_TYPE', message)
const quoted = (e: Expr) => `"${formatExpr(e)}"`

function constantNode(type: SqlType, value: unknown): Node {
  const v = value === undefined ? null : value
  return { type, fn: () => v, constant: true, code: constantCode(v) }
}

/**
 * Folds a node whose inputs are all constant, unless evaluating it fails (then it fails per row).
 * `test`: the node's code as a condition, when it has `code` (see `Node.test`).
 */
function fold(
  type: SqlType,
  fn: RowEvaluator,
  inputs: readonly Node[],
  volatile = false,
  code?: CodeOf,
  test?: CodeOf,
): Node {
  const node: Node =
    code === undefined
      ? { type, fn, constant: false }
      : test === undefined
        ? { type, fn, constant: false, code }
        : { type, fn, constant: false, code, test }
  if (!volatile && inputs.every((n) => n.constant)) {
    try {
      return constantNode(type, fn({}))
    } catch {
      return node
    }
  }
  return node
}

/** The code of `node` for an operator's code: its own, or a call of its closure. */
const codeOf =
  (node: Node): CodeOf =>
  (c) =>
    c.of(node)

/** The code of `node` for an operator that tests its operands with `== null` (see `Node.loose`). */
const looseOf =
  (node: Node): CodeOf =>
  (c) =>
    c.loose(node)

/** The code of `node` as a condition (see `Node.test`). */
const testOf =
  (node: Node): CodeOf =>
  (c) =>
    c.test(node)

/** The code reading a top-level field, as `fieldReader` reads it. */
function fieldCode(key: string, temporal: boolean): CodeOf {
  return (c) => {
    const t = c.temp()
    const read = `(${t} = row[${JSON.stringify(key)}])`
    return temporal
      ? `(typeof ${read} === 'number' ? ${t} : ${c.outside(readTime)}(${t}))`
      : `(${read} === undefined ? null : ${t})`
  }
}

/**
 * `node` as one function: generated from its code when it has code and is more than a field read
 * or a constant (those keep their own small functions, which code generators recognise).
 */
function generated(node: Node): RowEvaluator {
  if (node.code === undefined) return node.fn
  let fn = node.fn
  if (!node.constant && !fieldReaders.has(fn)) {
    const c = new ExprCode()
    fn = c.build<RowEvaluator>(c.of(node))
  }
  evaluatorCode.set(fn, node.code)
  return fn
}

function readTime(v: unknown): unknown {
  if (typeof v === 'number' || v == null) return v ?? null
  if (typeof v === 'string') return parseTimestamp(v) ?? null
  if (v instanceof Date) return v.getTime()
  return null
}

/**
 * Builds a reader of one row field with its own function code, so the property load at its heart
 * only ever sees one name and stays a fast named load (one shared closure over a `key` variable
 * would see every column's name and go megamorphic). `temporal` reads the field as a time.
 */
function fieldReader(key: string, temporal: boolean): RowEvaluator {
  const body = `const v = row[${JSON.stringify(key)}]; return ${fieldValue('v', temporal)}`
  const fn = generate<RowEvaluator>(['readTime'], `return function (row) { ${body} }`, [readTime])
  fieldReaders.set(fn, { key, temporal })
  return fn
}

/** The evaluators made by `fieldReader`, with what they read: code generators inline them. */
const fieldReaders = new WeakMap<RowEvaluator, { readonly key: string; readonly temporal: boolean }>()

/** The JavaScript expression turning `v`, a field's raw value, into the column's value. */
function fieldValue(v: string, temporal: boolean): string {
  return temporal
    ? `(typeof ${v} === 'number' ? ${v} : readTime(${v}))`
    : `(${v} === undefined ? null : ${v})`
}

/**
 * The code of an evaluator this module made — a field read, a constant, a generated expression —
 * for code generators that write it into their own function (see `ExprCode`); undefined for others.
 */
export function codeOfEvaluator(fn: RowEvaluator): CodeOf | undefined {
  return evaluatorCode.get(fn)
}

/** The code of the evaluators handed out, by evaluator. */
const evaluatorCode = new WeakMap<RowEvaluator, CodeOf>()

export { readTime }

class Compiler {
  constructor(
    private readonly schema: RowSchema,
    private readonly allowPlanned: boolean,
  ) {}

  node(e: Expr): Node {
    switch (e.kind) {
      case 'literal':
        return constantNode(e.type, e.value)
      case 'interval':
        return constantNode(e.yearMonth ? SqlTypes.INTERVAL_YEAR_MONTH : SqlTypes.INTERVAL_DAY_TIME, e.value)
      case 'column':
        return this.column(e)
      case 'unary':
        return this.unary(e.op, this.node(e.operand), e)
      case 'binary':
        return this.binary(e)
      case 'is':
        return this.isTest(e.test, e.not, this.node(e.operand), e.other ? this.node(e.other) : undefined)
      case 'in':
        return this.inTest(e)
      case 'between':
        return this.between(e.not, this.node(e.operand), this.node(e.low), this.node(e.high), e)
      case 'like':
        return this.like(e)
      case 'case':
        return this.caseExpr(e)
      case 'cast': {
        const from = this.node(e.operand)
        if (!castable(from.type, e.type)) {
          throw typeError(`cannot cast ${typeName(from.type)} to ${formatType(e.type)} in ${quoted(e)}`)
        }
        const conv = makeCast(from.type, e.type, e.safe, formatExpr(e))
        const f = from.fn
        return fold(e.type, (row) => conv(f(row)), [from])
      }
      case 'extract': {
        const from = this.node(e.operand)
        if (!isTemporal(from.type) && from.type.kind !== 'NULL') {
          throw typeError(
            `EXTRACT needs a DATE, TIME or TIMESTAMP, got ${typeName(from.type)} in ${quoted(e)}`,
          )
        }
        const f = from.fn
        const unit = e.unit
        return fold(
          SqlTypes.BIGINT,
          (row) => {
            const v = f(row)
            return v == null ? null : extractField(unit, v as number)
          },
          [from],
        )
      }
      case 'call':
        return this.call(e)
      case 'index':
        return this.index(this.node(e.target), this.node(e.index), e)
      case 'field': {
        const target = this.node(e.target)
        const t = target.type
        const field =
          t.kind === 'ROW'
            ? t.fields.find((f) => f.name === e.field || f.name.toLowerCase() === e.field.toLowerCase())
            : undefined
        if (!field) throw typeError(`${typeName(t)} has no field "${e.field}" in ${quoted(e)}`)
        const f = target.fn
        const name = field.name
        return fold(
          field.type,
          (row) => {
            const r = f(row) as { [k: string]: unknown } | null
            const v = r == null ? null : r[name]
            return v === undefined ? null : v
          },
          [target],
        )
      }
      case 'constructor':
        return this.constructorExpr(
          e.type,
          e.items.map((i) => this.node(i)),
          e,
        )
      case 'star':
        throw typeError(`"*" is only allowed in SELECT * and COUNT(*), not in ${quoted(e)}`)
      case 'subquery':
        throw typeError(`a subquery cannot be evaluated as a row expression: ${quoted(e)}`)
      default:
        throw typeError(`${quoted(e)} is only allowed as an argument of a table function`)
    }
  }

  private column(e: Expr & { kind: 'column' }): Node {
    const r = resolveColumn(e, this.schema)
    const key = r.column.field ?? r.column.name
    if (r.path.length > 0) {
      const sub = r.path[0]!
      return {
        type: r.type,
        constant: false,
        fn: (row) => {
          const o = row[key] as { [k: string]: unknown } | null | undefined
          const v = o == null ? null : o[sub]
          return v === undefined ? null : v
        },
      }
    }
    const temporal = isTemporal(r.type)
    const node = {
      type: r.type,
      constant: false,
      fn: fieldReader(key, temporal),
      code: fieldCode(key, temporal),
    }
    return temporal ? node : { ...node, loose: () => `row[${JSON.stringify(key)}]` }
  }

  private unary(op: '-' | '+' | 'NOT', a: Node, e: Expr): Node {
    const f = a.fn
    if (op === 'NOT') {
      this.expectBoolean(a, e)
      return fold(
        SqlTypes.BOOLEAN,
        (row) => {
          const v = f(row)
          return v == null ? null : !v
        },
        [a],
        false,
        unaryCode('NOT', codeOf(a)),
        (c) => `(${c.of(a)} === false)`,
      )
    }
    if (!isNumeric(a.type) && !isInterval(a.type) && a.type.kind !== 'NULL') {
      throw typeError(`unary ${op} needs a number, got ${typeName(a.type)} in ${quoted(e)}`)
    }
    if (op === '+') return a
    return fold(
      a.type,
      (row) => {
        const v = f(row) as number | null
        return v == null ? null : -v
      },
      [a],
      false,
      unaryCode('-', codeOf(a)),
    )
  }

  private expectBoolean(n: Node, e: Expr): void {
    if (n.type.kind !== 'BOOLEAN' && n.type.kind !== 'NULL') {
      throw typeError(`expected a BOOLEAN condition, got ${typeName(n.type)} in ${quoted(e)}`)
    }
  }

  /** Turns a string literal compared with a time into that time, checked once. */
  private coerce(n: Node, other: SqlType, e: Expr): Node {
    if (n.constant && isString(n.type) && isTemporal(other)) {
      const text = n.fn({}) as string | null
      const ms = text == null ? null : parseTimestamp(text)
      if (ms === undefined) throw typeError(`cannot read '${text}' as ${typeName(other)} in ${quoted(e)}`)
      return constantNode(other, ms)
    }
    return n
  }

  private binary(e: Binary): Node {
    let a = this.node(e.left)
    let b = this.node(e.right)
    const op = e.op
    const fa = a.fn
    const fb = b.fn
    if (op === 'AND' || op === 'OR') {
      this.expectBoolean(a, e)
      this.expectBoolean(b, e)
      const fn: RowEvaluator =
        op === 'AND'
          ? (row) => {
              const x = fa(row)
              if (x === false) return false
              const y = fb(row)
              if (y === false) return false
              return x == null || y == null ? null : true
            }
          : (row) => {
              const x = fa(row)
              if (x === true) return true
              const y = fb(row)
              if (y === true) return true
              return x == null || y == null ? null : false
            }
      return fold(
        SqlTypes.BOOLEAN,
        fn,
        [a, b],
        false,
        logicCode(op, codeOf(a), codeOf(b)),
        logicTest(op, testOf(a), testOf(b)),
      )
    }
    if (op === '||') {
      const fn: RowEvaluator = (row) => {
        const x = fa(row)
        if (x == null) return null
        const y = fb(row)
        return y == null ? null : toText(x) + toText(y)
      }
      return fold(SqlTypes.STRING, fn, [a, b])
    }
    if (op === '=' || op === '<>' || op === '<' || op === '<=' || op === '>' || op === '>=') {
      a = this.coerce(a, b.type, e)
      b = this.coerce(b, a.type, e)
      if (!comparable(a.type, b.type)) {
        throw typeError(`cannot compare ${typeName(a.type)} with ${typeName(b.type)} in ${quoted(e)}`)
      }
      const arrays = a.type.kind === 'ARRAY'
      const fn = compareFn(op, a.fn, b.fn, arrays)
      if (arrays) return fold(SqlTypes.BOOLEAN, fn, [a, b])
      const [x, y] = [looseOf(a), looseOf(b)]
      return fold(SqlTypes.BOOLEAN, fn, [a, b], false, compareCode(op, x, y), compareTest(op, x, y))
    }
    return this.arithmetic(op, a, b, e)
  }

  private arithmetic(op: '+' | '-' | '*' | '/' | '%', a: Node, b: Node, e: Expr): Node {
    const fa = a.fn
    const fb = b.fn
    const ta = a.type
    const tb = b.type
    const num = numericCommonType(ta, tb)
    if (num) {
      const text = formatExpr(e)
      if (num.kind === 'DECIMAL' && ta.kind !== 'NULL' && tb.kind !== 'NULL') {
        const type = decimalArithmeticType(op, ta, tb)
        const scale = (t: SqlType) => (t.kind === 'DECIMAL' ? t.scale : 0)
        const constants = {
          ...(a.constant ? { a: fa({}) as number | null } : {}),
          ...(b.constant ? { b: fb({}) as number | null } : {}),
        }
        const fn = decimalOp(op, fa, fb, scale(ta), scale(tb), scale(type), text, constants)
        const code =
          op === '+' || op === '-' || op === '*'
            ? decimalCode(op, codeOf(a), codeOf(b), scale(ta), scale(tb), scale(type), constants)
            : undefined
        return fold(type, fn, [a, b], false, code)
      }
      const ints = bothIntegers(ta, tb)
      const code = numericCode(op, looseOf(a), looseOf(b), ints, text)
      return fold(num, numericOp(op, fa, fb, ints, text), [a, b], false, code)
    }
    if ((op === '+' || op === '-') && isTemporal(ta) && isInterval(tb)) {
      return fold(ta, timePlusInterval(fa, fb, tb.kind === 'INTERVAL_YEAR_MONTH', op === '-' ? -1 : 1), [
        a,
        b,
      ])
    }
    if (op === '+' && isInterval(ta) && isTemporal(tb)) {
      return fold(tb, timePlusInterval(fb, fa, ta.kind === 'INTERVAL_YEAR_MONTH', 1), [a, b])
    }
    const intervalMath =
      (isInterval(ta) && (op === '+' || op === '-') && ta.kind === tb.kind) ||
      (isInterval(ta) && isNumeric(tb) && (op === '*' || op === '/')) ||
      (isNumeric(ta) && isInterval(tb) && op === '*')
    if (intervalMath) {
      const type = isInterval(ta) ? ta : tb
      return fold(type, arithmeticOnNumbers(op, fa, fb), [a, b])
    }
    throw typeError(`cannot apply ${op} to ${typeName(ta)} and ${typeName(tb)} in ${quoted(e)}`)
  }

  private isTest(test: 'NULL' | 'TRUE' | 'FALSE' | 'DISTINCT', not: boolean, a: Node, other?: Node): Node {
    const f = a.fn
    let fn: RowEvaluator
    if (test === 'NULL') fn = not ? (row) => f(row) != null : (row) => f(row) == null
    else if (test === 'TRUE') fn = not ? (row) => f(row) !== true : (row) => f(row) === true
    else if (test === 'FALSE') fn = not ? (row) => f(row) !== false : (row) => f(row) === false
    else {
      const g = other!.fn
      fn = (row) => {
        const x = f(row)
        const y = g(row)
        const same = x == null || y == null ? x == null && y == null : x === y
        return not ? same : !same
      }
    }
    return fold(SqlTypes.BOOLEAN, fn, other ? [a, other] : [a])
  }

  private inTest(e: InTest): Node {
    if (!e.list) throw typeError(`IN (SELECT ...) is planned as a join, not evaluated per row: ${quoted(e)}`)
    const a = this.node(e.operand)
    const items = e.list.map((i) => this.coerce(this.node(i), a.type, e))
    for (const it of items) {
      if (!comparable(a.type, it.type)) {
        throw typeError(`cannot compare ${typeName(a.type)} with ${typeName(it.type)} in ${quoted(e)}`)
      }
    }
    const f = a.fn
    const not = e.not
    if (items.every((i) => i.constant)) {
      const values = items.map((i) => i.fn({}))
      const hasNull = values.some((v) => v == null)
      const set = new Set(values.filter((v) => v != null))
      return fold(
        SqlTypes.BOOLEAN,
        (row) => {
          const v = f(row)
          if (v == null) return null
          if (set.has(v)) return !not
          return hasNull ? null : not
        },
        [a],
      )
    }
    const fns = items.map((i) => i.fn)
    return fold(
      SqlTypes.BOOLEAN,
      (row) => {
        const v = f(row)
        if (v == null) return null
        let sawNull = false
        for (let i = 0; i < fns.length; i++) {
          const x = fns[i]!(row)
          if (x == null) sawNull = true
          else if (x === v) return !not
        }
        return sawNull ? null : not
      },
      [a, ...items],
    )
  }

  private between(not: boolean, a: Node, lo: Node, hi: Node, e: Expr): Node {
    lo = this.coerce(lo, a.type, e)
    hi = this.coerce(hi, a.type, e)
    for (const b of [lo, hi]) {
      if (!comparable(a.type, b.type)) {
        throw typeError(`cannot compare ${typeName(a.type)} with ${typeName(b.type)} in ${quoted(e)}`)
      }
    }
    const f = a.fn
    const fl = lo.fn
    const fh = hi.fn
    return fold(
      SqlTypes.BOOLEAN,
      (row) => {
        const v = f(row) as number | string | null
        if (v == null) return null
        const l = fl(row) as number | string | null
        const h = fh(row) as number | string | null
        const geLow = l == null ? null : v >= l
        const leHigh = h == null ? null : v <= h
        const r = geLow === false || leHigh === false ? false : geLow == null || leHigh == null ? null : true
        return r == null ? null : not ? !r : r
      },
      [a, lo, hi],
    )
  }

  private like(e: Like): Node {
    const a = this.node(e.operand)
    const p = this.node(e.pattern)
    const esc = e.escape ? this.node(e.escape) : undefined
    for (const n of esc ? [a, p, esc] : [a, p]) {
      if (!isString(n.type) && n.type.kind !== 'NULL') {
        throw typeError(
          `${e.similar ? 'SIMILAR TO' : 'LIKE'} needs strings, got ${typeName(n.type)} in ${quoted(e)}`,
        )
      }
    }
    const escapeChar = esc ? (esc.fn({}) as string | null) : null
    if (esc && (!esc.constant || (escapeChar !== null && escapeChar.length !== 1))) {
      throw typeError(`ESCAPE must be a single character literal in ${quoted(e)}`)
    }
    const toRegex = e.similar ? similarToRegExp : (s: string) => likeToRegExp(s, escapeChar)
    const f = a.fn
    const not = e.not
    if (p.constant) {
      const pattern = p.fn({}) as string | null
      if (pattern == null) return constantNode(SqlTypes.BOOLEAN, null)
      const test = e.similar ? undefined : simpleLike(pattern, escapeChar)
      if (test) {
        return fold(
          SqlTypes.BOOLEAN,
          (row) => {
            const v = f(row) as string | null
            return v == null ? null : test(v) !== not
          },
          [a],
        )
      }
      const re = toRegex(pattern)
      return fold(
        SqlTypes.BOOLEAN,
        (row) => {
          const v = f(row) as string | null
          return v == null ? null : re.test(v) !== not
        },
        [a],
      )
    }
    const fp = p.fn
    return fold(
      SqlTypes.BOOLEAN,
      (row) => {
        const v = f(row) as string | null
        const pat = fp(row) as string | null
        return v == null || pat == null ? null : cachedRegex(toRegex(pat).source).test(v) !== not
      },
      [a, p],
    )
  }

  private caseExpr(e: Case): Node {
    const operand = e.operand ? this.node(e.operand) : undefined
    const conds = e.whens.map((w) => {
      const c = this.node(w.when)
      if (operand) {
        if (!comparable(operand.type, c.type)) {
          throw typeError(`cannot compare ${typeName(operand.type)} with ${typeName(c.type)} in ${quoted(e)}`)
        }
      } else this.expectBoolean(c, w.when)
      return c
    })
    const thens = e.whens.map((w) => this.node(w.result))
    const otherwise = e.else ? this.node(e.else) : constantNode(SqlTypes.NULL, null)
    let type: SqlType = SqlTypes.NULL
    for (const n of [...thens, otherwise]) {
      const t = commonType(type, n.type)
      if (!t)
        throw typeError(
          `CASE branches have types ${[...thens, otherwise].map((x) => typeName(x.type)).join(', ')} with no common type in ${quoted(e)}`,
        )
      type = t
    }
    const cf = conds.map((c) => c.fn)
    const tf = thens.map((t) => t.fn)
    const ef = otherwise.fn
    const n = cf.length
    const of = operand?.fn
    const fn: RowEvaluator = of
      ? (row) => {
          const v = of(row)
          if (v != null) for (let i = 0; i < n; i++) if (cf[i]!(row) === v) return tf[i]!(row)
          return ef(row)
        }
      : (row) => {
          for (let i = 0; i < n; i++) if (cf[i]!(row) === true) return tf[i]!(row)
          return ef(row)
        }
    return fold(type, fn, [...(operand ? [operand] : []), ...conds, ...thens, otherwise])
  }

  private call(e: Call): Node {
    const text = formatExpr(e)
    const star = e.args.length === 1 && e.args[0]!.kind === 'star'
    const args = star ? [] : e.args.map((a) => this.node(a))
    let name = e.name
    if (e.unit) {
      if (name === 'FLOOR' || name === 'CEIL') name = `${name}_TO`
      args.unshift(constantNode(SqlTypes.STRING, e.unit))
    }
    const { fn, type } = resolveCall(
      name,
      args.map((a) => a.type),
      text,
    )
    if (fn.kind !== 'scalar') {
      if (this.allowPlanned) return { type, fn: () => null, constant: false }
      const what =
        fn.kind === 'aggregate'
          ? 'an aggregate'
          : fn.kind === 'window'
            ? 'a window function (use it with OVER)'
            : 'a MATCH_RECOGNIZE function'
      throw typeError(`${fn.name} is ${what}: it is computed over many rows, not on one row, in "${text}"`)
    }
    if (e.over !== undefined || e.filter || e.distinct) {
      throw typeError(`${fn.name} is a scalar function: OVER, FILTER and DISTINCT do not apply, in "${text}"`)
    }
    const impl = fn.impl
    const fs = args.map((a) => a.fn)
    const aware = fn.nullAware === true
    const run = callFn(impl, fs, aware)
    // A null-aware function sees NULL as null; others are not called with one (checked with == null).
    const code = callCode(
      impl as (...a: never[]) => unknown,
      args.map(aware ? codeOf : looseOf),
      aware,
      fn.code,
    )
    return fold(type, run, args, fn.volatile === true, code)
  }

  private index(target: Node, idx: Node, e: Expr): Node {
    const t = target.type
    const ft = target.fn
    const fi = idx.fn
    if (t.kind === 'ARRAY') {
      if (!isNumeric(idx.type))
        throw typeError(`an ARRAY index must be an integer, got ${typeName(idx.type)} in ${quoted(e)}`)
      return fold(
        t.element,
        (row) => {
          const a = ft(row) as unknown[] | null
          const i = fi(row) as number | null
          if (a == null || i == null) return null
          const v = a[i - 1]
          return v === undefined ? null : v
        },
        [target, idx],
      )
    }
    if (t.kind === 'MAP') {
      return fold(
        t.value,
        (row) => {
          const m = ft(row)
          const k = fi(row)
          if (m == null || k == null) return null
          const v = m instanceof Map ? m.get(k) : (m as { [key: string]: unknown })[String(k)]
          return v === undefined ? null : v
        },
        [target, idx],
      )
    }
    throw typeError(`[] needs an ARRAY or a MAP, got ${typeName(t)} in ${quoted(e)}`)
  }

  private constructorExpr(kind: 'ARRAY' | 'MAP' | 'ROW', items: Node[], e: Expr): Node {
    const fs = items.map((i) => i.fn)
    if (kind === 'ROW') {
      const fields = items.map((n, i) => ({ name: `f${i}`, type: n.type }))
      return fold(
        SqlTypes.row(fields),
        (row) => {
          const o: { [k: string]: unknown } = {}
          for (let i = 0; i < fs.length; i++) o[`f${i}`] = fs[i]!(row)
          return o
        },
        items,
      )
    }
    const common = (nodes: Node[]) => {
      let t: SqlType = SqlTypes.NULL
      for (const n of nodes) {
        const c = commonType(t, n.type)
        if (!c) throw typeError(`${kind} items have no common type in ${quoted(e)}`)
        t = c
      }
      return t
    }
    if (kind === 'ARRAY') {
      return fold(SqlTypes.array(common(items)), (row) => fs.map((f) => f(row)), items)
    }
    if (items.length % 2 !== 0) throw typeError(`MAP[...] needs key, value pairs in ${quoted(e)}`)
    const keys = items.filter((_, i) => i % 2 === 0)
    const values = items.filter((_, i) => i % 2 === 1)
    return fold(
      SqlTypes.map(common(keys), common(values)),
      (row) => {
        const o: { [k: string]: unknown } = {}
        for (let i = 0; i < fs.length; i += 2) o[String(fs[i]!(row))] = fs[i + 1]!(row)
        return o
      },
      items,
    )
  }
}

function toExpr(expr: Expr | string): Expr {
  return typeof expr === 'string' ? parseExpression(expr) : expr
}

/**
 * The result type of `expr` over rows of `schema`, aggregates and window functions included.
 * Throws ERR_SQL_TYPE when types do not fit (naming both types and the expression),
 * ERR_SQL_UNKNOWN_COLUMN (naming the table and the closest column) and ERR_SQL_UNKNOWN_FUNCTION.
 */
export function inferType(expr: Expr | string, schema: RowSchema): SqlType {
  return new Compiler(schema, true).node(toExpr(expr)).type
}

/**
 * Compiles `expr` (a tree or SQL text) into a closure over rows of `schema`, with its type.
 * Aggregate, window and pattern functions are refused (ERR_SQL_TYPE): the planner computes them
 * and passes their results in as columns. Parts that do not depend on the row are computed once.
 */
export function compileTyped(expr: Expr | string, schema: RowSchema): TypedEvaluator {
  const n = new Compiler(schema, false).node(toExpr(expr))
  return { type: n.type, evaluate: generated(n) }
}

/** Compiles `expr` into `(row) => value`; see compileTyped for the rules and the errors. */
export function compileExpr(expr: Expr | string, schema: RowSchema): RowEvaluator {
  return compileTyped(expr, schema).evaluate
}

/**
 * Compiles a condition (WHERE, HAVING, ON, DEFINE) into `(row) => boolean` that is true only when
 * the condition is TRUE (NULL counts as false). Throws ERR_SQL_TYPE when it is not BOOLEAN.
 */
export function compilePredicate(expr: Expr | string, schema: RowSchema): (row: SqlRow) => boolean {
  // Generated, so each predicate is a function of its own (its calls and loads see one shape).
  const c = new ExprCode()
  return c.build(c.test(compileCondition(expr, schema)))
}

/** The node of a condition; a condition that is not BOOLEAN is an ERR_SQL_TYPE naming its type. */
function compileCondition(expr: Expr | string, schema: RowSchema): Node {
  const e = toExpr(expr)
  const n = new Compiler(schema, false).node(e)
  if (n.type.kind !== 'BOOLEAN' && n.type.kind !== 'NULL') {
    throw typeError(`expected a BOOLEAN condition, got ${typeName(n.type)} in "${formatExpr(e)}"`)
  }
  return n
}

/**
 * A condition as a filter step (see `ValueStep`): the row itself when the condition is TRUE, else
 * DROP. One generated function: the condition's code, or a call of its closure where it has none.
 */
export function compileFilterStep(expr: Expr | string, schema: RowSchema): (row: unknown) => unknown {
  const c = new ExprCode()
  const condition = c.test(compileCondition(expr, schema))
  return c.build(`${condition} ? row : ${c.outside(DROP)}`)
}

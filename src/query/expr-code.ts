// Generated JavaScript for compiled SQL expressions: the common operators (columns, constants,
// arithmetic, comparisons, AND / OR / NOT) written into one function per expression, as Flink
// generates the code of a Calc, instead of a closure call per operator and row.

import { SquallError } from '../core/errors.ts'
import { generate } from '../core/generated.ts'

/** A compiled expression over a row object; returns null for SQL NULL. */
type RowEvaluator = (row: { readonly [column: string]: unknown }) => unknown

/**
 * A part of an expression as code is written from it: its closure, and the code doing what the
 * closure does, when it has code. Two more forms where they are cheaper than that code:
 * - `loose`: the value where NULL may also come out as `undefined` (a field read as it is), for
 *   operators that test their operands with `== null` anyway;
 * - `test`: a JavaScript boolean, true exactly when the value is TRUE (NULL and FALSE give false),
 *   for conditions, where NULL and FALSE mean the same (WHERE, HAVING, ON).
 */
interface Part {
  readonly fn: RowEvaluator
  readonly code?: CodeOf
  readonly loose?: CodeOf
  readonly test?: CodeOf
}

/**
 * Writes the code of one expression with SQL's three-valued NULL logic: each part is a JavaScript
 * expression over `row` evaluating to the part's value (null for NULL), with temporaries the
 * function declares and values from outside (closures of the parts without code, constants that
 * are objects) passed in as parameters.
 */
export class ExprCode {
  private temps = 0
  private readonly names: string[] = []
  private readonly values: unknown[] = []

  /** A new temporary variable. */
  temp(): string {
    return `t${this.temps++}`
  }

  /** The name under which the generated function sees `value`. */
  outside(value: unknown): string {
    const at = this.values.indexOf(value)
    if (at >= 0) return this.names[at]!
    const name = `k${this.names.length}`
    this.names.push(name)
    this.values.push(value)
    return name
  }

  /** The code of a part: its own, or a call of its closure. */
  of(part: Part): string {
    return part.code === undefined ? `${this.outside(part.fn)}(row)` : part.code(this)
  }

  /** The code of a part's value where NULL may also be `undefined` (see `Part.loose`). */
  loose(part: Part): string {
    return part.loose === undefined ? this.of(part) : part.loose(this)
  }

  /** The code of a JavaScript boolean, true exactly when the part's value is TRUE (see `Part.test`). */
  test(part: Part): string {
    return part.test === undefined ? `(${this.of(part)} === true)` : part.test(this)
  }

  /** Makes the function `(row) => result`, `result` being code written with this object. */
  build<F>(result: string): F {
    const lets =
      this.temps > 0 ? `let ${Array.from({ length: this.temps }, (_, i) => `t${i}`).join(', ')}\n` : ''
    const body = `return function (row) {\n${lets}return ${result}\n}`
    return generate<F>(this.names, body, this.values)
  }
}

/** How a part writes its code. */
export type CodeOf = (c: ExprCode) => string

/** The code of a constant: a literal when it has one, else an outside value. */
export function constantCode(value: unknown): CodeOf {
  if (value === null || value === undefined) return () => 'null'
  if (typeof value === 'boolean') return () => String(value)
  if (typeof value === 'number' && Number.isFinite(value) && !Object.is(value, -0)) {
    return () => `(${String(value)})`
  }
  if (typeof value === 'string') return () => JSON.stringify(value)
  return (c) => c.outside(value)
}

/** `x op y` of two parts, NULL when either is NULL; the right part is not evaluated after a NULL. */
function nullSafe(a: CodeOf, b: CodeOf, op: (x: string, y: string) => string): CodeOf {
  return (c) => {
    const x = c.temp()
    const y = c.temp()
    return `((${x} = ${a(c)}) == null ? null : (${y} = ${b(c)}) == null ? null : ${op(x, y)})`
  }
}

/** `=`, `<>`, `<`, `<=`, `>`, `>=` of scalar values, as `compareFn` computes them. */
export function compareCode(op: string, a: CodeOf, b: CodeOf): CodeOf {
  const js = op === '=' ? '===' : op === '<>' ? '!==' : op
  return nullSafe(a, b, (x, y) => `${x} ${js} ${y}`)
}

/**
 * `=`, `<>`, `<`, `<=`, `>`, `>=` as a test (see `Part.test`): true when neither side is NULL and
 * the comparison holds. The operands may be loose (`Part.loose`).
 */
export function compareTest(op: string, a: CodeOf, b: CodeOf): CodeOf {
  const js = op === '=' ? '===' : op === '<>' ? '!==' : op
  return (c) => {
    const x = c.temp()
    const y = c.temp()
    return `((${x} = ${a(c)}) != null && (${y} = ${b(c)}) != null && ${x} ${js} ${y})`
  }
}

/** AND / OR of two tests (see `Part.test`): TRUE AND TRUE, TRUE OR anything. */
export function logicTest(op: 'AND' | 'OR', a: CodeOf, b: CodeOf): CodeOf {
  return (c) => `(${a(c)} ${op === 'AND' ? '&&' : '||'} ${b(c)})`
}

/** `+ - * / %` on numbers, as `numericOp` computes them (`ints`: `/` truncates, a zero divisor throws). */
export function numericCode(op: string, a: CodeOf, b: CodeOf, ints: boolean, text: string): CodeOf {
  if (op === '+' || op === '-' || op === '*') return nullSafe(a, b, (x, y) => `${x} ${op} ${y}`)
  const zero = () => {
    throw new SquallError('ERR_SQL_RUNTIME', `division by zero in "${text}"`)
  }
  return (c) => {
    const check = ints ? (y: string) => `${y} === 0 ? ${c.outside(zero)}() : ` : () => ''
    const value = (x: string, y: string) =>
      op === '%' ? `${x} % ${y}` : ints ? `Math.trunc(${x} / ${y})` : `${x} / ${y}`
    return nullSafe(a, b, (x, y) => `${check(y)}${value(x, y)}`)(c)
  }
}

/** AND / OR with SQL's three-valued logic; the right part is not evaluated once the result is known. */
export function logicCode(op: 'AND' | 'OR', a: CodeOf, b: CodeOf): CodeOf {
  const decides = op === 'AND' ? 'false' : 'true'
  const otherwise = op === 'AND' ? 'true' : 'false'
  return (c) => {
    const x = c.temp()
    const y = c.temp()
    return `((${x} = ${a(c)}) === ${decides} ? ${decides} : (${y} = ${b(c)}) === ${decides} ? ${decides} : ${x} == null || ${y} == null ? null : ${otherwise})`
  }
}

/** NOT, or unary minus (`-`), NULL staying NULL. */
export function unaryCode(op: 'NOT' | '-', a: CodeOf): CodeOf {
  return (c) => {
    const x = c.temp()
    return `((${x} = ${a(c)}) == null ? null : ${op === 'NOT' ? '!' : '-'}${x})`
  }
}

/**
 * A scalar function's own code (`ScalarFunction.code`): a JavaScript expression of its arguments'
 * values (never NULL), doing what its implementation does, and never undefined. `outside` names a
 * value the code uses (see `ExprCode.outside`).
 */
export type InlineCall = (args: readonly string[], outside: (value: unknown) => string) => string

/**
 * A call of a scalar function's implementation, as `callFn` makes it: unless `aware`, the first
 * NULL argument gives NULL without evaluating the rest or calling `impl`; an undefined result is NULL.
 * With `inline` (only for a function that is not `aware`), its code replaces the call.
 */
export function callCode(
  impl: (...args: never[]) => unknown,
  args: readonly CodeOf[],
  aware: boolean,
  inline?: InlineCall,
): CodeOf {
  return (c) => {
    if (aware) return `(${c.outside(impl)}(${args.map((a) => a(c)).join(', ')}) ?? null)`
    const temps = args.map(() => c.temp())
    const checks = args.map((a, i) => `(${temps[i]} = ${a(c)}) == null ? null : `).join('')
    const call =
      inline === undefined
        ? `(${c.outside(impl)}(${temps.join(', ')}) ?? null)`
        : `(${inline(temps, (v) => c.outside(v))})`
    return `(${checks}${call})`
  }
}

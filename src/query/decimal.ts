// DECIMAL(p, s) at run time: values are JS numbers kept on their type's decimal grid. Every DECIMAL
// result (arithmetic, CAST, SUM, AVG) is rounded half away from zero (Flink's HALF_UP) to the scale
// of its type, and sums are kept as integers counting units of the last place, so they are exact.

import { SquallError } from '../core/errors.ts'
import type { RowEvaluator } from './compile-expr.ts'
import { type CodeOf, ExprCode } from './expr-code.ts'

const POW10: readonly number[] = Array.from({ length: 39 }, (_, i) => 10 ** i)

/** 10^n as a number (exact up to 10^22). */
function pow10(n: number): number {
  return POW10[n] ?? 10 ** n
}

const DECIMAL_TEXT = /^\s*([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\s*$/

/** |value of the digits| × 10^scale rounded half up, from the parts of a decimal text. */
function unscaledOfDigits(whole: string, fraction: string, exponent: number, scale: number): number {
  const digits = whole + fraction
  const point = whole.length + exponent + scale
  if (point < 0) return 0
  const head = point >= digits.length ? digits.padEnd(point, '0') : digits.slice(0, point)
  const next = point < digits.length ? digits.charCodeAt(point) - 48 : 0
  return Number(head === '' ? '0' : head) + (next >= 5 ? 1 : 0)
}

/**
 * A decimal text (`12.345`, `-0.5`, `1e-3`) rounded half away from zero to `scale` fraction
 * digits, as a number; undefined when `text` is not a decimal number. The rounding is done on the
 * digits as written, so `'1.005'` at scale 2 gives 1.01.
 */
export function decimalFromText(text: string, scale: number): number | undefined {
  const m = DECIMAL_TEXT.exec(text)
  if (m === null || (m[2] === '' && (m[3] === undefined || m[3] === ''))) return undefined
  const n = unscaledOfDigits(m[2]!, m[3] ?? '', m[4] === undefined ? 0 : Number(m[4]), scale)
  const v = n / pow10(scale)
  return m[1] === '-' && v !== 0 ? -v : v
}

/**
 * `x` in units of 10^−scale, rounded half away from zero: the integer n such that
 * `roundDecimal(x, scale)` is n / 10^scale. A value within rounding noise of a tie is decided on
 * its shortest decimal text (as Java's `BigDecimal.valueOf(double)` reads a DOUBLE), so 1.005 at
 * scale 2 counts 101 units although the double 1.005 lies just below 1.005. Exact while
 * |n| < 2^53; beyond that the nearest double. NaN and ±∞ are returned as they are.
 */
export function unscaled(x: number, scale: number): number {
  if (Number.isInteger(x)) return x === 0 ? 0 : x * pow10(scale)
  if (!Number.isFinite(x)) return x
  const m = Math.abs(x) * pow10(scale)
  const f = Math.floor(m)
  const frac = m - f
  let n: number
  if (Math.abs(frac - 0.5) > Math.max(m, 1) * 1e-15) n = frac < 0.5 ? f : f + 1
  else {
    const t = DECIMAL_TEXT.exec(String(Math.abs(x)))!
    n = unscaledOfDigits(t[2]!, t[3] ?? '', t[4] === undefined ? 0 : Number(t[4]), scale)
  }
  return x < 0 && n !== 0 ? -n : n
}

/**
 * `x` rounded half away from zero to `scale` fraction digits: the double nearest to that decimal.
 * Integers, non-finite values and values too large to have digits at that scale are returned as
 * they are.
 */
export function roundDecimal(x: number, scale: number): number {
  if (Number.isInteger(x) || !Number.isFinite(x)) return x
  const p = pow10(scale)
  if (Math.abs(x) * p >= 2 ** 53) return x
  return unscaled(x, scale) / p
}

/** True when `x` has at most `precision − scale` digits before the point (fits DECIMAL(p, s)). */
export function fitsDecimal(x: number, precision: number, scale: number): boolean {
  return Math.abs(x) < pow10(precision - scale)
}

/**
 * `a op b` with a DECIMAL result of scale `scale`, the operands being of scales `sa` and `sb` (0
 * for integers). Each operand is first put on its own grid; `+`, `−` and `%` are computed on
 * integers of the larger scale and `*` on the product of the integers (exact while they stay
 * below 2^53, else in floating point), `/` in floating point; the result is rounded half away from
 * zero to `scale`. NULL gives NULL; a zero divisor of `/` or `%` throws ERR_SQL_RUNTIME naming
 * `text`, the expression. `constants` gives the value of an operand that is a constant.
 */
export function decimalOp(
  op: '+' | '-' | '*' | '/' | '%',
  fa: RowEvaluator,
  fb: RowEvaluator,
  sa: number,
  sb: number,
  scale: number,
  text: string,
  constants?: { readonly a?: number | null; readonly b?: number | null },
): RowEvaluator {
  const common = Math.max(sa, sb)
  const pa = pow10(common - sa)
  const pb = pow10(common - sb)
  const pc = pow10(common)
  const product = sa + sb
  // −0 (from −3 % 3 or −1 * 0) leaves as 0, which is what a decimal has.
  const round = (v: number) => (v === 0 ? 0 : roundDecimal(v, scale))
  const finish =
    (op === '*' ? product : op === '/' ? Number.POSITIVE_INFINITY : common) > scale
      ? round
      : (v: number) => (v === 0 ? 0 : v)
  const zero = (y: number) => {
    if (y === 0) throw new SquallError('ERR_SQL_RUNTIME', `division by zero in "${text}"`)
  }
  // A constant operand is put on its grid once, not per row.
  const ka = constants?.a == null ? undefined : unscaled(constants.a, sa)
  const kb = constants?.b == null ? undefined : unscaled(constants.b, sb)
  switch (op) {
    case '+':
    case '-':
    case '*': {
      // A function of its own per expression, so the JIT inlines its operands.
      const code = new ExprCode()
      const call = (f: RowEvaluator) => (c: ExprCode) => `${c.outside(f)}(row)`
      return code.build(decimalCode(op, call(fa), call(fb), sa, sb, scale, constants)(code))
    }
    case '/':
      return (row) => {
        const x = fa(row) as number | null
        if (x == null) return null
        const y = fb(row) as number | null
        if (y == null) return null
        const b = kb ?? unscaled(y, sb)
        zero(b)
        return finish((ka ?? unscaled(x, sa)) / pow10(sa) / (b / pow10(sb)))
      }
    default:
      return (row) => {
        const x = fa(row) as number | null
        if (x == null) return null
        const y = fb(row) as number | null
        if (y == null) return null
        const a = (ka ?? unscaled(x, sa)) * pa
        const b = (kb ?? unscaled(y, sb)) * pb
        zero(b)
        return finish(Number.isSafeInteger(a) && Number.isSafeInteger(b) ? (a % b) / pc : x % y)
      }
  }
}

/**
 * `+`, `−` or `*` of `decimalOp` as code for a generated function (see `ExprCode`): constants and
 * grid factors written in as literals, an operand of scale 0 that is already an integer used as it
 * is, and the operands' own code, so that an expression such as `0.908 * price` is computed inline
 * where its row is read. The same arithmetic as `decimalOp` describes; the operands are those of
 * `decimalOp`, with `constants` the values of the constant ones.
 */
export function decimalCode(
  op: '+' | '-' | '*',
  a: CodeOf,
  b: CodeOf,
  sa: number,
  sb: number,
  scale: number,
  constants?: { readonly a?: number | null; readonly b?: number | null },
): CodeOf {
  const common = Math.max(sa, sb)
  const product = sa + sb
  // The integer result is divided back by `down`, and rounded to `scale` when it has more places.
  const down = op === '*' ? pow10(product) : pow10(common)
  const roundTo = (op === '*' ? product : common) > scale ? scale : -1
  // A constant operand is put on its grid once, not per row.
  const ka = constants?.a == null ? undefined : unscaled(constants.a, sa)
  const kb = constants?.b == null ? undefined : unscaled(constants.b, sb)
  return (c) => {
    const x = c.temp()
    const y = c.temp()
    const r = c.temp()
    const v = c.temp()
    const units = (name: string, s: number, k: number | undefined) =>
      k !== undefined
        ? `(${String(k)})`
        : s === 0
          ? `(Number.isInteger(${name}) ? ${name} : ${c.outside(unscaled)}(${name}, 0))`
          : `${c.outside(unscaled)}(${name}, ${s})`
    const ua = units(x, sa, ka)
    const ub = units(y, sb, kb)
    // `*` multiplies the integers of both grids; `+` and `−` first put both on the larger one.
    const exact =
      op === '*'
        ? `${ua} * ${ub}`
        : `${ua} * ${String(pow10(common - sa))} ${op} ${ub} * ${String(pow10(common - sb))}`
    const rounded = roundTo >= 0 ? `${c.outside(roundDecimal)}(${v}, ${roundTo})` : v
    return `((${x} = ${a(c)}) == null ? null : (${y} = ${b(c)}) == null ? null : (${r} = ${exact}, ${v} = Number.isSafeInteger(${r}) ? ${r} / ${String(down)} : ${x} ${op} ${y}, ${v} === 0 ? 0 : ${rounded}))`
  }
}

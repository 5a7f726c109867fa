// Numeric functions (ABS, ROUND, MOD, POWER, LN, ...) and conditional ones (COALESCE, NULLIF,
// IF, GREATEST, LEAST), which pick among their arguments by SQL's NULL rules.

import { SquallError } from '../core/errors.ts'
import { Arg, type ScalarFunction, scalar, typeName } from './function-def.ts'
import { commonType, isInteger, numericCommonType, type SqlType, SqlTypes } from './types.ts'

const D = SqlTypes.DOUBLE
const sameAsFirst = (args: readonly SqlType[]): SqlType =>
  args[0]!.kind === 'NULL' ? SqlTypes.INT : args[0]!

function widened(name: string) {
  return (args: readonly SqlType[]): SqlType | string => {
    let t: SqlType = SqlTypes.NULL
    for (const a of args) {
      const c = commonType(t, a)
      if (!c) return `${name}: arguments of types ${args.map(typeName).join(', ')} have no common type`
      t = c
    }
    return t.kind === 'NULL' ? SqlTypes.INT : t
  }
}

/**
 * `x` rounded half away from zero to `digits` decimals, on the decimal digits as written
 * (1.255 gives 1.26, not the 1.25 that binary floating point would give).
 */
export function roundHalfUp(x: number, digits: number): number {
  if (!Number.isFinite(x)) return x
  const text = String(Math.abs(x))
  if (text.includes('e')) return (Math.sign(x) * Math.round(Math.abs(x) * 10 ** digits)) / 10 ** digits
  const shifted = Math.round(Number(`${text}e${digits}`))
  return Math.sign(x) * Number(`${shifted}e${-digits}`)
}

/** MOD(a, 0). */
function modByZero(a: number): never {
  throw new SquallError('ERR_SQL_RUNTIME', `MOD(${a}, 0): division by zero`)
}

/** The numeric functions. Integer results stay JS numbers; MOD by zero fails with ERR_SQL_RUNTIME. */
export const MATH_FUNCTIONS: readonly ScalarFunction[] = [
  scalar('ABS(x)', 'The absolute value.', [Arg.numeric], sameAsFirst, Math.abs),
  scalar(
    'CEIL(x)',
    'The smallest integer not below x (for times see FLOOR/CEIL ... TO).',
    [Arg.numeric],
    sameAsFirst,
    Math.ceil,
  ),
  scalar(
    'FLOOR(x)',
    'The largest integer not above x. FLOOR(ts TO MINUTE) rounds a time down.',
    [Arg.numeric],
    sameAsFirst,
    Math.floor,
  ),
  scalar(
    'ROUND(x [, digits])',
    'x rounded half away from zero to digits decimals (default 0).',
    [Arg.numeric, Arg.integer],
    sameAsFirst,
    (x: number, d = 0) => roundHalfUp(x, d),
  ),
  scalar(
    'TRUNCATE(x [, digits])',
    'x cut (toward zero) to digits decimals.',
    [Arg.numeric, Arg.integer],
    sameAsFirst,
    (x: number, d = 0) => {
      const f = 10 ** d
      return Math.trunc(x * f) / f
    },
  ),
  scalar(
    'MOD(a, b)',
    'The remainder of a divided by b, with the sign of a.',
    [Arg.numeric],
    (args) => numericCommonType(args[0]!, args[1]!) ?? 'MOD: arguments must be numbers',
    (a: number, b: number) => (b === 0 ? modByZero(a) : a % b),
    { code: ([a, b], outside) => `${b} === 0 ? ${outside(modByZero)}(${a}) : ${a} % ${b}` },
  ),
  scalar('POWER(x, y)', 'x raised to the power y.', [Arg.numeric], D, Math.pow),
  scalar('POW(x, y)', 'Same as POWER.', [Arg.numeric], D, Math.pow),
  scalar('SQRT(x)', 'The square root (NaN below zero).', [Arg.numeric], D, Math.sqrt),
  scalar('LN(x)', 'The natural logarithm.', [Arg.numeric], D, Math.log),
  scalar('LOG10(x)', 'The base-10 logarithm.', [Arg.numeric], D, Math.log10),
  scalar('LOG2(x)', 'The base-2 logarithm.', [Arg.numeric], D, Math.log2),
  scalar(
    'LOG(x [, base])',
    'LOG(x) is LN(x); LOG(base, x) is the logarithm of x in base (Flink order).',
    [Arg.numeric],
    D,
    (a: number, b?: number) => (b === undefined ? Math.log(a) : Math.log(b) / Math.log(a)),
  ),
  scalar('EXP(x)', 'e raised to the power x.', [Arg.numeric], D, Math.exp),
  scalar('SIGN(x)', '-1, 0 or 1.', [Arg.numeric], sameAsFirst, Math.sign),
  scalar('PI()', 'The number pi.', [], D, () => Math.PI),
  scalar(
    'RAND([seed])',
    'A pseudo-random number in [0, 1). The seed is ignored.',
    [Arg.integer],
    D,
    () => Math.random(),
    {
      volatile: true,
      nullAware: true,
    },
  ),
  scalar(
    'RAND_INTEGER(bound)',
    'A pseudo-random integer in [0, bound).',
    [Arg.integer],
    SqlTypes.INT,
    (n: number) => Math.floor(Math.random() * n),
    {
      volatile: true,
    },
  ),
  scalar('SIN(x)', 'The sine (radians).', [Arg.numeric], D, Math.sin),
  scalar('COS(x)', 'The cosine (radians).', [Arg.numeric], D, Math.cos),
  scalar('TAN(x)', 'The tangent (radians).', [Arg.numeric], D, Math.tan),
  scalar('DEGREES(x)', 'Radians to degrees.', [Arg.numeric], D, (x: number) => (x * 180) / Math.PI),
  scalar('RADIANS(x)', 'Degrees to radians.', [Arg.numeric], D, (x: number) => (x * Math.PI) / 180),
]

/** COALESCE, NULLIF, IF, IFNULL, GREATEST, LEAST. */
export const CONDITIONAL_FUNCTIONS: readonly ScalarFunction[] = [
  scalar(
    'COALESCE(a, ...)',
    'The first argument that is not NULL.',
    [Arg.any],
    widened('COALESCE'),
    (...args: unknown[]) => {
      for (const a of args) if (a != null) return a
      return null
    },
    { nullAware: true },
  ),
  scalar(
    'IFNULL(a, b)',
    'a unless it is NULL, then b.',
    [Arg.any],
    widened('IFNULL'),
    (a: unknown, b: unknown) => (a == null ? b : a),
    {
      nullAware: true,
    },
  ),
  scalar(
    'NULLIF(a, b)',
    'NULL when a equals b, otherwise a.',
    [Arg.any],
    (args) => (args[0]!.kind === 'NULL' ? args[1]! : args[0]!),
    (a: unknown, b: unknown) => (a != null && a === b ? null : a),
    { nullAware: true },
  ),
  scalar(
    'IF(condition, then, else)',
    'then when condition is TRUE, else otherwise (also when it is NULL).',
    [Arg.boolean, Arg.any],
    (args) => widened('IF')(args.slice(1)),
    (c: unknown, a: unknown, b: unknown) => (c === true ? a : b),
    { nullAware: true },
  ),
  scalar(
    'GREATEST(a, ...)',
    'The largest argument; NULL if any is NULL.',
    [Arg.any],
    widened('GREATEST'),
    (...args: number[]) => {
      let best = args[0]!
      for (let i = 1; i < args.length; i++) if (args[i]! > best) best = args[i]!
      return best
    },
  ),
  scalar(
    'LEAST(a, ...)',
    'The smallest argument; NULL if any is NULL.',
    [Arg.any],
    widened('LEAST'),
    (...args: number[]) => {
      let best = args[0]!
      for (let i = 1; i < args.length; i++) if (args[i]! < best) best = args[i]!
      return best
    },
  ),
]

/** True when integer arithmetic applies to both types (used for `/`). */
export function bothIntegers(a: SqlType, b: SqlType): boolean {
  return isInteger(a) && isInteger(b)
}

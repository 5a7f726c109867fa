// How a SQL function is described: its kind, arity, result type for given argument types, and
// (for scalar functions) the JS implementation; plus small helpers to check argument types.

import type { InlineCall } from './expr-code.ts'
import { formatType, isInteger, isNumeric, isString, isTemporal, type SqlType } from './types.ts'

/**
 * A scalar function: one value per row. `impl` receives the evaluated arguments as JS values
 * (numbers, strings, booleans, epoch ms for times). Unless `nullAware` is set, a NULL argument
 * gives NULL without calling `impl`. `impl` may throw a SquallError (ERR_SQL_RUNTIME) for a value
 * it cannot handle; it must not keep state between calls except caches of compiled patterns.
 */
export interface ScalarFunction {
  readonly kind: 'scalar'
  readonly name: string
  /** How it is called, for docs and errors: `SUBSTRING(s, start [, length])`. */
  readonly signature: string
  readonly summary: string
  readonly minArgs: number
  readonly maxArgs: number
  readonly nullAware?: boolean
  /** True when two calls with the same arguments may differ (RAND, NOW): never folded to a constant. */
  readonly volatile?: boolean
  /** The result type, or a message saying which argument does not fit. */
  returnType(args: readonly SqlType[]): SqlType | string
  impl(...args: unknown[]): unknown
  /**
   * Optional, for a function that is not `nullAware`: the code doing what `impl` does, written
   * into a generated expression in place of the call (see `InlineCall`).
   */
  readonly code?: InlineCall
}

/**
 * A function the planner evaluates over many rows: `aggregate` (COUNT, SUM, ... with GROUP BY,
 * windows or OVER), `window` (ROW_NUMBER, RANK, LAG: only with OVER), `pattern` (FIRST, LAST,
 * PREV, MATCH_ROWTIME: only in MATCH_RECOGNIZE). Only their names and result types live here.
 */
export interface PlannedFunction {
  readonly kind: 'aggregate' | 'window' | 'pattern'
  readonly name: string
  readonly signature: string
  readonly summary: string
  readonly minArgs: number
  readonly maxArgs: number
  returnType(args: readonly SqlType[]): SqlType | string
}

/** Any registered function. */
export type SqlFunction = ScalarFunction | PlannedFunction

/** The type names used in messages: `VARCHAR`, `BIGINT`, `TIMESTAMP(3)`. */
export function typeName(t: SqlType): string {
  if (t.kind === 'VARCHAR' || t.kind === 'CHAR') return t.kind
  return formatType({ ...t, notNull: false })
}

/** A check of one argument type, with the words that describe what it accepts. */
export interface ArgCheck {
  readonly accepts: string
  test(t: SqlType): boolean
}

const anyNull = (t: SqlType) => t.kind === 'NULL'
/** Argument checks shared by the function families. */
export const Arg = {
  string: { accepts: 'a string', test: (t: SqlType) => isString(t) || anyNull(t) } as ArgCheck,
  numeric: { accepts: 'a number', test: (t: SqlType) => isNumeric(t) || anyNull(t) } as ArgCheck,
  integer: { accepts: 'an integer', test: (t: SqlType) => isInteger(t) || anyNull(t) } as ArgCheck,
  boolean: { accepts: 'a BOOLEAN', test: (t: SqlType) => t.kind === 'BOOLEAN' || anyNull(t) } as ArgCheck,
  temporal: {
    accepts: 'a TIMESTAMP, DATE or TIME',
    test: (t: SqlType) => isTemporal(t) || anyNull(t),
  } as ArgCheck,
  timeOrString: {
    accepts: 'a TIMESTAMP or a string',
    test: (t: SqlType) => isTemporal(t) || isString(t) || anyNull(t),
  } as ArgCheck,
  any: { accepts: 'any value', test: () => true } as ArgCheck,
} as const

/**
 * Checks argument types against `checks` (the last check repeats for extra arguments) and returns
 * a message for the first that fails, or undefined.
 */
export function checkArgs(
  name: string,
  args: readonly SqlType[],
  checks: readonly ArgCheck[],
): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const check = checks[Math.min(i, checks.length - 1)]
    if (check && !check.test(args[i]!)) {
      return `${name}: argument ${i + 1} must be ${check.accepts}, got ${typeName(args[i]!)}`
    }
  }
  return undefined
}

/** Options of `scalar()` beyond name, arity, result and implementation. */
export interface ScalarOptions {
  readonly nullAware?: boolean
  readonly volatile?: boolean
  readonly code?: InlineCall
}

/**
 * Builds a scalar function whose arguments must pass `checks` and whose result type is `result`
 * (a type, or a function of the argument types).
 */
export function scalar(
  signature: string,
  summary: string,
  checks: readonly ArgCheck[],
  result: SqlType | ((args: readonly SqlType[]) => SqlType | string),
  impl: (...args: never[]) => unknown,
  options: ScalarOptions = {},
): ScalarFunction {
  const { name, min, max } = arity(signature)
  return {
    kind: 'scalar',
    name,
    signature,
    summary,
    minArgs: min,
    maxArgs: max,
    ...(options.nullAware ? { nullAware: true } : {}),
    ...(options.volatile ? { volatile: true } : {}),
    ...(options.code ? { code: options.code } : {}),
    returnType: (args) =>
      checkArgs(name, args, checks) ?? (typeof result === 'function' ? result(args) : result),
    impl: impl as (...args: unknown[]) => unknown,
  }
}

/** Builds an aggregate, window or pattern function description. */
export function planned(
  kind: PlannedFunction['kind'],
  signature: string,
  summary: string,
  checks: readonly ArgCheck[],
  result: SqlType | ((args: readonly SqlType[]) => SqlType | string),
): PlannedFunction {
  const { name, min, max } = arity(signature)
  return {
    kind,
    name,
    signature,
    summary,
    minArgs: min,
    maxArgs: max,
    returnType: (args) =>
      checkArgs(name, args, checks) ?? (typeof result === 'function' ? result(args) : result),
  }
}

/**
 * Reads name and arity from a signature: `F(a, b [, c])` has 2 to 3 arguments, `F(a, ...)` 1 or
 * more, `F()` none.
 */
function arity(signature: string): { name: string; min: number; max: number } {
  const open = signature.indexOf('(')
  const name = signature.slice(0, open)
  const inner = signature.slice(open + 1, signature.lastIndexOf(')')).trim()
  if (inner === '') return { name, min: 0, max: 0 }
  const variadic = inner.includes('...')
  const required = inner
    .split('[')[0]!
    .split(',')
    .filter((s) => s.trim() !== '' && !s.includes('...')).length
  const total = inner
    .replace(/\.\.\./g, '')
    .split(',')
    .filter((s) => s.replace(/[[\]\s]/g, '') !== '').length
  return { name, min: required, max: variadic ? Number.POSITIVE_INFINITY : total }
}

// The function registry: every built-in scalar, aggregate, window and pattern function by name,
// user-registered scalar functions, and the call check that gives a call's result type.

import { SquallError } from '../core/errors.ts'
import type { ScalarFunction, SqlFunction } from './function-def.ts'
import { AGGREGATE_FUNCTIONS, PATTERN_FUNCTIONS, WINDOW_FUNCTIONS } from './functions-aggregate.ts'
import { COLLECTION_FUNCTIONS } from './functions-collection.ts'
import { JSON_FUNCTIONS } from './functions-json.ts'
import { CONDITIONAL_FUNCTIONS, MATH_FUNCTIONS } from './functions-math.ts'
import { STRING_FUNCTIONS } from './functions-string.ts'
import { TIME_FUNCTIONS } from './functions-time.ts'
import { closestName } from './sql-error.ts'
import type { SqlType } from './types.ts'

export type { PlannedFunction, ScalarFunction, SqlFunction } from './function-def.ts'

const registry = new Map<string, SqlFunction>()
for (const family of [
  STRING_FUNCTIONS,
  MATH_FUNCTIONS,
  CONDITIONAL_FUNCTIONS,
  TIME_FUNCTIONS,
  JSON_FUNCTIONS,
  COLLECTION_FUNCTIONS,
  AGGREGATE_FUNCTIONS,
  WINDOW_FUNCTIONS,
  PATTERN_FUNCTIONS,
]) {
  for (const fn of family) registry.set(fn.name, fn)
}
const ALIASES: { readonly [name: string]: string } = { SUBSTR: 'SUBSTRING', CEILING: 'CEIL' }

/** The function named `name` (any case), or undefined. */
export function lookupFunction(name: string): SqlFunction | undefined {
  const upper = name.toUpperCase()
  return registry.get(ALIASES[upper] ?? upper)
}

/** Every registered function, in registration order (built-ins first). */
export function listFunctions(): SqlFunction[] {
  return [...registry.values()]
}

/**
 * Adds a scalar function, e.g. a user-defined one. Throws ERR_ARGUMENT when the name is taken,
 * unless `replace` is set. Registration is global to the process and not synchronised with
 * queries already compiled: register before compiling the queries that use it.
 */
export function registerFunction(fn: ScalarFunction, replace = false): void {
  const name = fn.name.toUpperCase()
  if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) {
    throw new SquallError(
      'ERR_ARGUMENT',
      `fn.name: expected a SQL name such as "MY_FN", got ${JSON.stringify(fn.name)}`,
    )
  }
  if (registry.has(name) && !replace) {
    throw new SquallError(
      'ERR_ARGUMENT',
      `fn.name: a function named ${name} already exists; pass replace = true to replace it`,
    )
  }
  registry.set(name, { ...fn, name })
}

/** What `resolveCall` found: the function and the type of the call's result. */
export interface ResolvedCall {
  readonly fn: SqlFunction
  readonly type: SqlType
}

/**
 * Checks a call of `name` with arguments of `argTypes`: the function must exist
 * (ERR_SQL_UNKNOWN_FUNCTION, with the closest name suggested), the arity must fit and the
 * argument types must be accepted (ERR_SQL_TYPE). `text` is the call as written, for messages.
 */
export function resolveCall(name: string, argTypes: readonly SqlType[], text: string): ResolvedCall {
  const fn = lookupFunction(name)
  if (!fn) {
    const guess = closestName(name.toUpperCase(), registry.keys())
    throw new SquallError(
      'ERR_SQL_UNKNOWN_FUNCTION',
      `unknown function ${name.toUpperCase()} in "${text}"${guess ? `; did you mean ${guess}?` : ''}`,
    )
  }
  const n = argTypes.length
  if (n < fn.minArgs || n > fn.maxArgs) {
    const expected =
      fn.minArgs === fn.maxArgs
        ? `${fn.minArgs}`
        : fn.maxArgs === Number.POSITIVE_INFINITY
          ? `at least ${fn.minArgs}`
          : `${fn.minArgs} to ${fn.maxArgs}`
    throw new SquallError(
      'ERR_SQL_TYPE',
      `${fn.name} takes ${expected} argument${expected === '1' ? '' : 's'}, got ${n} in "${text}"; usage: ${fn.signature}`,
    )
  }
  const type = fn.returnType(argTypes)
  if (typeof type === 'string') throw new SquallError('ERR_SQL_TYPE', `${type} in "${text}"`)
  return { fn, type }
}

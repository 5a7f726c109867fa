// The per-row operator closures of compiled expressions: comparisons, time plus interval,
// interval arithmetic, and LIKE / SIMILAR TO patterns turned into string tests or RegExps.

import { SquallError } from '../core/errors.ts'
import { addMonths } from './functions-time.ts'
import { cachedRegex } from './functions-string.ts'

/** A compiled expression over a row object; returns null for SQL NULL. */
type RowEvaluator = (row: { readonly [column: string]: unknown }) => unknown

/** `=`, `<>`, `<`, `<=`, `>`, `>=` with NULL giving NULL; arrays compare by content (`=` and `<>` only). */
export function compareFn(op: string, fa: RowEvaluator, fb: RowEvaluator, arrays: boolean): RowEvaluator {
  if (arrays) {
    return (row) => {
      const x = fa(row)
      const y = fb(row)
      if (x == null || y == null) return null
      const same = JSON.stringify(x) === JSON.stringify(y)
      return op === '=' ? same : op === '<>' ? !same : null
    }
  }
  switch (op) {
    case '=':
      return (row) => {
        const x = fa(row)
        if (x == null) return null
        const y = fb(row)
        return y == null ? null : x === y
      }
    case '<>':
      return (row) => {
        const x = fa(row)
        if (x == null) return null
        const y = fb(row)
        return y == null ? null : x !== y
      }
    case '<':
      return (row) => {
        const x = fa(row) as number
        if (x == null) return null
        const y = fb(row) as number
        return y == null ? null : x < y
      }
    case '<=':
      return (row) => {
        const x = fa(row) as number
        if (x == null) return null
        const y = fb(row) as number
        return y == null ? null : x <= y
      }
    case '>':
      return (row) => {
        const x = fa(row) as number
        if (x == null) return null
        const y = fb(row) as number
        return y == null ? null : x > y
      }
    default:
      return (row) => {
        const x = fa(row) as number
        if (x == null) return null
        const y = fb(row) as number
        return y == null ? null : x >= y
      }
  }
}

/** A time plus (sign 1) or minus (sign -1) an interval in ms or, with `months`, in months. */
export function timePlusInterval(
  ft: RowEvaluator,
  fi: RowEvaluator,
  months: boolean,
  sign: number,
): RowEvaluator {
  return (row) => {
    const t = ft(row) as number | null
    if (t == null) return null
    const i = fi(row) as number | null
    if (i == null) return null
    return months ? addMonths(t, sign * i) : t + sign * i
  }
}

/** Arithmetic on interval values (ms or months) with numbers; `/` truncates. */
export function arithmeticOnNumbers(op: string, fa: RowEvaluator, fb: RowEvaluator): RowEvaluator {
  return (row) => {
    const x = fa(row) as number | null
    if (x == null) return null
    const y = fb(row) as number | null
    if (y == null) return null
    return op === '+' ? x + y : op === '-' ? x - y : op === '*' ? x * y : Math.trunc(x / y)
  }
}

/** A plain string test for LIKE patterns of the forms `abc`, `abc%`, `%abc` and `%abc%`. */
export function simpleLike(pattern: string, escapeChar: string | null): ((v: string) => boolean) | undefined {
  if (pattern.includes('_') || (escapeChar !== null && pattern.includes(escapeChar))) return undefined
  const starts = pattern.startsWith('%')
  const ends = pattern.length > 1 && pattern.endsWith('%')
  const core = pattern.slice(starts ? 1 : 0, ends ? -1 : undefined)
  if (core.includes('%')) return undefined
  if (starts && ends) return (v) => v.includes(core)
  if (starts) return (v) => v.endsWith(core)
  if (ends) return (v) => v.startsWith(core)
  return (v) => v === core
}

const REGEX_SPECIAL = /[.*+?^${}()|[\]\\/]/

/** Translates a LIKE pattern (`%` any text, `_` one character, optional escape) to an anchored RegExp. */
export function likeToRegExp(pattern: string, escapeChar: string | null = null): RegExp {
  let src = '^'
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    if (escapeChar !== null && c === escapeChar && i + 1 < pattern.length) {
      const n = pattern[++i]!
      src += REGEX_SPECIAL.test(n) ? `\\${n}` : n
    } else if (c === '%') src += '[\\s\\S]*'
    else if (c === '_') src += '[\\s\\S]'
    else src += REGEX_SPECIAL.test(c) ? `\\${c}` : c
  }
  return cachedRegex(`${src}$`)
}

/** Translates a SIMILAR TO pattern (regex syntax with `%` and `_`) to an anchored RegExp. */
export function similarToRegExp(pattern: string): RegExp {
  return cachedRegex(`^(?:${pattern.replace(/%/g, '[\\s\\S]*').replace(/_/g, '[\\s\\S]')})$`)
}

/**
 * `+ - * / %` on numbers with NULL giving NULL. With `ints`, `/` truncates and a zero divisor
 * throws ERR_SQL_RUNTIME naming `text`, the expression.
 */
export function numericOp(
  op: string,
  fa: RowEvaluator,
  fb: RowEvaluator,
  ints: boolean,
  text: string,
): RowEvaluator {
  switch (op) {
    case '+':
      return (row) => {
        const x = fa(row) as number | null
        if (x == null) return null
        const y = fb(row) as number | null
        return y == null ? null : x + y
      }
    case '-':
      return (row) => {
        const x = fa(row) as number | null
        if (x == null) return null
        const y = fb(row) as number | null
        return y == null ? null : x - y
      }
    case '*':
      return (row) => {
        const x = fa(row) as number | null
        if (x == null) return null
        const y = fb(row) as number | null
        return y == null ? null : x * y
      }
    default:
      return (row) => {
        const x = fa(row) as number | null
        if (x == null) return null
        const y = fb(row) as number | null
        if (y == null) return null
        if (ints && y === 0) throw new SquallError('ERR_SQL_RUNTIME', `division by zero in "${text}"`)
        return op === '%' ? x % y : ints ? Math.trunc(x / y) : x / y
      }
  }
}

/**
 * Calls a scalar implementation with the values of `fs`, specialised by arity. Unless `aware`,
 * a NULL argument gives NULL without calling `impl`; an undefined result becomes NULL.
 */
export function callFn(
  impl: (...args: unknown[]) => unknown,
  fs: readonly RowEvaluator[],
  aware: boolean,
): RowEvaluator {
  switch (fs.length) {
    case 0:
      return () => impl() ?? null
    case 1: {
      const f0 = fs[0]!
      return aware
        ? (row) => impl(f0(row)) ?? null
        : (row) => {
            const a0 = f0(row)
            return a0 == null ? null : (impl(a0) ?? null)
          }
    }
    case 2: {
      const f0 = fs[0]!
      const f1 = fs[1]!
      return aware
        ? (row) => impl(f0(row), f1(row)) ?? null
        : (row) => {
            const a0 = f0(row)
            if (a0 == null) return null
            const a1 = f1(row)
            return a1 == null ? null : (impl(a0, a1) ?? null)
          }
    }
    default:
      return (row) => {
        const vals = new Array<unknown>(fs.length)
        for (let i = 0; i < fs.length; i++) {
          const v = fs[i]!(row)
          if (v == null && !aware) return null
          vals[i] = v
        }
        return impl(...vals) ?? null
      }
  }
}

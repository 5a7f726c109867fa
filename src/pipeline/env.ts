// Environment variables in pipeline files: `${VAR}`, `${VAR:-default}`, and `$${` for a literal `${`.
// Only upper-case names are variables: `${tag}` or `${user.id}` are record placeholders of outputs.

import type { ConfigIssue } from '../core/errors.ts'
import { joinPath } from '../plugins/config.ts'

const PATTERN = /\$\$\{|\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}/g

/**
 * Replaces `${VAR}` and `${VAR:-default}` (VAR in upper case, digits and `_`; other `${…}` are left
 * as written, for record placeholders such as `${tag}`) in every string of `value` (deeply; keys are kept) with
 * values from `env`. A variable that is unset and has no default is reported in `issues` with the
 * path of the string, and replaced by `''`. Returns a new value; `value` is not changed.
 */
export function substituteEnv(
  value: unknown,
  env: { readonly [name: string]: string | undefined },
  issues: ConfigIssue[],
  path: (string | number)[] = [],
): unknown {
  if (typeof value === 'string') {
    if (!value.includes('${')) return value
    const whole = /^\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}$/.exec(value)
    const replaced = value.replace(
      PATTERN,
      (match, name: string | undefined, fallback: string | undefined) => {
        if (match === '$${') return '${'
        const v = env[name!]
        if (v !== undefined && v !== '') return v
        if (fallback !== undefined) return fallback
        issues.push({
          path: joinPath('', path),
          message: `environment variable ${name} is not set; set it or write \${${name}:-default}`,
        })
        return ''
      },
    )
    // A whole-value reference to a number or boolean keeps its type (`port: ${PORT:-24224}`).
    if (whole && /^-?\d+(\.\d+)?$/.test(replaced)) return Number(replaced)
    if (whole && (replaced === 'true' || replaced === 'false')) return replaced === 'true'
    return replaced
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, issues, [...path, i]))
  if (value !== null && typeof value === 'object') {
    const out: { [k: string]: unknown } = {}
    for (const [k, v] of Object.entries(value)) out[k] = substituteEnv(v, env, issues, [...path, k])
    return out
  }
  return value
}

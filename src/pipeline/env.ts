// Environment variables in pipeline files: `${VAR}`, `${VAR:-default}`, and `$${` for a literal `${`.
// Only upper-case names are variables: `${tag}` or `${user.id}` are record placeholders of outputs.

import type { ConfigIssue } from '../core/errors.ts'
import { joinPath } from '../plugins/config.ts'

const PATTERN = /\$\$\{|\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}/g

/**
 * Characters of a `${…}` reference that YAML reads as syntax in a plain scalar (`{` and `}` open
 * and close a flow mapping, `,` ends a flow entry, `[` `]` a flow sequence, ` #` a comment, `: ` a
 * key), each with a stand-in from Unicode's private use area: a single UTF-16 unit, so every line
 * and column YAML reports stays where the user wrote it.
 */
const SYNTAX = '{}[],#:'
const STAND_IN = '\uE000\uE001\uE002\uE003\uE004\uE005\uE006'
const REFERENCE = /\$\{[^{}\n\r"']*\}/g
const STAND_INS = /[\uE000-\uE006]/g

/** Text whose `${…}` references YAML reads as plain scalars, and how to undo that in what it read. */
export interface MaskedText {
  readonly text: string
  /** Puts the masked characters back into a string read from `text` (a scalar, a key, a message). */
  restore(s: string): string
}

/**
 * Makes every `${…}` reference in pipeline `text` (one line, without quotes or nested braces)
 * readable by YAML as part of a plain scalar wherever it stands, flow mappings included:
 * `server: { port: 8080, token: ${SQUALL_TOKEN} }` is a YAML syntax error as written, since `{`
 * and `}` are flow indicators. Substitution itself happens later on the parsed values
 * ({@link substituteEnv}), never in the text, so a value cannot inject YAML and every position in
 * the text keeps its line and column. Text that already holds one of the stand-in characters is
 * returned unchanged (its references then need quotes in flow collections).
 */
export function maskReferences(text: string): MaskedText {
  if (/[\uE000-\uE006]/.test(text) || !text.includes('${')) return { text, restore: (s) => s }
  return {
    text: text.replace(REFERENCE, (ref) => ref.replace(/[{}[\],#:]/g, (c) => STAND_IN[SYNTAX.indexOf(c)]!)),
    restore: (s) => s.replace(STAND_INS, (c) => SYNTAX[STAND_IN.indexOf(c)]!),
  }
}

/** `value` read from masked text, with {@link MaskedText.restore} applied to every string and key. */
export function restoreReferences(value: unknown, masked: MaskedText): unknown {
  if (typeof value === 'string') return masked.restore(value)
  if (Array.isArray(value)) return value.map((v) => restoreReferences(v, masked))
  if (value !== null && typeof value === 'object') {
    const out: { [k: string]: unknown } = {}
    for (const [k, v] of Object.entries(value)) out[masked.restore(k)] = restoreReferences(v, masked)
    return out
  }
  return value
}

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

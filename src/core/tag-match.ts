// Tag match patterns with fluentd's `<match>` semantics: `*` is one tag part, `**` zero or more
// parts, `{a,b}` alternatives, spaces separate patterns of which any may match.

import { SquallError } from './errors.ts'

/** Tests one tag; pure and cheap (a string comparison or one regular-expression test). */
export type TagMatcher = (tag: string) => boolean

const LITERAL = /^[A-Za-z0-9_.-]*$/

function escapeChar(c: string): string {
  return /[A-Za-z0-9_]/.test(c) ? c : `\\${c === '\n' ? 'n' : c}`
}

/**
 * Translates one glob (no spaces) into a regular-expression source, following fluentd:
 * - `*` matches any run of characters without `.` (one part, possibly empty);
 * - `**` matches anything; after a `.` (as in `a.**`) the `.` and what follows are optional,
 *   so `a.**` matches `a`, `a.b` and `a.b.c` but not `ab`; `**.` (as in `**.b`) may match nothing;
 * - `{x,y}` matches any of its alternatives, each a glob itself (nesting allowed);
 * - `\` makes the next character literal; every other character matches itself.
 */
function globToRegExp(glob: string): string {
  const alternatives: string[][] = []
  const out: string[] = ['']
  let dot = false
  let i = 0
  const append = (s: string) => {
    out[out.length - 1] += s
  }
  while (i < glob.length) {
    const c = glob[i]!
    if (c === '*' && glob[i + 1] === '*') {
      if (dot) {
        append('(?![^.])')
        dot = false
      }
      if (glob[i + 2] === '.') {
        append('(?:.*\\.|^)')
        i += 3
      } else {
        append('.*')
        i += 2
      }
      continue
    }
    if (dot) {
      append('\\.')
      dot = false
    }
    if (c === '\\') {
      i++
      if (i < glob.length) append(escapeChar(glob[i]!))
    } else if (c === '.') {
      dot = true
    } else if (c === '*') {
      append('[^.]*')
    } else if (c === '{') {
      alternatives.push([])
      out.push('')
    } else if (c === ',' && alternatives.length > 0) {
      alternatives.at(-1)!.push(out.pop()!)
      out.push('')
    } else if (c === '}' && alternatives.length > 0) {
      const alts = alternatives.pop()!
      alts.push(out.pop()!)
      append(`(?:${alts.join('|')})`)
    } else {
      append(escapeChar(c))
    }
    i++
  }
  if (dot) append('\\.')
  while (alternatives.length > 0) {
    const alts = alternatives.pop()!
    alts.push(out.pop()!)
    append(`(?:${alts.join('|')})`)
  }
  return out[0]!
}

function compileOne(glob: string): TagMatcher {
  if (glob === '**') return () => true
  if (glob.length > 2 && glob.startsWith('/') && glob.endsWith('/')) {
    let re: RegExp
    try {
      re = new RegExp(`^(?:${glob.slice(1, -1)})$`)
    } catch (e) {
      throw new SquallError(
        'ERR_ARGUMENT',
        `pattern: invalid regular expression ${glob}: ${(e as Error).message}`,
      )
    }
    return (tag) => re.test(tag)
  }
  if (LITERAL.test(glob)) return (tag) => tag === glob
  if (glob.endsWith('.**') && LITERAL.test(glob.slice(0, -3))) {
    const base = glob.slice(0, -3)
    const prefix = `${base}.`
    return (tag) => tag === base || tag.startsWith(prefix)
  }
  const re = new RegExp(`^(?:${globToRegExp(glob)})$`)
  return (tag) => re.test(tag)
}

const cache = new Map<string, TagMatcher>()

/**
 * Compiles a `<match>` pattern such as `web.**`, `{a,b}.c` or `app.* system.**` (space-separated
 * patterns: a tag matching any of them matches). As in fluentd, a pattern written `/.../` is a
 * regular expression that must match the whole tag (`/^web\.\d+$/` style, no spaces inside). Compiled patterns are cached by their text, so
 * calling this per route is cheap. Throws ERR_ARGUMENT for an empty pattern.
 */
export function compileTagPattern(pattern: string): TagMatcher {
  let matcher = cache.get(pattern)
  if (matcher !== undefined) return matcher
  if (typeof pattern !== 'string' || pattern.trim() === '') {
    throw new SquallError(
      'ERR_ARGUMENT',
      `pattern: expected a tag pattern like "web.**" or "{app,db}.*", got ${JSON.stringify(pattern)}`,
    )
  }
  const parts = pattern.trim().split(/\s+/)
  if (parts.length === 1) {
    matcher = compileOne(parts[0]!)
  } else {
    const each = parts.map(compileOne)
    matcher = (tag) => {
      for (let i = 0; i < each.length; i++) if (each[i]!(tag)) return true
      return false
    }
  }
  if (cache.size >= 10_000) cache.clear()
  cache.set(pattern, matcher)
  return matcher
}

/** True when `tag` matches `pattern`; see {@link compileTagPattern}. */
export function matchTag(pattern: string, tag: string): boolean {
  return compileTagPattern(pattern)(tag)
}

// Errors about SQL text: positions as line and column, the offending line with a caret under the
// bad spot, and "did you mean" suggestions by edit distance.

import { type ErrorCode, SquallError } from '../core/errors.ts'

/** A place in the SQL text: 1-based line and column, 0-based offset. */
export interface SqlPosition {
  readonly line: number
  readonly column: number
  readonly offset: number
}

/** The line and column of `offset` in `sql` (columns count UTF-16 code units, from 1). */
export function positionAt(sql: string, offset: number): SqlPosition {
  let line = 1
  let lineStart = 0
  const end = Math.min(offset, sql.length)
  for (let i = 0; i < end; i++) {
    if (sql.charCodeAt(i) === 10) {
      line++
      lineStart = i + 1
    }
  }
  return { line, column: end - lineStart + 1, offset: end }
}

/**
 * The line of `sql` holding `offset`, indented by two spaces, and a caret under `offset` on the
 * next line. Long lines are cut to about 100 characters around the caret.
 */
export function caretExcerpt(sql: string, offset: number): string {
  const pos = positionAt(sql, offset)
  const lineStart = offset - (pos.column - 1)
  let lineEnd = sql.indexOf('\n', lineStart)
  if (lineEnd < 0) lineEnd = sql.length
  let text = sql.slice(lineStart, lineEnd).replace(/\r$/, '').replace(/\t/g, ' ')
  let col = pos.column - 1
  if (text.length > 100) {
    const from = Math.max(0, col - 60)
    const to = Math.min(text.length, from + 100)
    text = (from > 0 ? '...' : '') + text.slice(from, to) + (to < text.length ? '...' : '')
    col = col - from + (from > 0 ? 3 : 0)
  }
  return `  ${text}\n  ${' '.repeat(col)}^`
}

/**
 * An error of `code` about the SQL text at `offset`: `line L, column C: message` followed by the
 * caret excerpt, with the line in `where`.
 */
export function errorAt(code: ErrorCode, sql: string, offset: number, message: string): SquallError {
  const pos = positionAt(sql, offset)
  return new SquallError(
    code,
    `line ${pos.line}, column ${pos.column}: ${message}\n${caretExcerpt(sql, offset)}`,
    {
      where: { line: pos.line },
    },
  )
}

/**
 * Builds the ERR_SQL_SYNTAX error for a problem at `offset`:
 * `line 2, column 8: expected FROM, got "FORM" (did you mean FROM?)` followed by the caret excerpt.
 */
export function syntaxError(sql: string, offset: number, message: string): SquallError {
  return errorAt('ERR_SQL_SYNTAX', sql, offset, message)
}

/** Damerau–Levenshtein distance (adjacent transpositions count as one edit), case-insensitive. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase()
  const t = b.toLowerCase()
  const n = s.length
  const m = t.length
  if (n === 0) return m
  if (m === 0) return n
  let prev2: number[] = []
  let prev: number[] = Array.from({ length: m + 1 }, (_, j) => j)
  for (let i = 1; i <= n; i++) {
    const cur: number[] = [i]
    for (let j = 1; j <= m; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1
      let v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost)
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) v = Math.min(v, prev2[j - 2]! + 1)
      cur.push(v)
    }
    prev2 = prev
    prev = cur
  }
  return prev[m]!
}

/**
 * The candidate closest to `name`, if it is close enough to be a likely typo: at most one edit for
 * names of up to four characters, two edits for longer ones, and never the name itself.
 */
export function closestName(name: string, candidates: Iterable<string>): string | undefined {
  const limit = name.length <= 4 ? 1 : 2
  let best: string | undefined
  let bestDistance = limit + 1
  for (const c of candidates) {
    if (c === name) continue
    const d = editDistance(name, c)
    if (d < bestDistance) {
      best = c
      bestDistance = d
    }
  }
  return best
}

// Time values in SQL: reading timestamp text (UTC unless a zone is written), printing timestamps,
// and Java-style date patterns (`yyyy-MM-dd HH:mm:ss`) for DATE_FORMAT and TO_TIMESTAMP.

import { DAY_FULL, MONTH_FULL } from '../core/time.ts'

const MS_PER_DAY = 86_400_000
const ISO =
  /^\s*(-?\d{4,})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?\s*$/i

/**
 * Reads `yyyy-MM-dd[( |T)HH:mm[:ss[.fraction]]][Z|±HH[:mm]]` as epoch milliseconds. Text without a
 * zone is read as UTC. Returns undefined when the text has another shape or an impossible date.
 */
export function parseTimestamp(text: string): number | undefined {
  const m = ISO.exec(text)
  if (!m) return undefined
  const month = Number(m[2])
  const day = Number(m[3])
  const hour = m[4] === undefined ? 0 : Number(m[4])
  const minute = m[5] === undefined ? 0 : Number(m[5])
  const second = m[6] === undefined ? 0 : Number(m[6])
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59)
    return undefined
  const ms = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000 + 1e-6)
  let t = Date.UTC(Number(m[1]), month - 1, day, hour, minute, second, ms)
  if (new Date(t).getUTCDate() !== day) return undefined
  const zone = m[8]
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1
    const digits = zone.slice(1).replace(':', '')
    const offset = Number(digits.slice(0, 2)) * 60 + (digits.length > 2 ? Number(digits.slice(2)) : 0)
    t -= sign * offset * 60_000
  }
  return t
}

/** Reads `HH:mm[:ss[.fff]]` as milliseconds of the day, or undefined. */
export function parseTimeOfDay(text: string): number | undefined {
  const m = /^\s*(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*$/.exec(text)
  if (!m) return undefined
  const h = Number(m[1])
  const min = Number(m[2])
  const s = m[3] === undefined ? 0 : Number(m[3])
  if (h > 23 || min > 59 || s > 59) return undefined
  const ms = m[4] === undefined ? 0 : Math.floor(Number(`0.${m[4]}`) * 1000 + 1e-6)
  return ((h * 60 + min) * 60 + s) * 1000 + ms
}

/** The UTC midnight at or before `ms`. */
export function startOfDay(ms: number): number {
  return Math.floor(ms / MS_PER_DAY) * MS_PER_DAY
}

function pad(n: number, width: number): string {
  const s = String(Math.abs(n))
  return (n < 0 ? '-' : '') + (s.length >= width ? s : '0'.repeat(width - s.length) + s)
}

/** Prints epoch ms as `yyyy-MM-dd HH:mm:ss` plus `precision` fraction digits (max 3), in UTC. */
export function formatTimestamp(ms: number, precision = 3): string {
  const d = new Date(ms)
  let s = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)} ${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}`
  if (precision > 0) s += `.${pad(d.getUTCMilliseconds(), 3).slice(0, Math.min(precision, 3))}`
  return s
}

/** Prints epoch ms as `yyyy-MM-dd` (UTC). */
export function formatDate(ms: number): string {
  return formatTimestamp(ms, 0).slice(0, 10)
}

/** Prints ms of the day as `HH:mm:ss`. */
export function formatTimeOfDay(ms: number): string {
  return formatTimestamp(ms, 0).slice(11)
}

type PatternPart = { readonly literal: string } | { readonly letter: string; readonly width: number }

const PATTERN_LETTERS = 'yMdHhkmsSaEDXZ'
const compiled = new Map<string, readonly PatternPart[]>()

/**
 * Splits a Java-style pattern into parts, cached by pattern. Letters: y M d H h k m s S a E D X Z;
 * text in single quotes is literal (`''` is a quote); other characters are literal.
 */
export function compilePattern(pattern: string): readonly PatternPart[] {
  let parts = compiled.get(pattern)
  if (parts) return parts
  const out: PatternPart[] = []
  let i = 0
  while (i < pattern.length) {
    const c = pattern[i]!
    if (c === "'") {
      if (pattern[i + 1] === "'") {
        out.push({ literal: "'" })
        i += 2
        continue
      }
      const close = pattern.indexOf("'", i + 1)
      const end = close < 0 ? pattern.length : close
      out.push({ literal: pattern.slice(i + 1, end) })
      i = end + 1
    } else if (PATTERN_LETTERS.includes(c)) {
      let j = i
      while (pattern[j] === c) j++
      out.push({ letter: c, width: j - i })
      i = j
    } else {
      out.push({ literal: c })
      i++
    }
  }
  if (compiled.size > 256) compiled.clear()
  compiled.set(pattern, out)
  parts = out
  return parts
}

/** Formats epoch ms with a Java-style pattern, in UTC (`yyyy-MM-dd HH:mm:ss` by default). */
export function formatWithPattern(ms: number, pattern: string): string {
  const d = new Date(ms)
  let s = ''
  for (const p of compilePattern(pattern)) {
    if ('literal' in p) {
      s += p.literal
      continue
    }
    const w = p.width
    switch (p.letter) {
      case 'y':
        s += w === 2 ? pad(d.getUTCFullYear() % 100, 2) : pad(d.getUTCFullYear(), w)
        break
      case 'M':
        s +=
          w >= 4
            ? MONTH_FULL[d.getUTCMonth()]!
            : w === 3
              ? MONTH_FULL[d.getUTCMonth()]!.slice(0, 3)
              : pad(d.getUTCMonth() + 1, w)
        break
      case 'd':
        s += pad(d.getUTCDate(), w)
        break
      case 'D':
        s += pad(Math.floor((ms - Date.UTC(d.getUTCFullYear(), 0, 1)) / MS_PER_DAY) + 1, w)
        break
      case 'H':
        s += pad(d.getUTCHours(), w)
        break
      case 'k':
        s += pad(d.getUTCHours() === 0 ? 24 : d.getUTCHours(), w)
        break
      case 'h':
        s += pad(d.getUTCHours() % 12 === 0 ? 12 : d.getUTCHours() % 12, w)
        break
      case 'm':
        s += pad(d.getUTCMinutes(), w)
        break
      case 's':
        s += pad(d.getUTCSeconds(), w)
        break
      case 'S':
        s += (pad(d.getUTCMilliseconds(), 3) + '0'.repeat(Math.max(0, w - 3))).slice(0, w)
        break
      case 'a':
        s += d.getUTCHours() < 12 ? 'AM' : 'PM'
        break
      case 'E':
        s += w >= 4 ? DAY_FULL[d.getUTCDay()]! : DAY_FULL[d.getUTCDay()]!.slice(0, 3)
        break
      case 'X':
        s += 'Z'
        break
      case 'Z':
        s += '+0000'
        break
    }
  }
  return s
}

/**
 * Reads text written with a Java-style pattern as epoch ms (UTC unless the pattern has X/Z and
 * the text a zone). Returns undefined when the text does not match the pattern.
 */
export function parseWithPattern(text: string, pattern: string): number | undefined {
  const parts = compilePattern(pattern)
  let i = 0
  let year = 1970
  let month = 1
  let day = 1
  let hour = 0
  let minute = 0
  let second = 0
  let ms = 0
  let pm: boolean | undefined
  let zoneMinutes = 0
  for (let k = 0; k < parts.length; k++) {
    const p = parts[k]!
    if ('literal' in p) {
      if (!text.startsWith(p.literal, i)) return undefined
      i += p.literal.length
      continue
    }
    if (p.letter === 'a') {
      const ap = text.slice(i, i + 2).toUpperCase()
      if (ap !== 'AM' && ap !== 'PM') return undefined
      pm = ap === 'PM'
      i += 2
      continue
    }
    if (p.letter === 'X' || p.letter === 'Z') {
      const z = /^(Z|[+-]\d{2}:?\d{2}|[+-]\d{2})/i.exec(text.slice(i))
      if (!z) return undefined
      if (z[1]!.toUpperCase() !== 'Z') {
        const digits = z[1]!.slice(1).replace(':', '')
        zoneMinutes =
          (z[1]![0] === '-' ? -1 : 1) * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || 0))
      }
      i += z[1]!.length
      continue
    }
    if ((p.letter === 'M' && p.width >= 3) || p.letter === 'E') {
      const word = /^[A-Za-z]+/.exec(text.slice(i))
      if (!word) return undefined
      if (p.letter === 'M') {
        const idx = MONTH_FULL.findIndex((m) => m.toLowerCase().startsWith(word[0].toLowerCase().slice(0, 3)))
        if (idx < 0) return undefined
        month = idx + 1
      }
      i += word[0].length
      continue
    }
    const next = parts[k + 1]
    const adjacentDigits = next !== undefined && !('literal' in next)
    const maxWidth =
      adjacentDigits || p.letter === 'y'
        ? Math.max(p.width, p.letter === 'y' && p.width !== 2 ? 4 : p.width)
        : 9
    let j = i
    while (j < text.length && j - i < maxWidth && text.charCodeAt(j) >= 48 && text.charCodeAt(j) <= 57) j++
    if (j === i) return undefined
    const digits = text.slice(i, j)
    const v = Number(digits)
    i = j
    switch (p.letter) {
      case 'y':
        year = p.width === 2 ? 2000 + v : v
        break
      case 'M':
        month = v
        break
      case 'd':
        day = v
        break
      case 'H':
      case 'k':
      case 'h':
        hour = p.letter === 'k' && v === 24 ? 0 : v
        break
      case 'm':
        minute = v
        break
      case 's':
        second = v
        break
      case 'S':
        ms = Math.floor(Number(`0.${digits}`) * 1000 + 1e-6)
        break
      case 'D':
        month = 1
        day = v
        break
    }
  }
  if (i !== text.length) return undefined
  if (pm !== undefined && hour <= 12) hour = (hour % 12) + (pm ? 12 : 0)
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return undefined
  const t = Date.UTC(year, month - 1, day, hour, minute, second, ms)
  if (Number.isNaN(t)) return undefined
  return t - zoneMinutes * 60_000
}

// Durations as users write them ("500ms", "10s", "5m", "1h", "1d") or as numbers of milliseconds.

import { SquallError } from './errors.ts'

/** A duration: milliseconds as a number, or a string such as `"10s"`, `"1m30s"`, `"250ms"`. */
export type Duration = number | string

const UNIT_MS: { [unit: string]: number } = {
  ms: 1,
  s: 1_000,
  sec: 1_000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
}

/**
 * Converts a duration to milliseconds. Throws ERR_ARGUMENT naming `what` when the value is not a
 * finite non-negative number or a string of `<number><unit>` parts (ms, s, m, h, d, w).
 */
export function toMillis(value: Duration, what = 'duration'): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return value
  } else if (typeof value === 'string') {
    const s = value.trim()
    if (/^\d+(\.\d+)?$/.test(s)) return Number(s)
    const parts = s.match(/(\d+(?:\.\d+)?)\s*(ms|sec|min|s|m|h|d|w)/g)
    if (parts && parts.join('').replace(/\s/g, '') === s.replace(/\s/g, '')) {
      let total = 0
      for (const p of parts) {
        const m = /(\d+(?:\.\d+)?)\s*(ms|sec|min|s|m|h|d|w)/.exec(p)!
        total += Number(m[1]) * UNIT_MS[m[2]!]!
      }
      return total
    }
  }
  throw new SquallError(
    'ERR_ARGUMENT',
    `${what}: expected a duration like "30s", "5m" or a number of milliseconds, got ${JSON.stringify(value)}`,
  )
}

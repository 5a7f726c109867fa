// The verdict every throttling and abuse building block gives about one key (a client, an IP, a user).

/** What to do with a key's request: let it through, slow it down, or refuse it. Ordered by severity. */
export type Action = 'allow' | 'throttle' | 'block'

/** One verdict: the action, the key it concerns, and a reason naming the measured numbers. */
export interface Decision {
  readonly action: Action
  readonly key: string
  /** Human-readable and specific, e.g. `"12.4 requests in the last 60s (limit 10)"`; `''` when allowed. */
  readonly reason: string
}

const SEVERITY: { readonly [A in Action]: number } = { allow: 0, throttle: 1, block: 2 }

/** The severity of an action: allow 0, throttle 1, block 2. */
export function severity(action: Action): number {
  return SEVERITY[action]
}

/** Renders a count of milliseconds as a short duration for reasons (`60s`, `90s`, `5m`, `1h`, `250ms`). */
export function formatMillis(ms: number): string {
  if (ms > 0 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`
  if (ms >= 120_000 && ms % 60_000 === 0) return `${ms / 60_000}m`
  if (ms % 1_000 === 0) return `${ms / 1_000}s`
  return `${ms}ms`
}

/** Renders a number for a reason: integers as is, others with at most one decimal. */
export function formatNumber(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(1)
}

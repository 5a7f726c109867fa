// Retrying a failed delivery with capped exponential backoff: fluentd's retry_* settings, typed.

import { SquallError } from '../../core/errors.ts'

/** How often and how patiently to retry (fluentd: retry_max_times, retry_wait, retry_max_interval). */
export interface RetryPolicy {
  /** Attempts in all, the first one included; 1 means no retry. */
  readonly maxAttempts: number
  /** Wait before the first retry, in ms. */
  readonly initialIntervalMs: number
  /** Longest wait between two attempts, in ms. */
  readonly maxIntervalMs: number
  /** Growth of the wait after each failure (default 2). */
  readonly multiplier?: number
  /** Spread each wait randomly by ± this fraction (0..1, default 0.1), so senders do not retry in step. */
  readonly jitter?: number
}

/** The wait before retry number `retry` (1 = the first retry), without jitter: capped exponential. */
export function backoffDelay(policy: RetryPolicy, retry: number): number {
  const grown = policy.initialIntervalMs * (policy.multiplier ?? 2) ** Math.max(0, retry - 1)
  return Math.min(policy.maxIntervalMs, grown)
}

/** True when `error` says a later attempt may succeed (SquallError's catalog, or network errno codes). */
export function isRetryable(error: unknown): boolean {
  if (error instanceof SquallError) return error.retryable
  const code = (error as { code?: unknown })?.code
  if (typeof code === 'string') {
    return [
      'ECONNREFUSED',
      'ECONNRESET',
      'EPIPE',
      'ETIMEDOUT',
      'EHOSTUNREACH',
      'ENETUNREACH',
      'EAI_AGAIN',
      'ENOTFOUND',
    ].includes(code)
  }
  return (error as { retryable?: unknown })?.retryable === true
}

/** What `retry` reports about a failed attempt. */
export interface RetryEvent {
  readonly attempt: number
  readonly error: unknown
  /** The wait before the next attempt in ms; `undefined` when there will be none. */
  readonly nextDelayMs: number | undefined
}

/** Options of {@link retry}. */
export interface RetryOptions {
  /** Decides whether an error may be retried; default {@link isRetryable}. */
  retryable?: (error: unknown) => boolean
  /** Called after each failed attempt (for logs and counters). */
  onFailure?: (event: RetryEvent) => void
  /** How to wait; tests pass a fake. Default: a timer. */
  sleep?: (ms: number) => Promise<void>
  /** Stops retrying early (e.g. when the job is stopped): checked before each wait. */
  cancelled?: () => boolean
}

const timerSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Runs `attempt` until it resolves, an error is not retryable, or `policy.maxAttempts` attempts
 * have failed; then rejects with the last error. Waits grow by `multiplier` up to `maxIntervalMs`.
 * Attempts never overlap.
 */
export async function retry<T>(
  attempt: (n: number) => T | Promise<T>,
  policy: RetryPolicy,
  options: RetryOptions = {},
): Promise<T> {
  const retryable = options.retryable ?? isRetryable
  const sleep = options.sleep ?? timerSleep
  const jitter = policy.jitter ?? 0.1
  for (let n = 1; ; n++) {
    try {
      return await attempt(n)
    } catch (error) {
      const last = n >= policy.maxAttempts || !retryable(error) || options.cancelled?.() === true
      let delay: number | undefined
      if (!last) {
        const base = backoffDelay(policy, n)
        delay = Math.max(0, Math.round(base * (1 + (Math.random() * 2 - 1) * jitter)))
      }
      options.onFailure?.({ attempt: n, error, nextDelayMs: delay })
      if (delay === undefined) throw error
      await sleep(delay)
    }
  }
}

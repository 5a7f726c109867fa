// The events of the founding use cases — page requests, logins, posts — and the shapes the use-case
// jobs emit: rankings of pages, trending tags, and throttle/block decisions.

import type { ParsedRecord } from '../../src/plugins/parsers/parser.ts'

/** One HTTP request, as an access log records it. `time` is the event time in ms since the epoch. */
export interface AccessEvent {
  time: number
  ip: string
  /** The authenticated user, when the log has one. */
  user?: string
  method: string
  path: string
  status: number
  bytes: number
  /** The User-Agent header; `''` when absent. */
  agent: string
  referer?: string
}

/** One login attempt. */
export interface LoginEvent {
  time: number
  ip: string
  user: string
  success: boolean
}

/** One post of a social feed; `tags` are its hashtags, lower-cased, with their `#`. */
export interface Post {
  time: number
  user: string
  text: string
  tags: string[]
}

/** Pages by unique visitors over one window, best first (ties by path). */
export interface Ranking {
  windowStart: number
  windowEnd: number
  pages: { path: string; visitors: number }[]
}

/** One tag's trend at `Trending.time`; see `docs/use-cases.md` for the score. */
export interface TrendingTag {
  tag: string
  /** The Poisson z-score of the recent count against the tag's own baseline. */
  score: number
  /** Posts with the tag in the recent window. */
  recent: number
  /** Posts with the tag in the baseline window before it. */
  baseline: number
}

/** The tags trending at `time` (the last instant of a slide), best score first; possibly none. */
export interface Trending {
  time: number
  tags: TrendingTag[]
}

/** A verdict on a client or account: throttle or block `key`, and why. `time` is the event time. */
export interface Decision {
  action: 'allow' | 'throttle' | 'block'
  key: string
  reason: string
  time: number
}

/**
 * Turns an `apache2` parser result into an AccessEvent; returns undefined when the line lacks a host
 * or a time. Missing numbers become 0, a missing agent `''`, and `-` fields are dropped.
 */
export function accessFromApache(parsed: ParsedRecord): AccessEvent | undefined {
  const v = parsed.value
  const host = v['host']
  if (typeof host !== 'string' || parsed.time === undefined) return undefined
  const user = v['user']
  const referer = v['referer']
  const event: AccessEvent = {
    time: parsed.time,
    ip: host,
    method: typeof v['method'] === 'string' ? v['method'] : '',
    path: typeof v['path'] === 'string' ? v['path'] : '',
    status: typeof v['code'] === 'number' ? v['code'] : Number(v['code'] ?? 0) || 0,
    bytes: typeof v['size'] === 'number' ? v['size'] : Number(v['size'] ?? 0) || 0,
    agent: typeof v['agent'] === 'string' && v['agent'] !== '-' ? v['agent'] : '',
  }
  if (typeof user === 'string' && user !== '-' && user !== '') event.user = user
  if (typeof referer === 'string' && referer !== '-' && referer !== '') event.referer = referer
  return event
}

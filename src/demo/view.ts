// The demo's terminal view: rankings, trends and alerts, redrawn in place once a second.

/** One ranked page. */
export interface PageRank {
  path: string
  visitors: number
}

/** One trending tag, as the trend pipeline reports it (see `TrendTracker`). */
export interface TagTrend {
  tag: string
  /** The Poisson z-score (recent − expected)/√(expected + α). */
  score: number
  /** Posts with the tag in the recent window. */
  recent: number
  /** Posts with the tag in the baseline window, which is longer than the recent one. */
  baseline: number
}

/**
 * How many times its usual rate a tag runs now: the smoothed ratio (recent + α)/(expected + α) that
 * `TrendTracker` compares with `minRatio`, where expected is the recent count the tag's baseline
 * predicts. `recent / baseline` is not that figure (the baseline window is several times longer), so
 * the ratio is recovered from the z-score instead: with u = √(expected + α), z·u = recent + α − u²,
 * whose positive root gives ratio = ((z + √(z² + 4c)) / 2)² / c for c = recent + α. Exact for the
 * tracker's α (default 1, the trend pipeline's).
 */
export function trendRatio(t: TagTrend, alpha = 1): number {
  const c = t.recent + alpha
  const half = (t.score + Math.sqrt(t.score * t.score + 4 * c)) / 2
  return (half * half) / c
}

/** One decision of a detector. */
export interface Alert {
  action: string
  key: string
  reason: string
  time: number
}

/** Everything the view shows. */
export interface DemoView {
  /** Simulated event time now (ms). */
  simTime: number
  /** How many simulated ms pass per wall second. */
  speedup: number
  eventsTotal: number
  eventsPerSecond: number
  latencyP50: number
  latencyP99: number
  latencySamples: number
  threads: number
  ranking?: { windowStart: number; windowEnd: number; pages: PageRank[] }
  trending?: { time: number; tags: TagTrend[] }
  alerts: Alert[]
  alertCount: number
  checkpoint?: { id: number; agoMs: number }
  resumedFrom?: number
  httpUrl?: string
  remainingMs?: number
}

const BOLD = '\x1b[1m'
const DIM = '\x1b[2m'
const RED = '\x1b[31m'
const YELLOW = '\x1b[33m'
const GREEN = '\x1b[32m'
const CYAN = '\x1b[36m'
const RESET = '\x1b[0m'

function hhmm(ms: number): string {
  return new Date(ms).toISOString().slice(11, 16)
}

function num(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}

/**
 * Renders the view as lines of text. With `color` false the output is plain (for logs and tests).
 * Pure: the same view gives the same text.
 */
export function renderView(v: DemoView, color = true): string[] {
  const c = (code: string, s: string) => (color ? `${code}${s}${RESET}` : s)
  const lines: string[] = []
  const perWallSecond = v.speedup >= 60_000 ? `${v.speedup / 60_000} min` : `${v.speedup / 1000} s`
  lines.push(
    `${c(BOLD, 'Squall demo')} — rankings, trends and fraud detection on live generated traffic ${c(DIM, `(simulated clock: 1 s = ${perWallSecond}, now ${hhmm(v.simTime)})`)}`,
  )
  // Probe samples can arrive before the first metrics count an event: no latency without events.
  const lat =
    v.latencySamples > 0 && v.eventsTotal > 0
      ? `p50 ${v.latencyP50.toFixed(1)} ms  p99 ${v.latencyP99.toFixed(1)} ms`
      : 'measuring…'
  lines.push(
    `${c(CYAN, `${num(v.eventsPerSecond)} events/s`)}  total ${num(v.eventsTotal)}  event→result latency (last 10 s) ${c(v.latencyP99 < 50 ? GREEN : YELLOW, lat)}  threads ${v.threads}`,
  )
  const cp = v.checkpoint
    ? `checkpoint #${v.checkpoint.id} ${(v.checkpoint.agoMs / 1000).toFixed(0)} s ago`
    : 'no checkpoint yet'
  const resumed =
    v.resumedFrom !== undefined
      ? c(GREEN, `resumed from checkpoint #${v.resumedFrom}, not from zero`)
      : 'started fresh'
  lines.push(`${cp} — ${resumed}`)
  lines.push('')
  const r = v.ranking
  lines.push(
    c(
      BOLD,
      `Top pages by unique visitors, last 60 min ${r ? c(DIM, `(${hhmm(r.windowStart)}–${hhmm(r.windowEnd)})`) : ''}`,
    ),
  )
  if (!r || r.pages.length === 0) lines.push(c(DIM, '  waiting for the first window to close…'))
  else {
    r.pages.slice(0, 10).forEach((p, i) => {
      lines.push(`  ${String(i + 1).padStart(2)}  ${p.path.padEnd(34)} ${num(p.visitors).padStart(8)}`)
    })
  }
  lines.push('')
  const t = v.trending
  lines.push(c(BOLD, `Trending hashtags ${t ? c(DIM, `(at ${hhmm(t.time)})`) : ''}`))
  if (!t || t.tags.length === 0) lines.push(c(DIM, '  nothing is rising above its usual rate'))
  else {
    for (const tag of t.tags.slice(0, 5)) {
      const ratio = tag.baseline > 0 ? `×${trendRatio(tag).toFixed(1)}` : 'new'
      lines.push(
        `  ${tag.tag.padEnd(16)} score ${tag.score.toFixed(1).padStart(6)}  ${ratio.padStart(6)}  ${num(tag.recent)} recent`,
      )
    }
  }
  lines.push('')
  lines.push(c(BOLD, `Alerts (${num(v.alertCount)})`))
  if (v.alerts.length === 0) lines.push(c(DIM, '  none yet'))
  for (const a of v.alerts.slice(-8)) {
    const action = a.action.toUpperCase().padEnd(8)
    lines.push(
      `  ${hhmm(a.time)} ${c(a.action === 'block' ? RED : YELLOW, action)} ${a.key.padEnd(16)} ${a.reason}`,
    )
  }
  lines.push('')
  if (v.httpUrl) lines.push(httpApiLine(v.httpUrl, color))
  const remaining = v.remainingMs !== undefined ? ` — ends in ${Math.ceil(v.remainingMs / 1000)} s` : ''
  lines.push(c(DIM, `Ctrl-C stops; state is checkpointed, so the next run resumes${remaining}`))
  return lines
}

/** What a demo run did, from its start to its stop: the line it prints when it stops. */
export interface RunSummary {
  events: number
  /** The time the sources read, in seconds. */
  seconds: number
  latencyP50: number
  latencyP99: number
  latencySamples: number
  /**
   * The same latency without the run's first seconds, while the code is compiled and the state
   * grows (or a restore is rebuilt): what the run settles to.
   */
  settled?: { afterSeconds: number; latencyP50: number; latencyP99: number; latencySamples: number }
}

/** The whole run's figures (the live view shows the last 10 s): events, rate, latency. */
export function runSummaryLine(r: RunSummary): string {
  const rate = r.seconds > 0 ? `${num(r.events / r.seconds)} events/s` : 'no time'
  const lat =
    r.latencySamples > 0
      ? `event→result latency p50 ${r.latencyP50.toFixed(1)} ms  p99 ${r.latencyP99.toFixed(1)} ms`
      : 'no latency measured'
  const s = r.settled
  const settled =
    s !== undefined && s.latencySamples > 0
      ? `; after the first ${s.afterSeconds} s p50 ${s.latencyP50.toFixed(1)} ms  p99 ${s.latencyP99.toFixed(1)} ms`
      : ''
  return `over the run: ${num(r.events)} events in ${r.seconds.toFixed(1)} s, ${rate}, ${lat}${settled}`
}

/** The line that tells where the demo's HTTP API listens and how to add a query to it. */
export function httpApiLine(url: string, color = true): string {
  const shown = color ? `${CYAN}${url}${RESET}` : url
  return `HTTP API ${shown} — add a query: squall query add --server ${url} <name> "<sql>"`
}

/** Redraws `lines` in place on a terminal: cursor home, each line cleared to its end. */
export function redraw(out: NodeJS.WriteStream, lines: string[], first: boolean): void {
  const clear = first ? '\x1b[2J' : ''
  out.write(`${clear}\x1b[H${lines.map((l) => `${l}\x1b[K`).join('\n')}\n\x1b[J`)
}

import { describe, expect, it } from 'vitest'
import { TREND_DEFAULTS } from '../../examples/shared/jobs.ts'
import { type DemoView, renderView, runSummaryLine, trendRatio } from '../../src/demo/view.ts'
import { LatencyHistogram } from '../../src/demo/latency.ts'
import { TrendTracker } from '../../src/kit/trend.ts'

const SLIDE = 10_000

/**
 * A tracker with the demo's trend settings fed 40 minutes of posts: #launch runs at 5 posts a slide,
 * then 25 a slide in the last 5 minutes; #steady runs at 50 a slide throughout; #fresh appears in
 * the last 5 minutes only.
 */
function tracked(): { tracker: TrendTracker; now: number } {
  const tracker = TrendTracker.create(TREND_DEFAULTS)
  const slides = 240
  for (let s = 0; s < slides; s++) {
    const t = s * SLIDE
    const burst = s >= slides - 30
    tracker.observe('#launch', t, burst ? 25 : 5)
    tracker.observe('#steady', t, 50)
    if (burst) tracker.observe('#fresh', t, 8)
  }
  return { tracker, now: (slides - 1) * SLIDE }
}

function view(tags: DemoView['trending']): DemoView {
  return {
    simTime: 0,
    speedup: 60_000,
    eventsTotal: 0,
    eventsPerSecond: 0,
    latencyP50: 0,
    latencyP99: 0,
    latencySamples: 0,
    threads: 1,
    trending: tags,
    alerts: [],
    alertCount: 0,
  }
}

describe('demo view: trending tags', () => {
  it('trendRatio recovers, from the z-score and the recent count, the ratio the tracker judged', () => {
    const { tracker, now } = tracked()
    const scores = tracker.scores(now)
    expect(scores.map((s) => s.key).sort()).toEqual(['#fresh', '#launch', '#steady'])
    for (const s of scores) {
      const shown = trendRatio({ tag: String(s.key), score: s.score, recent: s.recent, baseline: s.baseline })
      expect(shown).toBeCloseTo(s.ratio, 9)
    }
  })

  it('shows a trending tag as several times its usual rate, where recent/baseline would say ×0.8', () => {
    const { tracker, now } = tracked()
    const trending = tracker.trending(now)
    // Best z-score first: a new tag's burst is the most unusual.
    expect(trending.map((t) => t.key)).toEqual(['#fresh', '#launch'])
    const launch = trending[1]!
    // 750 posts in the last 5 minutes against 900 in the 30 minutes before: 5 times the usual rate.
    expect([launch.recent, launch.baseline, launch.expected]).toEqual([750, 900, 150])
    expect(launch.recent / launch.baseline).toBeCloseTo(0.83, 2)
    const tags = trending.map((t) => ({
      tag: String(t.key),
      score: t.score,
      recent: t.recent,
      baseline: t.baseline,
    }))
    const lines = renderView(view({ time: now, tags }), false)
    const row = lines.find((l) => l.includes('#launch'))!
    expect(row).toMatch(/^ {2}#launch +score +\d+\.\d +×5\.0 +750 recent$/)
    expect(lines.find((l) => l.includes('#fresh'))).toMatch(/ new +240 recent$/)
    for (const t of trending.filter((x) => x.baseline > 0)) {
      const figure = /×(\d+\.\d)/.exec(lines.find((l) => l.includes(String(t.key)))!)![1]!
      expect(Number(figure)).toBeGreaterThanOrEqual(TREND_DEFAULTS.minRatio)
    }
  })
})

describe('demo view: the summary of a run', () => {
  it('gives the events, their rate over the run and the latency percentiles of every sample', () => {
    const h = new LatencyHistogram()
    // 990 samples at 1 ms and 10 at 200 ms: the p99 is still 1 ms; one more slow sample moves it.
    for (let i = 0; i < 990; i++) h.record(1)
    for (let i = 0; i < 10; i++) h.record(200)
    const line = (hist: LatencyHistogram) =>
      runSummaryLine({
        events: 6_000_000,
        seconds: 60,
        latencyP50: hist.percentile(0.5),
        latencyP99: hist.percentile(0.99),
        latencySamples: hist.count,
      })
    const p99 = (text: string) => Number(/p99 ([\d.]+) ms/.exec(text)![1])
    expect(line(h)).toMatch(
      /^over the run: 6,000,000 events in 60\.0 s, 100,000 events\/s, event→result latency p50 1\.\d ms {2}p99 1\.\d ms$/,
    )
    h.record(200)
    expect(p99(line(h))).toBeGreaterThan(190)
    // The settled figure leaves the first seconds out: here the slow samples were all in them.
    const settled = new LatencyHistogram()
    for (let i = 0; i < 500; i++) settled.record(2)
    const both = runSummaryLine({
      events: 6_000_000,
      seconds: 60,
      latencyP50: h.percentile(0.5),
      latencyP99: h.percentile(0.99),
      latencySamples: h.count,
      settled: {
        afterSeconds: 10,
        latencyP50: settled.percentile(0.5),
        latencyP99: settled.percentile(0.99),
        latencySamples: settled.count,
      },
    })
    expect(both).toMatch(/p99 2\d\d\.\d ms; after the first 10 s p50 2\.\d ms {2}p99 2\.\d ms$/)
    expect(runSummaryLine({ events: 0, seconds: 0, latencyP50: 0, latencyP99: 0, latencySamples: 0 })).toBe(
      'over the run: 0 events in 0.0 s, no time, no latency measured',
    )
  })
})

describe('demo view: the live line', () => {
  it('shows latency once events are counted, and "measuring…" before, whatever samples came first', () => {
    const first = { ...view(undefined), latencyP50: 3.2, latencyP99: 12.5, latencySamples: 40 }
    const live = (v: DemoView) => renderView(v, false)[1]!
    expect(live(first)).toContain('latency (last 10 s) measuring…')
    expect(live(first)).not.toContain('p99')
    const counted = { ...first, eventsTotal: 120_000, eventsPerSecond: 100_000 }
    expect(live(counted)).toContain('total 120,000')
    expect(live(counted)).toContain('p50 3.2 ms  p99 12.5 ms')
  })
})

// The three founding use cases as reusable pipeline builders over streams of events: the page
// ranking by unique visitors, trending hashtags, and fraud decisions (brute force and crawlers).

import type { Duration } from '../../src/core/duration.ts'
import type { Processor, ProcessorContext } from '../../src/core/processor.ts'
import type { ListState } from '../../src/core/state.ts'
import type { Stream } from '../../src/core/stream.ts'
import { HoppingWindows, TumblingWindows } from '../../src/core/window/assigners.ts'
import type { BruteForceOptions } from '../../src/kit/brute-force.ts'
import { ASSET_PATHS, BOT_AGENTS, type CrawlerOptions, type HttpRequest } from '../../src/kit/crawler.ts'
import {
  type TrendPoint,
  bruteForceOperator,
  crawlerOperator,
  distinctCountAggregate,
  topKOperator,
  trendOperator,
} from '../../src/kit/operators.ts'
import type { TrendOptions } from '../../src/kit/trend.ts'
import type { AccessEvent, Decision, LoginEvent, Post, Ranking, Trending, TrendingTag } from './events.ts'

/** Options of `rankingPipeline`. */
export interface RankingOptions {
  /** Window length. Default 60 minutes. */
  size?: Duration
  /** How often a ranking is emitted. Default 1 minute. */
  slide?: Duration
  /** Pages per ranking. Default 10. */
  top?: number
  /** HyperLogLog precision of the per-page visitor counts (exact below 2^p/16 visitors). Default 14. */
  p?: number
  /** Which requests are page views. Default: GET with a status below 400, not a static asset. */
  isPage?: (e: AccessEvent) => boolean
  /** Prefix of the stateful node names (they key the state in checkpoints). Default `ranking`. */
  name?: string
}

/** The default page-view test: a successful GET of something that is not a stylesheet, script, image or font. */
export function isPageView(e: AccessEvent): boolean {
  return e.method === 'GET' && e.status < 400 && !ASSET_PATHS.test(e.path)
}

/**
 * Pages ranked by unique visitors (distinct IPs) over hopping windows: per page and window a
 * distinct count (exact while small, HyperLogLog past that), then one global top-N per window.
 * Emits one Ranking per window, when the watermark passes its end, with time `windowEnd − 1`.
 */
export function rankingPipeline(access: Stream<AccessEvent>, opts: RankingOptions = {}): Stream<Ranking> {
  const name = opts.name ?? 'ranking'
  const isPage = opts.isPage ?? isPageView
  return (
    access
      .filter((e) => isPage(e))
      // Only the page and the visitor cross the exchange: the rest of the event is not needed.
      .map((e): PageView => ({ path: e.path, ip: e.ip }))
      .keyBy((v) => v.path)
      .window(HoppingWindows.of(opts.size ?? '60m', opts.slide ?? '1m'))
      .aggregate(
        `${name}-visitors`,
        distinctCountAggregate<PageView>((v) => v.ip, { p: opts.p ?? 14 }),
      )
      .keyBy((r) => r.windowEnd)
      .process(`${name}-top`, topKOperator({ k: opts.top ?? 10 }))
      .map(
        (t): Ranking => ({
          windowStart: t.windowStart,
          windowEnd: t.windowEnd,
          pages: t.top.map((e) => ({ path: String(e.key), visitors: e.score })),
        }),
      )
  )
}

/** What the ranking keeps of a page view. */
interface PageView {
  path: string
  ip: string
}

/** Options of `trendPipeline`: the trend tracker's, plus the list length and node names. */
export interface TrendPipelineOptions extends TrendOptions {
  /** Tags per Trending. Default 10. */
  top?: number
  /** The event time history starts at (see `trendOperator`). Default: the first post's time. */
  since?: number
  /** Prefix of the stateful node names. Default `trends`. */
  name?: string
}

/**
 * The trend defaults of the use case: a 5-minute recent window against a 30-minute baseline, judged
 * every 10 s, after 10 minutes of history; a tag trends with at least 30 posts in the recent window,
 * 3 times its own expected rate and 4 Poisson standard deviations above it.
 */
export const TREND_DEFAULTS = {
  recent: '5m',
  baseline: '30m',
  slide: '10s',
  warmup: '10m',
  minCount: 30,
  minRatio: 3,
  minZ: 4,
} as const

/**
 * Trending hashtags: posts → their tags → a count per tag per slide (tumbling windows) → a per-tag
 * `TrendTracker` scoring the recent window against the tag's own baseline → one Trending per slide
 * with the trending tags, best z-score first (possibly none). Emitted when the watermark passes the
 * slide's end, with time = the slide's last instant.
 */
export function trendPipeline(posts: Stream<Post>, opts: TrendPipelineOptions = {}): Stream<Trending> {
  const name = opts.name ?? 'trends'
  const { top = 10, since, name: _name, ...trend } = opts
  const options = { ...TREND_DEFAULTS, ...trend }
  return posts
    .flatMap((p) => p.tags)
    .keyBy((tag) => tag)
    .window(TumblingWindows.of(options.slide))
    .count(`${name}-counts`)
    .keyBy((r) => r.key)
    .process(
      `${name}-trend`,
      trendOperator<{ value: number }>({
        ...options,
        weight: (r) => r.value,
        emit: 'active',
        ...(since === undefined ? {} : { since }),
      }),
    )
    .keyBy((p) => p.time)
    .process(`${name}-top`, trendingList(top))
}

/** Collects the trend points of one slide (keyed by time) and emits the trending ones as one list. */
function trendingList(top: number): () => Processor<TrendPoint, Trending> {
  return () => {
    let points!: ListState<TrendingTag>
    let seen!: ListState<number>
    let ctx!: ProcessorContext
    return {
      open(c) {
        ctx = c
        points = c.state.list<TrendingTag>('points')
        seen = c.state.list<number>('seen')
      },
      process(r) {
        const p = r.value
        if (seen.get().length === 0) {
          seen.add(p.time)
          ctx.timers.registerEventTimer(p.time)
        }
        if (p.trending)
          points.add({ tag: String(p.key), score: p.score, recent: p.recent, baseline: p.baseline })
      },
      onTimer(timer, out) {
        const tags = points
          .get()
          .slice()
          .sort((a, b) => b.score - a.score || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0))
          .slice(0, top)
        out.emitRecord({ value: { time: timer.time, tags }, key: timer.key, time: timer.time, tag: '' })
        points.clear()
        seen.clear()
      },
    }
  }
}

/** Options of `fraudPipeline`. */
export interface FraudOptions {
  /** The brute-force pattern. Default: 5 failures within 60 s followed by a success, by IP. */
  bruteForce?: BruteForceOptions
  /** The crawler rules (see `CrawlerDetector`); defaults from the kit. */
  crawler?: CrawlerOptions
  /** Prefix of the stateful node names. Default `fraud`. */
  name?: string
}

/**
 * Fraud decisions from two streams: brute-force alerts from logins (keyed by IP or user) and crawler
 * throttle/block decisions from page requests (keyed by client IP). Each Decision is emitted once,
 * when its key's action escalates, with the time of the event that caused it.
 */
export function fraudPipeline(
  logins: Stream<LoginEvent>,
  access: Stream<AccessEvent>,
  opts: FraudOptions = {},
): Stream<Decision> {
  const name = opts.name ?? 'fraud'
  // biome-ignore lint/suspicious/noThenProperty: the kit's option is named `then`
  const bf: BruteForceOptions = { failures: 5, within: '60s', then: 'success', by: 'ip', ...opts.bruteForce }
  const blocks = logins
    .keyBy((e) => (bf.by === 'user' ? e.user : e.ip))
    .process(`${name}-brute-force`, bruteForceOperator(bf))
    .map((a): Decision => ({ action: a.action, key: a.key, reason: a.reason, time: a.time }))
  // Only what the crawler rules read crosses the exchange: keyed by IP, they read the user agent
  // only to find declared bots, so other agents (a hundred bytes each) travel as ''.
  const byAgent = opts.crawler?.by === 'ip+agent'
  const bots = opts.crawler?.botAgents ?? BOT_AGENTS
  const known = new Map<string, boolean>()
  const isBot = (agent: string): boolean => {
    let bot = known.get(agent)
    if (bot === undefined) {
      if (known.size >= 4_096) known.clear()
      bot = bots.test(agent)
      known.set(agent, bot)
    }
    return bot
  }
  const crawlers = access
    .map(
      (e): HttpRequest => ({
        time: e.time,
        ip: e.ip,
        agent: byAgent || isBot(e.agent) ? e.agent : '',
        path: e.path,
      }),
    )
    .keyBy((e) => (opts.crawler?.by === 'ip+agent' ? `${e.ip} ${e.agent}` : e.ip))
    .process(`${name}-crawler`, crawlerOperator(opts.crawler ?? {}))
    .map((d): Decision => ({ action: d.action, key: d.key, reason: d.reason, time: d.time }))
  return blocks.union(crawlers)
}

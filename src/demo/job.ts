// The demo's topology: the three founding use cases over endless generated traffic, on a simulated
// clock that runs `speedup` times faster than the wall clock. Worker threads import this module, so
// its settings come from the environment (`demoSettings`).

import { WatermarkStrategy } from '../core/watermark.ts'
import { Topology } from '../core/topology.ts'
import type { Stream } from '../core/stream.ts'
import type { SinkSpec } from '../core/source.ts'
import type { Record } from '../core/record.ts'
import { generator } from '../plugins/inputs/generator.ts'
import { fraudPipeline, rankingPipeline, trendPipeline } from '../../examples/shared/jobs.ts'
import { type Traffic, makeTraffic } from '../../examples/shared/traffic.ts'
import type { AccessEvent, LoginEvent, Post } from '../../examples/shared/events.ts'

/** The demo's knobs, shared by the main thread and the workers through the environment. */
export interface DemoSettings {
  /** Events per wall-clock second over all three streams. */
  rate: number
  /** Simulated milliseconds per wall millisecond. */
  speedup: number
  /** Simulated length of one traffic "episode" (planted trends, attacks, a crawler in each). */
  episodeMs: number
  /** Simulated start of the traffic (fixed, so a restart replays the same traffic). */
  start: number
  seed: number
  /** Distinct pages and visitors of the generated site. */
  pages: number
  visitors: number
}

/** Reads the settings the demo command put in the environment. */
export function demoSettings(env: NodeJS.ProcessEnv = process.env): DemoSettings {
  return {
    rate: Number(env.SQUALL_DEMO_RATE ?? 100_000),
    speedup: Number(env.SQUALL_DEMO_SPEEDUP ?? 60),
    episodeMs: Number(env.SQUALL_DEMO_EPISODE_MS ?? 2 * 3_600_000),
    start: Number(env.SQUALL_DEMO_START ?? Date.UTC(2026, 0, 1)),
    seed: Number(env.SQUALL_DEMO_SEED ?? 1),
    pages: Number(env.SQUALL_DEMO_PAGES ?? 2_000),
    visitors: Number(env.SQUALL_DEMO_VISITORS ?? 50_000),
  }
}

/** The share of each stream in the demo's load. */
export const SHARES = { access: 0.7, logins: 0.1, posts: 0.2 } as const

/**
 * Endless traffic: episode after episode of the traffic model, each with its own seed and planted
 * behaviour, back to back in event time. Event `seq` of a stream is a pure function of (seed, seq).
 */
export class EndlessTraffic {
  private readonly episodes = new Map<number, Traffic>()
  constructor(readonly settings: DemoSettings) {}

  /** Event-time rate of each stream, per simulated second. */
  rates(): { access: number; logins: number; posts: number } {
    const s = this.settings
    const perSim = s.rate / s.speedup
    return { access: perSim * SHARES.access, logins: perSim * SHARES.logins, posts: perSim * SHARES.posts }
  }

  episode(n: number): Traffic {
    let t = this.episodes.get(n)
    if (t === undefined) {
      const r = this.rates()
      const s = this.settings
      t = makeTraffic({
        seed: s.seed + n * 7,
        start: s.start + n * s.episodeMs,
        duration: s.episodeMs,
        accessRate: r.access,
        loginRate: r.logins,
        postRate: r.posts,
        pages: s.pages,
        visitors: s.visitors,
      })
      if (this.episodes.size > 4) this.episodes.delete(Math.min(...this.episodes.keys()))
      this.episodes.set(n, t)
    }
    return t
  }

  /** Event `seq` of a stream, found in its episode. */
  make<T>(stream: 'access' | 'logins' | 'posts', seq: number): T {
    const first = this.episode(0)
    const per = first.counts[stream]
    const n = Math.floor(seq / per)
    const t = this.episode(n)
    const local = seq - n * per
    if (stream === 'access') return t.access(local) as T
    if (stream === 'logins') return t.login(local) as T
    return t.post(local) as T
  }
}

/** A sink that hands each batch to the thread that owns the job, under `channel`. */
export function reportSink<T>(channel: string): SinkSpec<T> {
  return {
    kind: 'report',
    maxParallelism: 1,
    create: (ctx) => ({
      write: (records: Record<T>[]) =>
        ctx.report(
          channel,
          records.map((r) => r.value),
        ),
    }),
  }
}

/**
 * Builds the demo job: access, login and post sources (generator sources at wall-clock rates, event
 * time from the events, 5 s simulated out-of-orderness), the ranking, trend and fraud pipelines,
 * and a latency probe that follows about one access event in 50 through a keyed exchange to a sink.
 * Results go to report sinks: `demo:rankings`, `demo:trends`, `demo:alerts`, `demo:probe`.
 */
export default function demoTopology(settings: DemoSettings = demoSettings()): Topology {
  const traffic = new EndlessTraffic(settings)
  const t = new Topology('demo')
  const watermarks = <T extends { time: number }>() =>
    WatermarkStrategy.forBoundedOutOfOrderness<T>(5_000).withTimestamp((v) => v.time)
  const source = <T extends { time: number }>(
    name: 'access' | 'logins' | 'posts',
    share: number,
  ): Stream<T> =>
    t.source(
      name,
      generator<T>({
        make: (seq) => traffic.make<T>(name, seq),
        rate: settings.rate * share,
        seed: settings.seed,
        time: (_seq, v) => v.time,
      }),
      { watermarks: watermarks<T>() },
    )
  const access = source<AccessEvent>('access', SHARES.access)
  const logins = source<LoginEvent>('logins', SHARES.logins)
  const posts = source<Post>('posts', SHARES.posts)

  rankingPipeline(access).sink(reportSink('demo:rankings'), { name: 'rankings-out' })
  trendPipeline(posts).sink(reportSink('demo:trends'), { name: 'trends-out' })
  fraudPipeline(logins, access, { crawler: { history: '15m' } }).sink(reportSink('demo:alerts'), {
    name: 'alerts-out',
  })
  // The latency probe: about one access event in 50 is stamped with the wall time it was due (the
  // generator emits event time at a fixed rate, so due = wall0 + event time / speedup, which counts
  // any backlog), crosses a keyed exchange (and threads) like the real work, and reaches the job's
  // owner, which measures now − due. wall0 is the earliest the samples allow: a first sample that
  // came late (a resumed job's generator catching up on its start-up) must not set it.
  let wall0 = Number.POSITIVE_INFINITY
  access
    .filter((_e, r) => r.time % 50 === 0, { name: 'probe-sample' })
    .map(
      (e) => {
        const at = Date.now() - e.time / settings.speedup
        if (at < wall0) wall0 = at
        return { ip: e.ip, due: wall0 + e.time / settings.speedup }
      },
      { name: 'probe-stamp' },
    )
    .keyBy((p) => p.ip)
    .map((p) => p.due, { name: 'probe-route' })
    .sink(reportSink('demo:probe'), { name: 'probe-out' })
  return t
}

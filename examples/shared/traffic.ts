// A deterministic, seeded model of a web site's traffic — page views with their assets, logins and
// posts — with planted behaviour at known event times: hashtag bursts, brute-force attackers and a
// crawler. Tests and the demo check what the jobs find against `planted()`.

import type { SourceSpec } from '../../src/core/source.ts'
import { type Duration, toMillis } from '../../src/core/duration.ts'
import { check } from '../../src/core/errors.ts'
import { hashNumber } from '../../src/kit/hash.ts'
import { Random, generator } from '../../src/plugins/inputs/generator.ts'
import type { AccessEvent, LoginEvent, Post } from './events.ts'

/** Options of `makeTraffic`; every one has a default. */
export interface TrafficOptions {
  /** Seeds every random choice: the same seed gives the same events. Default 1. */
  seed?: number
  /** Event time of the first event, ms. Default 2024-05-01T00:00:00Z. */
  start?: number
  /** Event time covered by each stream. Default 2 hours. */
  duration?: Duration
  /** Distinct visitors (each with its own IP and user name). Default 100 000. */
  visitors?: number
  /** Distinct pages; their popularity follows Zipf's law (s = 1). Default 5 000. */
  pages?: number
  /** Requests per second of event time (page views and their assets). Default 100. */
  accessRate?: number
  /** Login attempts per second of event time. Default 10. */
  loginRate?: number
  /** Posts per second of event time. Default 20. */
  postRate?: number
  /** Steady hashtags, Zipf-distributed (s = 1). Default 200. */
  tags?: number
  /** Brute-force attackers: each fails `attackFailures` times, 3 s apart, then succeeds. Default 3. */
  attackers?: number
  /** Failures per attack. Default 8. */
  attackFailures?: number
}

/** A hashtag burst: between `from` and `to`, `share` of all posts carry `tag`. */
export interface PlantedBurst {
  tag: string
  from: number
  to: number
  share: number
}

/** A planted login sequence from one IP against one user; `successAt` is the time of its success. */
export interface PlantedLogins {
  ip: string
  user: string
  failures: number
  from: number
  successAt: number
}

/** A crawler: between `from` and `to`, one request in `every` comes from `ip`, each a new page, no assets. */
export interface PlantedCrawler {
  ip: string
  agent: string
  from: number
  to: number
  every: number
}

/** Everything the model planted, with event times, and how many events each stream has. */
export interface Planted {
  start: number
  end: number
  bursts: PlantedBurst[]
  /** Attacks: `failures` ≥ 5 failures within 60 s, then a success. */
  attackers: PlantedLogins[]
  /** Clumsy users: a few failures then a success, below any brute-force threshold. */
  decoys: PlantedLogins[]
  crawlers: PlantedCrawler[]
  counts: { access: number; logins: number; posts: number }
}

/**
 * A traffic model. `access`, `login` and `post` make event number `seq` of their stream, a pure
 * function of (seed, seq): use them as the `make` of a `generator` source (or `accessSource()` …),
 * at any parallelism. They draw from their own random stream, seeded from (seed, stream, seq) through
 * a 64-bit mix so that neighbouring events are independent. Event times grow with `seq`.
 */
export interface Traffic {
  readonly start: number
  readonly end: number
  readonly counts: { readonly access: number; readonly logins: number; readonly posts: number }
  access(seq: number): AccessEvent
  login(seq: number): LoginEvent
  post(seq: number): Post
  /** What was planted where (a fresh copy). */
  planted(): Planted
  /** Bounded generator sources of each stream, with event time from the events. */
  accessSource(options?: { tag?: string }): SourceSpec<AccessEvent>
  loginSource(options?: { tag?: string }): SourceSpec<LoginEvent>
  postSource(options?: { tag?: string }): SourceSpec<Post>
}

const BROWSERS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
]
const ASSETS = ['/static/site.css', '/static/app.js', '/static/logo.png']
const WORDS = ['today', 'new', 'great', 'check', 'this', 'out', 'thread', 'update', 'news', 'team']
const BURST_TAGS = ['#eclipse', '#outage', '#launchday']
const SESSION = 1 + ASSETS.length

/** The cumulative distribution of Zipf's law (s = 1) over n ranks. */
function zipfCdf(n: number): Float64Array {
  const cdf = new Float64Array(n)
  let total = 0
  for (let i = 0; i < n; i++) cdf[i] = total += 1 / (i + 1)
  for (let i = 0; i < n; i++) cdf[i]! /= total
  return cdf
}

/** The rank (0-based) whose cumulative share first reaches `u`. */
function sample(cdf: Float64Array, u: number): number {
  let lo = 0
  let hi = cdf.length - 1
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (cdf[mid]! < u) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** The IP of visitor `v`: 10.x.y.z, one per visitor. */
export function visitorIp(v: number): string {
  return `10.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`
}

/** The path of page `p` (rank p + 1 in popularity). */
export function pagePath(p: number): string {
  return `/articles/${p}`
}

/**
 * Builds a traffic model. Normal visitors load a page and then its three assets (a stylesheet, a
 * script, an image), from their own IP; they log in now and then and fail 3 % of the time; they post
 * with one or two steady tags. Planted, at fixed fractions of the duration: three hashtag bursts
 * (at 50 %, 70 % and 85 %, each lasting 5 %, carried by 30 % of the posts), `attackers` brute-force
 * attacks and two decoys (3 failures then a success), and one crawler from 30 % to 45 % fetching a
 * new page every 25th request with a browser's user agent and no assets.
 */
export function makeTraffic(options: TrafficOptions = {}): Traffic {
  const seed = options.seed ?? 1
  const start = options.start ?? Date.UTC(2024, 4, 1)
  const durationMs = toMillis(options.duration ?? '2h', 'traffic.duration')
  const visitors = options.visitors ?? 100_000
  const pages = options.pages ?? 5_000
  const accessRate = options.accessRate ?? 100
  const loginRate = options.loginRate ?? 10
  const postRate = options.postRate ?? 20
  const tagCount = options.tags ?? 200
  const attackers = options.attackers ?? 3
  const attackFailures = options.attackFailures ?? 8
  check(
    Number.isInteger(visitors) && visitors >= 1 && visitors < 1 << 24,
    'traffic.visitors',
    'an integer in 1..16777215',
    visitors,
  )
  check(Number.isInteger(pages) && pages >= 1, 'traffic.pages', 'a positive integer', pages)
  check(accessRate > 0 && loginRate > 0 && postRate > 0, 'traffic rates', 'positive events per second', [
    accessRate,
    loginRate,
    postRate,
  ])
  check(
    Number.isInteger(attackers) && attackers >= 0 && attackers <= 200,
    'traffic.attackers',
    'an integer in 0..200',
    attackers,
  )
  check(
    Number.isInteger(attackFailures) && attackFailures >= 5,
    'traffic.attackFailures',
    'an integer ≥ 5',
    attackFailures,
  )
  check(durationMs >= 60_000, 'traffic.duration', 'at least one minute', options.duration)

  const end = start + durationMs
  const counts = {
    access: Math.floor((durationMs / 1000) * accessRate),
    logins: Math.floor((durationMs / 1000) * loginRate),
    posts: Math.floor((durationMs / 1000) * postRate),
  }
  const at = (fraction: number) => start + Math.floor(durationMs * fraction)
  const pageCdf = zipfCdf(pages)
  const tagCdf = zipfCdf(tagCount)
  const group = new Random(seed)
  const random = new Random(seed)
  /** Seeds `rng` for event `seq` of stream `stream` (0 access, 1 login, 2 post, 3 session). */
  const seedFor = (rng: Random, stream: number, seq: number): Random => {
    rng.reseed(seed, hashNumber(seq * 4 + stream) >>> 0)
    return rng
  }

  const bursts: PlantedBurst[] = [0.5, 0.7, 0.85].map((f, i) => ({
    tag: BURST_TAGS[i]!,
    from: at(f),
    to: at(f + 0.05),
    share: 0.3,
  }))
  const crawler: PlantedCrawler = {
    ip: '198.51.100.7',
    agent: BROWSERS[0]!,
    from: at(0.3),
    to: at(0.45),
    every: 25,
  }

  // Planted logins replace the events of the sequence numbers at their times.
  const loginSeq = (time: number) => Math.ceil(((time - start) * loginRate) / 1000)
  const loginTime = (seq: number) => start + Math.floor((seq * 1000) / loginRate)
  const plantedLogins = new Map<number, LoginEvent>()
  const plan = (ip: string, user: string, failures: number, from: number): PlantedLogins => {
    let seq = loginSeq(from)
    const step = Math.max(1, Math.round(3 * loginRate))
    let first = 0
    let last = 0
    for (let i = 0; i <= failures; i++, seq += step) {
      while (plantedLogins.has(seq)) seq++
      last = loginTime(seq)
      if (i === 0) first = last
      plantedLogins.set(seq, { time: last, ip, user, success: i === failures })
    }
    return { ip, user, failures, from: first, successAt: last }
  }
  const attacks: PlantedLogins[] = []
  for (let i = 0; i < attackers; i++) {
    attacks.push(
      plan(
        `203.0.113.${10 + i}`,
        `user${(i * 7919) % visitors}`,
        attackFailures,
        at((i + 1) / (attackers + 1)),
      ),
    )
  }
  const decoys = [
    plan(visitorIp(42 % visitors), 'user42', 3, at(0.33)),
    plan(visitorIp(4242 % visitors), 'user4242', 4, at(0.66)),
  ]

  const accessTime = (seq: number) => start + Math.floor((seq * 1000) / accessRate)
  const postTime = (seq: number) => start + Math.floor((seq * 1000) / postRate)

  const traffic: Traffic = {
    start,
    end,
    counts,
    access(seq) {
      seedFor(random, 0, seq)
      const time = accessTime(seq)
      if (time >= crawler.from && time < crawler.to && seq % crawler.every === 0) {
        const page = Math.floor(seq / crawler.every) % pages
        return {
          time,
          ip: crawler.ip,
          method: 'GET',
          path: pagePath(page),
          status: 200,
          bytes: 8_000 + random.int(4_000),
          agent: crawler.agent,
        }
      }
      // Requests come in sessions of a page and its assets, from one visitor.
      const session = Math.floor(seq / SESSION)
      const member = seq % SESSION
      seedFor(group, 3, session)
      const visitor = group.int(visitors)
      const page = pagePath(sample(pageCdf, group.next()))
      const agent = BROWSERS[visitor % BROWSERS.length]!
      const ip = visitorIp(visitor)
      if (member === 0)
        return { time, ip, method: 'GET', path: page, status: 200, bytes: 5_000 + random.int(20_000), agent }
      return {
        time,
        ip,
        method: 'GET',
        path: ASSETS[member - 1]!,
        status: 200,
        bytes: 1_000 + random.int(50_000),
        agent,
        referer: page,
      }
    },
    login(seq) {
      const planted = plantedLogins.get(seq)
      if (planted !== undefined) return { ...planted }
      seedFor(random, 1, seq)
      const visitor = random.int(visitors)
      return {
        time: loginTime(seq),
        ip: visitorIp(visitor),
        user: `user${visitor}`,
        success: random.next() >= 0.03,
      }
    },
    post(seq) {
      seedFor(random, 2, seq)
      const time = postTime(seq)
      const tags: string[] = [`#tag${sample(tagCdf, random.next())}`]
      if (random.next() < 0.3) {
        const second = `#tag${sample(tagCdf, random.next())}`
        if (second !== tags[0]) tags.push(second)
      }
      for (const b of bursts) if (time >= b.from && time < b.to && random.next() < b.share) tags.push(b.tag)
      const user = `user${random.int(visitors)}`
      const text = `${random.pick(WORDS)} ${random.pick(WORDS)} ${tags.join(' ')}`
      return { time, user, text, tags }
    },
    planted() {
      return structuredClone({ start, end, bursts, attackers: attacks, decoys, crawlers: [crawler], counts })
    },
    accessSource: (o = {}) =>
      generator({
        make: traffic.access,
        count: counts.access,
        seed,
        time: (_, v) => v.time,
        ...(o.tag ? { tag: o.tag } : {}),
      }),
    loginSource: (o = {}) =>
      generator({
        make: traffic.login,
        count: counts.logins,
        seed: seed + 1,
        time: (_, v) => v.time,
        ...(o.tag ? { tag: o.tag } : {}),
      }),
    postSource: (o = {}) =>
      generator({
        make: traffic.post,
        count: counts.posts,
        seed: seed + 2,
        time: (_, v) => v.time,
        ...(o.tag ? { tag: o.tag } : {}),
      }),
  }
  return traffic
}

// Crawler and scraper detection from access logs: per client, the recent window weighed against the
// client's longer history — request rate, share of distinct paths, share of static assets, bot agents.

import { type Duration, toMillis } from '../core/duration.ts'
import { check } from '../core/errors.ts'
import { type Action, type Decision, formatMillis, formatNumber, severity } from './decision.ts'
import { hashString } from './hash.ts'
import { arrayField, float64Field, snapshotError, uint8Field } from './snapshot.ts'

/** One HTTP request as an access log records it. */
export interface HttpRequest {
  /** Event time, ms. */
  readonly time: number
  readonly ip: string
  /** The User-Agent header; `''` or `'-'` when absent. */
  readonly agent: string
  /** The request path, with or without its query string. */
  readonly path: string
}

/** Options of `CrawlerDetector.create`; every threshold has a documented default. */
export interface CrawlerOptions {
  /** What a client is: its IP (default), or its IP and user agent together. */
  readonly by?: 'ip' | 'ip+agent'
  /** The recent window. Default 1 minute. */
  readonly recent?: Duration
  /** The history window (it includes the recent one). Default 1 hour. */
  readonly history?: Duration
  /** Requests in the history window before its shape is judged. Default 20. */
  readonly minRequests?: number
  /** A crawler's share of distinct paths among its requests is at least this. Default 0.8. */
  readonly distinctShare?: number
  /** A crawler's share of static-asset requests is at most this. Default 0.1. */
  readonly assetShare?: number
  /** Requests in the recent window that get any client throttled. Default 120. */
  readonly throttleAt?: number
  /** Requests in the recent window that get any client blocked. Default 600. */
  readonly blockAt?: number
  /** A crawler whose recent count reaches this multiple of its own history rate is blocked. Default 4. */
  readonly burstFactor?: number
  /** The recent count a burst needs at least. Default 20. */
  readonly minBurst?: number
  /** User agents of declared bots; matching clients with `minRequests` are throttled. */
  readonly botAgents?: RegExp
  /** Paths of static assets (stylesheets, scripts, images, fonts). */
  readonly assetPaths?: RegExp
  /** Requests kept per client (the oldest go first). Default 10 000. */
  readonly maxTracked?: number
}

/** The default pattern of declared bot user agents. */
export const BOT_AGENTS =
  /bot\b|bot\/|crawl|spider|slurp|feedfetcher|feedparser|feedburner|archiver|curl\/|wget\/|python-requests|python-urllib|scrapy|httpclient|java\/|go-http-client|libwww|headless/i

/** The default pattern of static-asset paths. */
export const ASSET_PATHS =
  /\.(?:css|js|mjs|map|png|jpe?g|gif|svg|ico|webp|avif|bmp|woff2?|ttf|otf|eot)(?:[?#]|$)/i

/** What the detector measured about one client. */
export interface CrawlerProfile {
  /** Requests in the recent window. */
  readonly recent: number
  /** Requests in the history window (recent included). */
  readonly requests: number
  /** Distinct paths / requests over the history window. */
  readonly distinctShare: number
  /** Static-asset requests / requests over the history window. */
  readonly assetShare: number
  /**
   * The recent count the client's older history predicts: its rate before the recent window, once
   * that older history spans at least one recent window; 0 before.
   */
  readonly expectedRecent: number
  /** The declared bot agent the client used, if any. */
  readonly bot: string | undefined
}

/** A verdict on a client, with the numbers behind it. */
export interface CrawlerDecision extends Decision {
  readonly profile: CrawlerProfile
}

/**
 * One client's tracked requests, oldest first from `head`: times, paths as 32-bit hashes (the rules
 * only count distinct paths; two paths of one client colliding is about one chance in 2^32 per
 * pair) and asset flags, with the counts the rules read kept up to date. A detector keeps one per
 * client; a keyed operator keeps one per key in keyed state and judges it with a shared detector
 * (`CrawlerDetector.observeClient`).
 */
export class CrawlerClient {
  times: number[] = []
  paths: number[] = []
  assets: number[] = []
  head = 0
  recentHead = 0
  readonly pathCounts = new Map<number, number>()
  assetCount = 0
  bot: string | undefined = undefined
  /** The last user agent tested against the bot pattern (clients rarely change it). */
  testedAgent: string | undefined = undefined
  action: Action = 'allow'

  constructor(
    /** The client's key (see `CrawlerDetector.keyOf`). */
    readonly key: string,
  ) {}

  /** Time of the client's latest request, or undefined before its first. */
  get lastTime(): number | undefined {
    return this.times.length > this.head ? this.times[this.times.length - 1] : undefined
  }

  /** Plain data: the snapshot of a detector holding only this client. */
  snapshot(): CrawlerSnapshot {
    return snapshotOf([this])
  }

  /** The binary form of a detector holding only this client, as it is now, built when called (see `CrawlerDetector.freeze`). */
  freeze(): () => Uint8Array {
    const view = viewOf(this)
    return () => encodeClients([view])
  }
}

/**
 * Dropped requests a client's lists may hold before they are compacted (when half or more of them
 * are dropped). It was 1 024: every client's lists then grew to a thousand entries and more, though
 * a client holds some tens of requests in its history, and the demo's workers each held 90 MB of
 * them after 75 s (600 MB at most), all scanned at every full garbage collection.
 */
const COMPACT_FROM = 16

/** Paths whose hash and asset flag are remembered at most (a page's path recurs across clients). */
const PATH_CACHE = 8_192

/**
 * Flags crawlers, scrapers and floods per client.
 *
 * Rules, the most severe match wins and the reason lists every matched rule:
 * - flood: recent requests ≥ `blockAt` → block; ≥ `throttleAt` → throttle;
 * - crawler shape: over the history window, requests ≥ `minRequests`, distinct-path share ≥
 *   `distinctShare` and static-asset share ≤ `assetShare` (people load pages with their assets and
 *   revisit pages; crawlers fetch many distinct pages and few assets) → throttle; and if the recent
 *   count also reaches `burstFactor` × what its older history predicts (and `minBurst`) → block;
 *   the older history must span one recent window at least, so a client is not judged on its start;
 * - declared bot: a user agent matching `botAgents` with ≥ `minRequests` requests → throttle.
 *
 * `observe` returns a verdict only when a client's action becomes more severe than it was (one alert
 * per escalation, not one per request); the action relaxes silently when the rules stop matching.
 * Requests must arrive in roughly event-time order per client.
 */
export class CrawlerDetector {
  private readonly o: Required<CrawlerOptions>
  private readonly recentMs: number
  private readonly historyMs: number
  private readonly clients = new Map<string, CrawlerClient>()
  /** Per path: its 32-bit hash × 2 + its asset flag. Cleared when full. */
  private readonly pathInfo = new Map<string, number>()

  private constructor(o: Required<CrawlerOptions>, recentMs: number, historyMs: number) {
    this.o = o
    this.recentMs = recentMs
    this.historyMs = historyMs
  }

  /** A detector with the given thresholds. Throws ERR_ARGUMENT on a bad option. */
  static create(options: CrawlerOptions = {}): CrawlerDetector {
    const o: Required<CrawlerOptions> = {
      by: options.by ?? 'ip',
      recent: options.recent ?? '1m',
      history: options.history ?? '1h',
      minRequests: options.minRequests ?? 20,
      distinctShare: options.distinctShare ?? 0.8,
      assetShare: options.assetShare ?? 0.1,
      throttleAt: options.throttleAt ?? 120,
      blockAt: options.blockAt ?? 600,
      burstFactor: options.burstFactor ?? 4,
      minBurst: options.minBurst ?? 20,
      botAgents: options.botAgents ?? BOT_AGENTS,
      assetPaths: options.assetPaths ?? ASSET_PATHS,
      maxTracked: options.maxTracked ?? 10_000,
    }
    const recent = toMillis(o.recent, 'crawler.recent')
    const history = toMillis(o.history, 'crawler.history')
    check(o.by === 'ip' || o.by === 'ip+agent', 'crawler.by', 'one of "ip", "ip+agent"', o.by)
    check(
      recent > 0 && history > recent,
      'crawler.history',
      `a duration longer than recent (${recent} ms)`,
      o.history,
    )
    check(
      o.distinctShare >= 0 && o.distinctShare <= 1,
      'crawler.distinctShare',
      'a share in [0, 1]',
      o.distinctShare,
    )
    check(o.assetShare >= 0 && o.assetShare <= 1, 'crawler.assetShare', 'a share in [0, 1]', o.assetShare)
    check(o.blockAt >= o.throttleAt, 'crawler.blockAt', `a count ≥ throttleAt (${o.throttleAt})`, o.blockAt)
    check(
      o.maxTracked >= o.minRequests,
      'crawler.maxTracked',
      `a count ≥ minRequests (${o.minRequests})`,
      o.maxTracked,
    )
    return new CrawlerDetector(o, recent, history)
  }

  /** The number of clients with state. */
  get size(): number {
    return this.clients.size
  }

  /** The client key of a request: its IP, or `ip agent` with `by: 'ip+agent'`. */
  keyOf(request: HttpRequest): string {
    return this.o.by === 'ip' ? request.ip : `${request.ip} ${request.agent}`
  }

  /** Records one request; returns a verdict when its client's action escalates, else undefined. */
  observe(request: HttpRequest): CrawlerDecision | undefined {
    const key = this.keyOf(request)
    let c = this.clients.get(key)
    if (c === undefined) {
      c = new CrawlerClient(key)
      this.clients.set(key, c)
    }
    return this.observeClient(c, request)
  }

  /**
   * Records one request of client `c` (kept by the caller, e.g. in keyed state; its key is
   * `keyOf(request)`), with this detector's rules; returns a verdict when the client's action
   * escalates, else undefined.
   */
  observeClient(c: CrawlerClient, request: HttpRequest): CrawlerDecision | undefined {
    const info = this.infoOf(request.path)
    const asset = info & 1
    const path = (info - asset) / 2
    c.times.push(request.time)
    c.paths.push(path)
    c.assets.push(asset)
    c.assetCount += asset
    c.pathCounts.set(path, (c.pathCounts.get(path) ?? 0) + 1)
    if (c.bot === undefined && request.agent !== c.testedAgent) {
      c.testedAgent = request.agent
      if (request.agent.length > 1 && this.o.botAgents.test(request.agent)) c.bot = request.agent
    }
    this.advance(c, request.time)
    const action = this.actionOf(c, request.time)
    const escalated = severity(action) > severity(c.action)
    c.action = action
    return escalated ? this.judge(c.key, c, request.time) : undefined
  }

  /** Whether client `c` made no request in the history window ending at `now`. */
  isIdle(c: CrawlerClient, now: number): boolean {
    const last = c.lastTime
    return last === undefined || last <= now - this.historyMs
  }

  /**
   * The client of a one-client detector's `snapshot()` or `freeze()` output (a client's own
   * `snapshot()` / `freeze()` makes one), or a new client `key` when it holds none.
   */
  static restoreClient(options: CrawlerOptions, data: unknown, key: string): CrawlerClient {
    const restored = CrawlerDetector.restore(options, data)
    return restored.clients.values().next().value ?? new CrawlerClient(key)
  }

  /** The current verdict on client `key` at `now`, or undefined for an unknown client. */
  assess(key: string, now: number): CrawlerDecision | undefined {
    const c = this.clients.get(key)
    if (c === undefined) return undefined
    this.advance(c, now)
    return this.judge(key, c, now)
  }

  /** Every client's current verdict at `now` that is not `allow`, most severe first, then by key. */
  flagged(now: number): CrawlerDecision[] {
    const out: CrawlerDecision[] = []
    for (const key of this.clients.keys()) {
      const d = this.assess(key, now)
      if (d !== undefined && d.action !== 'allow') out.push(d)
    }
    return out.sort(
      (a, b) => severity(b.action) - severity(a.action) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
    )
  }

  /** Forgets clients with no request in the history window ending at `now`; returns how many. */
  evictIdle(now: number): number {
    let n = 0
    for (const [key, c] of this.clients) {
      if (this.isIdle(c, now)) {
        this.clients.delete(key)
        n++
      }
    }
    return n
  }

  /** A path's 32-bit hash × 2 + 1 when it is a static asset (the sign of the hash is kept). */
  private infoOf(path: string): number {
    let info = this.pathInfo.get(path)
    if (info === undefined) {
      info = hashString(path) * 2 + (this.o.assetPaths.test(path) ? 1 : 0)
      if (this.pathInfo.size >= PATH_CACHE) this.pathInfo.clear()
      this.pathInfo.set(path, info)
    }
    return info
  }

  /** Drops requests that left the history window (or exceed `maxTracked`) and moves the recent start. */
  private advance(c: CrawlerClient, now: number): void {
    const historyStart = now - this.historyMs
    const tracked = c.times.length - c.head
    let drop = tracked > this.o.maxTracked ? tracked - this.o.maxTracked : 0
    while (c.head < c.times.length && (drop > 0 || c.times[c.head]! <= historyStart)) {
      const path = c.paths[c.head]!
      const left = c.pathCounts.get(path)! - 1
      if (left === 0) c.pathCounts.delete(path)
      else c.pathCounts.set(path, left)
      c.assetCount -= c.assets[c.head]!
      c.head++
      drop--
    }
    if (c.recentHead < c.head) c.recentHead = c.head
    const recentStart = now - this.recentMs
    while (c.recentHead < c.times.length && c.times[c.recentHead]! <= recentStart) c.recentHead++
    // New arrays, not the old ones shifted in place: a checkpoint's view of the client (`freeze`)
    // still reads the old ones. Once half are dropped: each request is copied about once more.
    if (c.head >= COMPACT_FROM && c.head * 2 > c.times.length) {
      c.times = c.times.slice(c.head)
      c.paths = c.paths.slice(c.head)
      c.assets = c.assets.slice(c.head)
      c.recentHead -= c.head
      c.head = 0
    }
  }

  /** The numbers the rules read, for client `c` at `now`. */
  private measure(c: CrawlerClient, now: number) {
    const requests = c.times.length - c.head
    const recent = c.times.length - c.recentHead
    const older = requests - recent
    const firstTime = requests > 0 ? c.times[c.head]! : now
    const olderSpan = Math.min(this.historyMs, now - firstTime) - this.recentMs
    const judged = olderSpan >= this.recentMs
    return {
      requests,
      recent,
      older,
      judged,
      expectedRecent: judged ? (older * this.recentMs) / olderSpan : 0,
    }
  }

  /** The action the rules give client `c` at `now` (what `judge` decides, without building a verdict). */
  private actionOf(c: CrawlerClient, now: number): Action {
    const o = this.o
    const requests = c.times.length - c.head
    const recent = c.times.length - c.recentHead
    const flood: Action = recent >= o.blockAt ? 'block' : recent >= o.throttleAt ? 'throttle' : 'allow'
    if (requests < o.minRequests) return flood
    const distinctShare = requests > 0 ? c.pathCounts.size / requests : 0
    const assetShare = requests > 0 ? c.assetCount / requests : 0
    const shaped = distinctShare >= o.distinctShare && assetShare <= o.assetShare
    if (shaped && recent >= o.minBurst) {
      const m = this.measure(c, now)
      if (m.judged && m.older > 0 && recent >= o.burstFactor * m.expectedRecent) return 'block'
    }
    return (shaped || c.bot !== undefined) && flood === 'allow' ? 'throttle' : flood
  }

  /** The verdict on a client, with its profile and the reason for it. */
  private judge(key: string, c: CrawlerClient, now: number): CrawlerDecision {
    const o = this.o
    const { requests, recent, older, judged, expectedRecent } = this.measure(c, now)
    const profile: CrawlerProfile = {
      recent,
      requests,
      distinctShare: requests > 0 ? c.pathCounts.size / requests : 0,
      assetShare: requests > 0 ? c.assetCount / requests : 0,
      expectedRecent,
      bot: c.bot,
    }
    const flood: Action = recent >= o.blockAt ? 'block' : recent >= o.throttleAt ? 'throttle' : 'allow'
    const shaped =
      requests >= o.minRequests &&
      profile.distinctShare >= o.distinctShare &&
      profile.assetShare <= o.assetShare
    const burst =
      shaped && judged && older > 0 && recent >= o.minBurst && recent >= o.burstFactor * expectedRecent
    const bot = c.bot !== undefined && requests >= o.minRequests
    let action: Action = flood
    if (burst) action = 'block'
    else if ((shaped || bot) && action === 'allow') action = 'throttle'
    const reasons: string[] = []
    const recentText = `${recent} requests in the last ${formatMillis(this.recentMs)}`
    if (flood === 'block') reasons.push(`${recentText} (block at ${o.blockAt})`)
    else if (flood === 'throttle') reasons.push(`${recentText} (throttle at ${o.throttleAt})`)
    if (shaped) {
      const pct = (x: number): string => `${Math.round(x * 100)}%`
      reasons.push(
        `crawler-like: ${requests} requests in the last ${formatMillis(this.historyMs)}, ` +
          `${pct(profile.distinctShare)} distinct paths, ${pct(profile.assetShare)} static assets`,
      )
    }
    if (burst)
      reasons.push(`speeding up: ${recentText} vs ${formatNumber(expectedRecent)} expected from its history`)
    if (bot)
      reasons.push(
        `declared bot ${JSON.stringify(c.bot)} with ${requests} requests in the last ${formatMillis(this.historyMs)}`,
      )
    return { action, key, reason: reasons.join('; '), profile }
  }

  /** Plain data: per client its tracked requests (times, path hashes, asset flags). */
  snapshot(): CrawlerSnapshot {
    return snapshotOf(this.clients.values())
  }

  /**
   * The detector as it is now, in the compact binary form checkpoints keep (`restore` reads it),
   * built when the returned function is called: requests are only ever appended to a client's
   * lists and dropped from their front (a compaction makes new lists), so keeping each client's
   * lists and bounds is enough, however the detector changes meanwhile.
   */
  freeze(): () => Uint8Array {
    const views = [...this.clients.values()].map(viewOf)
    return () => encodeClients(views)
  }

  /**
   * Rebuilds a detector with `options` and the per-client state of `snapshot()` output (version 2,
   * or version 1, which kept the paths themselves).
   */
  static restore(options: CrawlerOptions, data: unknown): CrawlerDetector {
    const detector = CrawlerDetector.create(options)
    if (data instanceof Uint8Array) {
      for (const [key, c] of decodeClients(data)) detector.clients.set(key, c)
      return detector
    }
    if (typeof data !== 'object' || data === null)
      throw snapshotError('crawler', 'snapshot', 'an object', data)
    const d = data as { readonly [field: string]: unknown }
    if (d['kind'] !== 'crawler') throw snapshotError('crawler', 'kind', '"crawler"', d['kind'])
    const version = d['version']
    if (version !== 1 && version !== 2) throw snapshotError('crawler', 'version', '1 or 2', version)
    const keys = arrayField(d, 'crawler', 'keys')
    const clients = arrayField(d, 'crawler', 'clients')
    if (clients.length !== keys.length)
      throw snapshotError('crawler', 'clients', `${keys.length} clients`, clients.length)
    keys.forEach((key, i) => {
      const s = clients[i] as { [f: string]: unknown }
      if (typeof key !== 'string' || typeof s !== 'object' || s === null) {
        throw snapshotError('crawler', `clients[${i}]`, 'a client record', s)
      }
      const at = `clients[${i}]`
      const view = { [`${at}.times`]: s['times'], [`${at}.paths`]: s['paths'], [`${at}.assets`]: s['assets'] }
      const times = Array.from(float64Field(view, 'crawler', `${at}.times`))
      const c = new CrawlerClient(key)
      c.times = times
      c.paths = version === 1 ? pathsV1(view, at, times.length) : pathsV2(view, at, times.length)
      c.assets = Array.from(uint8Field(view, 'crawler', `${at}.assets`, times.length))
      for (const p of c.paths) c.pathCounts.set(p, (c.pathCounts.get(p) ?? 0) + 1)
      for (const a of c.assets) c.assetCount += a
      const recent = typeof s['recent'] === 'number' ? s['recent'] : 0
      c.recentHead = Math.max(0, times.length - recent)
      c.bot = typeof s['bot'] === 'string' ? s['bot'] : undefined
      c.testedAgent = c.bot
      const action = s['action']
      c.action = action === 'throttle' || action === 'block' ? action : 'allow'
      detector.clients.set(key, c)
    })
    return detector
  }
}

/** The plain-data snapshot of `clients`. */
function snapshotOf(clients: Iterable<CrawlerClient>): CrawlerSnapshot {
  const keys: string[] = []
  const out: CrawlerSnapshot['clients'] = []
  for (const c of clients) {
    keys.push(c.key)
    out.push({
      times: new Uint8Array(Float64Array.from(c.times.slice(c.head)).buffer),
      paths: new Uint8Array(Int32Array.from(c.paths.slice(c.head)).buffer),
      assets: Uint8Array.from(c.assets.slice(c.head)),
      recent: c.times.length - c.recentHead,
      bot: c.bot ?? null,
      action: c.action,
    })
  }
  return { kind: 'crawler', version: 2, keys, clients: out }
}

/** What `freeze` keeps of client `c`: its lists and bounds now. */
function viewOf(c: CrawlerClient): ClientView {
  return {
    key: c.key,
    times: c.times,
    paths: c.paths,
    assets: c.assets,
    head: c.head,
    end: c.times.length,
    recent: c.times.length - c.recentHead,
    bot: c.bot,
    action: c.action,
  }
}

/** What `freeze` keeps of a client: its lists and bounds at that moment. */
interface ClientView {
  key: string
  times: readonly number[]
  paths: readonly number[]
  assets: readonly number[]
  head: number
  end: number
  recent: number
  bot: string | undefined
  action: Action
}

/** "SQCR", then the binary form's version. */
const BINARY_MAGIC = 0x52435153
const BINARY_VERSION = 3
const ACTIONS: readonly Action[] = ['allow', 'throttle', 'block']

/**
 * The binary form (little-endian): magic, u8 version, u32 clients; per client u32 key bytes and the
 * UTF-8 key, i32 bot bytes (−1: none) and the bot agent, u8 action, u32 requests n, u32 recent,
 * then n f64 times, n i32 path hashes, n u8 asset flags. One buffer per detector: a checkpoint
 * copies it as bytes, with no per-request or per-client objects to encode.
 */
function encodeClients(views: readonly ClientView[]): Uint8Array {
  let size = 9
  let longest = 0
  for (let i = 0; i < views.length; i++) {
    const v = views[i]!
    const n = v.end - v.head
    if (n > longest) longest = n
    size +=
      4 + Buffer.byteLength(v.key) + 4 + (v.bot === undefined ? 0 : Buffer.byteLength(v.bot)) + 9 + n * 13
  }
  // Its own memory, left unfilled (every byte is written below). Not a slice of Node's shared pool:
  // structuredClone copies an ArrayBuffer once, when it first meets it, so of several blobs made
  // while one cell after another is cloned, all but the first would come out as zeros.
  const buf = Buffer.allocUnsafeSlow(size)
  // Times and path hashes go through typed arrays and are copied as bytes, not written one by one.
  const f64 = scratchTimes(longest)
  const i32 = new Int32Array(f64.buffer, 0, longest)
  let at = buf.writeUInt32LE(BINARY_MAGIC, 0)
  at = buf.writeUInt8(BINARY_VERSION, at)
  at = buf.writeUInt32LE(views.length, at)
  for (let i = 0; i < views.length; i++) {
    const v = views[i]!
    const n = v.end - v.head
    const keyBytes = buf.write(v.key, at + 4)
    buf.writeUInt32LE(keyBytes, at)
    at += 4 + keyBytes
    if (v.bot === undefined) at = buf.writeInt32LE(-1, at)
    else {
      const botBytes = buf.write(v.bot, at + 4)
      buf.writeInt32LE(botBytes, at)
      at += 4 + botBytes
    }
    at = buf.writeUInt8(ACTIONS.indexOf(v.action), at)
    at = buf.writeUInt32LE(n, at)
    at = buf.writeUInt32LE(v.recent, at)
    for (let j = 0; j < n; j++) f64[j] = v.times[v.head + j]!
    buf.set(new Uint8Array(f64.buffer, 0, n * 8), at)
    at += n * 8
    for (let j = 0; j < n; j++) i32[j] = v.paths[v.head + j]!
    buf.set(new Uint8Array(i32.buffer, 0, n * 4), at)
    at += n * 4
    for (let j = 0; j < n; j++) buf[at++] = v.assets[v.head + j]!
  }
  return buf
}

let timesScratch = new Float64Array(256)

/** A scratch array of at least `n` doubles, reused between encodings (they are synchronous). */
function scratchTimes(n: number): Float64Array {
  if (timesScratch.length < n) timesScratch = new Float64Array(Math.max(n, timesScratch.length * 2))
  return timesScratch
}

/** Reads `encodeClients` output; throws ERR_KIT_SNAPSHOT on bytes of another form or cut short. */
function decodeClients(bytes: Uint8Array): [string, CrawlerClient][] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const bad = (what: string) => snapshotError('crawler', 'bytes', what, `${buf.length} bytes`)
  if (buf.length < 9 || buf.readUInt32LE(0) !== BINARY_MAGIC)
    throw bad('the binary form of a crawler detector')
  if (buf.readUInt8(4) !== BINARY_VERSION) throw bad(`version ${BINARY_VERSION}`)
  const out: [string, CrawlerClient][] = []
  let at = 9
  try {
    for (let i = buf.readUInt32LE(5); i > 0; i--) {
      const keyBytes = buf.readUInt32LE(at)
      const key = buf.toString('utf8', at + 4, at + 4 + keyBytes)
      at += 4 + keyBytes
      const botBytes = buf.readInt32LE(at)
      at += 4
      const c = new CrawlerClient(key)
      if (botBytes >= 0) {
        c.bot = buf.toString('utf8', at, at + botBytes)
        c.testedAgent = c.bot
        at += botBytes
      }
      c.action = ACTIONS[buf.readUInt8(at)] ?? 'allow'
      const n = buf.readUInt32LE(at + 1)
      const recent = buf.readUInt32LE(at + 5)
      at += 9
      if (at + n * 13 > buf.length) throw bad(`${n} requests`)
      for (let j = 0; j < n; j++, at += 8) c.times.push(buf.readDoubleLE(at))
      for (let j = 0; j < n; j++, at += 4) {
        const p = buf.readInt32LE(at)
        c.paths.push(p)
        c.pathCounts.set(p, (c.pathCounts.get(p) ?? 0) + 1)
      }
      for (let j = 0; j < n; j++, at++) {
        c.assets.push(buf[at]!)
        c.assetCount += buf[at]!
      }
      c.recentHead = Math.max(0, n - recent)
      out.push([key, c])
    }
  } catch (e) {
    if (e instanceof RangeError) throw bad('a complete detector')
    throw e
  }
  return out
}

/** Version 1 paths: the strings themselves, hashed now. */
function pathsV1(view: { readonly [field: string]: unknown }, at: string, n: number): number[] {
  const paths = arrayField(view, 'crawler', `${at}.paths`)
  if (paths.length !== n || paths.some((p) => typeof p !== 'string'))
    throw snapshotError('crawler', `${at}.paths`, `${n} strings`, paths.length)
  return paths.map((p) => hashString(p as string))
}

/** Version 2 paths: the bytes of an Int32Array of path hashes. */
function pathsV2(view: { readonly [field: string]: unknown }, at: string, n: number): number[] {
  const bytes = uint8Field(view, 'crawler', `${at}.paths`, n * 4)
  return Array.from(new Int32Array(bytes.buffer, bytes.byteOffset, n))
}

/** The plain-data form of a CrawlerDetector. */
export interface CrawlerSnapshot {
  readonly kind: 'crawler'
  readonly version: 2
  readonly keys: string[]
  readonly clients: {
    /** Request times, as the bytes of a Float64Array. */
    readonly times: Uint8Array
    /** The paths' 32-bit hashes, as the bytes of an Int32Array. */
    readonly paths: Uint8Array
    readonly assets: Uint8Array
    readonly recent: number
    readonly bot: string | null
    readonly action: Action
  }[]
}

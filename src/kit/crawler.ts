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
 * One client's tracked requests, `[head, end)` of its log, oldest first: times, paths as 32-bit
 * hashes (the rules only count distinct paths; two paths of one client colliding is about one
 * chance in 2^32 per pair) and asset flags, with the counts the rules read kept up to date. A
 * detector keeps one per client; a keyed operator keeps one per key in keyed state and judges it
 * with a shared detector (`CrawlerDetector.observeClient`).
 *
 * The log is one array of numbers (V8 keeps them unboxed) and the distinct paths a table of 32-bit
 * integers, where they were three arrays and a `Map` of counts per client: with 25 000 clients of
 * about 21 requests each (a demo thread's), the heap went from 96 MB to 44 MB, with no object per
 * path for the garbage collector to visit, and a request is recorded about a third faster.
 * Requests are only ever appended past `end`, and the log is replaced, never shifted in place, when
 * it is compacted: a checkpoint's view of it (`freeze`) stays as it was.
 */
export class CrawlerClient {
  /**
   * Two numbers per request: its time (ms), then its path hash × 2 + its asset flag (1 for a
   * static asset). Requests `[head, end)` are tracked.
   */
  log: number[] = []
  head = 0
  end = 0
  /** The first request in the recent window. */
  recentHead = 0
  /**
   * How often each distinct path occurs among the tracked requests: an open-addressing table
   * (linear probing, at most three quarters full) of [path hash, count] pairs, where a count of 0
   * marks an empty slot.
   */
  private pathTable: Int32Array = new Int32Array(2 * FIRST_TABLE)
  /** Distinct paths among the tracked requests. */
  distinctPaths = 0
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
    return this.end > this.head ? this.log[2 * (this.end - 1)] : undefined
  }

  /** Time of tracked request `i` (`head` ≤ i < `end`). */
  timeAt(i: number): number {
    return this.log[2 * i]!
  }

  /** Appends a request: its time, its path's 32-bit hash, 1 for a static asset else 0. */
  push(time: number, path: number, asset: number): void {
    this.log.push(time, path * 2 + asset)
    this.end++
    this.assetCount += asset
    this.countPath(path, 1)
  }

  /** Drops the oldest tracked request. */
  dropOldest(): void {
    const info = this.log[2 * this.head++ + 1]!
    const asset = info & 1
    this.countPath((info - asset) / 2, -1)
    this.assetCount -= asset
  }

  /**
   * Moves the tracked requests to a new log, once half or more of the log is dropped: each request
   * is so copied about once more, and the old log stays as a checkpoint's view of it saw it.
   */
  compact(): void {
    const live = this.end - this.head
    this.log = this.log.slice(2 * this.head, 2 * this.end)
    this.recentHead -= this.head
    this.end = live
    this.head = 0
    // A table sized for a burst of paths long gone shrinks with the log.
    if (this.pathTable.length > 2 * FIRST_TABLE && this.distinctPaths * 8 < this.pathTable.length >> 1)
      this.rehash()
  }

  /** Adds `delta` (+1 or −1) to the count of `path` among the tracked requests. */
  private countPath(path: number, delta: number): void {
    const t = this.pathTable
    const mask = (t.length >> 1) - 1
    let i = path & mask
    for (;;) {
      const count = t[2 * i + 1]!
      if (count === 0) break
      if (t[2 * i] === path) {
        if (count + delta > 0) t[2 * i + 1] = count + delta
        else this.removeSlot(i)
        return
      }
      i = (i + 1) & mask
    }
    // A path not in the table: only ever added (a dropped request's path is always there).
    if (delta < 0) return
    t[2 * i] = path
    t[2 * i + 1] = delta
    if (++this.distinctPaths * 4 > (mask + 1) * 3) this.rehash()
  }

  /** Empties slot `i`, moving later entries of its probe run back so every entry stays findable. */
  private removeSlot(i: number): void {
    const t = this.pathTable
    const mask = (t.length >> 1) - 1
    this.distinctPaths--
    let j = i
    for (;;) {
      j = (j + 1) & mask
      if (t[2 * j + 1] === 0) break
      const home = t[2 * j]! & mask
      // The entry at j stays when its home lies cyclically in (i, j].
      const stays = i <= j ? i < home && home <= j : i < home || home <= j
      if (stays) continue
      t[2 * i] = t[2 * j]!
      t[2 * i + 1] = t[2 * j + 1]!
      i = j
    }
    t[2 * i] = 0
    t[2 * i + 1] = 0
  }

  /** Rebuilds the table of paths with twice as many slots as distinct paths, or more. */
  private rehash(): void {
    const old = this.pathTable
    let slots = FIRST_TABLE
    while (slots < this.distinctPaths * 2) slots *= 2
    const t = new Int32Array(2 * slots)
    const mask = slots - 1
    for (let k = 0; k < old.length; k += 2) {
      if (old[k + 1] === 0) continue
      let i = old[k]! & mask
      while (t[2 * i + 1] !== 0) i = (i + 1) & mask
      t[2 * i] = old[k]!
      t[2 * i + 1] = old[k + 1]!
    }
    this.pathTable = t
  }

  /** A client with requests `times`, `paths` and `assets` (of equal length), oldest first. */
  static of(
    key: string,
    times: ArrayLike<number>,
    paths: ArrayLike<number>,
    assets: ArrayLike<number>,
  ): CrawlerClient {
    const c = new CrawlerClient(key)
    const n = times.length
    for (let i = 0; i < n; i++) c.push(times[i]!, paths[i]!, assets[i]!)
    return c
  }

  /** Plain data: the snapshot of a detector holding only this client. */
  snapshot(): CrawlerSnapshot {
    return snapshotOf([this])
  }

  /**
   * The binary form of a detector holding only this client, as it is now, built when called (see
   * `CrawlerDetector.freeze`; its bytes share memory with other blobs, see `blobOf`).
   */
  freeze(): () => Uint8Array {
    const view = viewOf(this)
    return () => encodeClients([view])
  }
}

/** Slots of a new client's table of distinct paths. */
const FIRST_TABLE = 8

/**
 * Dropped requests a client's log may hold before it is compacted (when half or more of it is
 * dropped). It was 1 024: every client's lists then grew to a thousand entries and more, though
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
    c.push(request.time, path, asset)
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
    const tracked = c.end - c.head
    let drop = tracked > this.o.maxTracked ? tracked - this.o.maxTracked : 0
    const log = c.log
    while (c.head < c.end && (drop > 0 || log[2 * c.head]! <= historyStart)) {
      c.dropOldest()
      drop--
    }
    if (c.recentHead < c.head) c.recentHead = c.head
    const recentStart = now - this.recentMs
    while (c.recentHead < c.end && log[2 * c.recentHead]! <= recentStart) c.recentHead++
    // Once half is dropped (a new log: a checkpoint's view of the client still reads the old one).
    if (c.head >= COMPACT_FROM && c.head * 2 > c.end) c.compact()
  }

  /** The numbers the rules read, for client `c` at `now`. */
  private measure(c: CrawlerClient, now: number) {
    const requests = c.end - c.head
    const recent = c.end - c.recentHead
    const older = requests - recent
    const firstTime = requests > 0 ? c.timeAt(c.head) : now
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
    const requests = c.end - c.head
    const recent = c.end - c.recentHead
    const flood: Action = recent >= o.blockAt ? 'block' : recent >= o.throttleAt ? 'throttle' : 'allow'
    if (requests < o.minRequests) return flood
    const distinctShare = requests > 0 ? c.distinctPaths / requests : 0
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
      distinctShare: requests > 0 ? c.distinctPaths / requests : 0,
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
   * log and dropped from its front (a compaction makes a new log), so keeping each client's log
   * and bounds is enough, however the detector changes meanwhile.
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
      const times = float64Field(view, 'crawler', `${at}.times`)
      const paths = version === 1 ? pathsV1(view, at, times.length) : pathsV2(view, at, times.length)
      const c = CrawlerClient.of(key, times, paths, uint8Field(view, 'crawler', `${at}.assets`, times.length))
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
    const n = c.end - c.head
    const times = new Float64Array(n)
    const paths = new Int32Array(n)
    const assets = new Uint8Array(n)
    splitLog(c.log, c.head, n, times, paths, assets)
    out.push({
      times: new Uint8Array(times.buffer),
      paths: new Uint8Array(paths.buffer),
      assets,
      recent: c.end - c.recentHead,
      bot: c.bot ?? null,
      action: c.action,
    })
  }
  return { kind: 'crawler', version: 2, keys, clients: out }
}

/** What `freeze` keeps of client `c`: its log and bounds now. */
function viewOf(c: CrawlerClient): ClientView {
  return {
    key: c.key,
    log: c.log,
    head: c.head,
    end: c.end,
    recent: c.end - c.recentHead,
    bot: c.bot,
    action: c.action,
  }
}

/** What `freeze` keeps of a client: its log and bounds at that moment. */
interface ClientView {
  key: string
  log: readonly number[]
  head: number
  end: number
  recent: number
  bot: string | undefined
  action: Action
}

/** "SQCR", then the binary form's version. */
const BINARY_MAGIC = 0x52435153
const BINARY_VERSION = 4
/** The earlier binary form, still read: times as f64, one byte per asset flag. */
const BINARY_VERSION_3 = 3
const ACTIONS: readonly Action[] = ['allow', 'throttle', 'block']
/** How a client's request times are written: i32 offsets from its first time, or f64 each. */
const TIMES_AS_OFFSETS = 0
const TIMES_AS_F64 = 1

/**
 * The binary form, version 4 (little-endian): magic, u8 version, u32 clients; per client u32 key
 * bytes and the UTF-8 key, i32 bot bytes (−1: none) and the bot agent, u8 action, u32 requests n,
 * u32 recent, u8 time form, then the times — f64 first time and n i32 offsets from it (whole
 * milliseconds within ±24 days of it, as request times are), else n f64 times — then n i32 path
 * hashes and ⌈n/8⌉ bytes of asset flags, one bit each (bit j % 8 of byte j / 8). About 8.1 bytes a
 * request, where version 3 (n f64 times, n i32 hashes, n u8 flags; still read) took 13. One buffer
 * per detector: a checkpoint copies it as bytes, with no per-request or per-client objects to encode.
 */
function encodeClients(views: readonly ClientView[]): Uint8Array {
  let size = 9
  let longest = 0
  const forms = formsScratch.of(views.length)
  for (let i = 0; i < views.length; i++) {
    const v = views[i]!
    const n = v.end - v.head
    if (n > longest) longest = n
    const form = timeForm(v.log, v.head, n)
    forms[i] = form
    size +=
      4 +
      utf8Length(v.key) +
      4 +
      (v.bot === undefined ? 0 : utf8Length(v.bot)) +
      10 +
      (form === TIMES_AS_OFFSETS ? 8 + n * 4 : n * 8) +
      n * 4 +
      ((n + 7) >> 3)
  }
  const buf = blobOf(size)
  const times = timesScratch.of(longest)
  const offsets = offsetsScratch.of(longest)
  const paths = pathsScratch.of(longest)
  let at = buf.writeUInt32LE(BINARY_MAGIC, 0)
  at = buf.writeUInt8(BINARY_VERSION, at)
  at = buf.writeUInt32LE(views.length, at)
  for (let i = 0; i < views.length; i++) {
    const v = views[i]!
    const n = v.end - v.head
    const keyBytes = writeUtf8(buf, v.key, at + 4)
    buf.writeUInt32LE(keyBytes, at)
    at += 4 + keyBytes
    if (v.bot === undefined) at = buf.writeInt32LE(-1, at)
    else {
      const botBytes = writeUtf8(buf, v.bot, at + 4)
      buf.writeInt32LE(botBytes, at)
      at += 4 + botBytes
    }
    at = buf.writeUInt8(ACTIONS.indexOf(v.action), at)
    at = buf.writeUInt32LE(n, at)
    at = buf.writeUInt32LE(v.recent, at)
    const form = forms[i]!
    at = buf.writeUInt8(form, at)
    // Times (or offsets) and path hashes go through typed arrays and are copied as bytes, in the
    // platform's order (little-endian on x64 and arm64); the asset flags go straight into the buffer.
    const log = v.log
    const first = n > 0 ? log[2 * v.head]! : 0
    const flags = at + (form === TIMES_AS_OFFSETS ? 8 + n * 4 : n * 8) + n * 4
    buf.fill(0, flags, flags + ((n + 7) >> 3))
    for (let j = 0, k = 2 * v.head; j < n; j++, k += 2) {
      if (form === TIMES_AS_OFFSETS) offsets[j] = log[k]! - first
      else times[j] = log[k]!
      const info = log[k + 1]!
      const asset = info & 1
      paths[j] = (info - asset) / 2
      buf[flags + (j >> 3)]! |= asset << (j & 7)
    }
    if (form === TIMES_AS_OFFSETS) {
      at = buf.writeDoubleLE(first, at)
      buf.set(new Uint8Array(offsets.buffer, 0, n * 4), at)
      at += n * 4
    } else {
      buf.set(new Uint8Array(times.buffer, 0, n * 8), at)
      at += n * 8
    }
    buf.set(new Uint8Array(paths.buffer, 0, n * 4), at)
    at += n * 4 + ((n + 7) >> 3)
  }
  return buf
}

/** How requests `[head, head + n)` of a log can write their times (see `encodeClients`). */
function timeForm(log: readonly number[], head: number, n: number): number {
  if (n === 0) return TIMES_AS_OFFSETS
  const first = log[2 * head]!
  for (let k = 2 * head, end = 2 * (head + n); k < end; k += 2) {
    const d = log[k]! - first
    if ((d | 0) !== d) return TIMES_AS_F64
  }
  return TIMES_AS_OFFSETS
}

/** Bytes of the slab that blobs are cut from; a blob larger than a quarter of it gets its own. */
const SLAB = 64 * 1024
let slab = Buffer.allocUnsafeSlow(SLAB)
let slabUsed = 0

/**
 * `size` bytes left unfilled (the caller writes every one), cut from a slab shared with the blobs
 * made before and after it. An ArrayBuffer of its own per blob cost more than encoding the blob:
 * 1.6 µs each (a backing store allocated and accounted as external memory), about 40 % of
 * encoding a task's 25 000 crawler clients at a checkpoint. A blob must be complete before
 * anything clones it: structuredClone copies a slab when it first meets it, so of blobs made during
 * one clone (by the getters it calls, as a kit cell's `data`), all but the first of a slab would
 * come out as zeros. Checkpoint files copy each blob as it is made; in-memory snapshots read
 * getters first (`snapshotStores`).
 */
function blobOf(size: number): Buffer {
  if (size > SLAB / 4) return Buffer.allocUnsafeSlow(size)
  if (slabUsed + size > SLAB) {
    slab = Buffer.allocUnsafeSlow(SLAB)
    slabUsed = 0
  }
  const blob = slab.subarray(slabUsed, slabUsed + size)
  slabUsed += size
  return blob
}

/** Splits requests `[head, head + n)` of a client's log into times, path hashes and asset flags. */
function splitLog(
  log: readonly number[],
  head: number,
  n: number,
  times: Float64Array,
  paths: Int32Array,
  assets: Uint8Array,
): void {
  for (let j = 0, i = 2 * head; j < n; j++, i += 2) {
    times[j] = log[i]!
    const info = log[i + 1]!
    const asset = info & 1
    paths[j] = (info - asset) / 2
    assets[j] = asset
  }
}

/** A typed array of at least `n` elements, reused between encodings (they are synchronous). */
class Scratch<A extends { readonly length: number }> {
  private array: A
  constructor(private readonly make: (n: number) => A) {
    this.array = make(256)
  }
  of(n: number): A {
    if (this.array.length < n) this.array = this.make(Math.max(n, this.array.length * 2))
    return this.array
  }
}

const timesScratch = new Scratch((n) => new Float64Array(n))
const offsetsScratch = new Scratch((n) => new Int32Array(n))
const pathsScratch = new Scratch((n) => new Int32Array(n))
const formsScratch = new Scratch((n) => new Uint8Array(n))

/** The UTF-8 length of `s`: its length when it is ASCII (IP addresses, most user agents). */
function utf8Length(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return Buffer.byteLength(s)
  return s.length
}

/** Writes `s` as UTF-8 at `at`; returns its length in bytes. ASCII is copied a char at a time. */
function writeUtf8(buf: Buffer, s: string, at: number): number {
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i)
    if (code > 0x7f) return buf.write(s, at)
    buf[at + i] = code
  }
  return s.length
}

/** Reads `encodeClients` output; throws ERR_KIT_SNAPSHOT on bytes of another form or cut short. */
function decodeClients(bytes: Uint8Array): [string, CrawlerClient][] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const bad = (what: string) => snapshotError('crawler', 'bytes', what, `${buf.length} bytes`)
  if (buf.length < 9 || buf.readUInt32LE(0) !== BINARY_MAGIC)
    throw bad('the binary form of a crawler detector')
  const version = buf.readUInt8(4)
  if (version !== BINARY_VERSION && version !== BINARY_VERSION_3)
    throw bad(`version ${BINARY_VERSION_3} or ${BINARY_VERSION}`)
  const out: [string, CrawlerClient][] = []
  let at = 9
  try {
    for (let i = buf.readUInt32LE(5); i > 0; i--) {
      const keyBytes = buf.readUInt32LE(at)
      const key = buf.toString('utf8', at + 4, at + 4 + keyBytes)
      at += 4 + keyBytes
      const botBytes = buf.readInt32LE(at)
      at += 4
      const bot = botBytes >= 0 ? buf.toString('utf8', at, at + botBytes) : undefined
      if (botBytes > 0) at += botBytes
      const action = ACTIONS[buf.readUInt8(at)] ?? 'allow'
      const n = buf.readUInt32LE(at + 1)
      const recent = buf.readUInt32LE(at + 5)
      at += 9
      // Copied out as bytes: the lists in the buffer need not be aligned for a typed array.
      const times = new Float64Array(n)
      const paths = new Int32Array(n)
      let assets: Uint8Array
      if (version === BINARY_VERSION_3) {
        if (at + n * 13 > buf.length) throw bad(`${n} requests`)
        new Uint8Array(times.buffer).set(buf.subarray(at, at + n * 8))
        new Uint8Array(paths.buffer).set(buf.subarray(at + n * 8, at + n * 12))
        assets = buf.subarray(at + n * 12, at + n * 13)
        at += n * 13
      } else {
        const form = buf.readUInt8(at++)
        if (form === TIMES_AS_OFFSETS) {
          const first = buf.readDoubleLE(at)
          at += 8
          if (at + n * 8 + ((n + 7) >> 3) > buf.length) throw bad(`${n} requests`)
          const offsets = new Int32Array(n)
          new Uint8Array(offsets.buffer).set(buf.subarray(at, at + n * 4))
          for (let j = 0; j < n; j++) times[j] = first + offsets[j]!
          at += n * 4
        } else if (form === TIMES_AS_F64) {
          if (at + n * 12 + ((n + 7) >> 3) > buf.length) throw bad(`${n} requests`)
          new Uint8Array(times.buffer).set(buf.subarray(at, at + n * 8))
          at += n * 8
        } else throw bad(`time form ${TIMES_AS_OFFSETS} or ${TIMES_AS_F64}`)
        new Uint8Array(paths.buffer).set(buf.subarray(at, at + n * 4))
        at += n * 4
        assets = new Uint8Array(n)
        for (let j = 0; j < n; j++) assets[j] = (buf[at + (j >> 3)]! >> (j & 7)) & 1
        at += (n + 7) >> 3
      }
      const c = CrawlerClient.of(key, times, paths, assets)
      c.bot = bot
      c.testedAgent = bot
      c.action = action
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
function pathsV2(view: { readonly [field: string]: unknown }, at: string, n: number): Int32Array {
  const bytes = uint8Field(view, 'crawler', `${at}.paths`, n * 4)
  return new Int32Array(bytes.buffer, bytes.byteOffset, n)
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

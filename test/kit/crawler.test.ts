import { readFileSync } from 'node:fs'
import { pack, unpack } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import {
  ASSET_PATHS,
  CrawlerClient,
  CrawlerDetector,
  type CrawlerDecision,
  type HttpRequest,
} from '../../src/kit/crawler.ts'
import { hashString } from '../../src/kit/hash.ts'
import { seeded } from './traces.ts'
import { SHARED_ACCESS_LOG } from '../../examples/shared/data.ts'

const T0 = 1_700_000_000_000
const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0'
const ASSETS = [
  '/css/site.css',
  '/js/app.js',
  '/js/vendor.js',
  '/img/logo.png',
  '/img/hero.jpg',
  '/fonts/a.woff2',
]

/** People browsing for an hour: each page view loads the page, then its assets within two seconds. */
function people(count: number, seed: number): HttpRequest[] {
  const random = seeded(seed)
  const out: HttpRequest[] = []
  for (let p = 0; p < count; p++) {
    const ip = `10.1.${p >> 8}.${p & 255}`
    let time = T0 + Math.floor(random() * 1_800_000)
    const views = 1 + Math.floor(random() * 25)
    for (let v = 0; v < views; v++) {
      const page = random() < 0.3 ? '/' : `/articles/${Math.floor(random() * 500)}.html`
      out.push({ time, ip, agent: BROWSER, path: page })
      const assets = 3 + Math.floor(random() * 4)
      for (let a = 0; a < assets; a++) {
        out.push({ time: time + 50 + Math.floor(random() * 2000), ip, agent: BROWSER, path: ASSETS[a]! })
      }
      out.push({
        time: time + 100,
        ip,
        agent: BROWSER,
        path: `/img/article-${Math.floor(random() * 500)}.jpg`,
      })
      time += 10_000 + Math.floor(random() * 110_000)
    }
  }
  return out
}

function planted(): HttpRequest[] {
  const out: HttpRequest[] = []
  // A scraper with a browser agent: one article every 2 s for 30 min, never an asset.
  for (let i = 0; i < 900; i++) {
    out.push({
      time: T0 + 600_000 + i * 2000,
      ip: '203.0.113.10',
      agent: BROWSER,
      path: `/articles/${i}.html`,
    })
  }
  // A declared search bot, one page a minute.
  for (let i = 0; i < 60; i++) {
    out.push({
      time: T0 + i * 60_000,
      ip: '66.249.66.1',
      agent: 'Mozilla/5.0 (compatible; Googlebot/2.1)',
      path: `/p/${i}`,
    })
  }
  // A flood on one URL: 700 requests in 35 s.
  for (let i = 0; i < 700; i++) {
    out.push({ time: T0 + 1_200_000 + i * 50, ip: '198.51.100.20', agent: 'curl/8.0', path: '/search?q=x' })
  }
  // A slow crawler that speeds up: one page per 30 s for 40 min, then 40 pages in 40 s.
  for (let i = 0; i < 80; i++) {
    out.push({ time: T0 + i * 30_000, ip: '192.0.2.30', agent: BROWSER, path: `/docs/${i}` })
  }
  for (let i = 0; i < 40; i++) {
    out.push({ time: T0 + 2_400_000 + i * 1000, ip: '192.0.2.30', agent: BROWSER, path: `/docs/fast-${i}` })
  }
  return out
}

function run(d: CrawlerDetector, requests: HttpRequest[]): CrawlerDecision[] {
  const verdicts: CrawlerDecision[] = []
  for (const r of requests) {
    const v = d.observe(r)
    if (v) verdicts.push(v)
  }
  return verdicts
}

describe('CrawlerDetector', () => {
  it('flags exactly the planted scraper, bot, flood and accelerating crawler among 300 people browsing', () => {
    const requests = [...people(300, 9), ...planted()].sort((a, b) => a.time - b.time)
    const verdicts = run(CrawlerDetector.create(), requests)
    const worst = new Map<string, string>()
    for (const v of verdicts) worst.set(v.key, v.action)
    expect(Object.fromEntries(worst)).toEqual({
      '203.0.113.10': 'throttle',
      '66.249.66.1': 'throttle',
      '198.51.100.20': 'block',
      '192.0.2.30': 'block',
    })
    const scraper = verdicts.find((v) => v.key === '203.0.113.10')!
    expect(scraper.reason).toBe(
      'crawler-like: 20 requests in the last 1h, 100% distinct paths, 0% static assets',
    )
    const bot = verdicts.find((v) => v.key === '66.249.66.1')!
    expect(bot.reason).toContain('declared bot "Mozilla/5.0 (compatible; Googlebot/2.1)" with 20 requests')
    const flood = verdicts.find((v) => v.key === '198.51.100.20' && v.action === 'block')!
    expect(flood.reason).toContain('600 requests in the last 60s (block at 600)')
    const fast = verdicts.find((v) => v.key === '192.0.2.30' && v.action === 'block')!
    expect(fast.reason).toMatch(
      /speeding up: 20 requests in the last 60s vs 2(\.\d)? expected from its history/,
    )
    expect(fast.profile.assetShare).toBe(0)
  })

  it('people loading pages with their assets are never flagged, even when they read a lot', () => {
    const d = CrawlerDetector.create({ minRequests: 10 })
    expect(
      run(
        d,
        people(500, 21).sort((a, b) => a.time - b.time),
      ),
    ).toEqual([])
  })

  it('clients kept by the caller (as a keyed operator keeps them) get the verdicts a detector gives, through snapshots', () => {
    const requests = [...people(100, 5), ...planted()].sort((a, b) => a.time - b.time)
    const expected = run(CrawlerDetector.create(), requests)
    const shared = CrawlerDetector.create()
    const clients = new Map<string, CrawlerClient>()
    const verdicts: CrawlerDecision[] = []
    requests.forEach((r, i) => {
      const key = shared.keyOf(r)
      let c = clients.get(key)
      if (c === undefined) clients.set(key, (c = new CrawlerClient(key)))
      const v = shared.observeClient(c, r)
      if (v) verdicts.push(v)
      // Halfway, every client goes through its own binary form and its plain snapshot, and on.
      if (i === Math.floor(requests.length / 2)) {
        for (const [k, client] of clients) {
          const fromBytes = CrawlerDetector.restoreClient({}, unpack(pack(client.freeze()())), k)
          const fromPlain = CrawlerDetector.restoreClient({}, unpack(pack(client.snapshot())), k)
          expect(fromBytes.key).toBe(k)
          expect(fromPlain.snapshot()).toEqual(client.snapshot())
          clients.set(k, fromBytes)
        }
      }
    })
    expect(verdicts).toEqual(expected)
    const last = requests.at(-1)!.time
    const idle = [...clients.values()].filter((c) => shared.isIdle(c, last + 3_600_000))
    expect(idle.length).toBe(clients.size)
    expect(shared.isIdle(clients.get('192.0.2.30')!, last)).toBe(false)
  })

  it('by ip+agent separates two clients behind one address', () => {
    const d = CrawlerDetector.create({ by: 'ip+agent' })
    for (let i = 0; i < 30; i++) {
      d.observe({ time: T0 + i * 1000, ip: '10.9.9.9', agent: 'scraper/1.0', path: `/a/${i}` })
      d.observe({ time: T0 + i * 1000, ip: '10.9.9.9', agent: BROWSER, path: i % 2 ? '/' : '/css/site.css' })
    }
    expect(d.flagged(T0 + 30_000).map((v) => v.key)).toEqual(['10.9.9.9 scraper/1.0'])
  })

  it('a snapshot restored through msgpackr continues with the same verdicts', () => {
    const requests = [...people(50, 4), ...planted()].sort((a, b) => a.time - b.time)
    const half = requests.length >> 1
    const straight = CrawlerDetector.create()
    const expected = run(straight, requests)
    const first = CrawlerDetector.create()
    const before = run(first, requests.slice(0, half))
    const resumed = CrawlerDetector.restore({}, unpack(pack(first.snapshot())))
    const after = run(resumed, requests.slice(half))
    expect([...before, ...after]).toEqual(expected)
    const end = requests[requests.length - 1]!.time
    expect(resumed.flagged(end)).toEqual(straight.flagged(end))
    expect(resumed.size).toBe(straight.size)
    expect(resumed.evictIdle(end + 3_600_000)).toBe(straight.size)
  })

  it('a frozen snapshot stays as it was while the detector goes on, through drops and compactions', () => {
    const requests = [...people(30, 6), ...planted()].sort((a, b) => a.time - b.time)
    const half = requests.length >> 1
    const d = CrawlerDetector.create({ history: '10m', recent: '1m' })
    run(d, requests.slice(0, half))
    const now = d.snapshot()
    const later = d.freeze()
    run(d, requests.slice(half))
    // Hours later every client has dropped its old requests; new ones make the lists compact.
    const end = requests[requests.length - 1]!.time
    for (let i = 0; i < 3000; i++)
      d.observe({ time: end + i * 1000, ip: '10.1.0.1', agent: BROWSER, path: `/p${i}` })
    expect(CrawlerDetector.restore({}, later()).snapshot()).toEqual(now)
    expect(d.snapshot()).not.toEqual(now)
  })

  it("a client's log holds at most twice its history (and a few dropped requests) however long it runs", () => {
    const d = CrawlerDetector.create({ history: '1m', recent: '10s', maxTracked: 1_000_000 })
    const c = new CrawlerClient('10.1.0.2')
    let longest = 0
    // One request a second for three hours: 60 in the history at any time.
    for (let i = 0; i < 3 * 3600; i++) {
      d.observeClient(c, { time: i * 1000, ip: '10.1.0.2', agent: BROWSER, path: `/p${i % 50}` })
      longest = Math.max(longest, c.log.length / 2)
      expect(c.end - c.head).toBeLessThanOrEqual(61)
    }
    expect(longest).toBeLessThanOrEqual(2 * 61 + 16)
    expect(c.distinctPaths).toBe(50)
  })

  it("a client's distinct paths and asset count stay exact through adds, drops and compactions, hashes colliding", () => {
    const random = seeded(11)
    // Hashes that share their low bits collide in the client's table (it probes by the low bits):
    // 0, ±64, ±128 … and a few others, negative ones included, as 32-bit hashes are signed.
    const hashes = [0, 1, -1, 2 ** 31 - 1, -(2 ** 31)]
    for (let k = 1; k <= 40; k++) hashes.push(k * 64, -k * 64)
    const c = new CrawlerClient('10.1.0.3')
    const counts = new Map<number, number>()
    let assets = 0
    const held: [number, number][] = []
    for (let step = 0; step < 20_000; step++) {
      // Grow to some hundreds of requests, then shrink to a few, twice over.
      const target = step % 10_000 < 5_000 ? 400 : 5
      if (held.length < target || (held.length > 0 && random() < 0.3 && held.length <= target)) {
        const path = hashes[Math.floor(random() * random() * hashes.length)]!
        const asset = random() < 0.2 ? 1 : 0
        c.push(step, path, asset)
        held.push([path, asset])
        counts.set(path, (counts.get(path) ?? 0) + 1)
        assets += asset
      } else {
        const [path, asset] = held.shift()!
        c.dropOldest()
        if (counts.get(path) === 1) counts.delete(path)
        else counts.set(path, counts.get(path)! - 1)
        assets -= asset
        if (c.head >= 16 && c.head * 2 > c.end) c.compact()
      }
      expect(c.distinctPaths).toBe(counts.size)
      expect(c.assetCount).toBe(assets)
      expect(c.end - c.head).toBe(held.length)
    }
    // What the client tracks is what it was given, in order.
    const snap = c.snapshot().clients[0]!
    expect(Array.from(new Int32Array(snap.paths.slice().buffer))).toEqual(held.map(([p]) => p))
    expect(Array.from(snap.assets)).toEqual(held.map(([, a]) => a))
  })

  it('the binary form restores through msgpackr to the same detector, and bad bytes are refused', () => {
    const requests = [...people(40, 7), ...planted()].sort((a, b) => a.time - b.time)
    const half = requests.length >> 1
    const expected = run(CrawlerDetector.create(), requests)
    const first = CrawlerDetector.create()
    const before = run(first, requests.slice(0, half))
    const bytes = first.freeze()()
    const resumed = CrawlerDetector.restore({}, unpack(pack(bytes)))
    expect(resumed.snapshot()).toEqual(first.snapshot())
    expect([...before, ...run(resumed, requests.slice(half))]).toEqual(expected)
    expect(() => CrawlerDetector.restore({}, bytes.subarray(0, bytes.length - 5))).toThrow(/crawler/)
    expect(() => CrawlerDetector.restore({}, new Uint8Array(12))).toThrow(/binary form/)
  })

  it("writes times as offsets from a client's first, or whole where they do not fit, and reads the 13-byte version 3", () => {
    const requests = [...people(40, 11), ...planted()].sort((a, b) => a.time - b.time)
    const first = CrawlerDetector.create()
    run(first, requests)
    const bytes = first.freeze()()
    const v3 = version3(first.snapshot())
    // 4 bytes a time instead of 8, a bit a flag instead of a byte.
    expect(bytes.length).toBeLessThan(v3.length * 0.7)
    expect(CrawlerDetector.restore({}, v3).snapshot()).toEqual(first.snapshot())
    // Times that are not whole milliseconds, or too far apart for 32-bit offsets, are written whole.
    const options = { history: '1000d' }
    for (const gap of [0.25, 40 * 86_400_000]) {
      const d = CrawlerDetector.create(options)
      for (let i = 0; i < 20; i++)
        d.observe({ time: T0 + i * gap, ip: '192.0.2.1', path: `/p/${i % 7}`, agent: BROWSER })
      const restored = CrawlerDetector.restore(options, unpack(pack(d.freeze()())))
      expect(restored.snapshot()).toEqual(d.snapshot())
      const times = new Float64Array(restored.snapshot().clients[0]!.times.slice().buffer)
      expect(Array.from(times)).toEqual(Array.from({ length: 20 }, (_, i) => T0 + i * gap))
    }
    // A time form that is neither is refused.
    // Header, key (its length and bytes), no bot (−1), action, requests and recent count.
    const form = 9 + 4 + '192.0.2.9'.length + 4 + 9
    const onlyOne = CrawlerDetector.create()
    onlyOne.observe({ time: T0, ip: '192.0.2.9', path: '/', agent: BROWSER })
    const one = Buffer.from(onlyOne.freeze()())
    expect(one[form]).toBe(0)
    one[form] = 7
    expect(() => CrawlerDetector.restore({}, one)).toThrow(/time form/)
  })

  it('restores a version-1 snapshot, which kept the paths themselves', () => {
    const requests = [...people(50, 5), ...planted()].sort((a, b) => a.time - b.time)
    const half = requests.length >> 1
    const expected = run(CrawlerDetector.create(), requests)
    const first = CrawlerDetector.create()
    const before = run(first, requests.slice(0, half))
    const pathOf = new Map(requests.map((r) => [hashString(r.path), r.path]))
    const v2 = first.snapshot()
    const v1 = {
      ...v2,
      version: 1,
      clients: v2.clients.map((c) => ({
        ...c,
        paths: Array.from(new Int32Array(c.paths.slice().buffer), (h) => pathOf.get(h)),
      })),
    }
    const resumed = CrawlerDetector.restore({}, unpack(pack(v1)))
    expect([...before, ...run(resumed, requests.slice(half))]).toEqual(expected)
    expect(() => CrawlerDetector.restore({}, { ...v2, version: 3 })).toThrow(/version/)
  })
})

describe('CrawlerDetector on a real Apache access log', () => {
  const MONTHS: { [m: string]: number } = {
    Jan: 0,
    Feb: 1,
    Mar: 2,
    Apr: 3,
    May: 4,
    Jun: 5,
    Jul: 6,
    Aug: 7,
    Sep: 8,
    Oct: 9,
    Nov: 10,
    Dec: 11,
  }
  const LINE =
    /^(\S+) \S+ \S+ \[(\d+)\/(\w+)\/(\d+):(\d+):(\d+):(\d+) [+-]\d{4}\] "\S+ (\S+)[^"]*" \d+ \S+ "[^"]*" "([^"]*)"/
  const requests: HttpRequest[] = readFileSync(SHARED_ACCESS_LOG, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const m = LINE.exec(line)!
      const time = Date.UTC(+m[4]!, MONTHS[m[3]!]!, +m[2]!, +m[5]!, +m[6]!, +m[7]!)
      return { time, ip: m[1]!, path: m[8]!, agent: m[9]! }
    })
    .sort((a, b) => a.time - b.time)

  it('every client it flags really made that many requests, that distinct and without assets, in the hour before', () => {
    expect(requests).toHaveLength(5000)
    const d = CrawlerDetector.create()
    const flagged = new Set<string>()
    requests.forEach((r, i) => {
      const v = d.observe(r)
      if (!v) return
      flagged.add(v.key)
      const hour = requests.slice(0, i + 1).filter((x) => x.ip === r.ip && x.time > r.time - 3_600_000)
      const distinct = new Set(hour.map((x) => x.path)).size / hour.length
      const assets = hour.filter((x) => ASSET_PATHS.test(x.path)).length / hour.length
      expect(v.profile.requests).toBe(hour.length)
      if (v.reason.startsWith('crawler-like')) {
        expect(distinct).toBeGreaterThanOrEqual(0.8)
        expect(assets).toBeLessThanOrEqual(0.1)
        expect(v.reason).toContain(
          `${hour.length} requests in the last 1h, ${Math.round(distinct * 100)}% distinct paths`,
        )
      }
      if (v.reason.includes('declared bot')) expect(hour.some((x) => /bot/i.test(x.agent))).toBe(true)
    })
    expect(flagged.size).toBeGreaterThanOrEqual(3)
    // The first client of the log browses a presentation with its images, scripts and styles.
    expect(flagged.has('83.149.9.216')).toBe(false)
  })
})

/** The binary form of version 3 (f64 times, i32 path hashes, u8 flags), from a plain snapshot. */
function version3(snap: ReturnType<CrawlerDetector['snapshot']>): Uint8Array {
  const parts: Buffer[] = []
  const head = Buffer.alloc(9)
  head.writeUInt32LE(0x52435153, 0)
  head.writeUInt8(3, 4)
  head.writeUInt32LE(snap.keys.length, 5)
  parts.push(head)
  snap.clients.forEach((c, i) => {
    const key = Buffer.from(snap.keys[i]!)
    const bot = c.bot === null ? undefined : Buffer.from(c.bot)
    const fixed = Buffer.alloc(4 + key.length + 4 + (bot?.length ?? 0) + 9)
    let at = fixed.writeUInt32LE(key.length, 0)
    at += key.copy(fixed, at)
    at = fixed.writeInt32LE(bot === undefined ? -1 : bot.length, at)
    if (bot !== undefined) at += bot.copy(fixed, at)
    at = fixed.writeUInt8(['allow', 'throttle', 'block'].indexOf(c.action), at)
    at = fixed.writeUInt32LE(c.assets.length, at)
    fixed.writeUInt32LE(c.recent, at)
    parts.push(fixed, Buffer.from(c.times), Buffer.from(c.paths), Buffer.from(c.assets))
  })
  return Buffer.concat(parts)
}

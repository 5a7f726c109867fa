// The examples run as a user runs them (`node bin/squall.js run …`, as their READMEs say), on the
// shared Apache log, and their output is checked against answers computed here by brute force.

import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { makeTraffic } from '../../examples/shared/traffic.ts'
import { ASSET_PATHS, BOT_AGENTS } from '../../src/kit/crawler.ts'

const ROOT = join(import.meta.dirname, '../..')
const BIN = join(ROOT, 'bin/squall.js')
const LOG = join(ROOT, '../shared/data/apache_access_5000.log')

function squall(args: string[], options: { cwd?: string; env?: { [name: string]: string } } = {}) {
  const env: { [name: string]: string | undefined } = { ...process.env, ...options.env }
  if (options.env?.['LOG'] === undefined) delete env['LOG']
  return spawnSync(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    env,
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 64 << 20,
  })
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '')
}

/** One request of the log, read with an expression of this test's own (not the apache2 parser). */
interface Request {
  ip: string
  time: number
  method: string
  path: string
  status: number
  agent: string
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const COMBINED =
  /^(\S+) \S+ \S+ \[(\d\d)\/(\w{3})\/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)\] "(\S+) (\S+) [^"]*" (\d{3}) \S+ "[^"]*" "([^"]*)"$/

function readLog(): Request[] {
  return lines(readFileSync(LOG, 'utf8')).map((line) => {
    const m = COMBINED.exec(line)
    if (m === null) throw new Error(`not a combined log line: ${line}`)
    const zone = (m[8] === '-' ? -1 : 1) * (Number(m[9]) * 60 + Number(m[10])) * 60_000
    const local = Date.UTC(
      Number(m[4]),
      MONTHS.indexOf(m[3]!),
      Number(m[2]),
      Number(m[5]),
      Number(m[6]),
      Number(m[7]),
    )
    return {
      ip: m[1]!,
      time: local - zone,
      method: m[11]!,
      path: m[12]!,
      status: Number(m[13]),
      agent: m[14]!,
    }
  })
}

const MINUTE = 60_000
const HOUR = 3_600_000

/**
 * Every 60-minute window sliding by a minute that holds a page view, by its end as
 * `YYYY-MM-DD HH:MM`: the ten pages with the most distinct IPs, as `path visitors`, most first and
 * ties by path. A page view is a successful GET of something that is not a static asset.
 */
function rankingByBruteForce(requests: readonly Request[]): Map<string, string[]> {
  const views = requests.filter((r) => r.method === 'GET' && r.status < 400 && !ASSET_PATHS.test(r.path))
  const first = Math.min(...views.map((v) => v.time))
  const last = Math.max(...views.map((v) => v.time))
  const out = new Map<string, string[]>()
  for (let end = Math.floor(first / MINUTE) * MINUTE + MINUTE; end - HOUR <= last; end += MINUTE) {
    const visitors = new Map<string, Set<string>>()
    for (const v of views) {
      if (v.time < end - HOUR || v.time >= end) continue
      let ips = visitors.get(v.path)
      if (ips === undefined) visitors.set(v.path, (ips = new Set()))
      ips.add(v.ip)
    }
    const top = [...visitors]
      .map(([path, ips]) => ({ path, n: ips.size }))
      .sort((a, b) => b.n - a.n || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
      .slice(0, 10)
    out.set(
      new Date(end).toISOString().slice(0, 16).replace('T', ' '),
      top.map((p) => `${p.path} ${p.n}`),
    )
  }
  return out
}

describe('examples run as processes', () => {
  it('the log the examples read is beside the repository', () => {
    expect(existsSync(LOG), `${LOG} is missing`).toBe(true)
    expect(readLog()).toHaveLength(5000)
  })

  it('ranking.ts follows the log with tail and prints the top 10 of every 60-minute window, every minute, as a brute-force count says', () => {
    const r = squall(['run', 'examples/unique-visitor-ranking/ranking.ts', '--duration', '4s'])
    expect(r.status, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/--duration 4s is over, draining/)
    const got = new Map<string, string[]>()
    for (const line of lines(r.stdout)) {
      const m = /^(\d{4}-\d\d-\d\d \d\d:\d\d) {2}(.*)$/.exec(line)
      expect(m, line).not.toBeNull()
      got.set(m![1]!, m![2]!.split(' | '))
    }
    const expected = rankingByBruteForce(readLog())
    expect(got.size).toBe(expected.size)
    expect(got.size).toBeGreaterThan(2400)
    expect(got).toEqual(expected)
  }, 30_000)

  it('ranking.yaml, the same job as a pipeline with a SQL query, gives the same rankings, from any working directory', () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'squall-example-'))
    const pipeline = join(ROOT, 'examples/unique-visitor-ranking/ranking.yaml')
    const r = squall(['run', pipeline, '--duration', '4s'], { cwd: elsewhere })
    expect(r.status, r.stderr).toBe(0)
    const got = new Map<string, string[]>()
    for (const line of lines(r.stdout)) {
      const row = JSON.parse(line) as {
        window_start: string
        window_end: string
        path: string
        visitors: number
      }
      expect(
        Date.parse(`${row.window_end.replace(' ', 'T')}Z`) -
          Date.parse(`${row.window_start.replace(' ', 'T')}Z`),
      ).toBe(HOUR)
      const end = row.window_end.slice(0, 16)
      got.set(end, [...(got.get(end) ?? []), `${row.path} ${row.visitors}`])
    }
    expect(got).toEqual(rankingByBruteForce(readLog()))
  }, 30_000)

  it('a missing log is an error naming its path', () => {
    const r = squall(['run', 'examples/unique-visitor-ranking/ranking.ts'], {
      env: { LOG: '/nonexistent/access.log' },
    })
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/ERR_MODULE_LOAD.*no Apache access log at \/nonexistent\/access\.log \(LOG=/)
  }, 30_000)

  it('fraud.ts blocks exactly the planted attackers and the crawler, and flags in the log exactly the clients its crawler rules describe', () => {
    const r = squall(['run', 'examples/fraud/fraud.ts'])
    expect(r.status, r.stderr).toBe(0)
    const planted = makeTraffic({ seed: 11, duration: '1h', visitors: 20_000, pages: 2_000 }).planted()
    expect(r.stderr).toContain(`planted: attackers ${planted.attackers.map((a) => a.ip).join(', ')}`)
    const decisions = lines(r.stdout).map((line) => {
      const m = /^(log: )?(\S+) {2}(throttle|block) +(\S+) +(.*)$/.exec(line)
      expect(m, line).not.toBeNull()
      return {
        log: m![1] !== undefined,
        time: Date.parse(m![2]!),
        action: m![3]!,
        key: m![4]!,
        reason: m![5]!,
      }
    })

    const generated = decisions.filter((d) => !d.log)
    const blocks = generated.filter((d) => d.reason.includes('failed logins'))
    expect(blocks.map((d) => [d.key, d.action, d.time]).sort()).toEqual(
      planted.attackers.map((a) => [a.ip, 'block', a.successAt]).sort(),
    )
    const crawl = generated.filter((d) => !d.reason.includes('failed logins'))
    const crawler = planted.crawlers[0]!
    expect(crawl.map((d) => d.key)).toEqual([crawler.ip])
    expect(crawl[0]!.time).toBeGreaterThanOrEqual(crawler.from)
    expect(crawl[0]!.time).toBeLessThan(crawler.to)

    const fromLog = decisions
      .filter((d) => d.log)
      .map((d) => ({ time: d.time, action: d.action, key: d.key }))
    const expected = crawlersByRule(readLog())
    expect(expected.length).toBeGreaterThan(3)
    expect(fromLog.sort((a, b) => a.time - b.time)).toEqual(expected)
  }, 30_000)

  it('trends.ts reports every planted burst within its first minute, and exactly the slides and tags the trend rule picks', () => {
    const r = squall(['run', 'examples/trending-hashtags/trends.ts'])
    expect(r.status, r.stderr).toBe(0)
    const traffic = makeTraffic({ seed: 7, duration: '2h', postRate: 20 })
    const planted = traffic.planted()
    const hms = (t: number) => new Date(t).toISOString().slice(11, 19)
    expect(r.stderr).toContain(
      `planted bursts: ${planted.bursts.map((b) => `${b.tag} ${hms(b.from)}–${hms(b.to)}`).join(', ')}`,
    )
    const got = lines(r.stdout)
    expect(got).toEqual(trendsByRule(traffic))
    const day = new Date(traffic.start).toISOString().slice(0, 11)
    for (const b of planted.bursts) {
      const seen = got
        .filter((l) => l.includes(`${b.tag} z=`))
        .map((l) => Date.parse(`${day}${l.slice(0, 8)}Z`))
      expect(seen.length, b.tag).toBeGreaterThan(20)
      expect(Math.min(...seen)).toBeGreaterThan(b.from)
      expect(Math.min(...seen)).toBeLessThanOrEqual(b.from + MINUTE)
    }
  }, 30_000)
})

/**
 * The crawler rules of the fraud example, client by client in log order. A client's window holds
 * its requests as they arrived, the oldest leaving once it is an hour or more older than the
 * latest (the last minute likewise, in this log whose times are out of order by up to a minute).
 * Over the window: ≥ 20 requests, ≥ 80 % distinct paths and ≤ 10 % assets → throttle; a declared
 * bot agent with ≥ 20 → throttle; such a shape with a last minute 4× its older rate → block; ≥ 120 /
 * 600 in the last minute → throttle / block. A decision is reported when a client's action
 * escalates; it relaxes silently.
 */
function crawlersByRule(requests: readonly Request[]): { time: number; action: string; key: string }[] {
  const rank = { allow: 0, throttle: 1, block: 2 } as const
  type Client = { seen: Request[]; head: number; recentHead: number; bot: boolean; action: keyof typeof rank }
  const clients = new Map<string, Client>()
  const out: { time: number; action: string; key: string }[] = []
  for (const r of requests) {
    let c = clients.get(r.ip)
    if (c === undefined)
      clients.set(r.ip, (c = { seen: [], head: 0, recentHead: 0, bot: false, action: 'allow' }))
    c.seen.push(r)
    if (r.agent.length > 1 && BOT_AGENTS.test(r.agent)) c.bot = true
    const now = r.time
    while (c.seen[c.head]!.time <= now - HOUR) c.head++
    c.recentHead = Math.max(c.recentHead, c.head)
    while (c.recentHead < c.seen.length && c.seen[c.recentHead]!.time <= now - MINUTE) c.recentHead++
    const hour = c.seen.slice(c.head)
    const recent = c.seen.length - c.recentHead
    const n = hour.length
    const distinct = new Set(hour.map((x) => x.path)).size / n
    const assets = hour.filter((x) => ASSET_PATHS.test(x.path)).length / n
    const olderSpan = Math.min(HOUR, now - hour[0]!.time) - MINUTE
    const judged = olderSpan >= MINUTE
    const older = n - recent
    const expectedRecent = judged ? (older * MINUTE) / olderSpan : 0
    const shaped = n >= 20 && distinct >= 0.8 && assets <= 0.1
    const burst = shaped && judged && older > 0 && recent >= 20 && recent >= 4 * expectedRecent
    let action: keyof typeof rank = recent >= 600 ? 'block' : recent >= 120 ? 'throttle' : 'allow'
    if (burst) action = 'block'
    else if (action === 'allow' && (shaped || (c.bot && n >= 20))) action = 'throttle'
    if (rank[action] > rank[c.action]) out.push({ time: now, action, key: r.ip })
    c.action = action
  }
  return out.sort((a, b) => a.time - b.time)
}

/**
 * The trend rule of the hashtag example, slide by slide over the generated posts: per tag and
 * 10-second slide, recent = its posts in the 5 minutes ending with the slide, baseline = in the 30
 * minutes before (counted from the first post), expected = baseline × recent length / baseline
 * length; it trends with recent ≥ 30, (recent + 1)/(expected + 1) ≥ 3 and
 * (recent − expected)/√(expected + 1) ≥ 4, once 10 minutes of baseline exist. Lines as trends.ts
 * prints them: the slide's end, then its trending tags, best z first.
 */
function trendsByRule(traffic: ReturnType<typeof makeTraffic>): string[] {
  const SLIDE = 10_000
  const R = 30
  const L = 180
  const WARMUP = 60
  const first = Math.floor(traffic.start / SLIDE)
  const counts = new Map<string, Map<number, number>>()
  let lastBucket = first
  for (let i = 0; i < traffic.counts.posts; i++) {
    const p = traffic.post(i)
    const b = Math.floor(p.time / SLIDE)
    lastBucket = Math.max(lastBucket, b)
    for (const tag of p.tags) {
      let c = counts.get(tag)
      if (c === undefined) counts.set(tag, (c = new Map()))
      c.set(b, (c.get(b) ?? 0) + 1)
    }
  }
  const sum = (c: Map<number, number>, from: number, to: number) => {
    let total = 0
    for (let b = from + 1; b <= to; b++) total += c.get(b) ?? 0
    return total
  }
  const out: string[] = []
  for (let nb = first; nb <= lastBucket + R; nb++) {
    const len = Math.max(0, Math.min(L, nb - R - first + 1))
    if (len < WARMUP) continue
    const trending: { tag: string; z: number; recent: number; baseline: number }[] = []
    for (const [tag, c] of counts) {
      const recent = sum(c, nb - R, nb)
      const baseline = sum(c, nb - R - len, nb - R)
      const expected = (baseline * R) / len
      const z = (recent - expected) / Math.sqrt(expected + 1)
      if (recent >= 30 && (recent + 1) / (expected + 1) >= 3 && z >= 4)
        trending.push({ tag, z, recent, baseline })
    }
    if (trending.length === 0) continue
    trending.sort((a, b) => b.z - a.z || (a.tag < b.tag ? -1 : 1))
    const time = new Date((nb + 1) * SLIDE).toISOString().slice(11, 19)
    out.push(
      `${time}  ${trending
        .slice(0, 10)
        .map((x) => `${x.tag} z=${x.z.toFixed(1)} (${x.recent} vs ${x.baseline} before)`)
        .join(' | ')}`,
    )
  }
  return out
}

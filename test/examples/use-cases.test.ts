import { describe, expect, it } from 'vitest'
import type { SourceSpec } from '../../src/core/source.ts'
import { memoryLogger } from '../../src/core/logger.ts'
import { Topology } from '../../src/core/topology.ts'
import { WatermarkStrategy } from '../../src/core/watermark.ts'
import { collect } from '../../src/plugins/outputs/collect.ts'
import { runToEnd } from '../../src/runtime/embedded/runner.ts'
import { TestDriver } from '../../src/runtime/test-driver.ts'
import type { AccessEvent, Decision, Ranking, Trending } from '../../examples/shared/events.ts'
import { fraudPipeline, rankingPipeline, trendPipeline } from '../../examples/shared/jobs.ts'
import { makeTraffic } from '../../examples/shared/traffic.ts'

const pushed: SourceSpec<AccessEvent> = {
  kind: 'pushed',
  bounded: false,
  create: () => {
    throw new Error('the pushed source only runs in a TestDriver')
  },
}

const quiet = memoryLogger()

describe('unique-visitor ranking', () => {
  it('equals a reference computed by brute force on a hand-made trace', () => {
    const t = new Topology('ranking')
    const access = t.source('access', pushed, { watermarks: WatermarkStrategy.forMonotonousTimestamps() })
    rankingPipeline(access, { size: '10m', slide: '2m', top: 3 }).sink(collect(), { name: 'out' })
    const events: AccessEvent[] = []
    let x = 17
    for (let i = 0; i < 3000; i++) {
      x = (x * 1103515245 + 12345) % 2147483648
      const page = `/p${(x >>> 8) % 6}`
      const path = i % 7 === 0 ? '/static/site.css' : page
      events.push({
        time: i * 400,
        ip: `10.0.0.${(x >>> 4) % (20 + ((x >>> 8) % 6) * 9)}`,
        method: 'GET',
        path,
        status: 200,
        bytes: 1,
        agent: '',
      })
    }
    const d = new TestDriver(t, { parallelism: 2 })
    d.pushRecords(
      'access',
      events.map((value) => ({ value, time: value.time })),
    ).end()
    const got = d.values<Ranking>('out')
    const expected: Ranking[] = []
    for (let end = 120_000; end <= 1_200_000 + 600_000; end += 120_000) {
      const start = end - 600_000
      const visitors = new Map<string, Set<string>>()
      for (const e of events) {
        if (e.time < start || e.time >= end || e.path.startsWith('/static/')) continue
        let s = visitors.get(e.path)
        if (s === undefined) visitors.set(e.path, (s = new Set()))
        s.add(e.ip)
      }
      if (visitors.size === 0) continue
      const pages = [...visitors]
        .map(([path, s]) => ({ path, visitors: s.size }))
        .sort((a, b) => b.visitors - a.visitors || (a.path < b.path ? -1 : 1))
        .slice(0, 3)
      expected.push({ windowStart: start, windowEnd: end, pages })
    }
    expect(got.sort((a, b) => a.windowEnd - b.windowEnd)).toEqual(expected)
  })
})

describe('use cases on the planted traffic model', () => {
  const traffic = makeTraffic({
    seed: 3,
    duration: '1h',
    visitors: 2000,
    pages: 300,
    accessRate: 20,
    loginRate: 5,
    postRate: 20,
  })
  const planted = traffic.planted()

  it('the trend pipeline reports every planted burst during its burst and no steady tag', async () => {
    const t = new Topology('trends')
    const posts = t.source('posts', traffic.postSource(), {
      watermarks: WatermarkStrategy.forMonotonousTimestamps(),
    })
    const out = collect<Trending>()
    trendPipeline(posts, { since: traffic.start }).sink(out)
    await runToEnd(t, { log: quiet })
    const seen = new Map<string, number[]>()
    for (const tr of out.values)
      for (const x of tr.tags) seen.set(x.tag, [...(seen.get(x.tag) ?? []), tr.time])
    expect([...seen.keys()].sort()).toEqual(planted.bursts.map((b) => b.tag).sort())
    for (const b of planted.bursts) {
      const times = seen.get(b.tag)!
      expect(Math.min(...times)).toBeGreaterThanOrEqual(b.from)
      expect(Math.min(...times)).toBeLessThan(b.from + 60_000)
    }
    expect(out.values.length).toBeGreaterThan(300)
  })

  it('the fraud pipeline blocks exactly the planted attackers and flags only the crawler', async () => {
    const t = new Topology('fraud')
    const logins = t.source('logins', traffic.loginSource(), {
      watermarks: WatermarkStrategy.forMonotonousTimestamps(),
    })
    const access = t.source('access', traffic.accessSource(), {
      watermarks: WatermarkStrategy.forMonotonousTimestamps(),
    })
    const out = collect<Decision>()
    fraudPipeline(logins, access).sink(out)
    await runToEnd(t, { log: quiet })
    const blocks = out.values.filter((d) => d.reason.includes('failed logins'))
    expect(blocks.map((d) => d.key).sort()).toEqual(planted.attackers.map((a) => a.ip).sort())
    for (const a of planted.attackers) expect(blocks.find((d) => d.key === a.ip)!.time).toBe(a.successAt)
    const crawl = out.values.filter((d) => !d.reason.includes('failed logins'))
    expect(new Set(crawl.map((d) => d.key))).toEqual(new Set(planted.crawlers.map((c) => c.ip)))
    const c = planted.crawlers[0]!
    expect(crawl[0]!.time).toBeGreaterThanOrEqual(c.from)
    expect(crawl[0]!.time).toBeLessThan(c.to)
  })

  it('the traffic model is the same function of (seed, seq) whatever the call order', () => {
    const again = makeTraffic({
      seed: 3,
      duration: '1h',
      visitors: 2000,
      pages: 300,
      accessRate: 20,
      loginRate: 5,
      postRate: 20,
    })
    const seqs = [5, 99, 1, 4000, 5]
    expect(seqs.map((s) => again.access(s))).toEqual(seqs.map((s) => traffic.access(s)))
    expect(seqs.reverse().map((s) => again.post(s))).toEqual(seqs.map((s) => traffic.post(s)))
    expect(makeTraffic({ seed: 4, duration: '1h' }).post(5)).not.toEqual(traffic.post(5))
  })
})

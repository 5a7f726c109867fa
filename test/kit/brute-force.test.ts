import { pack, unpack } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { type BruteForceAlert, BruteForceDetector, type LoginEvent } from '../../src/kit/brute-force.ts'
import { seeded } from './traces.ts'

const T0 = 1_700_000_000_000

/** An hour of normal logins (mostly successes, a typo now and then) with two planted attacks. */
function trace(): LoginEvent[] {
  const random = seeded(5)
  const events: LoginEvent[] = []
  for (let i = 0; i < 3000; i++) {
    const user = `user${Math.floor(random() * 300)}`
    const ip = `10.0.${Math.floor(random() * 20)}.${Math.floor(random() * 250)}`
    const time = T0 + Math.floor(random() * 3_600_000)
    // A normal user mistypes at most twice before getting in.
    const typos = random() < 0.1 ? 1 + Math.floor(random() * 2) : 0
    for (let t = 0; t < typos; t++) events.push({ time: time + t * 5000, ip, user, success: false })
    events.push({ time: time + typos * 5000, ip, user, success: true })
  }
  // Attacker 1: 8 failures in 40 s on "admin", then a success.
  for (let i = 0; i < 8; i++)
    events.push({ time: T0 + 600_000 + i * 5000, ip: '203.0.113.7', user: 'admin', success: false })
  events.push({ time: T0 + 600_000 + 41_000, ip: '203.0.113.7', user: 'admin', success: true })
  // Attacker 2: password spraying, 12 users, one failure each, 3 s apart, never succeeds.
  for (let i = 0; i < 12; i++) {
    events.push({ time: T0 + 1_800_000 + i * 3000, ip: '198.51.100.9', user: `user${i}`, success: false })
  }
  // A slow guesser: 6 failures spread over 10 minutes, then a success: not within 60 s.
  for (let i = 0; i < 6; i++)
    events.push({ time: T0 + 2_400_000 + i * 100_000, ip: '192.0.2.1', user: 'bob', success: false })
  events.push({ time: T0 + 3_000_001, ip: '192.0.2.1', user: 'bob', success: true })
  return events.sort((a, b) => a.time - b.time)
}

function run(d: BruteForceDetector, events: LoginEvent[]): BruteForceAlert[] {
  const alerts: BruteForceAlert[] = []
  for (const e of events) {
    const a = d.observe(e)
    if (a) alerts.push(a)
  }
  return alerts
}

describe('BruteForceDetector', () => {
  it('with then: success, flags exactly the IP whose failures were followed by a success', () => {
    // biome-ignore lint/suspicious/noThenProperty: the option is named after the pattern "failures, then a success"
    const options = { failures: 5, within: 60_000, then: 'success' as const, by: 'ip' as const }
    const alerts = run(BruteForceDetector.create(options), trace())
    expect(alerts).toHaveLength(1)
    const a = alerts[0]!
    expect(a.action).toBe('block')
    expect(a.key).toBe('203.0.113.7')
    // Failures at +0 … +35 s; the success at +41 s; (41 − 60, 41] holds all eight.
    expect(a.failures).toBe(8)
    expect(a.reason).toBe('8 failed logins within 60s followed by a success')
    expect(a.firstTime).toBe(T0 + 600_000)
    expect(a.lastTime).toBe(T0 + 641_000)
  })

  it('without then, flags both attacking IPs once they reach 5 failures within 60 s', () => {
    const alerts = run(BruteForceDetector.create({ failures: 5, within: '60s', by: 'ip' }), trace())
    expect(alerts.map((a) => a.key)).toEqual(['203.0.113.7', '198.51.100.9', '198.51.100.9'])
    expect(alerts.every((a) => a.failures === 5 && a.reason === '5 failed logins within 60s')).toBe(true)
    expect(alerts[1]!.lastTime - alerts[1]!.firstTime).toBe(12_000)
  })

  it('by user, the spraying attack is invisible and the targeted account is flagged', () => {
    const alerts = run(BruteForceDetector.create({ failures: 5, within: 60_000, by: 'user' }), trace())
    expect(alerts.map((a) => a.key)).toEqual(['admin'])
  })

  it('snapshot and restore in the middle of an attack still alert on the success', () => {
    // biome-ignore lint/suspicious/noThenProperty: the option is named after the pattern "failures, then a success"
    const options = { failures: 3, within: 60_000, then: 'success' as const }
    const d = BruteForceDetector.create(options)
    for (let i = 0; i < 3; i++) d.observe({ time: T0 + i * 1000, ip: 'x', user: 'u', success: false })
    const r = BruteForceDetector.restore(options, unpack(pack(d.snapshot())))
    const alert = r.observe({ time: T0 + 5000, ip: 'x', user: 'u', success: true })
    expect(alert?.failures).toBe(3)
    expect(r.size).toBe(0)
  })

  it('forgets idle keys', () => {
    const d = BruteForceDetector.create({ failures: 5, within: 60_000 })
    d.observe({ time: T0, ip: 'a', user: 'u', success: false })
    d.observe({ time: T0 + 50_000, ip: 'b', user: 'u', success: false })
    expect(d.evictIdle(T0 + 60_000)).toBe(1)
    expect(d.size).toBe(1)
    expect(() => BruteForceDetector.create({ failures: 0 })).toThrow(/bruteForce.failures/)
  })
})

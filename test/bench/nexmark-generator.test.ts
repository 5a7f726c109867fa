import { describe, expect, it } from 'vitest'
import { NexmarkGenerator } from '../../bench/nexmark/generator.ts'
import type { Auction, Bid, NexmarkEvent, Person } from '../../bench/nexmark/model.ts'
import { reverseBits32 } from '../../bench/nexmark/model.ts'

const N = 50_000
const events: NexmarkEvent[] = NexmarkGenerator.create({ seed: 7 }).nextBatch(N)
const people = events.filter((e): e is Person => e.type === 'person')
const auctions = events.filter((e): e is Auction => e.type === 'auction')
const bids = events.filter((e): e is Bid => e.type === 'bid')

describe('Nexmark generator', () => {
  it('emits 1 person, 3 auctions and 46 bids in every block of 50 events, in that order', () => {
    expect([people.length, auctions.length, bids.length]).toEqual([N / 50, (3 * N) / 50, (46 * N) / 50])
    const kinds = events.map((e) => e.type)
    const pattern = kinds.map((_, i) => (i % 50 === 0 ? 'person' : i % 50 <= 3 ? 'auction' : 'bid'))
    expect(kinds).toEqual(pattern)
  })

  it('numbers people and auctions densely from 1000', () => {
    expect(people.map((p) => p.id)).toEqual(people.map((_, k) => 1000 + k))
    expect(auctions.map((a) => a.id)).toEqual(auctions.map((_, k) => 1000 + k))
  })

  it('advances event time by 0.1 ms per event at 10 000 events/s, never backwards', () => {
    const base = 1436918400000
    expect(events.map((e) => e.dateTime)).toEqual(events.map((_, i) => base + Math.floor(i / 10)))
  })

  it('bids and auctions name people and auctions created at most 10 ids ahead', () => {
    let lastPerson = -1
    let lastAuction = -1
    const bad: NexmarkEvent[] = []
    for (const e of events) {
      if (e.type === 'person') lastPerson = e.id
      else if (e.type === 'auction') {
        lastAuction = e.id
        if (e.seller > lastPerson + 10 || e.seller < 1000) bad.push(e)
      } else if (
        e.auction > lastAuction + 10 ||
        e.auction < 1000 ||
        e.bidder > lastPerson + 10 ||
        e.bidder < 1000
      ) {
        bad.push(e)
      }
    }
    expect(bad).toEqual([])
  })

  it('keeps categories, prices, reserves and expiry times in range', () => {
    const badAuctions = auctions.filter(
      (a) =>
        a.category < 10 ||
        a.category > 14 ||
        a.reserve < a.initialBid ||
        a.expires <= a.dateTime ||
        a.initialBid < 100,
    )
    expect(badAuctions).toEqual([])
    expect(bids.filter((b) => b.price < 100 || b.price > 100_000_000)).toEqual([])
    expect(new Set(auctions.map((a) => a.category)).size).toBe(5)
  })

  it('sends about half the bids to the hot auction and three quarters from hot bidders', () => {
    const hotAuction = bids.filter((b) => (b.auction - 1000) % 100 === 0).length / bids.length
    const hotBidder = bids.filter((b) => (b.bidder - 1000) % 100 === 1).length / bids.length
    expect(hotAuction).toBeGreaterThan(0.48)
    expect(hotAuction).toBeLessThan(0.53)
    expect(hotBidder).toBeGreaterThan(0.73)
    expect(hotBidder).toBeLessThan(0.78)
  })

  it('gives people names, cities and states from the Nexmark lists and 16-digit cards', () => {
    for (const p of people) {
      expect(p.name).toMatch(/^[A-Z][a-z]+ [A-Z][a-z]+$/)
      expect(p.creditCard).toMatch(/^\d{4} \d{4} \d{4} \d{4}$/)
      expect(['AZ', 'CA', 'ID', 'OR', 'WA', 'WY']).toContain(p.state)
      expect(p.emailAddress).toMatch(/@.*\.com$/)
    }
  })

  it('derives channel ids by bit reversal, and hot channels share four URLs', () => {
    expect(Math.abs(reverseBits32(7568))).toBe(163053568)
    const wrong = bids.filter((b) => {
      const m = /^channel-(\d+)$/.exec(b.channel)
      return (
        m && b.url.includes('channel_id=') && !b.url.endsWith(`channel_id=${Math.abs(reverseBits32(+m[1]!))}`)
      )
    })
    expect(wrong).toEqual([])
    const hot = bids.filter((b) => !b.channel.startsWith('channel-'))
    expect(new Set(hot.map((b) => b.channel))).toEqual(new Set(['Google', 'Facebook', 'Baidu', 'Apple']))
    expect(new Set(hot.map((b) => b.url)).size).toBe(4)
  })

  it('pads events to the configured average sizes', () => {
    const avg = (xs: NexmarkEvent[]): number =>
      xs.reduce((s, e) => s + JSON.stringify(e).length, 0) / xs.length
    expect(avg(bids)).toBeGreaterThan(100)
    expect(avg(auctions)).toBeGreaterThan(avg(people))
  })

  it('is deterministic: the same seed gives the same events, seek and eventAt replay them exactly', () => {
    const again = NexmarkGenerator.create({ seed: 7 })
    expect(again.nextBatch(1000)).toEqual(events.slice(0, 1000))
    again.seek(30_000)
    expect(again.next()).toEqual(events[30_000])
    expect(again.position).toBe(30_001)
    expect(again.eventAt(12_345)).toEqual(events[12_345])
    const other = NexmarkGenerator.create({ seed: 8 }).nextBatch(100)
    expect(other).not.toEqual(events.slice(0, 100))
  })

  it('shuffles inside groups with outOfOrderGroupSize, keeping the same events', () => {
    const shuffled = NexmarkGenerator.create({ seed: 7, outOfOrderGroupSize: 100 }).nextBatch(1000)
    const times = shuffled.map((e) => e.dateTime)
    expect(times.some((t, i) => i > 0 && t < times[i - 1]!)).toBe(true)
    expect(times.map((t) => Math.floor((t - 1436918400000) / 10))).toEqual(
      times.map((_, i) => Math.floor(i / 100)),
    )
    const key = (e: NexmarkEvent): string => JSON.stringify(e)
    expect(new Set(shuffled.map(key))).toEqual(new Set(events.slice(0, 1000).map(key)))
  })

  it('refuses a rate of zero', () => {
    expect(() => NexmarkGenerator.create({ firstEventRate: 0 })).toThrow(/nexmark.firstEventRate/)
  })
})

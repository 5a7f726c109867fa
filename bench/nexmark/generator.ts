// The Nexmark event generator: a deterministic, seeded stream of persons, auctions and bids.
// Every event is a pure function of (config, event number), Beam style, so a run can seek and replay.

import { check } from '../../src/core/errors.ts'
import {
  AUCTION_ID_LEAD,
  type Auction,
  type Bid,
  CHANNELS_NUMBER,
  FIRST_AUCTION_ID,
  FIRST_CATEGORY_ID,
  FIRST_NAMES,
  FIRST_PERSON_ID,
  HOT_CHANNELS,
  HOT_CHANNELS_RATIO,
  HOT_ID_BLOCK,
  LAST_NAMES,
  lastBase0AuctionId,
  lastBase0PersonId,
  NEXMARK_DEFAULTS,
  type NexmarkConfig,
  type NexmarkEvent,
  NUM_CATEGORIES,
  PERSON_ID_LEAD,
  type Person,
  reverseBits32,
  US_CITIES,
  US_STATES,
} from './model.ts'

const POOL_SIZE = 1 << 20

const PRICE_SCALE = 6 * Math.LN10

/** A seeded stream of random numbers (mulberry32), reseeded per event from (seed, event id). */
class Rng {
  s = 0

  /** Seeds the stream from the generator seed and the event id. */
  seed(seed: number, eventId: number): void {
    let h =
      Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^
      (eventId | 0) ^
      Math.imul(Math.floor(eventId / 4294967296), 0x27d4eb2f)
    h = Math.imul(h ^ (h >>> 16), 0x7feb352d)
    h = Math.imul(h ^ (h >>> 15), 0x846ca68b)
    this.s = h ^ (h >>> 16)
  }

  /** The next uniform number in [0, 1). */
  random(): number {
    const s = (this.s + 0x6d2b79f5) | 0
    this.s = s
    let t = Math.imul(s ^ (s >>> 15), s | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** A uniform integer in [0, n), n < 2^31. */
  uniform(n: number): number {
    return (this.random() * n) | 0
  }

  /** A log-uniform price in cents, 100 to 100 000 000: round(10^(6U) × 100). */
  price(): number {
    return Math.round(Math.exp(this.random() * PRICE_SCALE) * 100)
  }
}

/**
 * A deterministic Nexmark generator. The k-th event handed out (k from 0) is event number k, shuffled
 * inside groups of `outOfOrderGroupSize`; its id is `firstEventId` + that number and decides its kind
 * (1 person, 3 auctions, 46 bids per 50 ids by default); its timestamp is
 * `baseTime + ⌊number × interEventDelayUs / 1000⌋`. All random choices come from a stream seeded by
 * (seed, event id), so `eventAt(n)` is a pure function and `seek` replays exactly.
 *
 * Strings come from a 1 MiB pool of random letters and spaces (1 in 13) built from the seed, cut at
 * random offsets, so generating an event allocates its object and little else.
 */
export class NexmarkGenerator {
  readonly config: NexmarkConfig
  /** Microseconds of event time between consecutive events. */
  readonly interEventDelayUs: number
  private readonly total: number
  private readonly pool: string
  private readonly channels: string[]
  private readonly channelUrls: string[]
  private readonly hotUrls: string[]
  private readonly horizonMs: number
  private next0 = 0
  private readonly rng = new Rng()

  private constructor(config: NexmarkConfig) {
    this.config = config
    this.total = config.personProportion + config.auctionProportion + config.bidProportion
    this.interEventDelayUs = (1_000_000 / config.firstEventRate) * config.numEventGenerators
    const auctionEvents = Math.floor((config.numInFlightAuctions * this.total) / config.auctionProportion)
    this.horizonMs = Math.floor((auctionEvents * this.interEventDelayUs) / 1000)
    this.rng.seed(config.seed, -1)
    const uniform = (n: number): number => this.rng.uniform(n)
    const chars: string[] = new Array(POOL_SIZE)
    for (let i = 0; i < POOL_SIZE; i++)
      chars[i] = uniform(13) === 0 ? ' ' : String.fromCharCode(97 + uniform(26))
    this.pool = chars.join('')
    const letters = (n: number): string => {
      let s = ''
      for (let i = 0; i < n; i++) s += String.fromCharCode(97 + uniform(26))
      return s
    }
    const baseUrl = (): string =>
      `https://www.nexmark.com/${letters(5)}/${letters(5)}/${letters(5)}/item.htm?query=1`
    this.hotUrls = HOT_CHANNELS.map(() => baseUrl())
    this.channels = new Array(CHANNELS_NUMBER)
    this.channelUrls = new Array(CHANNELS_NUMBER)
    for (let i = 0; i < CHANNELS_NUMBER; i++) {
      this.channels[i] = `channel-${i}`
      const url = baseUrl()
      this.channelUrls[i] = uniform(10) > 0 ? `${url}&channel_id=${Math.abs(reverseBits32(i))}` : url
    }
  }

  /** A generator with the Nexmark defaults overridden by `config`. Throws ERR_ARGUMENT on a bad value. */
  static create(config: Partial<NexmarkConfig> = {}): NexmarkGenerator {
    const c = { ...NEXMARK_DEFAULTS, ...config }
    for (const [name, value] of Object.entries(c)) {
      check(typeof value === 'number' && Number.isFinite(value), `nexmark.${name}`, 'a finite number', value)
    }
    for (const name of [
      'firstEventRate',
      'numEventGenerators',
      'outOfOrderGroupSize',
      'personProportion',
      'auctionProportion',
    ] as const) {
      check(c[name] > 0 && Number.isInteger(c[name]), `nexmark.${name}`, 'a positive integer', c[name])
    }
    return new NexmarkGenerator(c)
  }

  /** The number of events handed out so far: the position after the last one (for snapshots). */
  get position(): number {
    return this.next0
  }

  /** Continues from `position` (as returned by `position`): the next event is the one that would have come. */
  seek(position: number): void {
    this.next0 = position
  }

  /** The event number (before the id offset) of the k-th event handed out, after the out-of-order shuffle. */
  eventNumber(k: number): number {
    const n = this.config.outOfOrderGroupSize
    return n === 1 ? k : Math.floor(k / n) * n + ((k * 953) % n)
  }

  /** The event time of event number `number`, ms. */
  timestampOf(number: number): number {
    return this.config.baseTime + Math.floor((number * this.interEventDelayUs) / 1000)
  }

  /** A watermark valid after the k-th event: the timestamp of the first event number of its group. */
  watermarkAt(k: number): number {
    const n = this.config.outOfOrderGroupSize
    return this.timestampOf(Math.floor(k / n) * n)
  }

  /** The next event. */
  next(): NexmarkEvent {
    return this.eventAt(this.eventNumber(this.next0++))
  }

  /** The next `n` events, in order. */
  nextBatch(n: number): NexmarkEvent[] {
    const out: NexmarkEvent[] = new Array(n)
    for (let i = 0; i < n; i++) out[i] = this.eventAt(this.eventNumber(this.next0++))
    return out
  }

  /** The event with event number `number` (id `firstEventId + number`); pure. */
  eventAt(number: number): NexmarkEvent {
    const c = this.config
    const eventId = c.firstEventId + number
    const time = this.timestampOf(number)
    this.rng.seed(c.seed, eventId)
    const rem = eventId % this.total
    if (rem < c.personProportion) return this.person(eventId, time)
    if (rem < c.personProportion + c.auctionProportion) return this.auction(eventId, time)
    return this.bid(eventId, time)
  }

  private string(maxLength: number): string {
    const len = 3 + this.rng.uniform(maxLength - 3)
    const at = this.rng.uniform(POOL_SIZE - len)
    return this.pool.substring(at, at + len).trim()
  }

  private extra(currentSize: number, desiredAverage: number): string {
    const desired = desiredAverage - currentSize
    if (desired <= 0) return ''
    const len = Math.max(0, Math.round(desired * (0.8 + 0.4 * this.rng.random())))
    const at = this.rng.uniform(POOL_SIZE - len)
    return this.pool.substring(at, at + len)
  }

  private nextPersonId(eventId: number): number {
    const numPeople = lastBase0PersonId(this.config, eventId) + 1
    const active = Math.min(numPeople, this.config.numActivePeople)
    return numPeople - active + this.rng.uniform(active + PERSON_ID_LEAD)
  }

  private nextAuctionId(eventId: number): number {
    const last = lastBase0AuctionId(this.config, eventId)
    const min = Math.max(last - this.config.numInFlightAuctions, 0)
    return min + this.rng.uniform(last - min + 1 + AUCTION_ID_LEAD)
  }

  private person(eventId: number, time: number): Person {
    const name = `${FIRST_NAMES[this.rng.uniform(FIRST_NAMES.length)]} ${LAST_NAMES[this.rng.uniform(LAST_NAMES.length)]}`
    const emailAddress = `${this.string(7)}@${this.string(5)}.com`
    const creditCard = `${pad4(this.rng.uniform(10000))} ${pad4(this.rng.uniform(10000))} ${pad4(this.rng.uniform(10000))} ${pad4(this.rng.uniform(10000))}`
    const city = US_CITIES[this.rng.uniform(US_CITIES.length)]!
    const state = US_STATES[this.rng.uniform(US_STATES.length)]!
    const size = 8 + name.length + emailAddress.length + creditCard.length + city.length + state.length + 8
    return {
      type: 'person',
      id: lastBase0PersonId(this.config, eventId) + FIRST_PERSON_ID,
      name,
      emailAddress,
      creditCard,
      city,
      state,
      dateTime: time,
      extra: this.extra(size, this.config.avgPersonByteSize),
    }
  }

  private auction(eventId: number, time: number): Auction {
    const c = this.config
    const seller =
      this.rng.uniform(c.hotSellersRatio) > 0
        ? Math.trunc(lastBase0PersonId(c, eventId) / HOT_ID_BLOCK) * HOT_ID_BLOCK
        : this.nextPersonId(eventId)
    const category = FIRST_CATEGORY_ID + this.rng.uniform(NUM_CATEGORIES)
    const initialBid = this.rng.price()
    const expires = time + 1 + this.rng.uniform(2 * this.horizonMs)
    const reserve = initialBid + this.rng.price()
    const itemName = this.string(20)
    const description = this.string(100)
    return {
      type: 'auction',
      id: lastBase0AuctionId(c, eventId) + FIRST_AUCTION_ID,
      itemName,
      description,
      initialBid,
      reserve,
      dateTime: time,
      expires,
      seller: seller + FIRST_PERSON_ID,
      category,
      extra: this.extra(8 * 6 + itemName.length + description.length, c.avgAuctionByteSize),
    }
  }

  private bid(eventId: number, time: number): Bid {
    const c = this.config
    const auction =
      this.rng.uniform(c.hotAuctionRatio) > 0
        ? Math.trunc(lastBase0AuctionId(c, eventId) / HOT_ID_BLOCK) * HOT_ID_BLOCK
        : this.nextAuctionId(eventId)
    const bidder =
      this.rng.uniform(c.hotBiddersRatio) > 0
        ? Math.trunc(lastBase0PersonId(c, eventId) / HOT_ID_BLOCK) * HOT_ID_BLOCK + 1
        : this.nextPersonId(eventId)
    const price = this.rng.price()
    let channel: string
    let url: string
    if (this.rng.uniform(HOT_CHANNELS_RATIO) > 0) {
      const i = this.rng.uniform(CHANNELS_NUMBER)
      channel = this.channels[i]!
      url = this.channelUrls[i]!
    } else {
      const i = this.rng.uniform(HOT_CHANNELS.length)
      channel = HOT_CHANNELS[i]!
      url = this.hotUrls[i]!
    }
    return {
      type: 'bid',
      auction: auction + FIRST_AUCTION_ID,
      bidder: bidder + FIRST_PERSON_ID,
      price,
      channel,
      url,
      dateTime: time,
      extra: this.extra(8 * 4 + channel.length + url.length, c.avgBidByteSize),
    }
  }
}

function pad4(n: number): string {
  return n < 10 ? `000${n}` : n < 100 ? `00${n}` : n < 1000 ? `0${n}` : String(n)
}

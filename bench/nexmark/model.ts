// The Nexmark auction model: event shapes (Flink DDL field names), configuration and its defaults,
// and the id arithmetic that ties bids to auctions and people. See docs/kit.md and the Nexmark papers.

/** A new person registering. Field names follow the Nexmark Flink DDL; `dateTime` is ms since epoch. */
export interface Person {
  readonly type: 'person'
  readonly id: number
  readonly name: string
  readonly emailAddress: string
  readonly creditCard: string
  readonly city: string
  readonly state: string
  readonly dateTime: number
  readonly extra: string
}

/** A new auction opening. `expires` is later than `dateTime`; `reserve ≥ initialBid`. */
export interface Auction {
  readonly type: 'auction'
  readonly id: number
  readonly itemName: string
  readonly description: string
  readonly initialBid: number
  readonly reserve: number
  readonly dateTime: number
  readonly expires: number
  readonly seller: number
  readonly category: number
  readonly extra: string
}

/** A bid on an auction by a person. `price` is in cents. */
export interface Bid {
  readonly type: 'bid'
  readonly auction: number
  readonly bidder: number
  readonly price: number
  readonly channel: string
  readonly url: string
  readonly dateTime: number
  readonly extra: string
}

/** One Nexmark event. */
export type NexmarkEvent = Person | Auction | Bid

/** Generator configuration; every field has the Nexmark default. */
export interface NexmarkConfig {
  /** Seeds every random choice; with the same seed, the same event number gives the same event. Default 0. */
  readonly seed: number
  /** Event time of event number 0, ms. Default 1436918400000 (2015-07-15T00:00:00Z, RisingWave's fixed dataset). */
  readonly baseTime: number
  /** The id of event number 0 (decides the P,A,A,A,B… pattern). Default 0. */
  readonly firstEventId: number
  /** Events per second of event time, over all generators. Default 10 000. */
  readonly firstEventRate: number
  /** Parallel generators sharing the rate. Default 1. */
  readonly numEventGenerators: number
  /** Shares of persons, auctions and bids in every block of events. Defaults 1, 3, 46. */
  readonly personProportion: number
  readonly auctionProportion: number
  readonly bidProportion: number
  /** Auctions open at a time, roughly. Default 100. */
  readonly numInFlightAuctions: number
  /** People that sell and bid at a time. Default 1000. */
  readonly numActivePeople: number
  /** 1 in this many bids goes to a random auction; the rest to the hot one. Default 2. */
  readonly hotAuctionRatio: number
  /** 1 in this many auctions has a random seller; the rest the hot one. Default 4. */
  readonly hotSellersRatio: number
  /** 1 in this many bids has a random bidder; the rest the hot one. Default 4. */
  readonly hotBiddersRatio: number
  /** Average event sizes in bytes, reached by padding `extra`. Defaults 200, 500, 100. */
  readonly avgPersonByteSize: number
  readonly avgAuctionByteSize: number
  readonly avgBidByteSize: number
  /** Events are shuffled inside groups of this size (1: in order). Default 1. */
  readonly outOfOrderGroupSize: number
}

/** The Nexmark defaults (NexmarkConfiguration / GeneratorConfig). */
export const NEXMARK_DEFAULTS: NexmarkConfig = {
  seed: 0,
  baseTime: 1436918400000,
  firstEventId: 0,
  firstEventRate: 10_000,
  numEventGenerators: 1,
  personProportion: 1,
  auctionProportion: 3,
  bidProportion: 46,
  numInFlightAuctions: 100,
  numActivePeople: 1000,
  hotAuctionRatio: 2,
  hotSellersRatio: 4,
  hotBiddersRatio: 4,
  avgPersonByteSize: 200,
  avgAuctionByteSize: 500,
  avgBidByteSize: 100,
  outOfOrderGroupSize: 1,
}

export const FIRST_PERSON_ID = 1000
export const FIRST_AUCTION_ID = 1000
export const FIRST_CATEGORY_ID = 10
export const NUM_CATEGORIES = 5
/** Random person picks may name up to this many people not created yet ("events swapped in time"). */
export const PERSON_ID_LEAD = 10
/** Random auction picks may name up to this many auctions not created yet. */
export const AUCTION_ID_LEAD = 10
/** Hot sellers, bidders and auctions are the first of every block of this many ids. */
export const HOT_ID_BLOCK = 100
export const HOT_CHANNELS_RATIO = 2
export const CHANNELS_NUMBER = 10_000
export const HOT_CHANNELS = ['Google', 'Facebook', 'Baidu', 'Apple'] as const

export const FIRST_NAMES = [
  'Peter',
  'Paul',
  'Luke',
  'John',
  'Saul',
  'Vicky',
  'Kate',
  'Julie',
  'Sarah',
  'Deiter',
  'Walter',
]
export const LAST_NAMES = [
  'Shultz',
  'Abrams',
  'Spencer',
  'White',
  'Bartels',
  'Walton',
  'Smith',
  'Jones',
  'Noris',
]
export const US_STATES = ['AZ', 'CA', 'ID', 'OR', 'WA', 'WY']
export const US_CITIES = [
  'Phoenix',
  'Los Angeles',
  'San Francisco',
  'Boise',
  'Portland',
  'Bend',
  'Redmond',
  'Seattle',
  'Kent',
  'Cheyenne',
]

/** The kind of the event with `eventId`: by `eventId mod total`, persons first, then auctions, then bids. */
export function kindOf(c: NexmarkConfig, eventId: number): 'person' | 'auction' | 'bid' {
  const rem = eventId % (c.personProportion + c.auctionProportion + c.bidProportion)
  if (rem < c.personProportion) return 'person'
  return rem < c.personProportion + c.auctionProportion ? 'auction' : 'bid'
}

/** The base-0 id of the last person created at or before `eventId`. */
export function lastBase0PersonId(c: NexmarkConfig, eventId: number): number {
  const total = c.personProportion + c.auctionProportion + c.bidProportion
  const epoch = Math.trunc(eventId / total)
  let offset = eventId % total
  if (offset >= c.personProportion) offset = c.personProportion - 1
  return epoch * c.personProportion + offset
}

/** The base-0 id of the last auction created at or before `eventId` (-1 before the first). */
export function lastBase0AuctionId(c: NexmarkConfig, eventId: number): number {
  const total = c.personProportion + c.auctionProportion + c.bidProportion
  let epoch = Math.trunc(eventId / total)
  let offset = eventId % total
  if (offset < c.personProportion) {
    epoch--
    offset = c.auctionProportion - 1
  } else if (offset >= c.personProportion + c.auctionProportion) {
    offset = c.auctionProportion - 1
  } else {
    offset -= c.personProportion
  }
  return epoch * c.auctionProportion + offset
}

/** Java's Integer.reverse: the 32 bits of `i` in reverse order, as a signed 32-bit integer. */
export function reverseBits32(i: number): number {
  let x = i | 0
  x = ((x >>> 1) & 0x55555555) | ((x & 0x55555555) << 1)
  x = ((x >>> 2) & 0x33333333) | ((x & 0x33333333) << 2)
  x = ((x >>> 4) & 0x0f0f0f0f) | ((x & 0x0f0f0f0f) << 4)
  x = ((x >>> 8) & 0x00ff00ff) | ((x & 0x00ff00ff) << 8)
  return (x >>> 16) | (x << 16) | 0
}

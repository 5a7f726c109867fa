// Nexmark q0–q8 as the Flink SQL version of the suite writes them (CREATE TABLE and INSERT INTO),
// and the catalog of the three Nexmark tables (person, auction, bid) over in-memory events.

import { readFileSync } from 'node:fs'
import type { Record } from '../../src/core/record.ts'
import type { SourceSpec, ValuesRange } from '../../src/core/source.ts'
import type { Catalog } from '../../src/query/planner.ts'
import type { Auction, Bid, NexmarkEvent, Person } from './model.ts'

/**
 * The queries by name: the scripts of test/query/nexmark/qN.sql, each a `CREATE TABLE` result
 * table and an `INSERT INTO` it, as the Flink SQL version of the suite writes them. q6 uses OVER
 * over a Top-N, which Flink's streaming mode refuses too.
 */
export const NEXMARK_QUERIES: { readonly [name: string]: string } = Object.fromEntries(
  [0, 1, 2, 3, 4, 5, 6, 7, 8].map((n) => [
    `q${n}`,
    readFileSync(new URL(`../../test/query/nexmark/q${n}.sql`, import.meta.url), 'utf8'),
  ]),
)

/** The events of one run split by table. */
export interface NexmarkTables {
  person: Person[]
  auction: Auction[]
  bid: Bid[]
}

/** Splits generated events into the three tables. */
export function splitEvents(events: readonly NexmarkEvent[]): NexmarkTables {
  const t: NexmarkTables = { person: [], auction: [], bid: [] }
  for (const e of events) {
    if (e.type === 'person') t.person.push(e)
    else if (e.type === 'auction') t.auction.push(e)
    else t.bid.push(e)
  }
  return t
}

/**
 * A bounded source handing out `rows` (one partition), each record timed by its `dateTime`; it offers
 * them as values too (`nextValues`), as readers of plain rows do, each batch a range of `rows`
 * (nothing copied), as a reader of values it holds in memory does.
 */
export function arraySource<T extends { dateTime: number }>(rows: readonly T[]): SourceSpec<T> {
  return {
    kind: 'array',
    bounded: true,
    maxPartitions: 1,
    create: () => {
      let i = 0
      return {
        nextBatch(max: number): Record<T>[] | null {
          if (i >= rows.length) return null
          const end = Math.min(rows.length, i + max)
          const out = new Array<Record<T>>(end - i)
          for (let k = 0; i < end; k++, i++) {
            const v = rows[i]!
            out[k] = { value: v, key: undefined, time: v.dateTime, tag: '' }
          }
          return out
        },
        nextValues(max: number): ValuesRange<T> | null {
          if (i >= rows.length) return null
          const from = i
          i = Math.min(rows.length, i + max)
          return { values: rows, from, to: i }
        },
        snapshot: () => i,
        restore: (p: unknown) => {
          i = p as number
        },
      }
    },
  }
}

/** The Nexmark tables as a catalog: typed columns, `dateTime` the time attribute of each. */
export function nexmarkCatalog(
  sources: { readonly person: SourceSpec; readonly auction: SourceSpec; readonly bid: SourceSpec },
  watermarkDelayMs = 0,
): Catalog {
  const eventTime = { column: 'dateTime', watermarkDelayMs }
  return {
    person: {
      source: sources.person,
      eventTime,
      schema: {
        id: 'BIGINT',
        name: 'STRING',
        emailAddress: 'STRING',
        creditCard: 'STRING',
        city: 'STRING',
        state: 'STRING',
        dateTime: 'TIMESTAMP(3)',
        extra: 'STRING',
      },
    },
    auction: {
      source: sources.auction,
      eventTime,
      schema: {
        id: 'BIGINT',
        itemName: 'STRING',
        description: 'STRING',
        initialBid: 'BIGINT',
        reserve: 'BIGINT',
        dateTime: 'TIMESTAMP(3)',
        expires: 'TIMESTAMP(3)',
        seller: 'BIGINT',
        category: 'BIGINT',
        extra: 'STRING',
      },
    },
    bid: {
      source: sources.bid,
      eventTime,
      schema: {
        auction: 'BIGINT',
        bidder: 'BIGINT',
        price: 'BIGINT',
        channel: 'STRING',
        url: 'STRING',
        dateTime: 'TIMESTAMP(3)',
        extra: 'STRING',
      },
    },
  }
}

// Nexmark q0–q8 as the Flink SQL version of the suite writes them (the SELECT of each INSERT),
// and the catalog of the three Nexmark tables (person, auction, bid) over in-memory events.

import type { Record } from '../../src/core/record.ts'
import type { SourceSpec } from '../../src/core/source.ts'
import type { Catalog } from '../../src/query/planner.ts'
import type { Auction, Bid, NexmarkEvent, Person } from './model.ts'

/** The queries by name. q6 uses OVER over a Top-N, which Flink's streaming mode refuses too. */
export const NEXMARK_QUERIES: { readonly [name: string]: string } = {
  q0: 'SELECT auction, bidder, price, dateTime, extra FROM bid',
  q1: 'SELECT auction, bidder, 0.908 * price AS price, dateTime, extra FROM bid',
  q2: 'SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0',
  q3: `SELECT P.name, P.city, P.state, A.id
    FROM auction AS A INNER JOIN person AS P ON A.seller = P.id
    WHERE A.category = 10 AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA')`,
  q4: `SELECT Q.category, AVG(Q.final) AS avg_final
    FROM (
      SELECT MAX(B.price) AS final, A.category
      FROM auction A, bid B
      WHERE A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND A.expires
      GROUP BY A.id, A.category
    ) Q
    GROUP BY Q.category`,
  q5: `SELECT AuctionBids.auction, AuctionBids.num
    FROM (
      SELECT auction, count(*) AS num, window_start AS starttime, window_end AS endtime
      FROM TABLE(HOP(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
      GROUP BY auction, window_start, window_end
    ) AS AuctionBids
    JOIN (
      SELECT max(CountBids.num) AS maxn, CountBids.starttime, CountBids.endtime
      FROM (
        SELECT count(*) AS num, window_start AS starttime, window_end AS endtime
        FROM TABLE(HOP(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
        GROUP BY auction, window_start, window_end
      ) AS CountBids
      GROUP BY CountBids.starttime, CountBids.endtime
    ) AS MaxBids
    ON AuctionBids.starttime = MaxBids.starttime AND AuctionBids.endtime = MaxBids.endtime
      AND AuctionBids.num >= MaxBids.maxn`,
  q6: `SELECT Q.seller, AVG(Q.price) OVER (PARTITION BY Q.seller ORDER BY Q.dateTime ROWS BETWEEN 10 PRECEDING AND CURRENT ROW) AS avg_price
    FROM (
      SELECT *, ROW_NUMBER() OVER (PARTITION BY id, seller ORDER BY price DESC) AS rownum
      FROM (SELECT A.id, A.seller, B.price, B.dateTime FROM auction AS A, bid AS B
            WHERE A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND A.expires)
    ) AS Q WHERE rownum <= 1`,
  q7: `SELECT B.auction, B.bidder, B.price, B.dateTime, B.extra
    FROM bid B
    JOIN (
      SELECT MAX(price) AS maxprice, window_end AS dateTime
      FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '10' SECOND))
      GROUP BY window_start, window_end
    ) B1
    ON B.price = B1.maxprice
    WHERE B.dateTime BETWEEN B1.dateTime - INTERVAL '10' SECOND AND B1.dateTime`,
  q8: `SELECT P.id, P.name, P.starttime
    FROM (
      SELECT id, name, window_start AS starttime, window_end AS endtime
      FROM TABLE(TUMBLE(TABLE person, DESCRIPTOR(dateTime), INTERVAL '10' SECOND))
      GROUP BY id, name, window_start, window_end
    ) P
    JOIN (
      SELECT seller, window_start AS starttime, window_end AS endtime
      FROM TABLE(TUMBLE(TABLE auction, DESCRIPTOR(dateTime), INTERVAL '10' SECOND))
      GROUP BY seller, window_start, window_end
    ) A
    ON P.id = A.seller AND P.starttime = A.starttime AND P.endtime = A.endtime`,
}

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

/** A bounded source handing out `rows` (one partition), each record timed by its `dateTime`. */
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

// Continuous SQL on a served job, over real HTTP with the SQL planner: windows over a source's event
// time (also across worker threads), and the state endpoint of results with and without a unique key.

import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { memoryLogger } from '../../src/core/logger.ts'
import type { Record } from '../../src/core/record.ts'
import type { SourceSpec } from '../../src/core/source.ts'
import { Topology } from '../../src/core/topology.ts'
import { discard } from '../../src/plugins/outputs/collect.ts'
import { type ServedJob, serveTopology } from '../../src/server/job-server.ts'
import { apiHeaders, api as callApi, until } from './api-support.ts'

const BIN = join(import.meta.dirname, '../../bin/squall.js')
const CLICKS = join(import.meta.dirname, '../fixtures/clicks.ts')
/** The clicks fixture's first event time; clicks are 10 ms apart, so 100 fall in each second. */
const BASE = Date.UTC(2026, 0, 1)
const TOKEN = 'tok'
const HEADERS = apiHeaders(TOKEN)

let children: ChildProcess[] = []
let served: ServedJob[] = []
afterEach(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
  for (const s of served) {
    await s.close()
    await s.job.stop()
  }
  children = []
  served = []
})

function api(url: string, method: string, path: string, body?: unknown) {
  return callApi(url, HEADERS, method, path, body)
}

/** The changes of a query's SSE stream, read until `enough(changes)`. */
async function results<T>(
  url: string,
  query: string,
  enough: (changes: readonly { op: string; row: T }[]) => boolean,
): Promise<{ op: string; row: T }[]> {
  const res = await fetch(new URL(`/api/queries/${query}/results`, url), { headers: HEADERS })
  const reader = res.body!.getReader()
  const out: { op: string; row: T }[] = []
  let text = ''
  // Ends the read after 15 s, so a query that never gives enough fails on what it gave.
  const timer = setTimeout(() => void reader.cancel(), 15_000)
  try {
    while (!enough(out)) {
      const { value, done } = await reader.read()
      if (done) break
      text += new TextDecoder().decode(value)
      const events = text.split('\n\n')
      text = events.pop()!
      for (const e of events) {
        const data = /^data: (.*)$/m.exec(e)?.[1]
        if (e.includes('event: result') && data) out.push(JSON.parse(data) as { op: string; row: T })
      }
    }
  } finally {
    clearTimeout(timer)
    await reader.cancel()
  }
  return out
}

/** Starts `squall run <clicks fixture> --http 0` with `args`; resolves with the server's URL. */
async function runClicks(args: string[]): Promise<{ url: string; stop(): Promise<number | null> }> {
  const child = spawn(process.execPath, [BIN, 'run', CLICKS, '--http', '0', '--token', TOKEN, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  children.push(child)
  let stderr = ''
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()))
  const listening = /http API of job "clicks" on (http:\S+)/
  await until(() => listening.test(stderr), `the server to listen (stderr: ${stderr})`, 30_000)
  const url = listening.exec(stderr)![1]!
  // The planner types a table from its first records: wait until the job has published some.
  await until(async () => {
    const text = await (await fetch(new URL('/metrics', url), { headers: HEADERS })).text()
    return Number(/squall_table_published_total\{table="clicks"\} (\d+)/.exec(text)?.[1] ?? 0) >= 20
  }, 'the first clicks')
  return {
    url,
    async stop() {
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
      child.kill('SIGTERM')
      return exited
    },
  }
}

const ms = (text: string) => Date.parse(`${text.replace(' ', 'T')}Z`)

const TUMBLE = `SELECT window_start, window_end, COUNT(*) AS n
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(time), INTERVAL '1' SECOND))
GROUP BY window_start, window_end`

/** Registers a one-second TUMBLE count and a projection of `time` on a served clicks job, and checks both. */
async function windowsOverHttp(threads: string[]): Promise<void> {
  const job = await runClicks(threads)
  const created = await api(job.url, 'POST', '/api/queries', { name: 'per_second', sql: TUMBLE })
  expect(created.body).toMatchObject({ updating: false, columns: ['window_start', 'window_end', 'n'] })
  expect(created.status).toBe(201)
  const times = await api(job.url, 'POST', '/api/queries', {
    name: 'times',
    sql: "SELECT seq, `time` FROM clicks WHERE page = 'p3'",
  })
  expect(times.status).toBe(201)

  // A window is complete when the query saw all of it: the job's threads may each be ahead of the
  // other, so the windows before the query started reading both can be partial.
  const windows = (
    await results<{ window_start: string; window_end: string; n: number }>(
      job.url,
      'per_second',
      (changes) => changes.filter((c) => c.row.n === 100).length >= 4,
    )
  ).map((c) => {
    expect(c.op).toBe('+I')
    return { start: ms(c.row.window_start), end: ms(c.row.window_end), n: c.row.n }
  })
  for (const [i, w] of windows.entries()) {
    expect(w.end - w.start).toBe(1000)
    expect((w.start - BASE) % 1000).toBe(0)
    if (i > 0) expect(w.start).toBe(windows[i - 1]!.end)
  }
  // Partial windows first, then every window holds all its 100 clicks: none is lost as late.
  const full = windows.findIndex((w) => w.n === 100)
  expect(windows.slice(0, full).filter((w) => !(w.n > 0 && w.n < 100))).toEqual([])
  // The stream is read in chunks: the last one may hold more than the fourth full window.
  const complete = windows.slice(full).map((w) => w.n)
  expect(complete.length).toBeGreaterThanOrEqual(4)
  if (complete.some((n) => n !== 100)) {
    // Where the missing clicks went (late, or never read) is in the query's node metrics.
    const listed = await api(job.url, 'GET', '/api/queries')
    expect(complete, JSON.stringify(listed.body)).toEqual(complete.map(() => 100))
  }

  const rows = await results<{ seq: number; time: string }>(job.url, 'times', (c) => c.length >= 40)
  expect(rows.length).toBeGreaterThanOrEqual(40)
  for (const { row } of rows) {
    expect(row.seq % 5).toBe(3)
    expect(ms(row.time)).toBe(BASE + row.seq * 10)
  }
  expect(await job.stop()).toBe(0)
}

describe('windows over a served job’s event time', () => {
  it('`squall run --http`: a TUMBLE query over the source’s `time` column emits each second with its 100 clicks', async () => {
    await windowsOverHttp([])
  }, 40_000)

  it('`squall run --threads 2 --http`: the event time and the watermark of both threads reach the query', async () => {
    await windowsOverHttp(['--threads', '2'])
  }, 40_000)
})

interface Bid {
  auction: number
  bidder: string
  price: number
}

/** A bounded source of `rows` that hands them out only once `gate.open` (after the queries are registered). */
function gated<T>(rows: readonly T[], gate: { open: boolean }): SourceSpec<T> {
  return {
    kind: 'gated',
    bounded: true,
    maxPartitions: 1,
    create() {
      let sent = false
      return {
        nextBatch(): Record<T>[] | null {
          if (!gate.open) return []
          if (sent) return null
          sent = true
          return rows.map((value, i) => ({ value, key: undefined, time: 1000 + i, tag: '' }))
        },
      }
    },
  }
}

const BIDS: Bid[] = [
  { auction: 1, bidder: 'ann', price: 10 },
  { auction: 2, bidder: 'bob', price: 5 },
  { auction: 1, bidder: 'cid', price: 30 },
  { auction: 3, bidder: 'dee', price: 7 },
  { auction: 1, bidder: 'eve', price: 20 },
  { auction: 2, bidder: 'fay', price: 15 },
  { auction: 3, bidder: 'gus', price: 9 },
  { auction: 2, bidder: 'hal', price: 25 },
  { auction: 3, bidder: 'ivy', price: 8 },
  { auction: 1, bidder: 'ann', price: 10 },
]
const AUCTIONS = [
  { id: 1, seller: 'sam' },
  { id: 2, seller: 'sue' },
]

/** Serves a job whose tables `bids` and `auctions` (declared schemas) start once `gate.open`. */
async function serveBids(gate: { open: boolean }): Promise<ServedJob> {
  const t = new Topology('auctions')
  t.source('bids', gated(BIDS, gate)).sink(discard(), { name: 'bids-out' })
  t.source('auctions', gated(AUCTIONS, gate)).sink(discard(), { name: 'auctions-out' })
  const s = await serveTopology(
    t,
    { log: memoryLogger() },
    {
      port: 0,
      token: TOKEN,
      log: memoryLogger(),
      tables: {
        bids: { schema: { auction: 'BIGINT', bidder: 'STRING', price: 'BIGINT' } },
        auctions: { schema: { id: 'BIGINT', seller: 'STRING' } },
      },
    },
  )
  served.push(s)
  return s
}

const byText = (a: unknown, b: unknown) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)

describe('the state endpoint', () => {
  it('a continuous Top-N is keyed by its partition and rank: the state holds N rows per partition', async () => {
    const gate = { open: false }
    const s = await serveBids(gate)
    const url = s.server.url
    const created = await api(url, 'POST', '/api/queries', {
      name: 'top2',
      sql: `SELECT auction, bidder, price, rn FROM (
              SELECT auction, bidder, price, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rn
              FROM bids)
            WHERE rn <= 2`,
    })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({ updating: true, key: ['auction', 'rn'] })
    gate.open = true
    await until(() => s.manager.get('top2').status === 'finished', 'the query to read every bid')

    // The two highest bids of each auction, ranked.
    const expected = [1, 2, 3].flatMap((auction) =>
      BIDS.filter((b) => b.auction === auction)
        .sort((a, b) => b.price - a.price)
        .slice(0, 2)
        .map((b, i) => ({ ...b, rn: i + 1 })),
    )
    const state = await api(url, 'GET', '/api/queries/top2/state')
    expect(state.body).toMatchObject({ key: ['auction', 'rn'], total: 6 })
    expect((state.body.rows as unknown[]).sort(byText)).toEqual(expected.sort(byText))
    const one = await api(url, 'GET', '/api/queries/top2/state?key=2&key=1')
    expect(one.body.rows).toEqual([{ auction: 2, bidder: 'hal', price: 25, rn: 1 }])
    const auction = await api(url, 'GET', '/api/queries/top2/state?key=3')
    expect(auction.body.rows).toEqual([
      { auction: 3, bidder: 'gus', price: 9, rn: 1 },
      { auction: 3, bidder: 'ivy', price: 8, rn: 2 },
    ])
  })

  it('a left join has no unique key: the state is the multiset of its current rows, equal rows included', async () => {
    const gate = { open: false }
    const s = await serveBids(gate)
    const url = s.server.url
    const created = await api(url, 'POST', '/api/queries', {
      name: 'sellers',
      sql: 'SELECT b.auction, b.bidder, b.price, a.seller FROM bids b LEFT JOIN auctions a ON b.auction = a.id',
    })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({ updating: true, key: [] })
    gate.open = true
    await until(() => s.manager.get('sellers').status === 'finished', 'the query to read both tables')

    const sellers = new Map(AUCTIONS.map((a) => [a.id, a.seller]))
    const expected = BIDS.map((b) => ({ ...b, seller: sellers.get(b.auction) ?? null }))
    const state = await api(url, 'GET', '/api/queries/sellers/state?limit=100')
    expect(state.body).toMatchObject({ key: [], total: BIDS.length })
    const rows = state.body.rows as unknown[]
    expect([...rows].sort(byText)).toEqual(expected.sort(byText))
    const paged = await api(url, 'GET', '/api/queries/sellers/state?limit=4&offset=8')
    expect(paged.body.rows).toEqual(rows.slice(8, 12))
    const byKey = await api(url, 'GET', '/api/queries/sellers/state?key=1')
    expect(byKey.status).toBe(400)
    expect(byKey.body).toMatchObject({ error: { code: 'ERR_HTTP_REQUEST' } })
  })
})

import { request } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { memoryLogger } from '../../src/core/logger.ts'
import { Topology } from '../../src/core/topology.ts'
import { WatermarkStrategy } from '../../src/core/watermark.ts'
import { generator } from '../../src/plugins/inputs/generator.ts'
import { discard } from '../../src/plugins/outputs/collect.ts'
import { StreamBus, withTaps } from '../../src/query/bus.ts'
import { QueryManager, type QueryPlanner } from '../../src/query/manager.ts'
import { runEmbedded } from '../../src/runtime/embedded/runner.ts'
import type { Job } from '../../src/runtime/job.ts'
import { type IngestHandler, type SquallServer, startServer } from '../../src/server/server.ts'
import { planQuery } from '../../src/query/planner.ts'
import { toyPlanner } from './toy-planner.ts'

const TOKEN = 's3cret'
const BASE = Date.UTC(2026, 0, 1)
const HITS = 'SELECT page, COUNT(*) AS hits FROM clicks GROUP BY page'

interface Reply {
  status: number
  headers: { [h: string]: string | string[] | undefined }
  body: string
}

/** One HTTP call over a real socket; JSON bodies are sent as JSON. */
function call(
  url: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: object } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const body =
      options.body === undefined
        ? undefined
        : typeof options.body === 'string'
          ? options.body
          : JSON.stringify(options.body)
    const req = request(new URL(path, url), {
      method,
      headers: {
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...options.headers,
      },
    })
    req.on('response', (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (text += c))
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

const json = (r: Reply) => JSON.parse(r.body)

interface SseEvent {
  id?: string
  event: string
  data: string
}

/** Reads a text/event-stream with http.get until `enough(events)` or the stream ends. */
function readSse(
  url: string,
  path: string,
  enough: (events: SseEvent[], comments: string[]) => boolean,
  headers: object = {},
): Promise<{ events: SseEvent[]; type: string; comments: string[] }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), {
      headers: { authorization: `Bearer ${TOKEN}`, accept: 'text/event-stream', ...headers },
    })
    const events: SseEvent[] = []
    const comments: string[] = []
    let type = ''
    let buf = ''
    const done = () => {
      req.destroy()
      resolve({ events, type, comments })
    }
    const timer = setTimeout(() => reject(new Error(`SSE: timed out with ${events.length} events`)), 8000)
    req.on('response', (res) => {
      type = String(res.headers['content-type'])
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        buf += chunk
        for (let cut = buf.indexOf('\n\n'); cut >= 0; cut = buf.indexOf('\n\n')) {
          const block = buf.slice(0, cut)
          buf = buf.slice(cut + 2)
          const e: SseEvent = { event: 'message', data: '' }
          let has = false
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim())
            else if (line.startsWith('event: ')) e.event = line.slice(7)
            else if (line.startsWith('data: ')) e.data = line.slice(6)
            else if (line.startsWith('id: ')) e.id = line.slice(4)
            has ||= line.startsWith('event: ') || line.startsWith('data: ')
          }
          if (has) events.push(e)
        }
        if (enough(events, comments)) {
          clearTimeout(timer)
          done()
        }
      })
      res.on('end', () => {
        clearTimeout(timer)
        resolve({ events, type, comments })
      })
    })
    req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)))
    req.end()
  })
}

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 8000): Promise<void> {
  const end = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

interface Running {
  job: Job
  manager: QueryManager
  server: SquallServer
  url: string
}

let running: Running[] = []
let dirs: string[] = []

afterEach(async () => {
  for (const r of running) {
    await r.server.close()
    await r.manager.close()
    await r.job.stop()
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
  running = []
  dirs = []
})

/** A job with one unbounded source "clicks" (pages p0..p4, event time 10 ms apart), served over HTTP. */
async function serve(
  options: { stateDir?: string; token?: string | null; planner?: QueryPlanner; ingest?: IngestHandler } = {},
): Promise<Running> {
  const bus = new StreamBus()
  const t = new Topology('web')
  t.source(
    'clicks',
    generator({ rate: 5000, make: (seq) => ({ page: `p${seq % 5}`, seq }), time: (seq) => BASE + seq * 10 }),
    {
      watermarks: WatermarkStrategy.forBoundedOutOfOrderness(0),
    },
  ).sink(discard())
  const log = memoryLogger()
  const job = runEmbedded(withTaps(t, bus), { log })
  const manager = await QueryManager.open({
    bus,
    planner: options.planner ?? toyPlanner,
    log,
    ...(options.stateDir ? { stateDir: options.stateDir } : {}),
  })
  const server = await startServer({
    port: 0,
    manager,
    job,
    log,
    heartbeatMs: 50,
    ...(options.token === null ? {} : { token: options.token ?? TOKEN }),
    ...(options.ingest ? { ingest: options.ingest } : {}),
  })
  const r = { job, manager, server, url: server.url }
  running.push(r)
  return r
}

describe('HTTP API', () => {
  it('a query registered on a running job streams its result changes as server-sent events', async () => {
    const { url } = await serve()
    const created = await call(url, 'POST', '/api/queries', {
      token: TOKEN,
      body: { name: 'hits', sql: HITS },
    })
    expect(created.status).toBe(201)
    expect(created.headers.location).toBe('/api/queries/hits')
    expect(json(created)).toMatchObject({
      name: 'hits',
      status: 'running',
      updating: true,
      columns: ['page', 'hits'],
      key: ['page'],
    })
    const { events, type, comments } = await readSse(
      url,
      '/api/queries/hits/results',
      (ev) => ev.filter((e) => e.event === 'result').length >= 30,
    )
    expect(type).toBe('text/event-stream; charset=utf-8')
    expect(comments).toContain('query hits')
    const changes = events
      .filter((e) => e.event === 'result')
      .map((e) => JSON.parse(e.data) as { op: string; row: { page: string; hits: number } })
    expect(changes.filter((c) => c.op === '+I').map((c) => c.row)).toEqual(
      changes.filter((c) => c.op === '+I').map((c) => ({ page: c.row.page, hits: 1 })),
    )
    expect(changes.some((c) => c.op === '-U')).toBe(true)
    // Every update retracts the previous count of its page and adds the next one.
    for (let i = 0; i + 1 < changes.length; i++) {
      const c = changes[i]!
      if (c.op === '-U')
        expect(changes[i + 1]).toEqual({ op: '+U', row: { page: c.row.page, hits: c.row.hits + 1 } })
    }
    expect(changes.every((c) => ['+I', '-U', '+U'].includes(c.op))).toBe(true)
    const ids = events.filter((e) => e.event === 'result').map((e) => Number(e.id))
    expect(ids).toEqual(ids.map((_, i) => ids[0]! + i))
  })

  it('?from=N replays the last N buffered changes first, and a quiet stream gets heartbeats', async () => {
    const { url, manager } = await serve()
    await call(url, 'POST', '/api/queries', {
      token: TOKEN,
      body: { name: 'p3', sql: "SELECT * FROM clicks WHERE page = 'p3'" },
    })
    await until(() => manager.get('p3').results.changeCount >= 10, 'ten p3 rows')
    const { events } = await readSse(url, '/api/queries/p3/results?from=5', (ev) => ev.length >= 5)
    const first = events
      .slice(0, 5)
      .map((e) => JSON.parse(e.data) as { op: string; row: { page: string; seq: number } })
    expect(first.every((c) => c.op === '+I' && c.row.page === 'p3')).toBe(true)
    expect(first.map((c) => c.row.seq)).toEqual(first.map((_c, i) => first[0]!.row.seq + i * 5))
    await call(url, 'POST', '/api/queries', {
      token: TOKEN,
      body: { name: 'none', sql: "SELECT * FROM clicks WHERE page = 'p9'" },
    })
    const quiet = await readSse(
      url,
      '/api/queries/none/results',
      (_e, comments) => comments.filter((c) => c === 'heartbeat').length >= 2,
    )
    expect(quiet.events).toEqual([])
  })

  it('the state endpoint returns the current row of a key, and the whole table in pages', async () => {
    const { url, manager } = await serve()
    await call(url, 'POST', '/api/queries', { token: TOKEN, body: { name: 'hits', sql: HITS } })
    await until(() => manager.get('hits').results.rowCount === 5, 'five pages')
    const one = json(await call(url, 'GET', '/api/queries/hits/state?key=p2', { token: TOKEN }))
    expect(one).toMatchObject({
      query: 'hits',
      key: ['page'],
      rows: [{ page: 'p2', hits: expect.any(Number) }],
    })
    expect(one.rows[0].hits).toBeGreaterThan(0)
    expect(json(await call(url, 'GET', '/api/queries/hits/state?key=nope', { token: TOKEN })).rows).toEqual(
      [],
    )
    const page = json(await call(url, 'GET', '/api/queries/hits/state?limit=2&offset=1', { token: TOKEN }))
    expect(page).toMatchObject({ total: 5, offset: 1, limit: 2 })
    expect(page.rows).toHaveLength(2)
    const all = json(await call(url, 'GET', '/api/queries/hits/state', { token: TOKEN }))
    expect(all.rows.map((r: { page: string }) => r.page).sort()).toEqual(['p0', 'p1', 'p2', 'p3', 'p4'])
    const bad = await call(url, 'GET', '/api/queries/hits/state?limit=-1', { token: TOKEN })
    expect(bad.status).toBe(400)
    expect(json(bad).error.message).toContain('?limit: expected a non-negative integer, got "-1"')
  })

  it('a dropped query is gone (404) and its open result streams end', async () => {
    const { url } = await serve()
    await call(url, 'POST', '/api/queries', { token: TOKEN, body: { name: 'hits', sql: HITS } })
    const stream = readSse(url, '/api/queries/hits/results', () => false)
    await new Promise((r) => setTimeout(r, 100))
    expect((await call(url, 'DELETE', '/api/queries/hits', { token: TOKEN })).status).toBe(204)
    const { events } = await stream
    expect(events.at(-1)).toEqual({
      event: 'end',
      data: JSON.stringify({ reason: 'query "hits" was dropped' }),
    })
    const gone = await call(url, 'GET', '/api/queries/hits/state', { token: TOKEN })
    expect(gone.status).toBe(404)
    expect(json(gone).error.code).toBe('ERR_QUERY_NOT_FOUND')
    expect((await call(url, 'DELETE', '/api/queries/hits', { token: TOKEN })).status).toBe(404)
    expect(json(await call(url, 'GET', '/api/queries', { token: TOKEN })).queries).toEqual([])
  })

  it('bad SQL is a 400 with line, column and caret; a duplicate name is a 409', async () => {
    const { url } = await serve()
    const bad = await call(url, 'POST', '/api/queries', {
      token: TOKEN,
      body: { name: 'bad', sql: 'SELECT page\nFROM nowhere' },
    })
    expect(bad.status).toBe(400)
    expect(json(bad).error.code).toBe('ERR_SQL_SYNTAX')
    expect(json(bad).error.message).toContain(
      'line 2, column 6: unknown table "nowhere"; tables: clicks\n  FROM nowhere\n       ^',
    )
    expect(
      (await call(url, 'POST', '/api/queries', { token: TOKEN, body: { name: 'hits', sql: HITS } })).status,
    ).toBe(201)
    const dup = await call(url, 'POST', '/api/queries', { token: TOKEN, body: { name: 'hits', sql: HITS } })
    expect(dup.status).toBe(409)
    expect(json(dup).error).toEqual({
      code: 'ERR_QUERY_EXISTS',
      message: 'query "hits" is already registered; drop it first or choose another name',
    })
    const notJson = await call(url, 'POST', '/api/queries', { token: TOKEN, body: '{name' })
    expect(notJson.status).toBe(400)
    expect(json(notJson).error.code).toBe('ERR_HTTP_REQUEST')
    expect((await call(url, 'PUT', '/api/queries', { token: TOKEN })).status).toBe(405)
    expect((await call(url, 'GET', '/api/nothing', { token: TOKEN })).status).toBe(404)
  })

  it('with a token, calls without it or with a wrong one get 401; health and the dashboard stay open', async () => {
    const { url } = await serve()
    const none = await call(url, 'GET', '/api/queries')
    expect(none.status).toBe(401)
    expect(none.headers['www-authenticate']).toBe('Bearer realm="squall"')
    expect(json(none).error.code).toBe('ERR_UNAUTHORIZED')
    expect((await call(url, 'GET', '/api/queries', { token: 'wrong' })).status).toBe(401)
    expect((await call(url, 'GET', '/metrics')).status).toBe(401)
    expect((await call(url, 'POST', '/api/queries', { body: { name: 'x', sql: HITS } })).status).toBe(401)
    expect((await call(url, 'GET', '/api/queries', { token: TOKEN })).status).toBe(200)
    const health = await call(url, 'GET', '/health')
    expect(health.status).toBe(200)
    expect(json(health)).toMatchObject({
      status: 'running',
      job: 'web',
      queries: { total: 0, running: 0, failed: 0 },
    })
    const page = await call(url, 'GET', '/')
    expect(page.status).toBe(200)
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(page.body).toContain('/api/queries')
  })

  it('a malformed path is a 400, a wrong method a 405 with Allow, and another auth scheme is named', async () => {
    const { url } = await serve()
    const malformed = await call(url, 'GET', '/api/queries/%E0%A4%A/state', { token: TOKEN })
    expect(malformed.status).toBe(400)
    expect(json(malformed).error).toEqual({
      code: 'ERR_HTTP_REQUEST',
      message: '/api/queries/%E0%A4%A/state: malformed percent-encoding in "%E0%A4%A"',
    })
    const patch = await call(url, 'PATCH', '/api/queries', { token: TOKEN })
    expect(patch.status).toBe(405)
    expect(patch.headers.allow).toBe('GET, POST')
    expect((await call(url, 'POST', '/api/queries/x/state', { token: TOKEN })).headers.allow).toBe('GET')
    const basic = await call(url, 'GET', '/api/queries', { headers: { authorization: `Basic ${TOKEN}` } })
    expect(basic.status).toBe(401)
    expect(json(basic).error.message).toBe(
      'expected the header "Authorization: Bearer <token>", got an Authorization of scheme "Basic"',
    )
  })

  it('a port in use is refused with ERR_ARGUMENT naming the address, not a bare EADDRINUSE', async () => {
    const { server } = await serve()
    await expect(startServer({ port: server.port })).rejects.toMatchObject({
      code: 'ERR_ARGUMENT',
      message: `HTTP API: cannot listen on 127.0.0.1:${server.port}: the port is in use by another process; stop it or choose another port (0 picks a free one)`,
    })
  })

  it('without a token the server refuses to bind anything but loopback', async () => {
    await expect(startServer({ host: '0.0.0.0' })).rejects.toMatchObject({
      code: 'ERR_ARGUMENT',
      message: expect.stringContaining('unless a token is set'),
    })
    const { url } = await serve({ token: null })
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect((await call(url, 'GET', '/api/queries')).status).toBe(200)
  })

  it('a failing query ends as failed without disturbing another query or the job', async () => {
    const { url, job } = await serve()
    await call(url, 'POST', '/api/queries', { token: TOKEN, body: { name: 'hits', sql: HITS } })
    await call(url, 'POST', '/api/queries', {
      token: TOKEN,
      body: { name: 'boom', sql: 'SELECT FAIL_AFTER(10) FROM clicks' },
    })
    const status = async () =>
      json(await call(url, 'GET', '/api/queries', { token: TOKEN })).queries as {
        name: string
        status: string
        error?: string
        metrics: { in: number }
      }[]
    await until(
      async () => (await status()).find((q) => q.name === 'boom')!.status === 'failed',
      'boom to fail',
    )
    const before = (await status()).find((q) => q.name === 'hits')!
    await until(
      async () => (await status()).find((q) => q.name === 'hits')!.metrics.in > before.metrics.in + 100,
      'hits to go on',
    )
    const after = await status()
    expect(after.find((q) => q.name === 'boom')!.error).toContain('FAIL_AFTER(10) reached')
    expect(after.find((q) => q.name === 'hits')!.status).toBe('running')
    expect(job.status()).toBe('running')
    const health = json(await call(url, 'GET', '/health'))
    expect(health.queries).toEqual({ total: 2, running: 1, failed: 1 })
  })

  it('a windowed query fires while the job runs, as the job watermark passes each window', async () => {
    const { url, job } = await serve()
    await call(url, 'POST', '/api/queries', {
      token: TOKEN,
      body: { name: 'w', sql: 'SELECT page, COUNT(*) AS n FROM clicks GROUP BY page, TUMBLE(100ms)' },
    })
    const { events } = await readSse(
      url,
      '/api/queries/w/results',
      (ev) => ev.filter((e) => e.event === 'result').length >= 15,
    )
    expect(job.status()).toBe('running')
    const rows = events
      .filter((e) => e.event === 'result')
      .map((e) => JSON.parse(e.data).row as { page: string; n: number; window_end: number })
    // 10 records per 100 ms window, 2 of each page; the first window may be partly before the query started.
    const complete = rows.filter((r) => r.window_end > rows[0]!.window_end)
    expect(complete.length).toBeGreaterThan(5)
    expect(complete.every((r) => r.n === 2 && (r.window_end - BASE) % 100 === 0)).toBe(true)
  })

  it('registered queries come back when the job restarts with the same state directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'squall-server-'))
    dirs.push(dir)
    const first = await serve({ stateDir: dir })
    await call(first.url, 'POST', '/api/queries', { token: TOKEN, body: { name: 'hits', sql: HITS } })
    await call(first.url, 'POST', '/api/queries', {
      token: TOKEN,
      body: { name: 'p1', sql: "SELECT * FROM clicks WHERE page = 'p1'" },
    })
    await first.server.close()
    await first.manager.close()
    await first.job.stop()
    running = []
    const second = await serve({ stateDir: dir })
    expect(second.url).not.toBe('')
    const list = json(await call(second.url, 'GET', '/api/queries', { token: TOKEN })).queries
    expect(list.map((q: { name: string; status: string }) => [q.name, q.status])).toEqual([
      ['hits', 'running'],
      ['p1', 'running'],
    ])
    await until(() => second.manager.get('hits').results.rowCount === 5, 'the restored query to count')
  })

  it('real SQL: a GROUP BY query planned by the SQL planner streams a changelog and serves its table by key', async () => {
    const { url, manager } = await serve({ planner: (sql, catalog) => planQuery(sql, catalog) })
    await until(
      () => manager.bus.info('clicks')!.published > 0,
      'the first clicks (the schema is inferred from them)',
    )
    const created = await call(url, 'POST', '/api/queries', {
      token: TOKEN,
      body: { name: 'hits', sql: HITS },
    })
    expect(created.status).toBe(201)
    expect(json(created)).toMatchObject({ updating: true, columns: ['page', 'hits'], key: ['page'] })
    const { events } = await readSse(
      url,
      '/api/queries/hits/results',
      (ev) => ev.filter((e) => e.event === 'result').length >= 20,
    )
    const changes = events.map(
      (e) => JSON.parse(e.data) as { op: string; row: { page: string; hits: number } },
    )
    expect(changes.some((c) => c.op === '-U') && changes.some((c) => c.op === '+U')).toBe(true)
    for (const c of changes) expect(Object.keys(c.row).sort()).toEqual(['hits', 'page'])
    await until(() => manager.get('hits').results.rowCount === 5, 'five pages')
    const state = json(await call(url, 'GET', '/api/queries/hits/state?key=p4', { token: TOKEN }))
    expect(state.rows).toEqual([{ page: 'p4', hits: expect.any(Number) }])
    const bad = await call(url, 'POST', '/api/queries', {
      token: TOKEN,
      body: { name: 'bad', sql: 'SELECT page, COUNT(*) AS hits\nFORM clicks GROUP BY page' },
    })
    expect(bad.status).toBe(400)
    expect(json(bad).error.code).toBe('ERR_SQL_SYNTAX')
    expect(json(bad).error.message).toMatch(/^line 2, column 1: .*\n {2}FORM clicks GROUP BY page\n {2}\^/)
  })

  it('metrics are in the Prometheus text format, per node, per table and per query', async () => {
    const { url, manager } = await serve()
    await call(url, 'POST', '/api/queries', { token: TOKEN, body: { name: 'hits', sql: HITS } })
    await until(() => manager.get('hits').results.changeCount > 10, 'some changes')
    const r = await call(url, 'GET', '/metrics', { token: TOKEN })
    expect(r.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8')
    const lines = r.body.split('\n')
    const value = (prefix: string) => Number(lines.find((l) => l.startsWith(prefix))?.slice(prefix.length))
    expect(value('squall_node_total{job="web",node="clicks",counter="out"} ')).toBeGreaterThan(0)
    expect(value('squall_query_changes_total{query="hits"} ')).toBeGreaterThan(10)
    expect(value('squall_query_status{query="hits",status="running"} ')).toBe(1)
    expect(value('squall_table_subscribers{table="clicks"} ')).toBe(1)
    expect(value('process_resident_memory_bytes ')).toBeGreaterThan(1e6)
    expect(r.body).toContain('# TYPE squall_node_total counter\n')
    for (const l of lines)
      if (l !== '' && !l.startsWith('#')) expect(l).toMatch(/^[a-z_]+(\{[^}]*\})? -?[0-9.e+]+$/)
  })

  it('ingest bodies go to the ingest handler, and "busy" becomes 429 with Retry-After', async () => {
    const seen: [string, string, string][] = []
    let busy = false
    const { url } = await serve({
      ingest: async (tag, type, body) => {
        if (busy) return { status: 429, retryAfter: 2 }
        seen.push([tag, type, body.toString()])
        return { accepted: body.toString().split('\n').filter(Boolean).length }
      },
    })
    const ok = await call(url, 'POST', '/api/ingest/app.access', {
      token: TOKEN,
      body: '{"a":1}\n{"a":2}\n',
      headers: { 'content-type': 'application/x-ndjson' },
    })
    expect(ok.status).toBe(200)
    expect(json(ok)).toEqual({ accepted: 2 })
    expect(seen).toEqual([['app.access', 'application/x-ndjson', '{"a":1}\n{"a":2}\n']])
    busy = true
    const refused = await call(url, 'POST', '/api/ingest/app.access', { token: TOKEN, body: '{"a":3}' })
    expect(refused.status).toBe(429)
    expect(refused.headers['retry-after']).toBe('2')
    expect(json(refused).error.code).toBe('ERR_HTTP_BUSY')
    expect((await call(url, 'POST', '/api/ingest/app.access', { body: '{}' })).status).toBe(401)
  })
})

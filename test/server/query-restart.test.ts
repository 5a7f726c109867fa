// Registered queries are part of the job's checkpoints: a GROUP BY registered over HTTP on a served
// job with a state directory, the job stopped between checkpoints and served again on the same
// directory, gives the counts of the whole input — on one thread and on two worker threads.

import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { memoryLogger } from '../../src/core/logger.ts'
import { type ServedJob, serveModule } from '../../src/server/job-server.ts'
import { apiHeaders, api as callApi, until as waitUntil } from './api-support.ts'

const FIXTURE = join(import.meta.dirname, '../fixtures/query-restart.ts')
/** The fixture's key of row `seq` (not imported: the fixture reads its environment when loaded). */
const keyOf = (seq: number): string => `k${seq % 7}`
const TOKEN = 'tok'
const HEADERS = apiHeaders(TOKEN)
const SQL = 'SELECT k, COUNT(*) AS n FROM t GROUP BY k'
const TABLES = { t: { schema: { k: 'STRING', seq: 'BIGINT' } } }
/** Rows of the whole input: 1.5 s at the fixture's 2 × 2 000 rows/s. */
const TOTAL = 6000

// The fixture reads its limit from this file (worker threads too: they inherit the environment).
const work = mkdtempSync(join(tmpdir(), 'squall-query-restart-'))
const LIMIT = join(work, 'limit')
process.env.QUERY_RESTART_LIMIT = LIMIT

let served: ServedJob[] = []
afterEach(async () => {
  for (const s of served) await stop(s)
  served = []
})
afterAll(() => rmSync(work, { recursive: true, force: true }))

/** Stops the job at once (no final checkpoint), then its queries: what a restart finds is the last checkpoint. */
async function stop(s: ServedJob): Promise<void> {
  await s.job.stop()
  await s.close()
  served = served.filter((x) => x !== s)
}

function api(url: string, method: string, path: string, body?: unknown) {
  return callApi(url, HEADERS, method, path, body)
}

/** Waits for `cond` (a restarted job may take a while). */
function until(
  cond: () => boolean | Promise<boolean>,
  what: string | (() => string),
  ms = 20_000,
): Promise<void> {
  return waitUntil(cond, what, ms)
}

type Log = ReturnType<typeof memoryLogger>

/** Serves the fixture on `stateDir` (checkpoints every 100 ms), logging into `log`. */
async function serve(stateDir: string, threads: number, log: Log = memoryLogger()): Promise<ServedJob> {
  const s = await serveModule(
    FIXTURE,
    { threads, log, state: { dir: stateDir, checkpointInterval: '100ms' } },
    { port: 0, token: TOKEN, stateDir, tables: TABLES, log },
  )
  served.push(s)
  return s
}

/** The query's current counts by key, over HTTP. */
async function counts(url: string, query: string): Promise<{ [k: string]: number }> {
  const state = await api(url, 'GET', `/api/queries/${query}/state`)
  expect(state.status).toBe(200)
  const out: { [k: string]: number } = {}
  for (const row of state.body.rows as { k: string; n: number }[]) out[row.k] = row.n
  return out
}

const sum = (c: { [k: string]: number }) => Object.values(c).reduce((a, b) => a + b, 0)

/** The counts of rows seq 0 … n − 1 by key. */
function expected(n: number): { [k: string]: number } {
  const out: { [k: string]: number } = {}
  for (let seq = 0; seq < n; seq++) out[keyOf(seq)] = (out[keyOf(seq)] ?? 0) + 1
  return out
}

/** The ids of the complete checkpoints of query `name` under `stateDir`. */
function queryCheckpoints(stateDir: string, name: string): number[] {
  const dir = join(stateDir, 'queries', name, 'checkpoints')
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .filter((d) => /^chk-\d+$/.test(d) && existsSync(join(dir, d, 'MANIFEST.json')))
    .map((d) => Number(d.slice(4)))
}

describe.each([1, 2])('a registered query on %i thread(s)', (threads) => {
  it('comes back after a restart with the state of the checkpoint the job resumes from: its counts are those of the whole input', async () => {
    const stateDir = mkdtempSync(join(work, 'state-'))
    writeFileSync(LIMIT, '0')
    const first = await serve(stateDir, threads)
    const created = await api(first.server.url, 'POST', '/api/queries', { name: 'per-k', sql: SQL })
    expect(created.status).toBe(201)

    // The first run stops somewhere in the input, between checkpoints.
    writeFileSync(LIMIT, String(TOTAL))
    await until(async () => sum(await counts(first.server.url, 'per-k')) >= 1200, 'the query to count')
    await until(() => queryCheckpoints(stateDir, 'per-k').length > 0, 'a checkpoint with the query')
    const before = sum(await counts(first.server.url, 'per-k'))
    expect(before).toBeLessThan(TOTAL)
    await stop(first)
    const restoredFrom = first.job.checkpointStatus!().lastCompleted!.id
    expect(queryCheckpoints(stateDir, 'per-k')).toContain(restoredFrom)

    const log = memoryLogger()
    const second = await serve(stateDir, threads, log)
    await until(() => second.job.status() === 'running', 'the job to run again')
    expect(second.job.checkpointStatus!().restoredFrom).toBe(restoredFrom)
    expect(second.manager.list().map((q) => q.name)).toEqual(['per-k'])
    await until(
      async () => sum(await counts(second.server.url, 'per-k')) >= TOTAL,
      'the query to count it all',
    )
    // Nothing more comes: a double count would show as more than TOTAL.
    await new Promise((r) => setTimeout(r, 300))
    expect(await counts(second.server.url, 'per-k')).toEqual(expected(TOTAL))
    expect(log.entries.filter((l) => /starts with empty state/.test(l.message))).toEqual([])
  })

  it('comes back after the job drained (SIGTERM) with the state it had at the end of the run', async () => {
    const stateDir = mkdtempSync(join(work, 'state-'))
    writeFileSync(LIMIT, '0')
    const first = await serve(stateDir, threads)
    expect((await api(first.server.url, 'POST', '/api/queries', { name: 'per-k', sql: SQL })).status).toBe(
      201,
    )
    writeFileSync(LIMIT, String(TOTAL))
    await until(async () => sum(await counts(first.server.url, 'per-k')) >= 1200, 'the query to count')
    // As `squall run` does on SIGTERM: drain, wait for the job's end, then close the queries.
    first.job.drain()
    await first.job.done
    await first.close()
    served = served.filter((x) => x !== first)
    const drained = first.job.checkpointStatus!().lastCompleted!.id

    const log = memoryLogger()
    const second = await serve(stateDir, threads, log)
    await until(() => second.job.status() === 'running', 'the job to run again')
    expect(second.job.checkpointStatus!().restoredFrom).toBe(drained)
    let counted = 0
    await until(
      async () => (counted = sum(await counts(second.server.url, 'per-k'))) >= TOTAL,
      () =>
        `the query to count it all (${counted} of ${TOTAL} counted, query ${second.manager.get('per-k').status})`,
    )
    await new Promise((r) => setTimeout(r, 300))
    expect(await counts(second.server.url, 'per-k')).toEqual(expected(TOTAL))
    expect(second.manager.get('per-k').status).toBe('running')
    expect(log.entries.filter((l) => /starts with empty state/.test(l.message))).toEqual([])
  })

  it('a dropped query is gone after a restart, its state with it', async () => {
    const stateDir = mkdtempSync(join(work, 'state-'))
    writeFileSync(LIMIT, '0')
    const first = await serve(stateDir, threads)
    const url = first.server.url
    expect((await api(url, 'POST', '/api/queries', { name: 'gone', sql: SQL })).status).toBe(201)
    expect((await api(url, 'POST', '/api/queries', { name: 'kept', sql: SQL })).status).toBe(201)
    writeFileSync(LIMIT, '400')
    await until(
      () => queryCheckpoints(stateDir, 'gone').length > 0 && queryCheckpoints(stateDir, 'kept').length > 0,
      'checkpoints with both queries',
    )
    expect((await api(url, 'DELETE', '/api/queries/gone')).status).toBe(204)
    expect(existsSync(join(stateDir, 'queries', 'gone'))).toBe(false)
    await until(async () => sum(await counts(url, 'kept')) === 400, 'the kept query to count it all')
    const last = first.job.checkpointStatus!().lastCompleted!.id
    await until(() => first.job.checkpointStatus!().lastCompleted!.id > last, 'a checkpoint after that')
    await stop(first)

    const second = await serve(stateDir, threads)
    expect(second.manager.list().map((q) => q.name)).toEqual(['kept'])
    expect((await api(second.server.url, 'GET', '/api/queries/gone')).status).toBe(404)
    expect(existsSync(join(stateDir, 'queries', 'gone'))).toBe(false)
    // Registered again under the same name, it starts empty: it counts only what comes after.
    expect((await api(second.server.url, 'POST', '/api/queries', { name: 'gone', sql: SQL })).status).toBe(
      201,
    )
    expect(await counts(second.server.url, 'gone')).toEqual({})
    expect(await counts(second.server.url, 'kept')).toEqual(expected(400))
  })
})

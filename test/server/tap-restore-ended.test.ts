// A tap restored from a checkpoint taken after it had ended ends its table again, as a tap that
// ends does: a registered query that read the whole table before the restart sees its input end
// after it and finishes again with the same result — on one thread and on two worker threads.

import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { memoryLogger } from '../../src/core/logger.ts'
import { latestCheckpoint } from '../../src/runtime/checkpoint-storage.ts'
import { type ServedJob, serveModule } from '../../src/server/job-server.ts'
import { apiHeaders, api as callApi, until } from './api-support.ts'

const FIXTURE = join(import.meta.dirname, '../fixtures/tap-ended.ts')
/** The fixture's row count (not imported: the fixture reads its environment when loaded). */
const ITEMS = 700
const TOKEN = 'tok'
const SQL = 'SELECT k, COUNT(*) AS n FROM items GROUP BY k'
const TABLES = { items: { schema: { k: 'STRING', seq: 'BIGINT' } } }

// The fixture holds `items` back until this file exists (worker threads inherit the environment).
const work = mkdtempSync(join(tmpdir(), 'squall-tap-ended-'))
const GO = join(work, 'go')
process.env.TAP_ENDED_GO = GO

let served: ServedJob[] = []
afterEach(async () => {
  for (const s of served) await stop(s)
  served = []
  rmSync(GO, { force: true })
})
afterAll(() => rmSync(work, { recursive: true, force: true }))

/** Stops the job at once (no final checkpoint), then its queries. */
async function stop(s: ServedJob): Promise<void> {
  await s.job.stop()
  await s.close()
  served = served.filter((x) => x !== s)
}

async function serve(stateDir: string, threads: number): Promise<ServedJob> {
  const log = memoryLogger()
  const s = await serveModule(
    FIXTURE,
    { threads, log, state: { dir: stateDir, checkpointInterval: '100ms' } },
    { port: 0, token: TOKEN, stateDir, tables: TABLES, log },
  )
  served.push(s)
  return s
}

async function counts(url: string): Promise<{ [k: string]: number }> {
  const state = await callApi(url, apiHeaders(TOKEN), 'GET', '/api/queries/per-k/state')
  expect(state.status).toBe(200)
  const out: { [k: string]: number } = {}
  for (const row of state.body.rows as { k: string; n: number }[]) out[row.k] = row.n
  return out
}

function expected(): { [k: string]: number } {
  const out: { [k: string]: number } = {}
  for (let seq = 0; seq < ITEMS; seq++) out[`k${seq % 7}`] = (out[`k${seq % 7}`] ?? 0) + 1
  return out
}

const lastCompleted = (s: ServedJob) => s.job.checkpointStatus!().lastCompleted?.id ?? 0

describe.each([1, 2])('a tap restored as ended on %i thread(s)', (threads) => {
  it('ends its table at once, so a query that read it all finishes again after the restart', async () => {
    const stateDir = mkdtempSync(join(work, 'state-'))
    const first = await serve(stateDir, threads)
    const created = await callApi(first.server.url, apiHeaders(TOKEN), 'POST', '/api/queries', {
      name: 'per-k',
      sql: SQL,
    })
    expect(created.status).toBe(201)
    writeFileSync(GO, '')

    // A tap that ends ends its table: the query reads it all and finishes.
    await until(() => first.bus.info('items')!.ended, 'the items table to end', 20_000)
    await until(() => first.manager.get('per-k').status === 'finished', 'the query to finish', 20_000)
    expect(await counts(first.server.url)).toEqual(expected())
    // Checkpoints after that hold the tap as ended; the job goes on with `live`.
    const atEnd = lastCompleted(first)
    await until(() => lastCompleted(first) >= atEnd + 2, 'two checkpoints after the table ended', 20_000)
    await stop(first)
    const manifest = latestCheckpoint(stateDir, () => {})!.manifest
    expect(manifest.finished).toBe(false)
    expect(manifest.ended?.['tap:items']).toHaveLength(threads)

    const second = await serve(stateDir, threads)
    await until(() => second.job.status() === 'running', 'the job to run again', 20_000)
    expect(second.job.checkpointStatus!().restoredFrom).toBe(manifest.id)
    expect(second.manager.list().map((q) => q.name)).toEqual(['per-k'])
    await until(() => second.bus.info('items')!.ended, 'the restored items table to end', 10_000)
    await until(
      () => second.manager.get('per-k').status === 'finished',
      'the restored query to finish',
      10_000,
    )
    expect(await counts(second.server.url)).toEqual(expected())
    expect(second.bus.info('live')!.ended).toBe(false)
    expect(existsSync(GO)).toBe(true)
  }, 90_000)
})

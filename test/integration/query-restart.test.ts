// A query registered over HTTP on a real `squall run --http --state-dir` process, which is killed
// with SIGKILL between checkpoints (or drained with SIGTERM) and started again on the same state
// directory: the query comes back from the job's checkpoint and counts every row once.

import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'

const BIN = join(import.meta.dirname, '../../bin/squall.js')
const FIXTURE = join(import.meta.dirname, '../fixtures/query-restart.ts')
const SQL = 'SELECT k, COUNT(*) AS n FROM t GROUP BY k'
/** Rows published before the query is registered: the sample its columns are typed from. */
const SAMPLE = 14
const TOTAL = 3000

const work = mkdtempSync(join(tmpdir(), 'squall-query-crash-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

let children: ChildProcess[] = []
afterEach(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  children = []
})

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** A `squall run` of the fixture with its HTTP API on a free port; resolves with the API's URL. */
async function start(
  stateDir: string,
  limit: string,
  threads: number,
): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  const child = spawn(
    process.execPath,
    [
      BIN,
      'run',
      FIXTURE,
      '--threads',
      String(threads),
      '--http',
      '0',
      '--state-dir',
      stateDir,
      '--checkpoint-interval',
      '100ms',
    ],
    {
      env: { ...process.env, QUERY_RESTART_LIMIT: limit, QUERY_RESTART_RATE: '500', SQUALL_LOG: 'info' },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  )
  children.push(child)
  let stderr = ''
  child.stderr!.setEncoding('utf8')
  child.stderr!.on('data', (text: string) => {
    stderr += text
  })
  await until(() => /http API of job .* on (http:\/\/\S+)/.test(stderr), `the HTTP API (stderr: ${stderr})`)
  const url = /http API of job .* on (http:\/\/\S+)/.exec(stderr)![1]!
  return { child, url, stderr: () => stderr }
}

async function get(url: string, path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(new URL(path, url))
  return { status: res.status, text: await res.text() }
}

async function counts(url: string): Promise<{ [k: string]: number }> {
  const res = await get(url, '/api/queries/per-k/state')
  expect(res.status).toBe(200)
  const out: { [k: string]: number } = {}
  for (const row of (JSON.parse(res.text) as { rows: { k: string; n: number }[] }).rows) out[row.k] = row.n
  return out
}

const sum = (c: { [k: string]: number }) => Object.values(c).reduce((a, b) => a + b, 0)

function queryCheckpoints(stateDir: string): number {
  const dir = join(stateDir, 'queries', 'per-k', 'checkpoints')
  if (!existsSync(dir)) return 0
  return readdirSync(dir).filter((d) => existsSync(join(dir, d, 'MANIFEST.json'))).length
}

describe.each([
  [1, 'SIGKILL'],
  [2, 'SIGKILL'],
  [1, 'SIGTERM'],
] as const)('a registered query of a squall process on %i thread(s)', (threads, signal) => {
  it(`stopped with ${signal} part way and restarted, the query counts every row after its registration once`, async () => {
    const stateDir = join(work, `state-${threads}-${signal}`)
    const limit = join(work, `limit-${threads}-${signal}`)
    writeFileSync(limit, String(SAMPLE))
    const first = await start(stateDir, limit, threads)
    // The planner types the columns from the first rows: the query counts the rows after them.
    await until(
      async () =>
        new RegExp(`squall_table_published_total\\{table="t"\\} ${SAMPLE}\\b`).test(
          (await get(first.url, '/metrics')).text,
        ),
      'the sample rows',
    )
    const created = await fetch(new URL('/api/queries', first.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'per-k', sql: SQL }),
    })
    expect(created.status, await created.text()).toBe(201)
    writeFileSync(limit, String(TOTAL))
    await until(async () => sum(await counts(first.url)) >= 1000, 'the query to count')
    await until(() => queryCheckpoints(stateDir) > 0, 'a checkpoint with the query')
    // Killed part way: the restart has rows to count, some of them counted before the kill.
    expect(sum(await counts(first.url))).toBeLessThan(TOTAL - SAMPLE)
    const exited = new Promise((r) => first.child.once('exit', r))
    first.child.kill(signal)
    // SIGTERM drains: the job and its queries end with a final checkpoint, and the process exits.
    expect(await exited).toBe(signal === 'SIGKILL' ? null : 0)

    const second = await start(stateDir, limit, threads)
    expect(second.stderr()).toMatch(/restoring checkpoint \d+/)
    await until(async () => sum(await counts(second.url)) >= TOTAL - SAMPLE, 'the query to count every row')
    // Nothing more comes: a row counted twice would show as more.
    await new Promise((r) => setTimeout(r, 300))
    const want: { [k: string]: number } = {}
    for (let seq = SAMPLE; seq < TOTAL; seq++) want[`k${seq % 7}`] = (want[`k${seq % 7}`] ?? 0) + 1
    expect(await counts(second.url)).toEqual(want)
    expect(second.stderr()).not.toMatch(/starts with empty state/)
  }, 90_000)
})

import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'

const BIN = join(import.meta.dirname, '../../bin/squall.js')

const stateDirOf = () => join(mkdtempSync(join(tmpdir(), 'squall-demo-')), 'state')

/** A demo started as a process (plain output), with what it printed so far and its exit code. */
interface Running {
  child: ChildProcess
  output(): string
  /** Resolves with the first match of `pattern` in the output; rejects after `ms` or when the demo exits. */
  waitFor(pattern: RegExp, ms: number): Promise<RegExpExecArray>
  exited: Promise<number | null>
}

const started: ChildProcess[] = []
afterEach(() => {
  // A test that failed half-way leaves its demo running: end it (only the processes started here).
  for (const child of started.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
})

function startDemo(args: string[], env: { [name: string]: string } = {}): Running {
  const child = spawn(process.execPath, [BIN, 'demo', '--plain', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  started.push(child)
  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  let done = false
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      done = true
      resolve(code)
    }),
  )
  return {
    child,
    output: () => stdout,
    exited,
    async waitFor(pattern, ms) {
      const end = Date.now() + ms
      for (;;) {
        const m = pattern.exec(stdout)
        if (m) return m
        if (done || Date.now() > end)
          throw new Error(
            `demo ${done ? 'exited' : 'timed out'} before printing ${pattern}:\n${stdout}\n${stderr}`,
          )
        await new Promise((r) => setTimeout(r, 50))
      }
    },
  }
}

interface Reply {
  status: number
  body: string
}

/** One HTTP call over a real socket to the demo's API; `body` is sent as JSON. */
function call(url: string, method: string, path: string, body?: unknown): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
    })
    req.on('response', (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (text += c))
      res.on('end', () => resolve({ status: res.statusCode!, body: text }))
    })
    req.on('error', reject)
    req.end(body === undefined ? undefined : JSON.stringify(body))
  })
}

/** Reads `event: result` data from a query's SSE stream until `count` arrived. */
function readResults(url: string, path: string, count: number, ms: number): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const results: unknown[] = []
    let buf = ''
    const req = request(new URL(path, url), { headers: { accept: 'text/event-stream' } })
    const timer = setTimeout(() => {
      req.destroy()
      reject(new Error(`SSE: ${results.length} of ${count} results after ${ms} ms`))
    }, ms)
    req.on('response', (res) => {
      expect(res.headers['content-type']).toMatch(/^text\/event-stream/)
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        buf += chunk
        for (let cut = buf.indexOf('\n\n'); cut >= 0; cut = buf.indexOf('\n\n')) {
          const lines = buf.slice(0, cut).split('\n')
          buf = buf.slice(cut + 2)
          if (!lines.includes('event: result')) continue
          const data = lines.find((l) => l.startsWith('data: '))
          if (data) results.push(JSON.parse(data.slice(6)))
        }
        if (results.length >= count) {
          clearTimeout(timer)
          req.destroy()
          resolve(results)
        }
      })
    })
    req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)))
    req.end()
  })
}

/** SQL timestamps as the API prints them (`2026-01-01 00:04:00.000`, UTC) → ms. */
const ms = (t: string) => Date.parse(`${t.replace(' ', 'T')}Z`)

// 22 s at a simulated minute a second: a 22-minute traffic episode, long enough for the trend
// pipeline, which needs 10 minutes of history before a 5-minute recent window, to see the planted
// bursts (at 11, 15.4 and 18.7 minutes) even when a loaded machine slows the run down.
function demo(stateDir: string, extra: string[] = []) {
  return spawnSync(
    process.execPath,
    [
      BIN,
      'demo',
      '--duration',
      '22s',
      '--rate',
      '40000',
      '--plain',
      '--http',
      'off',
      '--state-dir',
      stateDir,
      ...extra,
    ],
    // Checkpoints every 3 s, so one completes within the run even on a loaded machine.
    { encoding: 'utf8', timeout: 90_000, env: { ...process.env, SQUALL_DEMO_CHECKPOINT: '3s' } },
  )
}

/** The stop message of a demo with a checkpoint to resume from; group 1 is its id. */
const STOPPED = /^demo stopped after [\d.]+ s; run it again to resume from checkpoint #(\d+) \(/m

/**
 * Starts the demo, waits until it says it resumed from checkpoint `from`, stops it with Ctrl-C and
 * checks it exits with 0. Returns what it printed.
 */
async function resumeAndStop(args: string[], env: { [name: string]: string }, from: string): Promise<string> {
  const run = startDemo(args, env)
  await run.waitFor(new RegExp(` — resumed from checkpoint #${from}, not from zero$`, 'm'), 60_000)
  run.child.kill('SIGINT')
  expect(await run.exited).toBe(0)
  return run.output()
}

describe('squall demo', () => {
  it('runs by itself for --duration, finds the planted attackers, crawler and hashtag bursts, and resumes from its checkpoint', () => {
    const stateDir = join(mkdtempSync(join(tmpdir(), 'squall-demo-')), 'state')
    const first = demo(stateDir)
    expect(first.status).toBe(0)
    const out = first.stdout
    // The traffic model plants three brute-force attackers and one crawler in every episode.
    for (const ip of ['203.0.113.10', '203.0.113.11', '203.0.113.12']) {
      expect(out).toMatch(
        new RegExp(
          `BLOCK\\s+${ip.replaceAll('.', '\\.')}\\s+8 failed logins within 60s followed by a success`,
        ),
      )
    }
    expect(out).toMatch(/198\.51\.100\.7\s+.*crawler-like/)
    // No visitor of the normal traffic is blocked.
    const blocked = [...out.matchAll(/BLOCK\s+(\S+)/g)].map((m) => m[1])
    expect(new Set(blocked)).toEqual(
      new Set(['203.0.113.10', '203.0.113.11', '203.0.113.12', '198.51.100.7']),
    )
    // The traffic model plants bursts of three new tags, at 50 %, 70 % and 85 % of the episode; the
    // last screen shows the latest trending list, and every tag on it is a planted one.
    const trends = out.slice(out.lastIndexOf('Trending hashtags'), out.lastIndexOf('Alerts ('))
    const trending = [
      ...trends.matchAll(/^ {2}(#\S+) +score +[\d.]+ +(?:new|×[\d.]+) +[\d,]+ recent$/gm),
    ].map((m) => m[1])
    expect(trending.length).toBeGreaterThan(0)
    for (const tag of trending) expect(['#eclipse', '#outage', '#launchday']).toContain(tag)
    expect(out).toMatch(/Top pages by unique visitors/)
    expect(out).toMatch(/ {2}1 {2}\/articles\/\d+\s+[\d,]+/)
    expect(out).toMatch(/started fresh/)
    // The run's own figures, over every latency sample of the run.
    const summary =
      /^over the run: ([\d,]+) events in ([\d.]+) s, [\d,]+ events\/s, event→result latency p50 [\d.]+ ms {2}p99 ([\d.]+) ms(?:; after the first 10 s p50 [\d.]+ ms {2}p99 [\d.]+ ms)?$/m.exec(
        out,
      )
    expect(summary, out).not.toBeNull()
    expect(Number(summary![1]!.replaceAll(',', ''))).toBeGreaterThan(100_000)
    // The rate counts the time the generators read: from when processing began (after the threads
    // started) to the stop at 22 s, so less than the 22 s since the command started.
    const seconds = Number(summary![2])
    expect(seconds).toBeGreaterThan(15)
    expect(seconds).toBeLessThan(22)
    const last = /resume from checkpoint #(\d+)/.exec(out)
    expect(last).not.toBeNull()

    const second = demo(stateDir, ['--duration', '4s'])
    expect(second.status).toBe(0)
    expect(second.stdout).toMatch(new RegExp(`resumed from checkpoint #${last![1]}, not from zero`))
  }, 120_000)

  it('serves the HTTP API: a windowed SQL query over its posts streams rows, shows them as state and is dropped', async () => {
    // One thread at 10 000 events/s: 2 000 posts a wall second, each second a simulated minute.
    const run = startDemo([
      '--http',
      '0',
      '--threads',
      '1',
      '--rate',
      '10000',
      '--duration',
      '60s',
      '--state-dir',
      stateDirOf(),
    ])
    const url = (await run.waitFor(/^HTTP API (http:\/\/127\.0\.0\.1:\d+) — add a query/m, 30_000))[1]!
    // The planner types a table's columns from its first records: wait until posts flow.
    const published = async () =>
      Number(
        /squall_table_published_total\{table="posts"\} (\d+)/.exec(
          (await call(url, 'GET', '/metrics')).body,
        )?.[1] ?? 0,
      )
    for (let end = Date.now() + 30_000; (await published()) < 100; ) {
      if (Date.now() > end) throw new Error('no posts were published')
      await new Promise((r) => setTimeout(r, 100))
    }
    const sql = `SELECT window_start, window_end, COUNT(*) AS posts
      FROM TABLE(TUMBLE(TABLE posts, DESCRIPTOR(time), INTERVAL '1' MINUTE))
      GROUP BY window_start, window_end`
    const add = await call(url, 'POST', '/api/queries', { name: 'posts_per_minute', sql })
    expect(add.status, add.body).toBe(201)
    expect(JSON.parse(add.body)).toMatchObject({
      name: 'posts_per_minute',
      status: 'running',
      updating: false,
    })

    type Row = { window_start: string; window_end: string; posts: number }
    const changes = (await readResults(
      url,
      '/api/queries/posts_per_minute/results?from=1000',
      4,
      30_000,
    )) as {
      op: string
      row: Row
    }[]
    expect(changes.every((c) => c.op === '+I')).toBe(true)
    const rows = changes.map((c) => c.row)
    rows.forEach((r, i) => {
      expect(ms(r.window_end) - ms(r.window_start)).toBe(60_000)
      if (i > 0) expect(ms(r.window_start)).toBe(ms(rows[i - 1]!.window_end))
    })
    // The query sees what is published after it started, so its first window may be partial; every
    // later one holds a whole simulated minute of posts: 2 000 (±2 where post times round).
    expect(rows[0]!.posts).toBeGreaterThan(0)
    for (const r of rows.slice(1)) expect(Math.abs(r.posts - 2000), JSON.stringify(r)).toBeLessThanOrEqual(2)

    // The state endpoint serves the same rows, the whole table or those of a key's first column.
    const state = JSON.parse((await call(url, 'GET', '/api/queries/posts_per_minute/state')).body) as {
      key: string[]
      rows: Row[]
    }
    expect(state.key).toEqual(['window_start', 'window_end'])
    for (const r of rows) expect(state.rows).toContainEqual(r)
    const one = await call(
      url,
      'GET',
      `/api/queries/posts_per_minute/state?key=${encodeURIComponent(rows[1]!.window_start)}`,
    )
    expect(JSON.parse(one.body).rows).toEqual([rows[1]])

    expect((await call(url, 'DELETE', '/api/queries/posts_per_minute')).status).toBe(204)
    expect((await call(url, 'GET', '/api/queries/posts_per_minute')).status).toBe(404)
    run.child.kill('SIGINT')
    expect(await run.exited).toBe(0)
  }, 90_000)

  it('stops cleanly on Ctrl-C, says the next run resumes, and the next run resumes from that checkpoint', async () => {
    const stateDir = stateDirOf()
    const args = ['--http', 'off', '--threads', '1', '--rate', '10000', '--state-dir', stateDir]
    const env = { SQUALL_DEMO_CHECKPOINT: '1s' }
    const first = startDemo(args, env)
    // The plain summary (every 5 s) names the last completed checkpoint.
    await first.waitFor(/^checkpoint #\d+ \d+ s ago — started fresh$/m, 60_000)
    first.child.kill('SIGINT')
    expect(await first.exited).toBe(0)
    const out = first.output()
    expect(out).toContain('interrupted: taking a last checkpoint, then stopping')
    const last = STOPPED.exec(out)
    expect(last, out).not.toBeNull()

    const second = await resumeAndStop(args, env, last![1]!)
    const resumeFrom = STOPPED.exec(second)
    expect(resumeFrom, second).not.toBeNull()

    // With no periodic checkpoint in the run, the one taken at Ctrl-C is what the next run resumes
    // from: its state is where this run stopped, not where it started.
    const hourly = { SQUALL_DEMO_CHECKPOINT: '1h' }
    const third = await resumeAndStop(args, hourly, resumeFrom![1]!)
    const stoppedAt = STOPPED.exec(third)
    expect(stoppedAt, third).not.toBeNull()
    expect(Number(stoppedAt![1])).toBeGreaterThan(Number(resumeFrom![1]))

    await resumeAndStop(args, hourly, stoppedAt![1]!)
  }, 180_000)
})

import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { memoryLogger } from '../../src/core/logger.ts'
import type { Record } from '../../src/core/record.ts'
import { StreamBus } from '../../src/query/bus.ts'
import { withThreadTaps } from '../../src/query/thread-taps.ts'
import { runEmbedded } from '../../src/runtime/embedded/runner.ts'
import type { Job } from '../../src/runtime/job.ts'
import { loadTopology } from '../../src/runtime/load-module.ts'

const BIN = join(import.meta.dirname, '../../bin/squall.js')
const FIXTURE = join(import.meta.dirname, '../fixtures/clicks.ts')
const BASE = Date.UTC(2026, 0, 1)

let jobs: Job[] = []
let children: ChildProcess[] = []
afterEach(async () => {
  for (const j of jobs) await j.stop()
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
  jobs = []
  children = []
})

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/**
 * Taps the fixture's export `name` onto `bus` (which declares its tables); `start()` then runs it
 * on two worker threads.
 */
async function tapped(bus: StreamBus, name = 'default'): Promise<{ start(): Job }> {
  const { topology, decorate } = withThreadTaps(await loadTopology(FIXTURE, name), bus)
  return {
    start() {
      const job = runEmbedded(topology, {
        threads: 2,
        module: FIXTURE,
        exportName: name,
        decorate,
        log: memoryLogger(),
      })
      jobs.push(job)
      return job
    },
  }
}

/** Reads a subscription to its end. */
async function drain(bus: StreamBus, table: string): Promise<Record[]> {
  const sub = bus.subscribe(table)
  const out: Record[] = []
  for (;;) {
    const batch = sub.poll(1000)
    if (batch === null) return out
    out.push(...batch)
    if (batch.length === 0) await sub.ready()
  }
}

describe('taps of a job on worker threads', () => {
  it('deliver every record of both threads to a subscriber on the owner thread, then the end', async () => {
    const bus = new StreamBus()
    const tap = await tapped(bus, 'bounded')
    const read = drain(bus, 'clicks')
    const job = tap.start()
    const records = await read
    await job.done
    const seqs = records.map((r) => (r.value as { seq: number }).seq).sort((a, b) => a - b)
    expect(seqs).toEqual(Array.from({ length: 3000 }, (_, i) => i))
    for (const r of records) {
      const v = r.value as { page: string; seq: number }
      expect(r.time).toBe(BASE + v.seq * 10)
      expect(v.page).toBe(`p${v.seq % 5}`)
    }
    expect(bus.info('clicks')).toMatchObject({ published: 3000, ended: true })
  })

  it('without subscribers send only counts and watermarks (and the first records, as a sample)', async () => {
    const bus = new StreamBus()
    const job = (await tapped(bus, 'bounded')).start()
    await job.done
    await until(() => bus.info('clicks')!.ended, 'the table to end')
    expect(bus.info('clicks')).toMatchObject({ published: 3000, watermark: Number.POSITIVE_INFINITY })
    expect(bus.sample('clicks')).toHaveLength(20)
  })

  it('hold the job back while a subscriber lags, and let it go on once it reads', async () => {
    const bus = new StreamBus({ maxLag: 200 })
    ;(await tapped(bus)).start()
    await until(() => bus.info('clicks')!.published > 0, 'first records')
    const sub = bus.subscribe('clicks')
    await new Promise((r) => setTimeout(r, 1500))
    // At 4 000 clicks/s, 1.5 s would queue ~6 000 records without backpressure.
    const held = sub.lag
    expect(held).toBeGreaterThanOrEqual(200)
    expect(held).toBeLessThan(1000)
    const published = bus.info('clicks')!.published
    await new Promise((r) => setTimeout(r, 300))
    expect(bus.info('clicks')!.published).toBe(published)
    sub.poll(100_000)
    await until(() => sub.lag > 0 && bus.info('clicks')!.published > published, 'the job to go on')
    sub.close()
  })

  it('let `squall run --threads 2 --http` serve SQL queries over the job from both threads', async () => {
    const child = spawn(
      process.execPath,
      [BIN, 'run', FIXTURE, '--threads', '2', '--http', '0', '--token', 'tok'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    )
    children.push(child)
    let stderr = ''
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()))
    await until(() => /http API of job "clicks" on (http:\S+)/.test(stderr), 'the server to listen', 30_000)
    const url = /http API of job "clicks" on (http:\S+)/.exec(stderr)![1]!
    const headers = { authorization: 'Bearer tok', 'content-type': 'application/json' }
    // Queries type a table from its first records: wait until the threads have published some.
    const published = async () => {
      const text = await (await fetch(new URL('/metrics', url), { headers })).text()
      return Number(/squall_table_published_total\{table="clicks"\} (\d+)/.exec(text)?.[1] ?? 0)
    }
    const deadline = Date.now() + 10_000
    while ((await published()) < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    const created = await fetch(new URL('/api/queries', url), {
      method: 'POST',
      headers,
      body: JSON.stringify({ name: 'p3', sql: "SELECT page, seq FROM clicks WHERE page = 'p3'" }),
    })
    expect(created.status).toBe(201)
    const rows: { page: string; seq: number }[] = []
    const res = await fetch(new URL('/api/queries/p3/results', url), { headers })
    const reader = res.body!.getReader()
    let text = ''
    while (rows.length < 40) {
      const { value, done } = await reader.read()
      if (done) break
      text += new TextDecoder().decode(value)
      const events = text.split('\n\n')
      text = events.pop()!
      for (const e of events) {
        const data = /^data: (.*)$/m.exec(e)?.[1]
        if (e.includes('event: result') && data)
          rows.push((JSON.parse(data) as { row: { page: string; seq: number } }).row)
      }
    }
    await reader.cancel()
    expect(rows.length).toBeGreaterThanOrEqual(40)
    expect(rows.every((r) => r.page === 'p3' && r.seq % 5 === 3)).toBe(true)
    // Thread 0 generates the even sequence numbers, thread 1 the odd ones.
    expect(rows.some((r) => r.seq % 2 === 0)).toBe(true)
    expect(rows.some((r) => r.seq % 2 === 1)).toBe(true)
    expect(new Set(rows.map((r) => r.seq)).size).toBe(rows.length)
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
    expect(stderr).not.toContain('exposes no tables')
  }, 40_000)
})

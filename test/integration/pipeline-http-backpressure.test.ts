// The http input of a pipeline run as `squall run`: a job that cannot keep up answers 429 with
// Retry-After and loses nothing it answered 200 for; MessagePack bodies go through end to end.
import type { ChildProcess } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Packr } from 'msgpackr'
import { afterEach, describe, expect, it } from 'vitest'
import { jsonLines, startSquall, until } from './pipeline-support.ts'

const start = (path: string) => startSquall(path, /http input "api" listening on [^:]+:(\d+)/)

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** Sends SIGTERM and resolves with the exit code. */
function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode)
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
  child.kill('SIGTERM')
  return exited
}

/** A webhook that keeps every record it was sent; it answers each request after `hook.delayMs`. */
interface Webhook {
  readonly url: string
  readonly records: { id: number }[]
  delayMs: number
}

async function slowWebhook(delayMs: number): Promise<Webhook> {
  const records: { id: number }[] = []
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      setTimeout(() => {
        records.push(...(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: number }[]))
        res.writeHead(200).end()
      }, hook.delayMs)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(() => {
    server.closeAllConnections()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const hook: Webhook = {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`,
    records,
    delayMs,
  }
  return hook
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'squall-http-input-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

describe('the http input of a pipeline job run as a process', () => {
  it('posting faster than a slow output drains gets 429 with Retry-After, and every record answered 200 is delivered once, none answered 429', async () => {
    const hook = await slowWebhook(60)
    const dir = tempDir()
    const path = join(dir, 'pipeline.yaml')
    writeFileSync(
      path,
      `name: lagjob
state: { dir: ./state, checkpointInterval: 200ms }
sources:
  - name: api
    type: http
    port: 0
    bind: 127.0.0.1
    maxLagBytes: 1KiB
outputs:
  - type: http
    endpoint: ${hook.url}
    buffer: { chunkLimitRecords: 10, flushInterval: 10ms, totalLimitBytes: 1KiB }
`,
    )
    const job = await start(path)
    cleanups.push(() => {
      job.child.kill('SIGKILL')
    })
    const url = `http://127.0.0.1:${job.port}/api/ingest/events`
    const accepted: number[] = []
    const refused: number[] = []
    const retryAfter = new Set<string | null>()
    let next = 0
    const deadline = Date.now() + 8000
    // Waves of 20 concurrent requests of 5 records each, far more than 10 records per 60 ms.
    while ((refused.length < 50 || accepted.length < 200) && Date.now() < deadline) {
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          const ids = Array.from({ length: 5 }, () => next++)
          const res = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(ids.map((id) => ({ id }))),
          })
          const body = (await res.json()) as { accepted?: number; error?: string }
          if (res.status === 200) {
            expect(body).toEqual({ accepted: 5 })
            accepted.push(...ids)
          } else {
            expect(res.status).toBe(429)
            expect(body.error).toMatch(/behind/)
            retryAfter.add(res.headers.get('retry-after'))
            refused.push(...ids)
          }
        }),
      )
    }
    expect(refused.length).toBeGreaterThanOrEqual(50)
    expect(accepted.length).toBeGreaterThanOrEqual(200)
    expect([...retryAfter]).toEqual(['1'])
    expect(hook.records.length).toBeLessThan(accepted.length)
    // The output recovers: what was accepted drains.
    hook.delayMs = 0
    await until(
      () => hook.records.length >= accepted.length,
      `the ${accepted.length} accepted records at the webhook`,
      20_000,
    )
    expect(await stop(job.child)).toBe(0)
    const delivered = hook.records.map((r) => r.id).sort((a, b) => a - b)
    expect(delivered).toEqual([...accepted].sort((a, b) => a - b))
  }, 40_000)

  it('MessagePack bodies (an array of maps, or a sequence of maps) are delivered with their values; a broken one gets 400 and nothing of it is kept', async () => {
    const dir = tempDir()
    const path = join(dir, 'pipeline.yaml')
    writeFileSync(
      path,
      `name: msgpackjob
sources:
  - name: api
    type: http
    port: 0
    bind: 127.0.0.1
    addTagPrefix: in
outputs:
  - type: file
    path: ./out.log
    format: { type: json, includeTagKey: true }
    buffer: { flushInterval: 20ms }
`,
    )
    const job = await start(path)
    cleanups.push(() => {
      job.child.kill('SIGKILL')
    })
    const url = `http://127.0.0.1:${job.port}/api/ingest`
    const packr = new Packr({ useRecords: false })
    const first = { user: 'ann', bytes: 1024, ratio: 0.25, ok: true, tags: ['a', 'b'], geo: { cc: 'FR' } }
    const second = { user: 'bob', missing: null, n: -7 }
    const third = { user: 'cy', big: 2 ** 40 }
    const array = await fetch(`${url}/web.click`, {
      method: 'POST',
      headers: { 'content-type': 'application/msgpack' },
      body: packr.pack([first, second]),
    })
    expect(array.status).toBe(200)
    expect(await array.json()).toEqual({ accepted: 2 })
    const cut = packr.pack({ user: 'lost too', n: 2 })
    const broken = Buffer.concat([packr.pack({ user: 'lost' }), cut.subarray(0, cut.length - 3)])
    const bad = await fetch(`${url}/web.click`, {
      method: 'POST',
      headers: { 'content-type': 'application/msgpack' },
      body: broken,
    })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: string }).error).toMatch(
      /application\/msgpack: invalid MessagePack after 1 complete value/,
    )
    const sequence = await fetch(`${url}/web.view`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-msgpack' },
      body: Buffer.concat([packr.pack(third), packr.pack({ user: 'di' })]),
    })
    expect(sequence.status).toBe(200)
    expect(await sequence.json()).toEqual({ accepted: 2 })
    const out = join(dir, 'out.log')
    await until(() => jsonLines(out).length >= 4, 'four records in the output')
    expect(await stop(job.child)).toBe(0)
    expect(jsonLines(out)).toEqual([
      { ...first, tag: 'in.web.click' },
      { ...second, tag: 'in.web.click' },
      { ...third, tag: 'in.web.view' },
      { user: 'di', tag: 'in.web.view' },
    ])
  })
})

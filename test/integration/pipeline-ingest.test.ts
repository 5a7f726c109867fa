import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/core/clock.ts'
import { memoryLogger } from '../../src/core/logger.ts'
import type { IoContext } from '../../src/core/source.ts'
import { IngestEndpoint } from '../../src/plugins/inputs/http-ingest.ts'
import type { JournalEvent } from '../../src/plugins/inputs/journaled.ts'
import { type SquallServer, startServer } from '../../src/server/server.ts'
import { jsonLines, type RunningPipeline, runPipelineYaml, until } from './pipeline-support.ts'

let running: RunningPipeline | undefined
let server: SquallServer | undefined
afterEach(async () => {
  await running?.close()
  running = undefined
  await server?.close()
  server = undefined
})

const post = (url: string, body: string, headers: { [h: string]: string } = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body })

describe("the http input on the job's HTTP server", () => {
  it('records posted to /api/ingest/{tag} on the job server are journaled, answered, and reach the outputs', async () => {
    running = await runPipelineYaml(`
name: ingestjob
state: { dir: $DIR/state, checkpointInterval: 200ms }
server: { port: 0, token: s3cret }
sources:
  - name: api
    type: http
    addTagPrefix: in
outputs:
  - type: file
    match: "in.events.**"
    path: $DIR/out.log
    buffer: { flushInterval: 30ms }
`)
    const base = `${running.url}/api/ingest`
    const auth = { authorization: 'Bearer s3cret' }
    let ok = await post(`${base}/events.click`, JSON.stringify([{ n: 1 }, { n: 2 }]), auth)
    for (let i = 0; ok.status === 503 && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 20))
      ok = await post(`${base}/events.click`, JSON.stringify([{ n: 1 }, { n: 2 }]), auth)
    }
    expect(ok.status).toBe(200)
    expect(await ok.json()).toEqual({ accepted: 2 })
    const nd = await post(`${base}/events.view`, '{"n":3}\n{"n":4}\n', {
      ...auth,
      'content-type': 'application/x-ndjson',
    })
    expect(nd.status).toBe(200)
    const bad = await post(`${base}/events.click`, '{"n": 5', auth)
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('ERR_BAD_BODY')
    expect((await post(`${base}/events.click`, '{"n": 6}')).status).toBe(401)
    expect((await post(`${base}/bad%20tag`, '{"n": 7}', auth)).status).toBe(400)
    await post(`${base}/other`, '{"n": 8}', auth)
    const out = join(running.dir, 'out.log')
    await until(() => jsonLines(out).length === 4, 'four records')
    expect(jsonLines(out).map((r) => r.n)).toEqual([1, 2, 3, 4])
    expect(running.log.entries.some((e) => e.message.includes("on the job's HTTP server"))).toBe(true)
  })

  it('two http sources without a port are a config error naming the second', async () => {
    await expect(
      runPipelineYaml(`
server: { port: 0 }
sources:
  - { name: a, type: http }
  - { name: b, type: http }
outputs:
  - { type: stdout }
`),
    ).rejects.toThrow(/sources\[1\]\.port: the job's HTTP server already feeds the http source "a"/)
  })

  it('before the source is open the job server answers 503, and 429 while the job lags, both with Retry-After', async () => {
    const endpoint = new IngestEndpoint()
    server = await startServer({ port: 0, ingest: endpoint.handler, log: memoryLogger() })
    const url = `${server.url}/api/ingest/web.access`
    const early = await post(url, '{"a":1}')
    expect(early.status).toBe(503)
    expect(early.headers.get('retry-after')).toBe('1')
    const journaled: JournalEvent[] = []
    let busy = true
    const io: IoContext = {
      nodeName: 'api',
      partition: 0,
      partitions: 1,
      log: memoryLogger(),
      clock: new ManualClock(42),
      count: () => {},
      report: () => {},
      badRecord: () => {},
    }
    const detach = endpoint.attach({
      io,
      tagPrefix: '',
      intake: {
        append: async (events) => {
          journaled.push(...events)
        },
        busy: () => busy,
        room: async () => {},
      },
    })
    const lagging = await post(url, '{"a":2}')
    expect(lagging.status).toBe(429)
    expect(lagging.headers.get('retry-after')).toBe('1')
    busy = false
    expect((await post(url, '[{"a":3},{"a":4}]')).status).toBe(200)
    expect(journaled).toEqual([
      ['web.access', 42, { a: 3 }],
      ['web.access', 42, { a: 4 }],
    ])
    detach()
    expect((await post(url, '{"a":5}')).status).toBe(503)
  })
})

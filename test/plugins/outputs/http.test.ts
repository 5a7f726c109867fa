import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { ChunkKeys } from '../../../src/plugins/define.ts'
import httpOutput from '../../../src/plugins/outputs/http.ts'
import { runPipelineYaml, until } from '../../integration/pipeline-support.ts'
import { openDelivery, rec } from './delivery-support.ts'

/** One request the endpoint received: its idempotency header and its body. */
interface Received {
  key: string | undefined
  body: string
}

let server: Server
let endpoint: string
let received: Received[] = []
/** While set, requests are recorded but never answered (a hung endpoint). */
let hang = false
const hung: ServerResponse[] = []

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (d: string) => {
      body += d
    })
    req.on('end', () => {
      const key = req.headers['idempotency-key']
      received.push({ key: typeof key === 'string' ? key : undefined, body })
      if (hang) hung.push(res)
      else res.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
})
afterAll(async () => {
  for (const res of hung.splice(0)) res.destroy()
  await new Promise((resolve) => server.close(resolve))
})
beforeEach(() => {
  received = []
  hang = false
})

const keys = (...k: string[]): ChunkKeys => ({ key: (i) => k[i]! })
const sha = (body: string) => createHash('sha256').update(body).digest('base64url').slice(0, 22)

describe('http output: Idempotency-Key', () => {
  it('each request carries the key of its first record, its record count and a hash of its body; a chunk sent again carries the same key', async () => {
    const d = await openDelivery(httpOutput, { endpoint })
    const chunk = [rec({ n: 1 }), rec({ n: 2 })]
    await d.deliver(chunk, keys('base.0.7', 'base.0.8'))
    await d.deliver(chunk, keys('base.0.7', 'base.0.8'))
    await d.deliver([rec({ n: 1 }), rec({ n: 3 })], keys('base.0.7', 'base.0.8'))
    await d.deliver([rec({ n: 1 })], keys('base.0.7'))
    await d.close?.()
    const body = '[{"n":1},{"n":2}]'
    expect(received[0]).toEqual({ key: `base.0.7.2.${sha(body)}`, body })
    expect(received[1]).toEqual(received[0])
    // Same first key, other records or another count: another request, another key.
    expect(new Set(received.map((r) => r.key)).size).toBe(3)
    expect(received[2]!.key).toBe(`base.0.7.2.${sha('[{"n":1},{"n":3}]')}`)
    expect(received[3]!.key).toBe(`base.0.7.1.${sha('[{"n":1}]')}`)
  })

  it('the header name is configurable, and idempotencyHeader: false or a chunk without keys sends none', async () => {
    const seen: (string | undefined)[] = []
    const probe = createServer((req, res) => {
      seen.push(req.headers['x-request-key'] as string | undefined)
      req.resume().on('end', () => res.writeHead(204).end())
    })
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const probeUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}/`
    const toProbe = await openDelivery(httpOutput, { endpoint: probeUrl, idempotencyHeader: 'X-Request-Key' })
    await toProbe.deliver([rec('a')], keys('b.0.0'))
    await toProbe.close?.()
    await new Promise((resolve) => probe.close(resolve))
    expect(seen).toEqual([`b.0.0.1.${sha('["a"]')}`])

    const off = await openDelivery(httpOutput, { endpoint, idempotencyHeader: false })
    await off.deliver([rec('a')], keys('b.0.0'))
    await off.close?.()
    const plain = await openDelivery(httpOutput, { endpoint })
    await plain.deliver([rec('a')])
    await plain.close?.()
    expect(received.map((r) => r.key)).toEqual([undefined, undefined])
    expect(received.map((r) => r.body)).toEqual(['["a"]', '["a"]'])
  })

  it('a pipeline restored after a crash sends each replayed record with the key it had; keys are distinct per request', async () => {
    const yaml = `
name: httpkeys
state: { dir: $DIR/state, checkpointInterval: 30ms }
sources:
  - { name: numbers, type: generator, shape: counter, rate: 200, tag: n }
outputs:
  - type: http
    endpoint: ${endpoint}
    buffer: { chunkLimitRecords: 1, flushInterval: 1h }
`
    const first = await runPipelineYaml(yaml)
    const completed = () => first.job.checkpointStatus?.().lastCompleted?.id ?? 0
    await until(() => completed() >= 2 && received.length >= 40, 'two checkpoints and 40 requests')
    // The endpoint stops answering: the request in flight is received but never acknowledged, so
    // no checkpoint after it can complete. Then the job dies.
    hang = true
    const at = received.length
    await until(() => received.length > at, 'a request to the hung endpoint')
    await first.job.stop()
    await first.close()
    for (const res of hung.splice(0)) res.destroy()
    const runA = received
    received = []
    hang = false

    const seqsOf = (run: Received[]) =>
      run.flatMap((r) => (JSON.parse(r.body) as { seq: number }[]).map((v) => v.seq))
    const lastA = Math.max(...seqsOf(runA))
    const second = await runPipelineYaml(yaml, first.dir)
    await until(() => seqsOf(received).some((seq) => seq > lastA + 20), 'records past those of the first run')
    await second.close()
    const runB = received
    expect(second.job.checkpointStatus?.().restoredFrom).toBeGreaterThanOrEqual(2)

    for (const r of [...runA, ...runB])
      expect(r.key).toMatch(/^[A-Za-z0-9_-]{16}\.0\.\d+\.1\.[A-Za-z0-9_-]{22}$/)
    // Within a run: one key per distinct request.
    for (const run of [runA, runB]) {
      expect(new Set(run.map((r) => r.key)).size).toBe(new Set(run.map((r) => r.body)).size)
    }
    // Across both runs a key always names the same body, and a body the same key.
    const keyOfBody = new Map<string, string>()
    const bodyOfKey = new Map<string, string>()
    for (const r of [...runA, ...runB]) {
      expect(keyOfBody.get(r.body) ?? r.key).toBe(r.key)
      expect(bodyOfKey.get(r.key!) ?? r.body).toBe(r.body)
      keyOfBody.set(r.body, r.key!)
      bodyOfKey.set(r.key!, r.body)
    }
    // The records sent after the restored checkpoint are sent again, with the keys they had.
    const bodiesA = new Set(runA.map((r) => r.body))
    const replayed = runB.filter((r) => bodiesA.has(r.body))
    expect(replayed.length).toBeGreaterThan(0)
    expect(replayed.map((r) => r.body)).toContain(runA[runA.length - 1]!.body)
    // Nothing is missing.
    const seqs = new Set(seqsOf([...runA, ...runB]))
    expect(seqs.size).toBe(Math.max(...seqs) + 1)
  })
})

import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SquallError } from '../../../src/core/errors.ts'
import redisOutput, { redisRetryable } from '../../../src/plugins/outputs/redis.ts'
import { jsonLines, runPipelineYaml, until } from '../../integration/pipeline-support.ts'
import { openDelivery, rec } from './delivery-support.ts'
import { service } from './services.ts'

const redis = await service('redis', 6379)
const URL = 'redis://127.0.0.1:6379'
const P = `sqtest:${process.pid}:${Date.now()}:`

describe.skipIf(!redis.run)('redis output against the local server', () => {
  let client: Redis
  beforeAll(() => {
    client = new Redis(URL, { maxRetriesPerRequest: 1, lazyConnect: true })
    client.on('error', () => {})
  })
  afterAll(async () => {
    const keys = await client.keys(`${P}*`).catch(() => [])
    if (keys.length > 0) await client.del(...keys)
    client.disconnect()
  })

  it('the redis server at 127.0.0.1:6379 answers', () => {
    expect(redis.up, 'Redis must listen on 127.0.0.1:6379 when CI=true').toBe(true)
  })

  it('set: each record is stored as JSON under the key its fields render, with the ttl', async () => {
    const d = await openDelivery(redisOutput, {
      url: URL,
      mode: 'set',
      key: `${P}user:\${user.id}`,
      ttl: '1h',
    })
    await d.deliver([
      rec({ user: { id: 7 }, n: 1 }),
      rec({ user: { id: 8 }, n: 2 }),
      rec({ user: { id: 7 }, n: 3 }),
    ])
    await d.close?.()
    expect(JSON.parse((await client.get(`${P}user:7`))!)).toEqual({ user: { id: 7 }, n: 3 })
    expect(JSON.parse((await client.get(`${P}user:8`))!)).toEqual({ user: { id: 8 }, n: 2 })
    const ttl = await client.pttl(`${P}user:7`)
    expect(ttl).toBeGreaterThan(3_500_000)
    expect(ttl).toBeLessThanOrEqual(3_600_000)
  })

  it('hset: the record fields become hash fields, nested values as JSON, on a key with the tag', async () => {
    const d = await openDelivery(redisOutput, { url: URL, mode: 'hset', key: `${P}\${tag}:\${path}` })
    await d.deliver([rec({ path: '/a', hits: 3, geo: { cc: 'fr' } }), rec({ path: '/b', hits: 1, ok: true })])
    await d.close?.()
    expect(await client.hgetall(`${P}web.access:/a`)).toEqual({ path: '/a', hits: '3', geo: '{"cc":"fr"}' })
    expect(await client.hgetall(`${P}web.access:/b`)).toEqual({ path: '/b', hits: '1', ok: 'true' })
  })

  it('xadd and lpush: entries are appended in record order and trimmed to maxLength', async () => {
    const x = await openDelivery(redisOutput, { url: URL, mode: 'xadd', key: `${P}stream`, maxLength: 1000 })
    const records = Array.from({ length: 50 }, (_, i) => rec({ seq: i }))
    await x.deliver(records)
    await x.close?.()
    const entries = await client.xrange(`${P}stream`, '-', '+')
    expect(entries.map(([, fields]) => Number(fields[1]))).toEqual(records.map((_, i) => i))
    const l = await openDelivery(redisOutput, {
      url: URL,
      mode: 'lpush',
      key: `${P}recent`,
      valueField: 'seq',
      maxLength: 10,
    })
    await l.deliver(records)
    await l.close?.()
    expect(await client.lrange(`${P}recent`, 0, -1)).toEqual([
      '49',
      '48',
      '47',
      '46',
      '45',
      '44',
      '43',
      '42',
      '41',
      '40',
    ])
  })

  it('publish: a subscriber of the channel receives each record', async () => {
    const sub = new Redis(URL)
    const got: string[] = []
    sub.on('message', (_channel: string, message: string) => got.push(message))
    await sub.subscribe(`${P}alerts`)
    const d = await openDelivery(redisOutput, { url: URL, mode: 'publish', key: `${P}alerts` })
    await d.deliver([rec({ level: 'high' }), rec({ level: 'low' })])
    await d.close?.()
    await until(() => got.length === 2, 'two messages')
    sub.disconnect()
    expect(got.map((m) => JSON.parse(m))).toEqual([{ level: 'high' }, { level: 'low' }])
  })

  it('a record without the key field and a WRONGTYPE reply are refusals, not retried', async () => {
    const d = await openDelivery(redisOutput, { url: URL, mode: 'hset', key: `${P}h:\${id}` })
    const missing = await Promise.resolve(d.deliver([rec({ other: 1 })])).catch((e: unknown) => e)
    expect(missing).toBeInstanceOf(SquallError)
    expect((missing as SquallError).code).toBe('ERR_OUTPUT_REJECTED')
    expect((missing as Error).message).toContain('${id}')
    expect(d.retryable!(missing)).toBe(false)
    await client.set(`${P}h:1`, 'a string')
    const wrong = await Promise.resolve(d.deliver([rec({ id: 1, x: 2 })])).catch((e: unknown) => e)
    expect((wrong as Error).message).toContain('WRONGTYPE')
    expect(d.retryable!(wrong)).toBe(false)
    await d.close?.()
  })

  it('a server that does not answer gives a retryable error', async () => {
    const d = await openDelivery(redisOutput, { url: 'redis://127.0.0.1:1', key: 'k', commandTimeout: '2s' })
    const e = await Promise.resolve(d.deliver([rec({ a: 1 })])).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(Error)
    expect(redisRetryable(e)).toBe(true)
    await d.close?.()
  })

  it('in a pipeline, a chunk Redis refuses goes to the secondary output with the reason', async () => {
    await client.set(`${P}page:/taken`, 'a string')
    const running = await runPipelineYaml(
      `
name: redisjob
sources:
  - name: in
    type: file
    path: $DIR/in.jsonl
    format: jsonl
    tag: pages
outputs:
  - type: redis
    url: ${URL}
    mode: hset
    key: "${P}page:\${path}"
    buffer: { chunkLimitRecords: 1, flushInterval: 20ms }
    retry: { maxAttempts: 2, initialInterval: 10ms }
    secondary: { type: file, path: $DIR/dead.log }
`,
      await inputDir([
        { path: '/ok', hits: 1 },
        { path: '/taken', hits: 2 },
      ]),
    )
    await running.job.done
    await running.close()
    expect(await client.hgetall(`${P}page:/ok`)).toEqual({ path: '/ok', hits: '1' })
    const dead = jsonLines(join(running.dir, 'dead.log'))
    expect(dead).toHaveLength(1)
    expect(dead[0]!.record).toEqual({ path: '/taken', hits: 2 })
    expect(dead[0]!.error).toContain('WRONGTYPE')
  })
})

async function inputDir(values: object[]): Promise<string> {
  const { mkdtempSync, writeFileSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const dir = mkdtempSync(join(tmpdir(), 'squall-redis-'))
  writeFileSync(join(dir, 'in.jsonl'), values.map((v) => `${JSON.stringify(v)}\n`).join(''))
  return dir
}

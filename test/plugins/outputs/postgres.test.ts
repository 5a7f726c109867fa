import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { SquallError } from '../../../src/core/errors.ts'
import postgresOutput, { postgresRetryable } from '../../../src/plugins/outputs/postgres.ts'
import { jsonLines, runPipelineYaml } from '../../integration/pipeline-support.ts'
import { openDelivery, rec } from './delivery-support.ts'
import { service } from './services.ts'

const postgres = await service('postgres', 5432)
const CONNECTION = 'postgres://postgres@127.0.0.1:5432/test'
let serial = 0

describe.skipIf(!postgres.run)('postgres output against the local server', () => {
  let db: pg.Client
  let table: string
  beforeAll(async () => {
    db = new pg.Client({ connectionString: CONNECTION })
    if (postgres.up) await db.connect()
  })
  afterAll(async () => {
    await db.end().catch(() => {})
  })
  beforeEach(async () => {
    table = `squall_test_${process.pid}_${Date.now()}_${serial++}`
    await db.query(
      `CREATE TABLE ${table} (path text PRIMARY KEY, hits integer NOT NULL CHECK (hits >= 0), tag text, seen timestamptz, meta jsonb)`,
    )
  })
  afterEach(async () => {
    await db.query(`DROP TABLE IF EXISTS ${table}`)
  })
  const rows = async () =>
    (await db.query(`SELECT path, hits, tag, seen, meta FROM ${table} ORDER BY path`)).rows

  it('the postgres server at 127.0.0.1:5432 answers', () => {
    expect(postgres.up, 'PostgreSQL must listen on 127.0.0.1:5432 when CI=true').toBe(true)
  })

  it('upsert: a chunk is written by key, the last record of a key wins, and sending it again changes nothing', async () => {
    const d = await openDelivery(postgresOutput, {
      connection: CONNECTION,
      table,
      columns: { path: 'path', hits: 'count', tag: '@tag', seen: '@time', meta: 'meta' },
      key: ['path'],
    })
    const chunk = [
      rec({ path: '/a', count: 1, meta: { cc: 'fr' } }, 'web', 1_700_000_000_000),
      rec({ path: '/b', count: 5 }, 'web', 1_700_000_001_000),
      rec({ path: '/a', count: 2, meta: { cc: 'de' } }, 'web', 1_700_000_002_000),
    ]
    await d.deliver(chunk)
    const first = await rows()
    expect(first).toEqual([
      { path: '/a', hits: 2, tag: 'web', seen: new Date(1_700_000_002_000), meta: { cc: 'de' } },
      { path: '/b', hits: 5, tag: 'web', seen: new Date(1_700_000_001_000), meta: null },
    ])
    await d.deliver(chunk)
    expect(await rows()).toEqual(first)
    await d.deliver([rec({ path: '/b', count: 6 })])
    expect((await rows()).map((r) => r.hits)).toEqual([2, 6])
    await d.close?.()
  })

  it('onConflict nothing keeps the first row; without a key rows are only inserted', async () => {
    const keep = await openDelivery(postgresOutput, {
      connection: CONNECTION,
      table,
      columns: ['path', 'hits'],
      key: ['path'],
      onConflict: 'nothing',
    })
    await keep.deliver([rec({ path: '/a', hits: 1 })])
    await keep.deliver([rec({ path: '/a', hits: 9 })])
    await keep.close?.()
    expect((await rows()).map((r) => r.hits)).toEqual([1])
    const insert = await openDelivery(postgresOutput, {
      connection: CONNECTION,
      table,
      columns: ['path', 'hits'],
    })
    const e = await Promise.resolve(insert.deliver([rec({ path: '/a', hits: 3 })])).catch((x: unknown) => x)
    expect((e as SquallError).code).toBe('ERR_OUTPUT_REJECTED')
    expect((e as Error).message).toContain('23505')
    expect(insert.retryable!(e)).toBe(false)
    await insert.close?.()
  })

  it('a chunk past the bind-parameter limit is written in one transaction of several statements', async () => {
    const d = await openDelivery(postgresOutput, {
      connection: CONNECTION,
      table,
      columns: { path: 'path', hits: 'hits', tag: '@tag', seen: '@time', meta: 'meta' },
      key: ['path'],
    })
    const n = 14_000
    const many = Array.from({ length: n }, (_, i) => rec({ path: `/p${i}`, hits: i, meta: { i } }))
    await d.deliver(many)
    const bad = [
      ...many.slice(0, 13_500).map((r) => rec({ ...(r.value as object), hits: 0 })),
      rec({ path: '/neg', hits: -1 }),
    ]
    const e = await Promise.resolve(d.deliver(bad)).catch((x: unknown) => x)
    expect((e as Error).message).toContain('23514')
    await d.close?.()
    const { rows: sums } = await db.query(`SELECT count(*)::int AS n, sum(hits)::bigint AS s FROM ${table}`)
    expect(sums[0]).toEqual({ n, s: String(((n - 1) * n) / 2) })
  })

  it('connection errors are retryable; constraint, type and schema errors are not', async () => {
    const d = await openDelivery(postgresOutput, {
      connection: 'postgres://postgres@127.0.0.1:1/test',
      table,
      columns: ['path', 'hits'],
      statementTimeout: '2s',
    })
    const down = await Promise.resolve(d.deliver([rec({ path: '/a', hits: 1 })])).catch((x: unknown) => x)
    expect(down).toBeInstanceOf(Error)
    expect(d.retryable!(down)).toBe(true)
    await d.close?.()
    expect(postgresRetryable({ code: '08006' })).toBe(true)
    expect(postgresRetryable({ code: '40001' })).toBe(true)
    expect(postgresRetryable({ code: '23502' })).toBe(false)
    expect(postgresRetryable({ code: '22P02' })).toBe(false)
    expect(postgresRetryable({ code: '42P01' })).toBe(false)
  })

  it('in a pipeline, a record breaking a constraint goes to the secondary output and the others are written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'squall-pg-'))
    const lines = [
      { path: '/ok', hits: 1 },
      { path: '/bad', hits: 'many' },
      { path: '/ok2', hits: 2 },
    ]
    writeFileSync(join(dir, 'in.jsonl'), lines.map((v) => `${JSON.stringify(v)}\n`).join(''))
    const running = await runPipelineYaml(
      `
name: pgjob
sources:
  - name: in
    type: file
    path: $DIR/in.jsonl
    format: jsonl
    tag: pages
outputs:
  - type: postgres
    connection: ${CONNECTION}
    table: ${table}
    columns: [path, hits]
    key: [path]
    buffer: { chunkLimitRecords: 1, flushInterval: 20ms }
    retry: { maxAttempts: 3, initialInterval: 10ms }
    secondary: { type: file, path: $DIR/dead.log }
`,
      dir,
    )
    await running.job.done
    await running.close()
    expect((await rows()).map((r) => [r.path, r.hits])).toEqual([
      ['/ok', 1],
      ['/ok2', 2],
    ])
    const dead = jsonLines(join(dir, 'dead.log'))
    expect(dead.map((d) => d.record)).toEqual([{ path: '/bad', hits: 'many' }])
    expect(dead[0]!.error).toContain('22P02')
  })

  it("@idempotencyKey fills a column with each record's idempotency key: as the key, a replayed record updates its row and records alike but distinct keep theirs", async () => {
    const keyed = `${table}_keyed`
    await db.query(`CREATE TABLE ${keyed} (id text PRIMARY KEY, path text NOT NULL, hits integer)`)
    try {
      const d = await openDelivery(postgresOutput, {
        connection: CONNECTION,
        table: keyed,
        columns: { id: '@idempotencyKey', path: 'path', hits: 'hits' },
        key: ['id'],
      })
      const keys = (first: number) => ({ key: (i: number) => `b.0.${first + i}` })
      await d.deliver([rec({ path: '/a', hits: 1 }), rec({ path: '/a', hits: 1 })], keys(0))
      // A replay sends record 1 again, then record 2.
      await d.deliver([rec({ path: '/a', hits: 1 }), rec({ path: '/b', hits: 5 })], keys(1))
      // Without keys (a delivery driven by hand) the column is null, which its constraint refuses.
      const e = await Promise.resolve(d.deliver([rec({ path: '/c', hits: 1 })])).catch((x: unknown) => x)
      expect((e as Error).message).toContain('23502')
      await d.close?.()
      const { rows: got } = await db.query(`SELECT id, path, hits FROM ${keyed} ORDER BY id`)
      expect(got).toEqual([
        { id: 'b.0.0', path: '/a', hits: 1 },
        { id: 'b.0.1', path: '/a', hits: 1 },
        { id: 'b.0.2', path: '/b', hits: 5 },
      ])
    } finally {
      await db.query(`DROP TABLE IF EXISTS ${keyed}`)
    }
  })

  it('a key column missing from columns is a config error', async () => {
    await expect(
      openDelivery(postgresOutput, { connection: CONNECTION, table, columns: ['hits'], key: ['path'] }),
    ).rejects.toThrow(/outputs\[0\]\.key: "path" must also be in columns/)
  })
})

import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { memoryLogger } from '../../src/core/logger.ts'
import type { Record } from '../../src/core/record.ts'
import { Topology } from '../../src/core/topology.ts'
import { WatermarkStrategy } from '../../src/core/watermark.ts'
import { generator } from '../../src/plugins/inputs/generator.ts'
import { discard } from '../../src/plugins/outputs/collect.ts'
import { StreamBus, busSource, busTable, withTaps } from '../../src/query/bus.ts'
import { QueryManager, TIME_COLUMN } from '../../src/query/manager.ts'
import { ResultTable } from '../../src/query/query-job.ts'
import { runEmbedded } from '../../src/runtime/embedded/runner.ts'
import type { Job } from '../../src/runtime/job.ts'
import { toyPlanner } from '../server/toy-planner.ts'

const rec = (value: unknown, time: number): Record => ({ value, key: undefined, time, tag: 't' })

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe('stream bus', () => {
  it('a subscriber sees only what is published after it subscribed, in order, with times kept', () => {
    const bus = new StreamBus()
    bus.declare('clicks')
    bus.publish('clicks', [rec('a', 1)])
    const sub = bus.subscribe('clicks')
    bus.publish('clicks', [rec('b', 2), rec('c', 3)])
    bus.publish('clicks', [rec('d', 4)])
    expect(sub.poll(2)!.map((r) => [r.value, r.time])).toEqual([
      ['b', 2],
      ['c', 3],
    ])
    expect(sub.poll(10)!.map((r) => r.value)).toEqual(['d'])
    expect(sub.poll(10)).toEqual([])
  })

  it('a lagging subscriber makes publish return a promise that resolves once it has read', async () => {
    const bus = new StreamBus({ maxLag: 3 })
    bus.declare('clicks')
    const sub = bus.subscribe('clicks')
    expect(bus.publish('clicks', [rec(1, 1), rec(2, 2)])).toBeUndefined()
    const wait = bus.publish('clicks', [rec(3, 3), rec(4, 4)])
    expect(wait).toBeInstanceOf(Promise)
    let released = false
    void wait!.then(() => {
      released = true
    })
    await new Promise((r) => setTimeout(r, 10))
    expect(released).toBe(false)
    expect(sub.poll(2)!.length).toBe(2)
    await new Promise((r) => setTimeout(r, 0))
    expect(released).toBe(true)
    expect(sub.poll(10)!.map((r) => r.value)).toEqual([3, 4])
  })

  it('a closed subscriber no longer holds publishers back', async () => {
    const bus = new StreamBus({ maxLag: 1 })
    bus.declare('clicks')
    const sub = bus.subscribe('clicks')
    const wait = bus.publish('clicks', [rec(1, 1)])
    sub.close()
    await wait
    expect(bus.publish('clicks', [rec(2, 2)])).toBeUndefined()
    expect(bus.info('clicks')!.subscribers).toBe(0)
  })

  it("a table's watermark is the minimum over its partitions, and it ends when every partition has", () => {
    const bus = new StreamBus()
    bus.declare('clicks')
    const sub = bus.subscribe('clicks')
    bus.publish('clicks', [rec(1, 100)], 99, 0, 2)
    bus.publish('clicks', [rec(2, 50)], 49, 1, 2)
    expect(bus.info('clicks')!.watermark).toBe(49)
    bus.end('clicks', 1, 2)
    expect(bus.info('clicks')!.watermark).toBe(99)
    bus.end('clicks', 0, 2)
    expect(sub.poll(10)!.length).toBe(2)
    expect(sub.poll(10)).toBeNull()
  })

  it('withTaps returns a copy with one tap sink per source, publishing the watermark the source computed', async () => {
    const bus = new StreamBus()
    const t = new Topology('web')
    t.source('clicks', generator({ count: 50, make: (seq) => ({ seq }), time: (seq) => 1000 + seq * 10 }), {
      watermarks: WatermarkStrategy.forBoundedOutOfOrderness(5),
    }).sink(discard(), { name: 'out' })
    const tapped = withTaps(t, bus)
    expect(tapped.nodes.map((n) => n.name)).toEqual(['clicks', 'out', 'tap:clicks'])
    expect(t.nodes.map((n) => n.name)).toEqual(['clicks', 'out'])
    expect(bus.tables()).toEqual(['clicks'])
    expect(() => withTaps(t, bus, ['nope'])).toThrowError(expect.objectContaining({ code: 'ERR_ARGUMENT' }))
    const reader = busSource(bus, 'clicks').create({} as never)
    await runEmbedded(tapped, { log: memoryLogger() }).done
    const got = reader.nextBatch(100)!
    expect(got.map((r) => r.time)).toEqual(Array.from({ length: 50 }, (_, i) => 1000 + i * 10))
    expect(reader.nextBatch(100)).toBeNull()
    expect(bus.info('clicks')).toMatchObject({
      published: 50,
      ended: true,
      watermark: Number.POSITIVE_INFINITY,
    })
    expect(bus.sample('clicks')).toHaveLength(20)
    expect(bus.watermarksOf('clicks')!.maxOutOfOrdernessMs).toBe(5)
  })

  it('a bus table’s source carries the table’s watermark, the minimum over partitions, as far as it has read', () => {
    const bus = new StreamBus()
    bus.declare('clicks', WatermarkStrategy.forBoundedOutOfOrderness(5))
    const { source, watermarks } = busTable(bus, 'clicks')
    const generator = watermarks!.createGenerator()
    const reader = source.create({} as never)
    // Partition 1 is far ahead of partition 0: the query must not run ahead of partition 0.
    bus.publish('clicks', [rec('a', 100)], 94, 0, 2)
    bus.publish('clicks', [rec('b', 900)], 894, 1, 2)
    bus.publish('clicks', [rec('c', 120), rec('d', 130)], 124, 0, 2)
    expect(generator.current()).toBe(Number.NEGATIVE_INFINITY)
    // Partition 1 had published nothing when 'a' came: the table's watermark was still −∞.
    expect(reader.nextBatch(1)!.map((r) => r.value)).toEqual(['a'])
    expect(generator.current()).toBe(Number.NEGATIVE_INFINITY)
    expect(reader.nextBatch(2)!.map((r) => r.value)).toEqual(['b', 'c'])
    // Batch 'c','d' is read in part: its watermark does not hold yet.
    expect(generator.current()).toBe(94)
    expect(reader.nextBatch(10)!.map((r) => [r.value, r.time])).toEqual([['d', 130]])
    expect(generator.current()).toBe(124)
    generator.onEvent(10_000)
    expect(generator.current()).toBe(124)
  })

  it('a bus table with `recordTime` hands out copies of the rows with their event time in that field', () => {
    const bus = new StreamBus()
    bus.declare('clicks')
    const { source, watermarks } = busTable(bus, 'clicks', { recordTime: 'time' })
    expect(watermarks).toBeUndefined()
    const reader = source.create({} as never)
    const published = [rec({ page: 'p1', time: 'not the event time' }, 1000), rec(7, 2000)]
    bus.publish('clicks', published)
    expect(reader.nextBatch(10)!.map((r) => [r.value, r.time])).toEqual([
      [{ page: 'p1', time: 1000 }, 1000],
      [{ time: 2000 }, 2000],
    ])
    expect(published[0]!.value).toEqual({ page: 'p1', time: 'not the event time' })
  })
})

describe('result table', () => {
  it('an updating query turns keyed rows into +I, then -U/+U pairs, and -D removes the row', () => {
    const t = new ResultTable(true, ['page'], 10)
    t.apply([
      { page: 'a', hits: 1 },
      { page: 'b', hits: 1 },
      { page: 'a', hits: 2 },
    ])
    expect(t.recent().map((c) => `${c.op}${JSON.stringify(c.row)}`)).toEqual([
      '+I{"page":"a","hits":1}',
      '+I{"page":"b","hits":1}',
      '-U{"page":"a","hits":1}',
      '+U{"page":"a","hits":2}',
    ])
    expect(t.lookup(['a'])).toEqual([{ page: 'a', hits: 2 }])
    t.apply([{ op: '-D', row: { page: 'b', hits: 1 } }])
    expect(t.rows()).toEqual([{ page: 'a', hits: 2 }])
    expect(t.rowCount).toBe(1)
  })

  it('a -U with the +U of its key keeps the row in place; a -U alone removes it', () => {
    const t = new ResultTable(true, ['page'], 10)
    t.apply([
      { op: '+I', row: { page: '/a', hits: 1 } },
      { op: '+I', row: { page: '/b', hits: 1 } },
      { op: '+I', row: { page: '/c', hits: 1 } },
    ])
    t.apply([
      { op: '-U', row: { page: '/a', hits: 1 } },
      { op: '+U', row: { page: '/a', hits: 2 } },
    ])
    expect(t.rows().map((r) => `${r.page}:${r.hits}`)).toEqual(['/a:2', '/b:1', '/c:1'])
    t.apply([
      { op: '-U', row: { page: '/b', hits: 1 } },
      { op: '-U', row: { page: '/c', hits: 1 } },
      { op: '+U', row: { page: '/c', hits: 2 } },
    ])
    expect(t.rows().map((r) => `${r.page}:${r.hits}`)).toEqual(['/a:2', '/c:2'])
    t.apply([{ op: '-U', row: { page: '/a', hits: 2 } }])
    expect(t.rows().map((r) => `${r.page}:${r.hits}`)).toEqual(['/c:2'])
    expect(t.rowCount).toBe(1)
    expect(t.lookup(['/a'])).toEqual([])
  })

  it('an append-only query keeps the last rows of its ring buffer as its table', () => {
    const t = new ResultTable(false, ['user'], 3)
    t.apply([
      { user: 'x', n: 1 },
      { user: 'y', n: 2 },
      { user: 'x', n: 3 },
      { user: 'z', n: 4 },
    ])
    expect(t.recent().map((c) => c.row.n)).toEqual([2, 3, 4])
    expect(t.recent(2).map((c) => c.op)).toEqual(['+I', '+I'])
    expect(t.lookup(['x'])).toEqual([{ user: 'x', n: 3 }])
    expect(t.rows(1, 5).map((r) => r.n)).toEqual([3, 4])
    expect(t.changeCount).toBe(4)
  })

  it('an updating query without a key keeps a multiset: -U and -D remove one equal row, equal rows stay', () => {
    const t = new ResultTable(true, [], 10)
    const bid = { auction: 1, price: 10, seller: null }
    t.apply([
      { op: '+I', row: bid },
      { op: '+I', row: { ...bid } },
      { op: '+I', row: { auction: 2, price: 5, seller: null } },
      { op: '-D', row: { ...bid } },
      { op: '+I', row: { ...bid, seller: 'sam' } },
      { op: '-U', row: { auction: 2, price: 5, seller: null } },
      { op: '+U', row: { auction: 2, price: 5, seller: 'sue' } },
      { op: '-D', row: { auction: 9, price: 1, seller: null } },
    ])
    expect(t.rowCount).toBe(3)
    expect(t.rows()).toEqual([bid, { ...bid, seller: 'sam' }, { auction: 2, price: 5, seller: 'sue' }])
    expect(t.rows(1, 1)).toEqual([{ ...bid, seller: 'sam' }])
    expect(() => t.lookup(['1'])).toThrowError(expect.objectContaining({ code: 'ERR_ARGUMENT' }))
  })

  it('a result keyed by several columns looks up a whole key or its first columns', () => {
    const t = new ResultTable(true, ['auction', 'rn'], 10)
    t.apply([
      { op: '+I', row: { auction: 1, price: 10, rn: 1 } },
      { op: '+I', row: { auction: 1, price: 5, rn: 2 } },
      { op: '+I', row: { auction: 2, price: 7, rn: 1 } },
      { op: '-U', row: { auction: 1, price: 10, rn: 1 } },
      { op: '+U', row: { auction: 1, price: 30, rn: 1 } },
      { op: '-U', row: { auction: 1, price: 5, rn: 2 } },
      { op: '+U', row: { auction: 1, price: 10, rn: 2 } },
    ])
    expect(t.rowCount).toBe(3)
    expect(t.lookup(['1', '2'])).toEqual([{ auction: 1, price: 10, rn: 2 }])
    expect(t.lookup(['1']).sort((a, b) => Number(a.rn) - Number(b.rn))).toEqual([
      { auction: 1, price: 30, rn: 1 },
      { auction: 1, price: 10, rn: 2 },
    ])
    expect(() => t.lookup(['1', '1', '1'])).toThrowError(expect.objectContaining({ code: 'ERR_ARGUMENT' }))
  })
})

describe('query manager', () => {
  let dir: string | undefined
  let job: Job | undefined
  let manager: QueryManager | undefined
  afterEach(async () => {
    await manager?.close()
    await job?.stop()
    if (dir) rmSync(dir, { recursive: true, force: true })
    dir = job = manager = undefined
  })

  async function start(stateDir?: string) {
    const bus = new StreamBus()
    const t = new Topology('web')
    t.source('clicks', generator({ rate: 4000, make: (seq) => ({ page: `p${seq % 4}`, seq }) })).sink(
      discard(),
    )
    job = runEmbedded(withTaps(t, bus), { log: memoryLogger() })
    manager = await QueryManager.open({
      bus,
      planner: toyPlanner,
      log: memoryLogger(),
      ...(stateDir ? { stateDir } : {}),
    })
    return manager
  }

  it('a registered query counts what the job publishes, and a dropped one is gone', async () => {
    const m = await start()
    const info = await m.register({
      name: 'hits',
      sql: 'SELECT page, COUNT(*) AS hits FROM clicks GROUP BY page',
    })
    expect(info).toMatchObject({ name: 'hits', status: 'running', updating: true, key: ['page'] })
    await until(
      () => m.get('hits').results.rowCount === 4 && m.get('hits').info().metrics.in > 100,
      'four pages counted',
    )
    const rows = m.get('hits').results.rows() as { page: string; hits: number }[]
    expect(rows.map((r) => r.page).sort()).toEqual(['p0', 'p1', 'p2', 'p3'])
    expect(rows.every((r) => r.hits > 0)).toBe(true)
    await m.drop('hits')
    expect(m.list()).toEqual([])
    expect(() => m.get('hits')).toThrowError(expect.objectContaining({ code: 'ERR_QUERY_NOT_FOUND' }))
    expect(m.bus.info('clicks')!.subscribers).toBe(0)
  })

  it('refuses a duplicate name, a bad name and bad SQL without starting anything', async () => {
    const m = await start()
    await m.register({ name: 'hits', sql: 'SELECT page, COUNT(*) AS hits FROM clicks GROUP BY page' })
    await expect(
      m.register({ name: 'hits', sql: "SELECT * FROM clicks WHERE page = 'p1'" }),
    ).rejects.toMatchObject({ code: 'ERR_QUERY_EXISTS' })
    await expect(m.register({ name: 'no spaces', sql: 'SELECT 1' })).rejects.toMatchObject({
      code: 'ERR_QUERY_INVALID',
    })
    await expect(m.register({ name: 'bad', sql: 'SELEKT page\nFROM clicks' })).rejects.toMatchObject({
      code: 'ERR_SQL_SYNTAX',
      message: expect.stringContaining('line 1, column 1'),
    })
    expect(m.list().map((q) => q.name)).toEqual(['hits'])
    expect(m.bus.info('clicks')!.subscribers).toBe(1)
  })

  it('a failing query ends alone as failed while the other query and the job go on', async () => {
    const m = await start()
    await m.register({ name: 'hits', sql: 'SELECT page, COUNT(*) AS hits FROM clicks GROUP BY page' })
    await m.register({ name: 'boom', sql: 'SELECT FAIL_AFTER(20) FROM clicks' })
    await until(() => m.get('boom').status === 'failed', 'boom to fail')
    expect(m.get('boom').info().error).toContain('FAIL_AFTER(20) reached')
    const before = m.get('hits').info().metrics.in
    await until(() => m.get('hits').info().metrics.in > before + 50, 'hits to keep counting')
    expect(m.get('hits').status).toBe('running')
    expect(job!.status()).toBe('running')
  })

  it('a query that failed at run time stays failed, with its error, across a restart until dropped', async () => {
    dir = mkdtempSync(join(tmpdir(), 'squall-queries-'))
    const saved = () =>
      JSON.parse(readFileSync(join(dir!, 'queries.json'), 'utf8')).queries as {
        name: string
        error?: string
      }[]
    const m = await start(dir)
    await m.register({ name: 'hits', sql: 'SELECT page, COUNT(*) AS hits FROM clicks GROUP BY page' })
    await m.register({ name: 'boom', sql: 'SELECT FAIL_AFTER(20) FROM clicks' })
    await until(() => m.get('boom').status === 'failed', 'boom to fail')
    const error = m.get('boom').info().error
    expect(error).toContain('FAIL_AFTER(20) reached')
    await until(() => saved().some((q) => q.name === 'boom' && q.error === error), 'the failure to be saved')
    expect(saved().find((q) => q.name === 'hits')).not.toHaveProperty('error')
    await m.close()
    await job!.stop()

    const again = await start(dir)
    expect(again.list().map((q) => [q.name, q.status])).toEqual([
      ['hits', 'running'],
      ['boom', 'failed'],
    ])
    expect(again.get('boom').info().error).toBe(error)
    // Not run again: it reads nothing.
    await until(() => again.get('hits').info().metrics.in > 50, 'hits to count')
    expect(again.get('boom').info().metrics.in).toBe(0)
    expect(again.bus.info('clicks')!.subscribers).toBe(1)
    // Dropped and registered again, it runs (and its failure is forgotten).
    await again.drop('boom')
    await again.register({ name: 'boom', sql: 'SELECT FAIL_AFTER(1000000) FROM clicks' })
    expect(again.get('boom').status).toBe('running')
    expect(saved().find((q) => q.name === 'boom')).not.toHaveProperty('error')
  })

  it('registered queries are written to queries.json and come back on the next start', async () => {
    dir = mkdtempSync(join(tmpdir(), 'squall-queries-'))
    const m = await start(dir)
    await m.register({ name: 'hits', sql: 'SELECT page, COUNT(*) AS hits FROM clicks GROUP BY page' })
    await m.register({ name: 'p1', sql: "SELECT * FROM clicks WHERE page = 'p1'" })
    await m.drop('p1')
    const saved = JSON.parse(readFileSync(join(dir, 'queries.json'), 'utf8'))
    expect(saved.queries.map((q: { name: string }) => q.name)).toEqual(['hits'])
    await m.close()
    await job!.stop()
    const again = await start(dir)
    expect(again.list().map((q) => [q.name, q.status])).toEqual([['hits', 'running']])
    await until(() => again.get('hits').results.rowCount > 0, 'the restored query to count')
  })

  it('the catalog gives a table whose source has event time the `time` column, unless the job names its time column', async () => {
    const bus = new StreamBus()
    bus.declare('clicks', WatermarkStrategy.forBoundedOutOfOrderness(0))
    bus.declare('views', WatermarkStrategy.forBoundedOutOfOrderness(0))
    bus.declare('logins', WatermarkStrategy.noWatermarks())
    bus.declare('users')
    manager = await QueryManager.open({
      bus,
      planner: toyPlanner,
      log: memoryLogger(),
      tables: { clicks: { schema: { page: 'STRING', time: 'STRING' } }, views: { timeColumn: 'ts' } },
    })
    const catalog = manager.catalog()
    expect(catalog.get('clicks')).toMatchObject({
      timeColumn: TIME_COLUMN,
      schema: { page: 'STRING', time: 'TIMESTAMP(3)' },
    })
    expect(catalog.get('views')!.timeColumn).toBe('ts')
    expect(catalog.get('logins')!.timeColumn).toBe(TIME_COLUMN)
    expect(catalog.get('logins')!.watermarks!.emitsWatermarks).toBe(false)
    expect(catalog.get('users')!.timeColumn).toBeUndefined()
    expect(catalog.get('users')!.watermarks).toBeUndefined()
    const clicks = catalog.get('clicks')!.source.create({} as never)
    const views = catalog.get('views')!.source.create({} as never)
    bus.publish('clicks', [rec({ page: 'a', time: 'text' }, 5)])
    bus.publish('views', [rec({ page: 'a', ts: 7 }, 7)])
    expect(clicks.nextBatch(10)!.map((r) => r.value)).toEqual([{ page: 'a', time: 5 }])
    expect(views.nextBatch(10)!.map((r) => r.value)).toEqual([{ page: 'a', ts: 7 }])
    clicks.close?.()
    views.close?.()
  })
})

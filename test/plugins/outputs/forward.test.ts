import { afterEach, describe, expect, it } from 'vitest'
import type { ChunkKeys } from '../../../src/plugins/define.ts'
import { ForwardClient, forwardChunkId } from '../../../src/plugins/forward/client.ts'
import { packEntries } from '../../../src/plugins/forward/protocol.ts'
import { ForwardServer } from '../../../src/plugins/forward/server.ts'
import forwardOutput from '../../../src/plugins/outputs/forward.ts'
import { Collector } from '../forward/support.ts'
import { openDelivery, rec } from './delivery-support.ts'

const servers: ForwardServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close(500)))
})

async function start() {
  const collector = new Collector()
  const server = await ForwardServer.listen({ port: 0, onEvents: collector.onEvents, log: () => {} })
  servers.push(server)
  return { server, collector }
}

const keys = (base: string): ChunkKeys => ({ key: (i) => `${base}.0.${i}` })

describe('forward output: chunk ids', () => {
  it("each tag of a chunk goes with an id derived from its first record's key, its tag and its entries; sent again, the same ids; other entries, other ids", async () => {
    const { server, collector } = await start()
    const d = await openDelivery(forwardOutput, { servers: [{ host: '127.0.0.1', port: server.port }] })
    const chunk = [rec({ n: 1 }, 'a', 1000), rec({ n: 2 }, 'b', 1000), rec({ n: 3 }, 'a', 1000)]
    await d.deliver(chunk, keys('k'))
    await d.deliver(chunk, keys('k'))
    await d.deliver([rec({ n: 1 }, 'a', 1000), rec({ n: 2 }, 'b', 1000), rec({ n: 4 }, 'a', 1000)], keys('k'))
    await d.close?.()
    const ids = collector.metas.map((m) => m.chunk!)
    expect(ids).toHaveLength(6)
    const entries = (ns: number[]) => packEntries(ns.map((n) => ({ time: 1000, nanos: 0, record: { n } })))
    const a = forwardChunkId('k.0.0', 'a', entries([1, 3]))
    const b = forwardChunkId('k.0.1', 'b', entries([2]))
    expect(a).toMatch(/^[A-Za-z0-9+/]{22}==$/)
    expect(new Set(ids.slice(0, 2))).toEqual(new Set([a, b]))
    expect(new Set(ids.slice(2, 4))).toEqual(new Set([a, b]))
    // Tag "a" now carries other entries: another id; tag "b" has the same records: the same id.
    expect(new Set(ids.slice(4, 6))).toEqual(new Set([forwardChunkId('k.0.0', 'a', entries([1, 4])), b]))
    expect(collector.events.map((e) => e.record)).toHaveLength(9)
  })

  it('the same chunk sent twice at once on one connection: both sends settle on its ack', async () => {
    const { server, collector } = await start()
    const c = new ForwardClient({ servers: [{ host: '127.0.0.1', port: server.port }], timeout: '5s' })
    const entries = [{ time: 1000, nanos: 0, record: { n: 1 } }]
    const t0 = Date.now()
    await Promise.all([c.send('a', entries, 'k.0.0'), c.send('a', entries, 'k.0.0')])
    expect(Date.now() - t0).toBeLessThan(4000)
    await c.close()
    expect(collector.metas.map((m) => m.chunk)).toEqual([
      forwardChunkId('k.0.0', 'a', packEntries(entries)),
      forwardChunkId('k.0.0', 'a', packEntries(entries)),
    ])
  })

  it('without keys every send has a random id', async () => {
    const { server, collector } = await start()
    const d = await openDelivery(forwardOutput, { servers: [{ host: '127.0.0.1', port: server.port }] })
    await d.deliver([rec({ n: 1 }, 'a', 1000)])
    await d.deliver([rec({ n: 1 }, 'a', 1000)])
    await d.close?.()
    const ids = collector.metas.map((m) => m.chunk!)
    expect(ids).toHaveLength(2)
    expect(ids[0]).not.toBe(ids[1])
  })
})

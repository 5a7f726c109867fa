import { createHash } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { afterEach, describe, expect, it } from 'vitest'
import { EventTime, packr } from '../../../src/plugins/forward/event-time.ts'
import { decodeRequest, encodePackedForward } from '../../../src/plugins/forward/protocol.ts'
import { ForwardServer } from '../../../src/plugins/forward/server.ts'
import type { ForwardServerOptions } from '../../../src/plugins/forward/server.ts'
import type { ForwardRequest } from '../../../src/plugins/forward/server-connection.ts'
import { Collector, RawPeer, sleep } from './support.ts'

const servers: ForwardServer[] = []
const logs: Array<{ level: string; message: string }> = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close(500)))
  logs.length = 0
})

async function start(extra: Partial<ForwardServerOptions> = {}, collector = new Collector()) {
  const server = await ForwardServer.listen({
    port: 0,
    onEvents: collector.onEvents,
    log: (level, message) => logs.push({ level, message }),
    ...extra,
  })
  servers.push(server)
  return { server, collector }
}

const sha = (...parts: Array<string | Uint8Array>): string => {
  const h = createHash('sha512')
  h.update(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p))))
  return h.digest('hex')
}

describe('forward server', () => {
  it('acknowledges a chunk exactly once, and sends nothing for a request without chunk', async () => {
    const { server, collector } = await start()
    const peer = await RawPeer.open(server.port)
    peer.write(packr.pack(['a.b', 1441588984, { n: 1 }]))
    peer.write(packr.pack(['a.b', new EventTime(1441588985, 9), { n: 2 }, { chunk: 'c1' }]))
    expect(await peer.next()).toEqual({ ack: 'c1' })
    await collector.waitFor(2)
    await sleep(50)
    expect(peer.unread).toBe(0)
    expect(collector.events).toEqual([
      { tag: 'a.b', time: 1441588984000, nanos: 0, record: { n: 1 } },
      { tag: 'a.b', time: 1441588985000, nanos: 9, record: { n: 2 } },
    ])
    expect(server.metrics).toMatchObject({ messages: 2, events: 2, badFrames: 0 })
    peer.end()
  })

  it('handles every event a sender wrote before closing, while a slow handler held the earlier ones', async () => {
    const collector = new Collector()
    const slow = (
      tag: string,
      entries: Parameters<Collector['onEvents']>[1],
      meta: Parameters<Collector['onEvents']>[2],
    ) => sleep(30).then(() => collector.onEvents(tag, entries, meta))
    const { server } = await start({ onEvents: slow }, collector)
    const peer = await RawPeer.open(server.port)
    for (let n = 1; n <= 3; n++) peer.write(packr.pack(['app.log', 1441588984 + n, { n }]))
    peer.end()
    await collector.waitFor(3)
    expect(collector.events.map((e) => e.record)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }])
  })

  it('ignores a TCP nil heartbeat and answers a UDP 0x00 with 0x00 on the same port', async () => {
    const { server, collector } = await start()
    const peer = await RawPeer.open(server.port)
    peer.write(Buffer.from([0xc0]))
    peer.write(packr.pack(['t', 1, { ok: true }, { chunk: 'x' }]))
    expect(await peer.next()).toEqual({ ack: 'x' })
    expect(collector.events.length).toBe(1)
    const udp = createSocket('udp4')
    const reply = new Promise<Buffer>((resolve) => udp.once('message', (m) => resolve(m)))
    udp.send(Buffer.from([0]), server.port, '127.0.0.1')
    expect(await reply).toEqual(Buffer.from([0]))
    udp.close()
    peer.end()
  })

  it('a request split into single bytes is decoded once, whole', async () => {
    const { server, collector } = await start()
    const peer = await RawPeer.open(server.port)
    const entries = Array.from({ length: 50 }, (_, i) => ({
      time: 1_700_000_000_000 + i,
      nanos: i * 1_000_000,
      record: { i },
    }))
    const bytes = encodePackedForward('split', entries, 'k')
    for (const b of bytes) {
      peer.write(Buffer.from([b]))
      if (b % 7 === 0) await sleep(0)
    }
    expect(await peer.next()).toEqual({ ack: 'k' })
    expect(collector.events.map((e) => e.record)).toEqual(entries.map((e) => e.record))
    expect(server.metrics.messages).toBe(1)
    peer.end()
  })

  it('the ack is written only after onEvents settles, and reading pauses meanwhile', async () => {
    const calls: string[] = []
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const { server } = await start({
      onEvents: async (tag) => {
        calls.push(`start ${tag}`)
        if (tag === 'slow') await gate
        calls.push(`end ${tag}`)
      },
    })
    const peer = await RawPeer.open(server.port)
    peer.write(packr.pack(['slow', 1, { a: 1 }, { chunk: 's' }]))
    peer.write(packr.pack(['fast', 1, { a: 2 }, { chunk: 'f' }]))
    await sleep(100)
    expect(peer.unread).toBe(0)
    expect(calls).toEqual(['start slow'])
    release()
    expect(await peer.next()).toEqual({ ack: 's' })
    expect(await peer.next()).toEqual({ ack: 'f' })
    expect(calls).toEqual(['start slow', 'end slow', 'start fast', 'end fast'])
    peer.end()
  })

  it('with maxInFlight 3: three requests are handled at once, the fourth waits, and acks come in arrival order though later ones settle first', async () => {
    const started: string[] = []
    const release = new Map<string, () => void>()
    const { server } = await start({
      maxInFlight: 3,
      onEvents: (tag) => {
        started.push(tag)
        return new Promise<void>((resolve) => release.set(tag, resolve))
      },
    })
    const peer = await RawPeer.open(server.port)
    for (const t of ['a', 'b', 'c', 'd']) peer.write(packr.pack([t, 1, { t }, { chunk: t }]))
    await sleep(100)
    expect(started).toEqual(['a', 'b', 'c'])
    release.get('c')!()
    release.get('b')!()
    await sleep(50)
    // b and c are handled, but a is not: no ack may overtake a's, and d still waits for room.
    expect(peer.unread).toBe(0)
    expect(started).toEqual(['a', 'b', 'c'])
    release.get('a')!()
    expect(await peer.next()).toEqual({ ack: 'a' })
    expect(await peer.next()).toEqual({ ack: 'b' })
    expect(await peer.next()).toEqual({ ack: 'c' })
    await sleep(20)
    expect(started).toEqual(['a', 'b', 'c', 'd'])
    expect(peer.unread).toBe(0)
    release.get('d')!()
    expect(await peer.next()).toEqual({ ack: 'd' })
    peer.end()
  })

  it('with maxInFlight: a failing request closes the connection; neither its ack nor a later one is written', async () => {
    const { server } = await start({
      maxInFlight: 4,
      onEvents: async (tag) => {
        await sleep(tag === 'a' ? 10 : 30)
        if (tag === 'b') throw new Error('disk full')
      },
    })
    const peer = await RawPeer.open(server.port)
    for (const t of ['a', 'b', 'c']) peer.write(packr.pack([t, 1, { t }, { chunk: t }]))
    expect(await peer.next()).toEqual({ ack: 'a' })
    await peer.closedPromise
    expect(peer.unread).toBe(0)
    expect(server.metrics.handlerErrors).toBe(1)
  })

  it('with onRequest: a request arrives undecoded with its tag, chunk and bytes; a PackedForward payload that is not whole MessagePack closes the connection unacknowledged', async () => {
    const requests: ForwardRequest[] = []
    const server = await ForwardServer.listen({
      port: 0,
      heartbeat: false,
      onRequest: (request) => {
        requests.push(request)
      },
      log: (level, message) => logs.push({ level, message }),
    })
    servers.push(server)
    const entries = [
      { time: 1_700_000_000_000, nanos: 5, record: { path: '/a' } },
      { time: 1_700_000_000_001, nanos: 1_000_000, record: { path: '/b' } },
    ]
    const peer = await RawPeer.open(server.port)
    peer.write(encodePackedForward('web', entries, 'k1'))
    expect(await peer.next()).toEqual({ ack: 'k1' })
    expect(requests.map(({ tag, chunk, mode, size }) => ({ tag, chunk, mode, size }))).toEqual([
      { tag: 'web', chunk: 'k1', mode: 'packed', size: 2 },
    ])
    expect(requests[0]!.remote).toMatch(/^127\.0\.0\.1:\d+$/)
    expect(decodeRequest(requests[0]!.bytes)!.entries).toEqual(entries)
    expect(server.metrics).toMatchObject({ messages: 1, events: 0 })

    const bad = await RawPeer.open(server.port)
    bad.write(packr.pack(['web', Buffer.from([0x93, 0x01]), { chunk: 'k2' }]))
    await bad.closedPromise
    expect(bad.unread).toBe(0)
    expect(requests.length).toBe(1)
    expect(server.metrics.badFrames).toBe(1)
    expect(logs.some((l) => /PackedForward payload is not whole MessagePack/.test(l.message))).toBe(true)
    peer.end()
  })

  it('a failing onEvents closes the connection without an ack and is counted', async () => {
    const { server } = await start({
      onEvents: () => {
        throw new Error('disk full')
      },
    })
    const peer = await RawPeer.open(server.port)
    peer.write(packr.pack(['t', 1, { a: 1 }, { chunk: 'z' }]))
    await expect(peer.next()).rejects.toThrow(/closed/)
    expect(server.metrics.handlerErrors).toBe(1)
    expect(logs.some((l) => l.level === 'error' && l.message.includes('disk full'))).toBe(true)
  })

  it('malformed bytes close that connection only; an acked connection and the server go on', async () => {
    const { server, collector } = await start()
    const good = await RawPeer.open(server.port)
    good.write(packr.pack(['t', 1, { a: 1 }, { chunk: 'g1' }]))
    expect(await good.next()).toEqual({ ack: 'g1' })
    const bad = await RawPeer.open(server.port)
    bad.write(Buffer.from([0x93, 0xa1, 0x74, 0xc1]))
    await bad.closedPromise
    const unknownMode = await RawPeer.open(server.port)
    unknownMode.write(packr.pack(['t', { not: 'a mode' }]))
    await unknownMode.closedPromise
    good.write(packr.pack(['t', 2, { a: 2 }, { chunk: 'g2' }]))
    expect(await good.next()).toEqual({ ack: 'g2' })
    expect(collector.events.map((e) => e.record)).toEqual([{ a: 1 }, { a: 2 }])
    expect(server.metrics.badFrames).toBe(2)
    expect(logs.filter((l) => l.level === 'error').map((l) => l.message)).toEqual([
      expect.stringMatching(/byte 0xc1 .* not MessagePack/),
      expect.stringMatching(/second element must be/),
    ])
    good.end()
  })

  it('an oversized chunk is refused from its header, counted and logged', async () => {
    const { server, collector } = await start({ maxChunkBytes: 10_000 })
    const peer = await RawPeer.open(server.port)
    const bytes = encodePackedForward(
      'big',
      [{ time: 1000, nanos: 0, record: { pad: 'x'.repeat(20_000) } }],
      'b',
    )
    peer.write(bytes.subarray(0, 100))
    await peer.closedPromise
    expect(server.metrics.oversizedChunks).toBe(1)
    expect(collector.events).toEqual([])
    expect(logs.some((l) => /exceeds maxChunkBytes 10000/.test(l.message))).toBe(true)
  })

  it('with a shared key: HELO first, a correct PING gets a PONG whose digest follows the spec', async () => {
    const { server, collector } = await start({ sharedKey: 'k3y', selfHostname: 'squall-in' })
    const peer = await RawPeer.open(server.port)
    const helo = (await peer.next()) as [string, { nonce: Uint8Array; auth: unknown; keepalive: boolean }]
    expect(helo[0]).toBe('HELO')
    expect(helo[1].nonce.length).toBe(16)
    expect(helo[1]).toMatchObject({ auth: '', keepalive: true })
    const salt = 'abcdef0123456789'
    const nonce = helo[1].nonce
    peer.write(packr.pack(['PING', 'client-a', salt, sha(salt, 'client-a', nonce, 'k3y'), '', '']))
    expect(await peer.next()).toEqual(['PONG', true, '', 'squall-in', sha(salt, 'squall-in', nonce, 'k3y')])
    peer.write(packr.pack(['t', 5, { a: 1 }, { chunk: 'after' }]))
    expect(await peer.next()).toEqual({ ack: 'after' })
    expect(collector.events.length).toBe(1)
    peer.end()
  })

  it('with a shared key: a wrong key gets PONG false "shared_key mismatch", then the connection closes', async () => {
    const { server, collector } = await start({ sharedKey: 'right' })
    const peer = await RawPeer.open(server.port)
    const helo = (await peer.next()) as [string, { nonce: Uint8Array }]
    peer.write(packr.pack(['PING', 'c', 's', sha('s', 'c', helo[1].nonce, 'wrong'), '', '']))
    expect(await peer.next()).toEqual(['PONG', false, 'shared_key mismatch', '', ''])
    await peer.closedPromise
    expect(server.metrics.authFailures).toBe(1)
    expect(collector.events).toEqual([])
  })

  it('with a shared key: events sent before the handshake are refused and not delivered', async () => {
    const { server, collector } = await start({ sharedKey: 'k' })
    const peer = await RawPeer.open(server.port)
    await peer.next()
    peer.write(packr.pack(['t', 1, { sneaky: true }, { chunk: 'c' }]))
    expect(await peer.next()).toEqual(['PONG', false, 'invalid ping message', '', ''])
    await peer.closedPromise
    expect(collector.events).toEqual([])
  })

  it('with users: a wrong password gets "username/password mismatch", the right one is let in', async () => {
    const { server } = await start({ sharedKey: 'k', users: [{ username: 'alice', password: 'pw' }] })
    for (const [password, expected] of [
      ['nope', ['PONG', false, 'username/password mismatch', '', '']],
      ['pw', ['PONG', true, '', expect.any(String), expect.any(String)]],
    ] as const) {
      const peer = await RawPeer.open(server.port)
      const helo = (await peer.next()) as [string, { nonce: Uint8Array; auth: Uint8Array }]
      expect(helo[1].auth.length).toBe(16)
      const { nonce, auth } = helo[1]
      peer.write(
        packr.pack(['PING', 'c', 's', sha('s', 'c', nonce, 'k'), 'alice', sha(auth, 'alice', password)]),
      )
      expect(await peer.next()).toEqual(expected)
      peer.end()
    }
    expect(server.metrics.authFailures).toBe(1)
  })

  it('close() waits for the request in progress and writes its ack before closing', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const { server } = await start({ onEvents: () => gate })
    servers.length = 0
    const peer = await RawPeer.open(server.port)
    peer.write(packr.pack(['t', 1, { a: 1 }, { chunk: 'last' }]))
    await sleep(50)
    const closing = server.close()
    release()
    expect(await peer.next()).toEqual({ ack: 'last' })
    await closing
    await peer.closedPromise
  })
})

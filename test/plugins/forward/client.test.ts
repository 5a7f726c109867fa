import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import type { Server, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ForwardClient } from '../../../src/plugins/forward/client.ts'
import { packr, unpackr } from '../../../src/plugins/forward/event-time.ts'
import { FrameReader } from '../../../src/plugins/forward/framing.ts'
import { decodeRequest } from '../../../src/plugins/forward/protocol.ts'
import { ForwardServer } from '../../../src/plugins/forward/server.ts'
import type { ForwardServerOptions } from '../../../src/plugins/forward/server.ts'
import { Collector } from './support.ts'
import { selfSigned } from './tls-cert.ts'

const servers: ForwardServer[] = []
const clients: ForwardClient[] = []
const fakes: Server[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await Promise.all(servers.splice(0).map((s) => s.close(500)))
  for (const f of fakes.splice(0)) f.close()
})

async function start(extra: Partial<ForwardServerOptions> = {}, collector = new Collector()) {
  const server = await ForwardServer.listen({
    port: 0,
    onEvents: collector.onEvents,
    log: () => {},
    ...extra,
  })
  servers.push(server)
  return { server, collector }
}

function client(options: ConstructorParameters<typeof ForwardClient>[0]): ForwardClient {
  const c = new ForwardClient(options)
  clients.push(c)
  return c
}

const batch = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => ({
    time: 1_700_000_000_000 + from + i,
    nanos: ((from + i) % 1000) * 1_000_000 + 7,
    record: { seq: from + i, path: `/p${(from + i) % 3}` },
  }))

/** A fake server that speaks through a test-supplied function for each decoded request. */
async function fakeServer(
  onFrame: (socket: Socket, frame: Buffer, index: number) => void,
  greet?: (s: Socket) => void,
) {
  let index = 0
  const server = createServer((socket) => {
    const reader = new FrameReader(1 << 24)
    greet?.(socket)
    socket.on('data', (d: Buffer) => {
      reader.push(d)
      let f: Buffer | null
      while ((f = reader.next()) !== null) onFrame(socket, f, index++)
    })
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  fakes.push(server)
  return { server, port: (server.address() as { port: number }).port }
}

describe('forward client and server together', () => {
  it('send() resolves on the ack and the server receives the exact entries, nanoseconds included', async () => {
    const { server, collector } = await start()
    const c = client({ servers: [{ host: '127.0.0.1', port: server.port }] })
    await Promise.all([
      c.send('a.b', batch(0, 100)),
      c.send('a.c', batch(100, 100)),
      c.send('a.b', batch(200, 5)),
    ])
    expect(collector.events.length).toBe(205)
    const got = collector.events.filter((e) => e.tag === 'a.c')
    expect(got).toEqual(batch(100, 100).map((e) => ({ tag: 'a.c', ...e })))
    expect(collector.metas.every((m) => m.mode === 'packed' && typeof m.chunk === 'string')).toBe(true)
  })

  it('authenticates with a shared key, and a wrong key rejects with ERR_FORWARD_AUTH', async () => {
    const { server, collector } = await start({
      sharedKey: 'abc',
      selfHostname: 'in',
      users: [{ username: 'u', password: 'p' }],
    })
    const good = client({
      servers: [{ host: '127.0.0.1', port: server.port }],
      sharedKey: 'abc',
      selfHostname: 'out',
      username: 'u',
      password: 'p',
    })
    await good.send('sec', batch(0, 3))
    expect(collector.events.map((e) => e.record)).toEqual(batch(0, 3).map((e) => e.record))
    const bad = client({ servers: [{ host: '127.0.0.1', port: server.port }], sharedKey: 'nope', retries: 0 })
    await expect(bad.send('sec', batch(3, 1))).rejects.toMatchObject({
      code: 'ERR_FORWARD_AUTH',
      message: expect.stringContaining('shared_key mismatch'),
    })
    expect(server.metrics.authFailures).toBe(1)
    expect(collector.events.length).toBe(3)
  })

  describe('over TLS', () => {
    let dir = ''
    let cert = ''
    let key = ''
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'squall-forward-tls-'))
      ;({ cert, key } = selfSigned(dir, 'localhost'))
    })
    afterAll(() => rmSync(dir, { recursive: true, force: true }))

    it('delivers with a shared key over TLS, and refuses a server whose certificate is not trusted', async () => {
      const { server, collector } = await start({ tls: { cert, key }, sharedKey: 'k' })
      const c = client({
        servers: [{ host: '127.0.0.1', port: server.port }],
        sharedKey: 'k',
        tls: { ca: cert },
      })
      await c.send('tls', batch(0, 10))
      expect(collector.events.map((e) => e.record)).toEqual(batch(0, 10).map((e) => e.record))
      const untrusting = client({
        servers: [{ host: '127.0.0.1', port: server.port }],
        sharedKey: 'k',
        tls: true,
        retries: 0,
      })
      await expect(untrusting.send('tls', batch(10, 1))).rejects.toMatchObject({
        code: 'ERR_FORWARD_CONNECTION',
      })
      expect(collector.events.length).toBe(10)
    })
  })

  it('round-robins over two servers and fails over when one stops, then uses it again when it is back', async () => {
    const a = await start()
    const b = await start()
    const c = client({
      servers: [
        { host: '127.0.0.1', port: a.server.port },
        { host: '127.0.0.1', port: b.server.port },
      ],
      recoverInterval: 50,
    })
    for (let i = 0; i < 4; i++) await c.send('rr', batch(i * 10, 10))
    expect([a.collector.events.length, b.collector.events.length]).toEqual([20, 20])
    const portA = a.server.port
    servers.splice(servers.indexOf(a.server), 1)
    await a.server.close(100)
    for (let i = 4; i < 8; i++) await c.send('rr', batch(i * 10, 10))
    expect(b.collector.events.length).toBe(60)
    expect(c.downServers).toEqual([`127.0.0.1:${portA}`])
    const back = await start({ port: portA })
    for (let i = 0; i < 50 && c.downServers.length > 0; i++) await new Promise((r) => setTimeout(r, 20))
    expect(c.downServers).toEqual([])
    for (let i = 8; i < 12; i++) await c.send('rr', batch(i * 10, 10))
    expect(back.collector.events.length).toBe(20)
    const all = [...a.collector.events, ...b.collector.events, ...back.collector.events].map(
      (e) => (e.record as { seq: number }).seq,
    )
    expect(all.sort((x, y) => x - y)).toEqual(Array.from({ length: 120 }, (_, i) => i))
  })

  it('re-sends the same chunk to the next server when no ack comes in time (at-least-once)', async () => {
    const seen: Array<{ server: string; chunk: string | undefined }> = []
    const silent = await fakeServer((_s, f) =>
      seen.push({ server: 'silent', chunk: decodeRequest(f)!.chunk }),
    )
    const acking = await fakeServer((s, f) => {
      const chunk = decodeRequest(f)!.chunk!
      seen.push({ server: 'acking', chunk })
      s.write(packr.pack({ ack: chunk }))
    })
    const c = client({
      servers: [
        { host: '127.0.0.1', port: silent.port },
        { host: '127.0.0.1', port: acking.port },
      ],
      timeout: 150,
    })
    await c.send('retry', batch(0, 2))
    expect(seen.map((s) => s.server)).toEqual(['silent', 'acking'])
    expect(seen[0]!.chunk).toBe(seen[1]!.chunk)
  })

  it('rejects with a retryable ERR_FORWARD_ACK_TIMEOUT when no server acknowledges', async () => {
    const silent = await fakeServer(() => {})
    const c = client({ servers: [{ host: '127.0.0.1', port: silent.port }], timeout: 100, retries: 1 })
    await expect(c.send('t', batch(0, 1))).rejects.toMatchObject({
      code: 'ERR_FORWARD_ACK_TIMEOUT',
      retryable: true,
    })
  })

  it('waits for HELO, sends a correct PING, and rejects a PONG whose digest is wrong', async () => {
    const pings: unknown[] = []
    const liar = await fakeServer(
      (s, f) => {
        pings.push(unpackr.unpack(f))
        s.write(packr.pack(['PONG', true, '', 'liar', 'f'.repeat(128)]))
      },
      (s) => s.write(packr.pack(['HELO', { nonce: Buffer.alloc(16, 9), auth: '', keepalive: true }])),
    )
    const c = client({
      servers: [{ host: '127.0.0.1', port: liar.port }],
      sharedKey: 'k',
      selfHostname: 'me',
      retries: 0,
    })
    await expect(c.send('t', batch(0, 1))).rejects.toMatchObject({
      code: 'ERR_FORWARD_AUTH',
      message: expect.stringContaining('does not match'),
    })
    const ping = pings[0] as string[]
    expect(ping.length).toBe(6)
    expect(ping.slice(0, 2)).toEqual(['PING', 'me'])
    const { sharedKeyDigest } = await import('../../../src/plugins/forward/handshake.ts')
    expect(ping[3]).toBe(sharedKeyDigest(ping[2]!, 'me', Buffer.alloc(16, 9), 'k'))
  })

  it('rejects with ERR_FORWARD_CONNECTION when no server is reachable', async () => {
    const { server } = await start()
    const port = server.port
    await server.close()
    servers.length = 0
    const c = client({ servers: [{ host: '127.0.0.1', port }], retries: 0 })
    await expect(c.send('t', batch(0, 1))).rejects.toMatchObject({
      code: 'ERR_FORWARD_CONNECTION',
      retryable: true,
    })
  })
})

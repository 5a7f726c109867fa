// Tests of the syslog server over real sockets on 127.0.0.1: UDP, TCP with both framings, frames cut
// by a closing connection, oversized messages, framing errors and backpressure.

import { createSocket } from 'node:dgram'
import { connect, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { memoryLogger } from '../../../src/core/logger.ts'
import {
  type SyslogMeta,
  SyslogServer,
  type SyslogServerOptions,
} from '../../../src/plugins/syslog/server.ts'

const servers: SyslogServer[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close()
})

interface Received {
  messages: string[]
  metas: SyslogMeta[]
}

async function start(
  options: Partial<SyslogServerOptions>,
): Promise<{ server: SyslogServer; port: number; got: Received }> {
  const got: Received = { messages: [], metas: [] }
  const server = new SyslogServer({
    port: 0,
    onMessages: (messages, meta) => {
      got.messages.push(...messages)
      got.metas.push(meta)
    },
    ...options,
  })
  servers.push(server)
  const { port } = await server.listen()
  return { server, port, got }
}

async function until(ok: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 5))
  }
}

async function sendTcp(port: number, data: string | Buffer): Promise<void> {
  const socket = connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    socket.on('error', reject)
    socket.end(data, () => resolve())
  })
  await new Promise<void>((resolve) => socket.on('close', () => resolve()))
}

function octet(msg: string): string {
  return `${Buffer.byteLength(msg)} ${msg}`
}

describe('SyslogServer', () => {
  it('syslog server: UDP datagrams arrive as raw messages with the sender address', async () => {
    const { port, got } = await start({ protocol: 'udp' })
    const client = createSocket('udp4')
    const send = (s: string) =>
      new Promise<void>((resolve, reject) =>
        client.send(s, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())),
      )
    await send('<34>1 2003-10-11T22:14:15.003Z host app - - - one')
    await send('<13>two\n<13>three\n')
    await until(() => got.messages.length === 3)
    expect(got.messages).toEqual([
      '<34>1 2003-10-11T22:14:15.003Z host app - - - one',
      '<13>two',
      '<13>three',
    ])
    expect(got.metas[0]).toEqual({
      remote: { address: '127.0.0.1', port: client.address().port },
      protocol: 'udp',
    })
    client.close()
  })

  it('syslog server: TCP with octet counting and with newline framing, detected per connection', async () => {
    const { port, got } = await start({ protocol: 'tcp' })
    await sendTcp(port, octet('<1>multi\nline') + octet('<2>second'))
    await sendTcp(port, '<3>plain one\n<3>plain two\n')
    await until(() => got.messages.length === 4)
    expect(got.messages).toEqual(['<1>multi\nline', '<2>second', '<3>plain one', '<3>plain two'])
    expect(got.metas.every((m) => m.protocol === 'tcp' && m.remote.address === '127.0.0.1')).toBe(true)
  })

  it('syslog server: a frame cut in half by the closing connection is logged, counted and not delivered', async () => {
    const log = memoryLogger()
    const { server, port, got } = await start({ protocol: 'tcp', log })
    await sendTcp(port, `${octet('<1>whole')}40 <1>only part of it`)
    await until(() => server.stats().truncated === 1)
    expect(got.messages).toEqual(['<1>whole'])
    expect(log.entries.some((e) => e.level === 'warn' && /middle of a frame/.test(e.message))).toBe(true)
  })

  it('syslog server: oversized messages are dropped and counted over TCP and UDP', async () => {
    const tcp = await start({ protocol: 'tcp', maxMessageBytes: 32 })
    await sendTcp(tcp.port, `<1>a\n${'z'.repeat(100)}\n<1>b\n`)
    await until(() => tcp.got.messages.length === 2)
    expect(tcp.got.messages).toEqual(['<1>a', '<1>b'])
    expect(tcp.server.stats().oversized).toBe(1)

    const udp = await start({ protocol: 'udp', maxMessageBytes: 32 })
    const client = createSocket('udp4')
    client.send('z'.repeat(100), udp.port, '127.0.0.1')
    client.send('<1>small', udp.port, '127.0.0.1')
    await until(() => udp.got.messages.length === 1 && udp.server.stats().oversized === 1)
    expect(udp.got.messages).toEqual(['<1>small'])
    client.close()
  })

  it('syslog server: a malformed octet count closes the connection and is counted', async () => {
    const { server, port, got } = await start({ protocol: 'tcp', framing: 'octet-counting' })
    await sendTcp(port, `${octet('<1>ok')}abc <1>bad`)
    await until(() => server.stats().framingErrors === 1)
    expect(got.messages).toEqual(['<1>ok'])
  })

  it('syslog server: a connection is paused while its batch is pending, and nothing is lost or reordered', async () => {
    const batches: string[][] = []
    let inFlight = 0
    let maxInFlight = 0
    let release: () => void = () => {}
    let gate = new Promise<void>((r) => (release = r))
    const { port } = await start({
      protocol: 'tcp',
      onMessages: async (messages) => {
        inFlight++
        maxInFlight = Math.max(maxInFlight, inFlight)
        batches.push(messages)
        await gate
        inFlight--
      },
    })
    const socket: Socket = connect(port, '127.0.0.1')
    await new Promise<void>((r) => socket.on('connect', () => r()))
    const total = 20_000
    let payload = ''
    for (let i = 0; i < total; i++) payload += `<1>message number ${i} ${'p'.repeat(40)}\n`
    socket.write(payload)
    await until(() => batches.length === 1)
    await new Promise((r) => setTimeout(r, 50))
    expect(batches.length).toBe(1)
    release()
    for (;;) {
      gate = new Promise<void>((r) => (release = r))
      await new Promise((r) => setTimeout(r, 1))
      release()
      if (batches.flat().length >= total) break
    }
    socket.end()
    const all = batches.flat()
    expect(all.length).toBe(total)
    expect(all[0]).toMatch(/^<1>message number 0 /)
    for (let i = 0; i < total; i += 997) expect(all[i]).toMatch(new RegExp(`^<1>message number ${i} `))
    expect(maxInFlight).toBe(1)
  })

  it('syslog server: a failing handler is logged and counted, and its connection closed', async () => {
    const log = memoryLogger()
    const { server, port } = await start({
      protocol: 'tcp',
      log,
      onMessages: () => Promise.reject(new Error('journal full')),
    })
    await sendTcp(port, '<1>a\n')
    await until(() => server.stats().deliveryErrors === 1)
    expect(
      log.entries.some((e) => e.level === 'error' && JSON.stringify(e.fields).includes('journal full')),
    ).toBe(true)
  })

  it('syslog server: bad options are refused with the parameter named', () => {
    expect(() => new SyslogServer({ protocol: 'sctp' as 'tcp', onMessages: () => {} })).toThrow(
      /protocol: expected/,
    )
    expect(() => new SyslogServer({ framing: 'lines' as 'newline', onMessages: () => {} })).toThrow(/framing/)
  })

  it('syslog server: a port in use fails listen with ERR_SOURCE_FAILED', async () => {
    const { port } = await start({ protocol: 'tcp' })
    const second = new SyslogServer({ protocol: 'tcp', port, onMessages: () => {} })
    await expect(second.listen()).rejects.toMatchObject({ code: 'ERR_SOURCE_FAILED' })
  })
})

import { execFile } from 'node:child_process'
import { FluentClient, EventTime as OrgEventTime } from '@fluent-org/logger'
import fluentLogger from 'fluent-logger'
import { afterEach, describe, expect, it } from 'vitest'
import { ForwardServer } from '../../../src/plugins/forward/server.ts'
import type { ForwardServerOptions } from '../../../src/plugins/forward/server.ts'
import { Collector } from './support.ts'
import { PYTHON, PYTHON_MISSING, skipPythonClient } from './python-logger.ts'

const servers: ForwardServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close(500)))
})

async function start(extra: Partial<ForwardServerOptions> = {}) {
  const collector = new Collector()
  const server = await ForwardServer.listen({
    port: 0,
    onEvents: collector.onEvents,
    log: () => {},
    ...extra,
  })
  servers.push(server)
  return { server, collector }
}

const T = 1_700_000_000

type SenderOptions = { [k: string]: unknown }

/** fluent-logger's sender as it behaves at runtime (its bundled typings differ). */
interface Sender {
  emit(...args: unknown[]): void
  end(): void
  on(event: string, listener: (error: unknown) => void): void
}
const createSender = (options: SenderOptions): Sender =>
  fluentLogger.createFluentSender('app', options as never) as unknown as Sender
const LoggerEventTime = fluentLogger.EventTime as unknown as new (seconds: number, nanos: number) => object

/** Emits with fluent-logger's sender and resolves when every callback has fired. */
function emitAll(sender: Sender, items: Array<[string, object, unknown]>) {
  return Promise.all(
    items.map(
      ([label, data, time]) =>
        new Promise<void>((resolve, reject) =>
          sender.emit(label, data, time, (error: unknown) => (error ? reject(error) : resolve())),
        ),
    ),
  )
}

describe('forward server with the fluent-logger npm package', () => {
  const cases: Array<[string, SenderOptions, Partial<ForwardServerOptions>]> = [
    ['its default Message mode', {}, {}],
    ['requireAckResponse: true', { requireAckResponse: true, ackResponseTimeout: 5000 }, {}],
    ['PackedForward mode with ack', { eventMode: 'PackedForward', requireAckResponse: true }, {}],
    ['CompressedPackedForward mode', { eventMode: 'CompressedPackedForward', requireAckResponse: true }, {}],
    [
      'a shared key',
      { requireAckResponse: true, security: { clientHostname: 'node-app', sharedKey: 's3cret' } },
      { sharedKey: 's3cret', selfHostname: 'squall' },
    ],
  ]
  for (const [name, senderOptions, serverOptions] of cases) {
    it(`delivers exact tags, records and times with ${name}`, async () => {
      const { server, collector } = await start(serverOptions)
      const sender = createSender({
        host: '127.0.0.1',
        port: server.port,
        timeout: 3.0,
        reconnectInterval: 600000,
        internalLogger: { info() {}, error() {} },
        ...senderOptions,
      })
      await emitAll(sender, [
        ['access', { path: '/a', status: 200 }, T],
        ['access', { path: '/b', status: 404 }, new LoggerEventTime(T + 1, 250_000_000)],
        ['error', { message: 'boom', nested: { list: [1, 'two'] } }, T + 2],
      ])
      await collector.waitFor(3)
      sender.end()
      expect(collector.events).toEqual([
        { tag: 'app.access', time: T * 1000, nanos: 0, record: { path: '/a', status: 200 } },
        {
          tag: 'app.access',
          time: (T + 1) * 1000 + 250,
          nanos: 250_000_000,
          record: { path: '/b', status: 404 },
        },
        {
          tag: 'app.error',
          time: (T + 2) * 1000,
          nanos: 0,
          record: { message: 'boom', nested: { list: [1, 'two'] } },
        },
      ])
      if (senderOptions.requireAckResponse)
        expect(collector.metas.every((m) => typeof m.chunk === 'string')).toBe(true)
    })
  }

  it('a fluent-logger with the wrong shared key delivers nothing and is counted', async () => {
    const { server, collector } = await start({ sharedKey: 'right' })
    const sender = createSender({
      host: '127.0.0.1',
      port: server.port,
      timeout: 1.0,
      reconnectInterval: 600000,
      security: { clientHostname: 'node-app', sharedKey: 'wrong' },
      internalLogger: { info() {}, error() {} },
    })
    sender.on('error', () => {})
    sender.emit('x', { a: 1 }, T)
    for (let i = 0; i < 100 && server.metrics.authFailures === 0; i++)
      await new Promise((r) => setTimeout(r, 20))
    sender.end()
    expect(server.metrics.authFailures).toBe(1)
    expect(collector.events).toEqual([])
  })
})

describe('forward server with @fluent-org/logger', () => {
  for (const eventMode of ['Message', 'Forward', 'PackedForward', 'CompressedPackedForward'] as const) {
    it(`delivers EventTime-precise events with acks in ${eventMode} mode and a shared key`, async () => {
      const { server, collector } = await start({ sharedKey: 'k', selfHostname: 'squall' })
      const client = new FluentClient('org', {
        eventMode,
        socket: { host: '127.0.0.1', port: server.port },
        security: { clientHostname: 'org-app', sharedKey: 'k' },
        ack: { ackTimeout: 5000 },
        flushInterval: 5,
      })
      await Promise.all([
        client.emit('web', { path: '/x', bytes: 10 }, new OrgEventTime(T, 123_456_789)),
        client.emit('web', { path: '/y', bytes: 20 }, new OrgEventTime(T + 3, 1)),
        client.emit('db', { query: 'select 1' }, new OrgEventTime(T + 4, 999_999_999)),
      ])
      await client.shutdown()
      const byTag = [...collector.events].sort((a, b) => a.time - b.time)
      expect(byTag).toEqual([
        { tag: 'org.web', time: T * 1000 + 123, nanos: 123_456_789, record: { path: '/x', bytes: 10 } },
        { tag: 'org.web', time: (T + 3) * 1000, nanos: 1, record: { path: '/y', bytes: 20 } },
        { tag: 'org.db', time: (T + 4) * 1000 + 999, nanos: 999_999_999, record: { query: 'select 1' } },
      ])
      expect(collector.metas.every((m) => typeof m.chunk === 'string')).toBe(true)
    })
  }
})

describe.skipIf(skipPythonClient('the python3-fluent-logger test'))(
  'forward server with python3-fluent-logger (Debian)',
  () => {
    it('delivers integer-time and nanosecond-precision events from a Python process', async () => {
      expect(PYTHON_MISSING, 'the python fluent-logger client').toBeUndefined()
      const { server, collector } = await start()
      const script = `
import sys
from fluent import sender
port = int(sys.argv[1])
s = sender.FluentSender('py', host='127.0.0.1', port=port)
assert s.emit_with_time('login', ${T}, {'user': 'ann', 'ok': True})
assert s.emit_with_time('login', ${T + 1}, {'user': 'bob', 'ok': False, 'tries': [1, 2.5]})
s.close()
n = sender.FluentSender('py', host='127.0.0.1', port=port, nanosecond_precision=True)
assert n.emit_with_time('precise', ${T + 2}.5, {'unicode': 'caf\\u00e9'})
n.close()
`
      await new Promise<void>((resolve, reject) =>
        execFile(PYTHON, ['-c', script, String(server.port)], (error, _out, stderr) =>
          error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(),
        ),
      )
      await collector.waitFor(3)
      expect(collector.events).toEqual([
        { tag: 'py.login', time: T * 1000, nanos: 0, record: { user: 'ann', ok: true } },
        {
          tag: 'py.login',
          time: (T + 1) * 1000,
          nanos: 0,
          record: { user: 'bob', ok: false, tries: [1, 2.5] },
        },
        { tag: 'py.precise', time: (T + 2) * 1000 + 500, nanos: 500_000_000, record: { unicode: 'café' } },
      ])
    })
  },
)

// The forward input with `tls` in a pipeline file, run as `squall run`: TLS senders get in, plain-TCP
// senders and (with clientCertAuth) senders without a trusted certificate are refused.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FluentClient, EventTime } from '@fluent-org/logger'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ForwardClient } from '../../src/plugins/forward/client.ts'
import { jsonLines, until } from './pipeline-support.ts'
import { selfSigned } from '../plugins/forward/tls-cert.ts'

const BIN = join(import.meta.dirname, '../../bin/squall.js')
const started: ChildProcess[] = []

/**
 * Starts `squall run <path>` and resolves once every source in `names` logged its port; `stderr()`
 * is everything the process wrote there so far.
 */
function start(path: string, names: string[]) {
  return new Promise<{ child: ChildProcess; ports: Map<string, number>; stderr: () => string }>(
    (resolve, reject) => {
      const child = spawn(process.execPath, [BIN, 'run', path], { stdio: ['ignore', 'ignore', 'pipe'] })
      started.push(child)
      let err = ''
      const ports = new Map<string, number>()
      child.stderr!.on('data', (d: Buffer) => {
        err += d.toString()
        for (const m of err.matchAll(/forward input "([^"]+)" listening on [^:]+:(\d+)/g))
          ports.set(m[1]!, Number(m[2]))
        if (names.every((n) => ports.has(n))) resolve({ child, ports, stderr: () => err })
      })
      child.on('exit', (code) => reject(new Error(`squall exited with ${code}: ${err}`)))
    },
  )
}

const stop = async (child: ChildProcess): Promise<number | null> => {
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
  child.kill('SIGTERM')
  return exited
}

let dir = ''
let server: { cert: string; key: string }
let client: { cert: string; key: string }
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'squall-pipeline-tls-'))
  server = selfSigned(dir, 'server')
  client = selfSigned(dir, 'client')
})
afterAll(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})

describe('the forward input with tls in a pipeline file', () => {
  it('@fluent-org/logger over TLS gets its events in; a plain-TCP sender and, with clientCertAuth, a sender without a trusted certificate are refused', async () => {
    const path = join(dir, 'pipeline.yaml')
    writeFileSync(
      path,
      `name: tlsjob
sources:
  - name: secure
    type: forward
    port: 0
    bind: 127.0.0.1
    tls: { certPath: ./server.crt, privateKeyPath: ./server.key }
  - name: mutual
    type: forward
    port: 0
    bind: 127.0.0.1
    tls: { certPath: ./server.crt, privateKeyPath: ./server.key, caPath: ./client.crt, clientCertAuth: true }
outputs:
  - type: file
    path: ./out.log
    format: { type: json, includeTagKey: true }
    buffer: { flushInterval: 20ms }
`,
    )
    const job = await start(path, ['secure', 'mutual'])
    const secure = job.ports.get('secure')!
    const mutual = job.ports.get('mutual')!
    expect(job.stderr()).toMatch(/forward input "secure" listening on 127\.0\.0\.1:\d+ \(TLS\)/)

    const logger = new FluentClient('org', {
      eventMode: 'PackedForward',
      socket: { host: '127.0.0.1', port: secure, tls: { ca: server.cert } },
      ack: { ackTimeout: 5000 },
      flushInterval: 5,
    })
    await Promise.all([
      logger.emit('web', { n: 1, path: '/a' }, new EventTime(1_700_000_000, 0)),
      logger.emit('web', { n: 2, path: '/b' }, new EventTime(1_700_000_001, 0)),
      logger.emit('db', { n: 3, query: 'select 1' }, new EventTime(1_700_000_002, 0)),
    ])
    await logger.shutdown()

    const entry = (n: number) => [{ time: 1_700_000_000_000, nanos: 0, record: { n } }]
    const plain = new ForwardClient({
      servers: [{ host: '127.0.0.1', port: secure }],
      retries: 0,
      connectTimeout: '2s',
      timeout: '2s',
    })
    await expect(plain.send('plain', entry(100))).rejects.toMatchObject({
      code: expect.stringMatching(/^ERR_FORWARD_/),
    })
    await plain.close()

    const anonymous = new ForwardClient({
      servers: [{ host: '127.0.0.1', port: mutual }],
      tls: { ca: server.cert },
      retries: 0,
      connectTimeout: '2s',
      timeout: '2s',
    })
    await expect(anonymous.send('anonymous', entry(200))).rejects.toMatchObject({
      code: expect.stringMatching(/^ERR_FORWARD_/),
    })
    await anonymous.close()

    const known = new ForwardClient({
      servers: [{ host: '127.0.0.1', port: mutual }],
      tls: { ca: server.cert, cert: client.cert, key: client.key },
      retries: 0,
    })
    await known.send('known', entry(4))
    await known.close()

    const out = join(dir, 'out.log')
    await until(() => jsonLines(out).length >= 4, 'the four accepted events')
    expect(job.stderr()).toMatch(/TLS handshake failed/)
    expect(await stop(job.child)).toBe(0)
    const records = jsonLines(out).sort((a, b) => (a.n as number) - (b.n as number))
    expect(records).toEqual([
      { n: 1, path: '/a', tag: 'org.web' },
      { n: 2, path: '/b', tag: 'org.web' },
      { n: 3, query: 'select 1', tag: 'org.db' },
      { n: 4, tag: 'known' },
    ])
  })

  it('squall check names a missing TLS file by its path, and a caPath missing for clientCertAuth', () => {
    const path = join(dir, 'bad-tls.yaml')
    writeFileSync(
      path,
      `sources:
  - type: forward
    tls: { certPath: ./server.crt, privateKeyPath: ./nowhere/server.key }
  - type: forward
    port: 24225
    tls: { certPath: ./server.crt, privateKeyPath: ./server.key, clientCertAuth: true }
outputs:
  - type: stdout
`,
    )
    const r = spawnSync(process.execPath, [BIN, 'check', path], { encoding: 'utf8', timeout: 30_000 })
    expect(r.status).toBe(1)
    expect(r.stderr.split('\n')).toEqual([
      `${path}: 2 problems`,
      `  sources[0].tls.privateKeyPath: cannot use ${JSON.stringify(join(dir, 'nowhere/server.key'))}: no such file`,
      '  sources[1].tls.caPath: is required with clientCertAuth: true (the CA that client certificates must chain to)',
      '',
    ])
  })
})

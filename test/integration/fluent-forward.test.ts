import { spawn } from 'node:child_process'
import { join } from 'node:path'
import fluentLogger from 'fluent-logger'
import { afterEach, describe, expect, it } from 'vitest'
import { jsonLines, type RunningPipeline, runPipelineYaml, until } from './pipeline-support.ts'
import { PYTHON, PYTHON_MISSING, skipPythonClient } from '../plugins/forward/python-logger.ts'

interface Sender {
  emit(...args: unknown[]): void
  end(): void
  on(event: string, fn: (e: unknown) => void): void
}

function sender(port: number, sharedKey: string): Sender {
  const s = fluentLogger.createFluentSender('app', {
    host: '127.0.0.1',
    port,
    timeout: 3,
    reconnectInterval: 100,
    requireAckResponse: true,
    security: { clientHostname: 'test-app', sharedKey },
  } as never) as unknown as Sender
  s.on('error', () => {})
  return s
}

function emit(s: Sender, label: string, data: object): Promise<void> {
  return new Promise((resolve, reject) => s.emit(label, data, (e: unknown) => (e ? reject(e) : resolve())))
}

const PIPELINE = `
name: fluent
state: { dir: $DIR/state, checkpointInterval: 200ms }
sources:
  - name: fluent
    type: forward
    port: 0
    bind: 127.0.0.1
    sharedKey: s3cret
outputs:
  - type: file
    match: "app.web.**"
    path: $DIR/web.log
    buffer: { flushInterval: 50ms }
  - type: file
    match: "app.{db,cache}"
    path: $DIR/other.log
    buffer: { flushInterval: 50ms }
`

let running: RunningPipeline | undefined
afterEach(async () => {
  await running?.close()
  running = undefined
})

describe('pipeline with a forward input and the fluent-logger npm package', () => {
  it('acknowledged events reach the outputs whose match selects their tag', async () => {
    running = await runPipelineYaml(PIPELINE)
    const port = await running.port('fluent')
    const s = sender(port, 's3cret')
    await emit(s, 'web.access', { path: '/a', code: 200 })
    await emit(s, 'web.access', { path: '/b', code: 404 })
    await emit(s, 'db', { query: 'select 1' })
    await emit(s, 'mail', { to: 'nobody' })
    s.end()
    const web = join(running.dir, 'web.log')
    const other = join(running.dir, 'other.log')
    await until(() => jsonLines(web).length === 2 && jsonLines(other).length === 1, 'both outputs')
    expect(jsonLines(web)).toEqual([
      { path: '/a', code: 200 },
      { path: '/b', code: 404 },
    ])
    expect(jsonLines(other)).toEqual([{ query: 'select 1' }])
  })

  it('a sender with the wrong shared key delivers nothing, the failure is logged, and the job goes on', async () => {
    running = await runPipelineYaml(PIPELINE)
    const port = await running.port('fluent')
    const bad = sender(port, 'wrong')
    void emit(bad, 'web.access', { path: '/evil' }).catch(() => {})
    await until(
      () => running!.log.entries.some((e) => /shared key|auth|handshake/i.test(e.message)),
      'a log line about the bad key',
    )
    bad.end()
    const good = sender(port, 's3cret')
    await emit(good, 'web.access', { path: '/ok' })
    good.end()
    const web = join(running.dir, 'web.log')
    await until(() => jsonLines(web).length >= 1, 'the good event')
    expect(jsonLines(web)).toEqual([{ path: '/ok' }])
  })
})

/** Sends three events on one connection, then keeps it open (a long-lived app) until stdin closes. */
const PY_SENDER = `
import sys
from fluent import sender
s = sender.FluentSender('py', host='127.0.0.1', port=int(sys.argv[1]), nanosecond_precision=True)
for i in range(3):
    if not s.emit('web.access', {'path': '/py/%d' % i, 'n': i}):
        sys.exit('emit failed: %r' % s.last_error)
print('sent', flush=True)
sys.stdin.read()
s.close()
`

describe.skipIf(skipPythonClient('the python client test'))(
  'pipeline with a forward input and the python fluent-logger',
  () => {
    it('events sent by fluent.sender.FluentSender reach the output with their tag', async () => {
      expect(PYTHON_MISSING, 'the python fluent-logger client').toBeUndefined()
      running = await runPipelineYaml(`
name: pyfluent
sources:
  - { name: fluent, type: forward, port: 0, bind: 127.0.0.1 }
outputs:
  - type: file
    match: "py.web.access"
    path: $DIR/web.log
    buffer: { flushInterval: 30ms }
`)
      const port = await running.port('fluent')
      const py = spawn(PYTHON, ['-c', PY_SENDER, String(port)], { stdio: ['pipe', 'pipe', 'pipe'] })
      let stderr = ''
      py.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
      const exited = new Promise<number | null>((resolve) => py.once('exit', resolve))
      try {
        const web = join(running.dir, 'web.log')
        await until(() => jsonLines(web).length === 3 || py.exitCode !== null, 'three events from python')
        expect(stderr).toBe('')
      } finally {
        py.stdin.end()
      }
      expect(await exited).toBe(0)
      const web = join(running.dir, 'web.log')
      expect(jsonLines(web)).toEqual([
        { path: '/py/0', n: 0 },
        { path: '/py/1', n: 1 },
        { path: '/py/2', n: 2 },
      ])
    })
  },
)

import { join } from 'node:path'
import { connect, type NatsConnection } from 'nats'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import natsOutput from '../../src/plugins/outputs/nats.ts'
import { openDelivery, rec } from '../plugins/outputs/delivery-support.ts'
import { type NatsServer, RUN_NATS, startNatsServer } from './nats-support.ts'
import { jsonLines, type RunningPipeline, runPipelineYaml, until } from './pipeline-support.ts'

let server: NatsServer
let nc: NatsConnection
let running: RunningPipeline | undefined
let streams = 0

const encode = (v: unknown) => new TextEncoder().encode(JSON.stringify(v))

/** Creates a stream with a fresh name on `subjects`; returns its name. */
async function stream(subjects: string[]): Promise<string> {
  const name = `S${++streams}`
  const jsm = await nc.jetstreamManager()
  await jsm.streams.add({ name, subjects, duplicate_window: 60_000_000_000 })
  return name
}

describe.skipIf(!RUN_NATS)('NATS input and output against a real nats-server', () => {
  beforeAll(async () => {
    server = await startNatsServer()
    nc = await connect({ servers: server.url })
  })
  afterAll(async () => {
    await nc?.close()
    await server?.stop()
  })
  afterEach(async () => {
    await running?.close()
    running = undefined
  })

  it('input: a subscription delivers the messages published on its subject, tagged by subject', async () => {
    running = await runPipelineYaml(`
name: natssub
sources:
  - name: sub
    type: nats
    servers: ${server.url}
    subject: "events.>"
    tagFromSubject: true
outputs:
  - type: file
    path: $DIR/out.log
    format: { type: json, includeTagKey: true }
    buffer: { flushInterval: 20ms }
`)
    const out = join(running.dir, 'out.log')
    for (let i = 0; jsonLines(out).length === 0; i++) {
      if (i > 200) throw new Error('the subscription never received a message')
      nc.publish('events.warmup', encode({ warmup: true }))
      await new Promise((r) => setTimeout(r, 25))
    }
    for (let i = 0; i < 20; i++) nc.publish(i % 2 ? 'events.a' : 'events.b.c', encode({ i }))
    await nc.flush()
    const real = () => jsonLines(out).filter((r) => r.warmup === undefined)
    await until(() => real().length === 20, 'twenty messages')
    expect(real().map((r) => r.i)).toEqual(Array.from({ length: 20 }, (_, i) => i))
    expect(real()[0]!.tag).toBe('events.b.c')
    expect(real()[1]!.tag).toBe('events.a')
  })

  it('input: a JetStream stream is read from the start, and a restart resumes after the checkpointed sequence', async () => {
    const name = await stream(['orders.>'])
    const js = nc.jetstream()
    for (let i = 1; i <= 5; i++) await js.publish('orders.new', encode({ order: i }))
    const yaml = `
name: natsstream
state: { dir: $DIR/state, checkpointInterval: 50ms }
sources:
  - name: orders
    type: nats
    servers: ${server.url}
    stream: ${name}
    tag: orders
outputs:
  - type: file
    path: $DIR/out.log
    buffer: { flushInterval: 20ms }
`
    running = await runPipelineYaml(yaml)
    const dir = running.dir
    const out = join(dir, 'out.log')
    await until(() => jsonLines(out).length === 5, 'the five stored messages')
    const completed = () =>
      running!.log.entries.filter((e) => /^checkpoint \d+ complete/.test(e.message)).length
    const seen = completed()
    await until(() => completed() >= seen + 2, 'a checkpoint after the five messages')
    await running.job.stop()
    await running.close()
    running = undefined
    for (let i = 6; i <= 8; i++) await js.publish('orders.new', encode({ order: i }))
    running = await runPipelineYaml(yaml, dir)
    await until(() => jsonLines(out).length >= 8, 'the three new messages')
    await new Promise((r) => setTimeout(r, 200))
    expect(jsonLines(out).map((r) => r.order)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    expect(running.log.entries.some((e) => /restor/i.test(e.message))).toBe(true)
  })

  it('input: messages go through the parser; one it does not match is skipped, counted and logged with its subject and sequence, and a restart does not read it again', async () => {
    const name = await stream(['logs.>'])
    const js = nc.jetstream()
    const text = (s: string) => new TextEncoder().encode(s)
    await js.publish('logs.web', text('2024-05-01T10:00:00Z GET /a 200'))
    await js.publish('logs.web', text('not a log line'))
    await js.publish('logs.api', text('2024-05-01T10:00:01.500Z POST /b 500'))
    await js.publish('logs.api', text('{"method":"PUT"}'))
    const yaml = String.raw`
name: natsparsed
state: { dir: $DIR/state, checkpointInterval: 50ms }
sources:
  - name: logs
    type: nats
    servers: ${server.url}
    stream: ${name}
    tagFromSubject: true
    parser:
      type: regexp
      expression: '/^(?<time>\S+) (?<method>[A-Z]+) (?<path>\S+) (?<code>\d+)$/'
      timeFormat: iso8601
      types: "code:integer"
outputs:
  - type: file
    path: $DIR/out.log
    format: { type: json, includeTagKey: true, includeTimeKey: true, timeFormat: unix_ms }
    buffer: { flushInterval: 20ms }
`
    running = await runPipelineYaml(yaml)
    const dir = running.dir
    const out = join(dir, 'out.log')
    await until(() => jsonLines(out).length === 2, 'the two parsed messages')
    expect(jsonLines(out)).toEqual([
      { method: 'GET', path: '/a', code: 200, tag: 'logs.web', time: Date.parse('2024-05-01T10:00:00Z') },
      {
        method: 'POST',
        path: '/b',
        code: 500,
        tag: 'logs.api',
        time: Date.parse('2024-05-01T10:00:01.500Z'),
      },
    ])
    const skipped = (r: RunningPipeline) =>
      r.log.entries
        .filter((e) => e.level === 'warn' && /skipped a record/.test(e.message))
        .map((e) => e.message)
    await until(() => skipped(running!).length === 2, 'two skipped messages')
    expect(skipped(running)).toEqual([
      'node "logs" skipped a record: nats logs.web seq 2: parser regexp does not match the line "not a log line"',
      'node "logs" skipped a record: nats logs.api seq 4: parser regexp does not match the line "{\\"method\\":\\"PUT\\"}"',
    ])
    expect(running.job.metrics().logs?.skipped).toBe(2)
    const completed = () =>
      running!.log.entries.filter((e) => /^checkpoint \d+ complete/.test(e.message)).length
    const seen = completed()
    await until(() => completed() >= seen + 2, 'a checkpoint after the four messages')
    await running.job.stop()
    await running.close()
    running = undefined
    await js.publish('logs.web', text('2024-05-01T10:00:02Z GET /c 404'))
    running = await runPipelineYaml(yaml, dir)
    await until(() => jsonLines(out).length >= 3, 'the new message')
    await new Promise((r) => setTimeout(r, 200))
    expect(jsonLines(out).map((r) => r.path)).toEqual(['/a', '/b', '/c'])
    expect(skipped(running)).toEqual([])
  })

  it('input: a multiline parser joins the lines of each subject into records; the last one comes out after multilineFlushInterval', async () => {
    running = await runPipelineYaml(String.raw`
name: natsmultiline
sources:
  - name: java
    type: nats
    servers: ${server.url}
    subject: "java.>"
    tagFromSubject: true
    multilineFlushInterval: 300ms
    parser:
      type: multiline
      formatFirstline: '/^\d{4}-/'
      format: '/^(?<stamp>\S+ \S+) (?<level>[A-Z]+) (?<message>.*)/m'
outputs:
  - type: file
    path: $DIR/out.log
    format: { type: json, includeTagKey: true }
    buffer: { flushInterval: 20ms }
`)
    const out = join(running.dir, 'out.log')
    for (let i = 0; jsonLines(out).length === 0; i++) {
      if (i > 100) throw new Error('the subscription never received a message')
      nc.publish('java.warmup', new TextEncoder().encode('2024-05-01 10:00:00 INFO warmup'))
      await new Promise((r) => setTimeout(r, 50))
    }
    const lines: [string, string][] = [
      ['java.a', '2024-05-01 10:00:01 ERROR boom'],
      ['java.b', '2024-05-01 10:00:01 INFO start'],
      ['java.a', '  at Main.main(Main.java:16)'],
      ['java.b', '2024-05-01 10:00:02 INFO end'],
      ['java.a', '  at Main.run(Main.java:3)'],
    ]
    for (const [subject, line] of lines) nc.publish(subject, new TextEncoder().encode(line))
    await nc.flush()
    const real = () => jsonLines(out).filter((r) => r.tag !== 'java.warmup')
    await until(() => real().length === 3, 'three joined records')
    const byMessage = real().sort((a, b) => String(a.message).localeCompare(String(b.message)))
    expect(byMessage).toEqual([
      {
        stamp: '2024-05-01 10:00:01',
        level: 'ERROR',
        message: 'boom\n  at Main.main(Main.java:16)\n  at Main.run(Main.java:3)',
        tag: 'java.a',
      },
      { stamp: '2024-05-01 10:00:02', level: 'INFO', message: 'end', tag: 'java.b' },
      { stamp: '2024-05-01 10:00:01', level: 'INFO', message: 'start', tag: 'java.b' },
    ])
  })

  it('output: JetStream publish with Nats-Msg-Id stores a chunk sent twice only once', async () => {
    const name = await stream(['alerts.>'])
    const d = await openDelivery(natsOutput, { servers: server.url, subject: 'alerts.${tag}' })
    const chunk = Array.from({ length: 50 }, (_, i) => rec({ n: i }, i % 2 ? 'high' : 'low'))
    await d.deliver(chunk)
    await d.deliver(chunk)
    await d.deliver([rec({ n: 0 }, 'low', 1)])
    await d.close?.()
    const jsm = await nc.jetstreamManager()
    const info = await jsm.streams.info(name)
    expect(info.state.messages).toBe(51)
    const first = await jsm.streams.getMessage(name, { seq: 1 })
    expect(first.subject).toBe('alerts.low')
    expect(first.json()).toEqual({ n: 0 })
    const withField = await openDelivery(natsOutput, {
      servers: server.url,
      subject: 'alerts.x',
      msgIdField: 'id',
    })
    await withField.deliver([rec({ id: 'a', v: 1 }), rec({ id: 'a', v: 2 }), rec({ id: 'b', v: 3 })])
    await withField.close?.()
    expect((await jsm.streams.info(name)).state.messages).toBe(53)
  })

  it('output: with idempotency keys, records alike but distinct are each stored, a replayed record with its key is stored once, and another record under a used key is stored', async () => {
    const name = await stream(['keyed.>'])
    const d = await openDelivery(natsOutput, { servers: server.url, subject: 'keyed.x' })
    const keys = (base: string) => ({ key: (i: number) => `${base}.0.${i}` })
    const alike = [rec({ n: 1 }), rec({ n: 1 }), rec({ n: 1 })]
    await d.deliver(alike, keys('a'))
    await d.deliver(alike, keys('a'))
    await d.deliver([rec({ n: 2 })], keys('a'))
    await d.close?.()
    const jsm = await nc.jetstreamManager()
    expect((await jsm.streams.info(name)).state.messages).toBe(4)
    const stored = []
    for (let seq = 1; seq <= 4; seq++) stored.push((await jsm.streams.getMessage(name, { seq })).json())
    expect(stored).toEqual([{ n: 1 }, { n: 1 }, { n: 1 }, { n: 2 }])
  })

  it('output: a pipeline publishes every record, and a subject outside any stream is a delivery error', async () => {
    const name = await stream(['metrics.>'])
    const dir = (await import('node:fs')).mkdtempSync(
      join((await import('node:os')).tmpdir(), 'squall-nats-'),
    )
    ;(await import('node:fs')).writeFileSync(
      join(dir, 'in.jsonl'),
      Array.from({ length: 300 }, (_, i) => `${JSON.stringify({ i })}\n`).join(''),
    )
    running = await runPipelineYaml(
      `
name: natsout
sources:
  - { name: in, type: file, path: $DIR/in.jsonl, format: jsonl, tag: cpu }
outputs:
  - type: nats
    servers: ${server.url}
    subject: "metrics.\${tag}"
    buffer: { chunkLimitRecords: 100, flushInterval: 20ms }
`,
      dir,
    )
    await running.job.done
    const jsm = await nc.jetstreamManager()
    expect((await jsm.streams.info(name)).state.messages).toBe(300)
    const last = await jsm.streams.getMessage(name, { last_by_subj: 'metrics.cpu' })
    expect(last.json()).toEqual({ i: 299 })
    const d = await openDelivery(natsOutput, { servers: server.url, subject: 'nowhere' })
    const e = await Promise.resolve(d.deliver([rec({ a: 1 })])).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(Error)
    await d.close?.()
  })
})

// Multi-line records (Java stack traces) through the line inputs of pipeline files, on real files:
// the file input joins them across its splits, tail joins them per followed file as lines are
// appended and emits the last one after multilineFlushInterval, and a record in progress at a
// checkpoint comes out once, whole, after the job restarts from it.
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { jsonLines, type RunningPipeline, runPipelineYaml, until } from './pipeline-support.ts'

let running: RunningPipeline | undefined
afterEach(async () => {
  await running?.close()
  running = undefined
})

/** fluentd's parser_multiline example (docs.fluentd.org/parser/multiline), Java log section. */
const PARSER = String.raw`
    parser:
      type: multiline
      formatFirstline: '/\d{4}-\d{1,2}-\d{1,2}/'
      format: '/^(?<time>\d{4}-\d{1,2}-\d{1,2} \d{1,2}:\d{1,2}:\d{1,2}) \[(?<thread>.*)\] (?<level>[^\s]+)(?<message>.*)/'
      timeFormat: '%Y-%m-%d %H:%M:%S'
      timezone: '+09:00'`

/** A tail source of $DIR/app.log whose multiline events wait for the next first line (flush: 1 h). */
const HELD_TAIL = `sources:
  - name: java
    type: tail
    path: $DIR/app.log
    readFromHead: true
    pollInterval: 20ms
    multilineFlushInterval: 1h
    tag: app${PARSER}`

/** A trace's record without its time: what the exactly-once file output publishes. */
function withoutTime(e: { record: object }): object {
  const { time: _, ...r } = e.record as { time: number }
  return r
}

/** The input of fluentd's documented example. */
const FLUENTD_EXAMPLE = [
  '2013-3-03 14:27:33 [main] INFO  Main - Start',
  '2013-3-03 14:27:33 [main] ERROR Main - Exception',
  'javax.management.RuntimeErrorException: null',
  '    at Main.main(Main.java:16) ~[bin/:na]',
  '2013-3-03 14:27:33 [main] INFO  Main - End',
]

/** fluentd's documented output for it: time 2013-03-03 14:27:33 +0900 and these records. */
const T = Date.parse('2013-03-03T14:27:33+09:00') / 1000
const FLUENTD_RECORDS = [
  { thread: 'main', level: 'INFO', message: '  Main - Start', time: T },
  {
    thread: 'main',
    level: 'ERROR',
    message:
      ' Main - Exception\njavax.management.RuntimeErrorException: null\n    at Main.main(Main.java:16) ~[bin/:na]',
    time: T,
  },
  { thread: 'main', level: 'INFO', message: '  Main - End', time: T },
]

/** A Java stack trace event: a first line and `depth` indented "at" lines, with a cause. */
function trace(second: number, thread: string, depth: number): { lines: string[]; record: object } {
  const ss = String(second).padStart(2, '0')
  const head = `2013-3-03 14:28:${ss} [${thread}] ERROR Pool - task ${second} failed`
  const rest = ['java.lang.IllegalStateException: pool closed']
  for (let i = 0; i < depth; i++) rest.push(`    at com.example.Pool.step${i}(Pool.java:${40 + i})`)
  rest.push(
    'Caused by: java.io.IOException: broken pipe',
    '    at com.example.Conn.read(Conn.java:88)',
    '    ... 3 more',
  )
  return {
    lines: [head, ...rest],
    record: {
      thread,
      level: 'ERROR',
      message: [` Pool - task ${second} failed`, ...rest].join('\n'),
      time: Date.parse(`2013-03-03T14:28:${ss}+09:00`) / 1000,
    },
  }
}

const text = (lines: string[]) => lines.map((l) => `${l}\n`).join('')

/** The records of an exactly-once file output directory (published part files, in name order). */
function published(dir: string): { [k: string]: unknown }[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .filter((f) => f.startsWith('part-'))
    .sort()
    .flatMap((f) =>
      readFileSync(join(dir, f), 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as { [k: string]: unknown }),
    )
}

describe('multiline parser on line inputs', () => {
  it("file: a Java log read by four partitions' worth of small splits gives fluentd's documented records, then whole stack traces; the last one at the end of the file", async () => {
    const events = [trace(1, 'worker-1', 3), trace(2, 'worker-2', 12), trace(3, 'main', 0)]
    running = await runPipelineYaml(
      `
name: multilinefile
sources:
  - name: java
    type: file
    path: $DIR/app.log
    splitBytes: 64
    parallelism: 4
    tag: app.java${PARSER}
outputs:
  - type: file
    path: $DIR/out.log
    format: { type: json, includeTimeKey: true }
    buffer: { flushInterval: 30ms }
`,
      await dirWith('app.log', text([...FLUENTD_EXAMPLE, ...events.flatMap((e) => e.lines)])),
    )
    await running.job.done
    expect(jsonLines(join(running.dir, 'out.log'))).toEqual([
      ...FLUENTD_RECORDS,
      ...events.map((e) => e.record),
    ])
    expect(running.job.metrics().java?.skipped ?? 0).toBe(0)
  })

  it('tail: lines appended to two files under a running job join per file; the last record of each comes out after multilineFlushInterval', async () => {
    running = await runPipelineYaml(`
name: multilinetail
sources:
  - name: java
    type: tail
    path: $DIR/app-*.log
    readFromHead: true
    pollInterval: 20ms
    multilineFlushInterval: 700ms
    tag: app.*${PARSER}
outputs:
  - type: file
    path: $DIR/out.log
    format: { type: json, includeTimeKey: true, includeTagKey: true }
    buffer: { flushInterval: 30ms }
`)
    const a = join(running.dir, 'app-a.log')
    const b = join(running.dir, 'app-b.log')
    const out = join(running.dir, 'out.log')
    const [a1, a2, a3] = [trace(1, 'a', 2), trace(2, 'a', 5), trace(3, 'a', 1)]
    const [b1, b2] = [trace(11, 'b', 4), trace(12, 'b', 0)]
    // Each file gets the first part of a trace; the other file's lines in between must not mix in.
    writeFileSync(a, text(a1.lines.slice(0, 3)))
    writeFileSync(b, text(b1.lines.slice(0, 2)))
    await new Promise((r) => setTimeout(r, 150))
    appendFileSync(a, text([...a1.lines.slice(3), ...a2.lines.slice(0, 4)]))
    appendFileSync(b, text([...b1.lines.slice(2), ...b2.lines]))
    await until(() => jsonLines(out).length === 2, 'the first trace of each file')
    appendFileSync(a, text([...a2.lines.slice(4), ...a3.lines]))
    await until(() => jsonLines(out).length === 5, 'every trace, the last ones by the flush interval')
    const tagA = `app.${a.replace(/^\//, '').replaceAll('/', '.')}`
    const tagB = `app.${b.replace(/^\//, '').replaceAll('/', '.')}`
    const byTag = (tag: string) =>
      jsonLines(out)
        .filter((r) => r.tag === tag)
        .map(({ tag: _, ...r }) => r)
    expect(byTag(tagA)).toEqual([a1.record, a2.record, a3.record])
    expect(byTag(tagB)).toEqual([b1.record, b2.record])
    expect(running.job.metrics().java?.skipped ?? 0).toBe(0)
  })

  it('tail with checkpoints: a trace in progress at the checkpoint the job restarts from comes out once, whole', async () => {
    const yaml = `
name: multilinestate
state: { dir: $DIR/state, checkpointInterval: 100ms }
${HELD_TAIL}
outputs:
  - type: file
    path: $DIR/out
    exactlyOnce: true
`
    const [e1, e2, e3, e4] = [trace(1, 'w', 2), trace(2, 'w', 6), trace(3, 'w', 1), trace(4, 'w', 0)]
    running = await runPipelineYaml(yaml)
    const dir = running.dir
    const log = join(dir, 'app.log')
    // e1 is complete once e2's first line is read; e2 is in progress with its first 4 lines.
    writeFileSync(log, text([...e1.lines, ...e2.lines.slice(0, 4)]))
    await until(() => published(join(dir, 'out')).length === 1, 'the first trace, published by a checkpoint')
    const first = running.job.checkpointStatus?.().lastCompleted?.id ?? 0
    await until(
      () => (running!.job.checkpointStatus?.().lastCompleted?.id ?? 0) >= first + 2,
      'two more checkpoints, both with the trace in progress',
    )
    await running.job.stop()
    await running.close()
    running = undefined
    // While the job is down the trace goes on, and two more follow.
    appendFileSync(log, text([...e2.lines.slice(4), ...e3.lines, ...e4.lines.slice(0, 1)]))
    running = await runPipelineYaml(yaml, dir)
    await until(() => published(join(dir, 'out')).length === 3, 'the traces completed after the restart')
    expect(running.job.checkpointStatus?.().restoredFrom).toBeGreaterThanOrEqual(first + 2)
    expect(published(join(dir, 'out'))).toEqual([e1, e2, e3].map(withoutTime))
  })

  it('tail without a state directory: a trace still being joined when the job drains comes out once, whole', async () => {
    running = await runPipelineYaml(`
name: multilinedrain
${HELD_TAIL}
outputs:
  - type: file
    path: $DIR/out.log
    format: { type: json, includeTimeKey: true }
    buffer: { flushInterval: 30ms }
`)
    const [e1, e2] = [trace(1, 'd', 2), trace(2, 'd', 3)]
    const out = join(running.dir, 'out.log')
    // No line follows e2 and the flush interval is an hour: only the drain can emit it.
    writeFileSync(join(running.dir, 'app.log'), text([...e1.lines, ...e2.lines]))
    await until(() => jsonLines(out).length === 1, 'the first trace')
    await new Promise((r) => setTimeout(r, 150))
    expect(jsonLines(out)).toEqual([e1.record])
    running.job.drain()
    const result = await running.job.done
    expect(result.status).toBe('finished')
    expect(jsonLines(out)).toEqual([e1.record, e2.record])
    expect(running.job.metrics().java?.multiline_lines_held_at_close ?? 0).toBe(0)
  })

  it('tail with checkpoints: a trace emitted at the drain is in the final output once, and the restarted job does not emit it again', async () => {
    const yaml = `
name: multilinedrainstate
state: { dir: $DIR/state, checkpointInterval: 100ms }
${HELD_TAIL}
outputs:
  - type: file
    path: $DIR/out
    exactlyOnce: true
`
    const [e1, e2, e3, e4] = [trace(1, 'v', 2), trace(2, 'v', 4), trace(3, 'v', 1), trace(4, 'v', 0)]
    running = await runPipelineYaml(yaml)
    const dir = running.dir
    const log = join(dir, 'app.log')
    writeFileSync(log, text([...e1.lines, ...e2.lines]))
    await until(() => published(join(dir, 'out')).length === 1, 'the first trace, published by a checkpoint')
    const first = running.job.checkpointStatus?.().lastCompleted?.id ?? 0
    await until(
      () => (running!.job.checkpointStatus?.().lastCompleted?.id ?? 0) >= first + 1,
      'a checkpoint with the second trace in progress',
    )
    running.job.drain()
    expect((await running.job.done).status).toBe('finished')
    expect(published(join(dir, 'out'))).toEqual([e1, e2].map(withoutTime))
    await running.close()
    running = undefined
    appendFileSync(log, text([...e3.lines, ...e4.lines.slice(0, 1)]))
    running = await runPipelineYaml(yaml, dir)
    await until(() => published(join(dir, 'out')).length >= 3, 'the trace appended after the restart')
    await new Promise((r) => setTimeout(r, 300))
    expect(published(join(dir, 'out'))).toEqual([e1, e2, e3].map(withoutTime))
  })

  it('syslog over TCP: the lines of a trace sent as separate messages join into one record', async () => {
    running = await runPipelineYaml(`
name: multilinesyslog
sources:
  - name: sys
    type: syslog
    protocol: tcp
    framing: newline
    port: 0
    bind: 127.0.0.1
    multilineFlushInterval: 300ms
    tag: app${PARSER}
outputs:
  - type: file
    path: $DIR/out.log
    format: { type: json, includeTimeKey: true }
    buffer: { flushInterval: 30ms }
`)
    const port = await running.port('sys')
    const { connect } = await import('node:net')
    const events = [trace(5, 'main', 2), trace(6, 'main', 1)]
    await new Promise<void>((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => {
        s.end(text(events.flatMap((e) => e.lines)))
      })
      s.on('error', reject)
      s.on('close', () => resolve())
    })
    const out = join(running.dir, 'out.log')
    await until(() => jsonLines(out).length === 2, 'two traces, the second by the flush interval')
    expect(jsonLines(out)).toEqual(events.map((e) => e.record))
  })
})

/** A fresh pipeline directory holding `name` with `content`. */
async function dirWith(name: string, content: string): Promise<string> {
  const { mkdtempSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const dir = mkdtempSync(join(tmpdir(), 'squall-multiline-'))
  writeFileSync(join(dir, name), content)
  return dir
}

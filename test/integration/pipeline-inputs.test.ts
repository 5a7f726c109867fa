import { appendFileSync, renameSync, writeFileSync } from 'node:fs'
import { createSocket } from 'node:dgram'
import { connect } from 'node:net'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { jsonLines, type RunningPipeline, runPipelineYaml, until } from './pipeline-support.ts'

let running: RunningPipeline | undefined
afterEach(async () => {
  await running?.close()
  running = undefined
})

const APACHE = (ip: string, path: string) =>
  `${ip} - - [10/Oct/2023:13:55:36 +0000] "GET ${path} HTTP/1.1" 200 2326 "-" "curl/8"`

describe('pipeline inputs on real files and sockets', () => {
  it('tail: lines written before and after a rotation are parsed, a line no parser matches is counted and logged', async () => {
    const yaml = `
name: tailjob
sources:
  - name: access
    type: tail
    path: $DIR/access.log
    readFromHead: true
    pollInterval: 20ms
    rotateWait: 200ms
    tag: web.access
    parser: { type: apache2 }
outputs:
  - type: file
    path: $DIR/out.log
    buffer: { flushInterval: 30ms }
`
    running = await runPipelineYaml(yaml.replace('$DIR/access.log', '$DIR/access.log'))
    const log = join(running.dir, 'access.log')
    writeFileSync(log, `${APACHE('10.0.0.1', '/one')}\nthis is not an access log line\n`)
    const out = join(running.dir, 'out.log')
    await until(() => jsonLines(out).length === 1, 'the first line')
    renameSync(log, `${log}.1`)
    appendFileSync(`${log}.1`, `${APACHE('10.0.0.2', '/two')}\n`)
    writeFileSync(log, `${APACHE('10.0.0.3', '/three')}\n`)
    await until(() => jsonLines(out).length === 3, 'lines after the rotation')
    expect(jsonLines(out).map((r) => r.path)).toEqual(['/one', '/two', '/three'])
    expect(
      running.job.metrics().access?.skipped ?? running.job.metrics().access?.errors,
    ).toBeGreaterThanOrEqual(1)
    const bad = running.log.entries.find((e) => e.message.includes('does not match'))
    expect(bad?.message).toContain('access.log:2')
  })

  it('http: JSON and NDJSON bodies are answered after journaling; a body that is not JSON gets 400 and the job goes on', async () => {
    const yaml = `
name: httpjob
sources:
  - name: api
    type: http
    port: 0
    bind: 127.0.0.1
outputs:
  - type: file
    path: $DIR/out.log
    match: "events.**"
    buffer: { flushInterval: 30ms }
`
    running = await runPipelineYaml(yaml)
    const port = await running.port('api')
    const url = `http://127.0.0.1:${port}/api/ingest/events.click`
    const ok = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ n: 1 }, { n: 2 }]),
    })
    expect(ok.status).toBe(200)
    expect(await ok.json()).toEqual({ accepted: 2 })
    const bad = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"n": 3',
    })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: string }).error).toMatch(/JSON/)
    const nd = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: '{"n":4}\n{"n":5}\n',
    })
    expect(nd.status).toBe(200)
    expect((await fetch(`http://127.0.0.1:${port}/elsewhere`, { method: 'POST' })).status).toBe(404)
    const out = join(running.dir, 'out.log')
    await until(() => jsonLines(out).length === 4, 'four records')
    expect(jsonLines(out).map((r) => r.n)).toEqual([1, 2, 4, 5])
  })

  it('syslog over TCP and UDP: messages are parsed; a frame cut in half is dropped and counted, the job goes on', async () => {
    const yaml = `
name: syslogjob
sources:
  - name: tcp
    type: syslog
    protocol: tcp
    port: 0
    bind: 127.0.0.1
    tag: system
  - name: udp
    type: syslog
    port: 0
    bind: 127.0.0.1
    tag: system
outputs:
  - type: file
    path: $DIR/out.log
    buffer: { flushInterval: 30ms }
`
    running = await runPipelineYaml(yaml)
    const tcpPort = await running.port('tcp')
    const udpPort = await running.port('udp')
    const line = (host: string, msg: string) => `<34>Oct 11 22:14:15 ${host} su: ${msg}`
    const first = line('alpha', 'first')
    const cut = line('beta', 'cut off')
    await new Promise<void>((resolve) => {
      const s = connect(tcpPort, '127.0.0.1', () => {
        s.write(`${first.length} ${first}${cut.length} ${cut.slice(0, 10)}`)
        s.end()
      })
      s.on('close', () => resolve())
    })
    const u = createSocket('udp4')
    await new Promise<void>((resolve) =>
      u.send(line('gamma', 'over udp'), udpPort, '127.0.0.1', () => resolve()),
    )
    u.close()
    const out = join(running.dir, 'out.log')
    await until(() => jsonLines(out).length === 2, 'two messages')
    const hosts = jsonLines(out)
      .map((r) => r.host)
      .sort()
    expect(hosts).toEqual(['alpha', 'gamma'])
    expect(jsonLines(out).find((r) => r.host === 'alpha')?.message).toBe('first')
  })
})

// Queries of a pipeline file that select records by tag (`match`), run as `squall run`: one forward
// source receives a sender's many tags on one table, and each query sees only the tags it matches.
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EventTime, FluentClient } from '@fluent-org/logger'
import { afterAll, describe, expect, it } from 'vitest'
import { jsonLines, startSquall, until } from './pipeline-support.ts'

const started: ChildProcess[] = []
const dirs: string[] = []
afterAll(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

/** The events sent, as [tag, user, n]. */
const EVENTS: [string, string, number][] = [
  ['app.login', 'ann', 1],
  ['app.logout', 'ann', 2],
  ['app.login.failed', 'ann', 3], // two parts after "app.": not app.*
  ['web.access', 'bob', 4],
  ['web.static.img', 'bob', 5],
  ['web.access', 'cid', 6],
  ['db.query', 'ann', 7],
  ['webx.access', 'dan', 8], // not web.**
]

describe('pipeline queries with match', () => {
  it('squall run: each query over one forward source sees only the records whose tag matches its pattern; a query without match sees all', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'squall-query-match-'))
    dirs.push(dir)
    // The updating query's changelog goes to an http output (a file takes only inserts).
    const posted: { [k: string]: unknown }[] = []
    const hook = createServer((req, res) => {
      let body = ''
      req.on('data', (d: Buffer) => {
        body += d.toString()
      })
      req.on('end', () => {
        for (const line of body.split('\n')) if (line.length > 0) posted.push(JSON.parse(line))
        res.end()
      })
    })
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve))
    const hookPort = (hook.address() as { port: number }).port
    const path = join(dir, 'pipeline.yaml')
    writeFileSync(
      path,
      `name: tagged
sources:
  - name: events
    type: forward
    port: 0
    bind: 127.0.0.1
    columns: { user: STRING, n: BIGINT }
queries:
  - name: apps
    match: "app.*"
    sql: SELECT user, n FROM events
  - name: web_hits
    match: "web.**"
    sql: SELECT user, COUNT(*) AS hits FROM events GROUP BY user
  - name: everything
    sql: SELECT n FROM events
outputs:
  - type: file
    match: "query.{apps,everything}"
    path: ./out.log
    format: { type: json, includeTagKey: true }
    buffer: { flushInterval: 20ms }
  - type: http
    match: query.web_hits
    endpoint: http://127.0.0.1:${hookPort}/
    contentType: application/x-ndjson
    includeTag: true
    buffer: { flushInterval: 20ms }
`,
    )
    const { child, port } = await startSquall(path, /forward input "events" listening on [^:]+:(\d+)/)
    started.push(child)
    const logger = new FluentClient(null, {
      eventMode: 'PackedForward',
      socket: { host: '127.0.0.1', port },
      ack: { ackTimeout: 5000 },
      flushInterval: 5,
    })
    await Promise.all(
      EVENTS.map(([tag, user, n]) => logger.emit(tag, { user, n }, new EventTime(1_700_000_000 + n, 0))),
    )
    await logger.shutdown()

    const out = join(dir, 'out.log')
    const rows = (tag: string) => jsonLines(out).filter((r) => r.tag === tag)
    await until(() => rows('query.everything').length === EVENTS.length, 'every event in query.everything')
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
    await new Promise((resolve) => hook.close(resolve))

    const numbers = (tag: string) => rows(tag).map((r) => r.n as number)
    expect(numbers('query.everything').sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    expect(rows('query.apps').sort((a, b) => (a.n as number) - (b.n as number))).toEqual([
      { user: 'ann', n: 1, tag: 'query.apps' },
      { user: 'ann', n: 2, tag: 'query.apps' },
    ])
    // An updating query: its changes counted only web.access and web.static.img.
    const changes = posted as { op: string; user: string; hits: number; tag: string }[]
    expect(changes.every((c) => c.tag === 'query.web_hits')).toBe(true)
    const final = new Map<string, number>()
    for (const c of changes) if (c.op !== '-U') final.set(c.user, c.hits)
    expect(Object.fromEntries(final)).toEqual({ bob: 2, cid: 1 })
    expect(jsonLines(out)).toHaveLength(rows('query.everything').length + rows('query.apps').length)
  })
})

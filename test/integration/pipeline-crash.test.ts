import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { jsonLines, startSquall, until } from './pipeline-support.ts'

/** Starts `squall run pipeline.yaml` and resolves with the process and the port of its http input. */
const start = (path: string) => startSquall(path, /http input "api" listening on [^:]+:(\d+)/)

describe('a pipeline job with an http input killed with SIGKILL', () => {
  it('every acknowledged event is in the output after a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'squall-pipeline-crash-'))
    const path = join(dir, 'pipeline.yaml')
    writeFileSync(
      path,
      `name: crashjob
state: { dir: ./state, checkpointInterval: 100ms }
sources:
  - name: api
    type: http
    port: 0
    bind: 127.0.0.1
    fsync: always
outputs:
  - type: file
    path: ./out.log
    buffer: { flushInterval: 20ms }
`,
    )
    const acked = new Set<number>()
    const first = await start(path)
    let n = 0
    const deadline = Date.now() + 5000
    while (acked.size < 45 && Date.now() < deadline) {
      const batch = [n, n + 1, n + 2].map((id) => ({ id }))
      const res = await fetch(`http://127.0.0.1:${first.port}/api/ingest/events`, {
        method: 'POST',
        body: JSON.stringify(batch),
        headers: { 'content-type': 'application/json' },
      })
      if (res.status === 200) for (const b of batch) acked.add(b.id)
      n += 3
    }
    first.child.kill('SIGKILL')
    await new Promise((r) => first.child.once('exit', r))
    expect(acked.size).toBeGreaterThan(30)
    const second = await start(path)
    const out = join(dir, 'out.log')
    const seen = () => new Set(jsonLines(out).map((r) => r.id as number))
    await until(() => [...acked].every((id) => seen().has(id)), 'every acknowledged event', 15_000)
    second.child.kill('SIGTERM')
    await new Promise((r) => second.child.once('exit', r))
    expect([...acked].filter((id) => !seen().has(id))).toEqual([])
  }, 40_000)
})

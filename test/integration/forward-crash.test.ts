import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ForwardClient } from '../../src/plugins/forward/client.ts'
import { startSquall, until } from './pipeline-support.ts'

/** Starts `squall run pipeline.yaml` and resolves with the process and the port of its forward input. */
const start = (path: string) => startSquall(path, /forward input "fluent" listening on [^:]+:(\d+)/)

/** The `id` of every record in the published files of an exactly-once file output. */
function published(dir: string): number[] {
  if (!existsSync(dir)) return []
  const ids: number[] = []
  for (const name of readdirSync(dir)) {
    if (!name.startsWith('part-')) continue
    for (const line of readFileSync(join(dir, name), 'utf8').split('\n'))
      if (line !== '') ids.push((JSON.parse(line) as { id: number }).id)
  }
  return ids
}

describe('a pipeline job with a forward input killed with SIGKILL', () => {
  it('after a restart, every acknowledged event is in the exactly-once output once, none twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'squall-forward-crash-'))
    const path = join(dir, 'pipeline.yaml')
    writeFileSync(
      path,
      `name: forwardcrash
state: { dir: ./state, checkpointInterval: 50ms }
sources:
  - name: fluent
    type: forward
    port: 0
    bind: 127.0.0.1
outputs:
  - type: file
    path: ./out
    exactlyOnce: true
`,
    )
    const acked = new Set<number>()
    const first = await start(path)
    const client = new ForwardClient({ servers: [{ host: '127.0.0.1', port: first.port }], retries: 0 })
    let n = 0
    let killed = false
    // Chunks larger than the job's read batch (1024), so that checkpoints fall inside requests, sent
    // two at a time until the kill, which comes while chunks are in flight and the job is reading.
    const sending = (async () => {
      while (!killed) {
        const sends = Array.from({ length: 2 }, () => {
          const ids = Array.from({ length: 1500 }, () => n++)
          const entries = ids.map((id) => ({ time: 1_700_000_000_000 + id, nanos: 0, record: { id } }))
          return client.send('events', entries).then(
            () => {
              if (!killed) for (const id of ids) acked.add(id)
            },
            () => {},
          )
        })
        await Promise.all(sends)
      }
    })()
    await until(() => acked.size >= 15_000, 'acknowledged events before the kill', 10_000)
    killed = true
    first.child.kill('SIGKILL')
    await new Promise((r) => first.child.once('exit', r))
    await sending
    await client.close()
    const second = await start(path)
    const out = join(dir, 'out')
    await until(() => new Set(published(out)).size >= acked.size, 'every acknowledged event', 20_000)
    second.child.kill('SIGTERM')
    await new Promise((r) => second.child.once('exit', r))
    const ids = published(out)
    const seen = new Set(ids)
    expect([...acked].filter((id) => !seen.has(id))).toEqual([])
    expect(ids.length).toBe(new Set(ids).size)
  }, 40_000)
})

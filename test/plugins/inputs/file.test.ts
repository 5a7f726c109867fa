// The file source's restore: a checkpointed position resumes on the same file and is refused, with
// ERR_SOURCE_FAILED, once the file was replaced by another one (another inode).
import { mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import {
  collect,
  type IoContext,
  memoryLogger,
  runEmbedded,
  type SourceReader,
  type SourceSpec,
  systemClock,
  file,
  Topology,
} from '../../../src/index.ts'

const root = mkdtempSync(join(tmpdir(), 'squall-file-input-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

function context(): IoContext {
  return {
    nodeName: 'src',
    partition: 0,
    partitions: 1,
    log: () => {},
    clock: systemClock,
    count: () => {},
    report: () => {},
    badRecord: (e) => {
      throw e
    },
  }
}

function lines(prefix: string, n: number): string {
  return Array.from({ length: n }, (_, i) => `${prefix}${i}\n`).join('')
}

/** Replaces `path` by a new file (written beside it, renamed over it): same name, another inode. */
function replace(path: string, content: string): void {
  writeFileSync(`${path}.new`, content)
  renameSync(`${path}.new`, path)
}

async function opened(spec: SourceSpec<unknown>): Promise<SourceReader<unknown>> {
  const r = spec.create(context())
  await r.open?.()
  return r
}

function readAll(r: SourceReader<unknown>): unknown[] {
  const out: unknown[] = []
  for (let batch = r.nextBatch(7); batch !== null; batch = r.nextBatch(7))
    for (const rec of batch) out.push(rec.value)
  return out
}

describe('file source restore', () => {
  it('a position restored on the same file resumes after the last line handed out', async () => {
    const path = join(root, 'same.txt')
    writeFileSync(path, lines('a', 50))
    const spec = file({ path })
    const first = await opened(spec)
    const before = [...first.nextBatch(10)!, ...first.nextBatch(10)!].map((r) => r.value)
    const position = first.snapshot!()
    first.close?.()
    const [restored] = spec.rescale!([position], 1)
    const second = await opened(spec)
    second.restore!(restored)
    expect([...before, ...readAll(second)]).toEqual(lines('a', 50).trimEnd().split('\n'))
    second.close?.()
  })

  it('a position restored after the file was replaced by another one fails with ERR_SOURCE_FAILED naming the file and both inodes', async () => {
    const path = join(root, 'replaced.txt')
    writeFileSync(path, lines('a', 50))
    const spec = file({ path })
    const first = await opened(spec)
    first.nextBatch(10)
    const position = first.snapshot!()
    const oldIno = statSync(path).ino
    // The old file stays open while the new one is created, so the new one cannot reuse its inode.
    replace(path, lines('b', 80))
    first.close?.()
    const newIno = statSync(path).ino
    expect(newIno).not.toBe(oldIno)
    const [restored] = spec.rescale!([position], 1)
    const second = await opened(spec)
    let error: unknown
    try {
      second.restore!(restored)
    } catch (e) {
      error = e
    }
    expect(error).toMatchObject({
      code: 'ERR_SOURCE_FAILED',
      message: `file source "src": "${path}" was replaced since the checkpoint (inode ${oldIno}, now ${newIno})`,
    })
    second.close?.()
  })

  it('a job restarted on its state directory after the file was replaced fails with ERR_SOURCE_FAILED and emits nothing', async () => {
    const path = join(root, 'job.txt')
    writeFileSync(path, lines('a', 5000))
    const dir = join(root, 'state')
    const topology = (out: ReturnType<typeof collect>) => {
      const t = new Topology('replaced-file')
      t.source('src', file({ path }))
        .map((v) => {
          // Slow enough that the job is stopped long before the file is read to its end.
          const until = performance.now() + 0.2
          while (performance.now() < until) {}
          return v
        })
        .sink(out)
      return t
    }
    const first = runEmbedded(topology(collect()), {
      state: { dir, checkpointInterval: '20ms' },
      batchSize: 20,
      log: memoryLogger(),
    })
    const end = Date.now() + 10_000
    while (first.checkpointStatus?.().lastCompleted === undefined && Date.now() < end)
      await new Promise((r) => setTimeout(r, 10))
    expect(first.checkpointStatus?.().lastCompleted).toBeDefined()
    await first.stop()
    expect((await first.done).status).toBe('cancelled')
    replace(path, lines('b', 5000))
    const out = collect()
    const second = runEmbedded(topology(out), {
      state: { dir, checkpointInterval: '20ms' },
      batchSize: 20,
      log: memoryLogger(),
    })
    await expect(second.done).rejects.toMatchObject({
      code: 'ERR_SOURCE_FAILED',
      message: expect.stringMatching(
        /"src": ".*job\.txt" was replaced since the checkpoint \(inode \d+, now \d+\)/,
      ),
    })
    expect(out.values).toEqual([])
  })
})

describe('file source values', () => {
  it('offers its lines as values when its records carry no tag: the same values, bad lines reported, positions shared', async () => {
    const path = join(root, 'values.jsonl')
    const rows = Array.from({ length: 40 }, (_, i) => JSON.stringify({ n: i, ts: 1_000 + i }))
    rows.splice(17, 0, '{not json')
    writeFileSync(path, `${rows.join('\n')}\n`)
    const bad: string[] = []
    const ctx = { ...context(), badRecord: (e: Error) => void bad.push(e.message) }
    const asRecords = file({ path, format: 'jsonl' }).create(ctx)
    await asRecords.open?.()
    const records = readAll(asRecords)
    const asValues = file({ path, format: 'jsonl' }).create(ctx)
    await asValues.open?.()
    expect(asValues.nextValues).toBeTypeOf('function')
    const first = asValues.nextValues!(10) as unknown[]
    const position = asValues.snapshot!()
    const values = [...first]
    for (let b = asValues.nextValues!(7); b !== null; b = asValues.nextValues!(7))
      values.push(...(b as unknown[]))
    expect(values).toEqual(records)
    expect(values).toHaveLength(40)
    expect(bad).toHaveLength(2)
    expect(bad[1]).toBe(bad[0])
    expect(bad[0]).toMatch(/values\.jsonl: line 18 \(byte \d+\) is not valid JSON/)
    // A position taken between value batches resumes where nextBatch would.
    const again = file({ path, format: 'jsonl' }).create(ctx)
    await again.open?.()
    again.restore!(file({ path, format: 'jsonl' }).rescale!([position], 1)[0])
    expect(readAll(again)).toEqual(records.slice(10))
    // Records with a tag carry more than their value: no values offered.
    expect(file({ path, format: 'jsonl', tag: 'app.events' }).create(ctx).nextValues).toBeUndefined()
  })

  it('a SQL query with event time over a JSON-lines file reads it as values and gives the same rows', async () => {
    const path = join(root, 'hits.jsonl')
    const hits = Array.from({ length: 3000 }, (_, i) => ({ user: `u${i % 5}`, n: i, ts: 1_000 + i }))
    writeFileSync(path, `${hits.map((h) => JSON.stringify(h)).join('\n')}\n`)
    const { planQuery } = await import('../../../src/query/planner.ts')
    const sink = collect<{ user: string; n: number }>()
    const spec = file({ path, format: 'jsonl' })
    const calls = { values: 0, batches: 0 }
    const counted: SourceSpec<unknown> = {
      ...spec,
      create: (c) => {
        const r = spec.create(c)
        const { nextBatch, nextValues } = r
        r.nextBatch = (max) => {
          calls.batches++
          return nextBatch.call(r, max)
        }
        ;(r as { nextValues?: unknown }).nextValues = (max: number) => {
          calls.values++
          return nextValues!.call(r, max)
        }
        return r
      },
    }
    const plan = planQuery(
      'SELECT user, n FROM hits WHERE MOD(n, 7) = 0',
      {
        hits: {
          source: counted,
          schema: { user: 'STRING', n: 'BIGINT', ts: 'TIMESTAMP(3)' },
          eventTime: { column: 'ts', watermarkDelayMs: 0 },
        },
      },
      { sink: { spec: sink } },
    )
    const result = await runEmbedded(plan.topology, { threads: 1, log: memoryLogger() }).done
    expect(sink.values).toEqual(hits.filter((h) => h.n % 7 === 0).map((h) => ({ user: h.user, n: h.n })))
    expect(result.metrics.hits?.out).toBe(3000)
    expect(calls.values).toBeGreaterThan(0)
    expect(calls.batches).toBe(0)
  })
})

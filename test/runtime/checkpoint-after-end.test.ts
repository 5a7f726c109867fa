import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type Job, Topology, generator, memoryLogger, runEmbedded, sinkFn } from '../../src/index.ts'
import { until } from '../integration/pipeline-support.ts'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

type Update = { key: string; count: number }

/**
 * A bounded "table" source (200 records over keys a0–a9) and an endless "live" one (keys b0–b4),
 * united and counted per key. `statefulTable` adds a branch on the table alone that finishes with
 * state when the table ends: a count per key, and a total the operator emits from its `finish`
 * step, both into `tableOut`.
 */
function job(updates: Update[], statefulTable = false, tableOut: Update[] = []): Topology {
  const t = new Topology('after-end')
  const table = t.source('table', generator({ count: 200, make: (seq) => `a${seq % 10}` }))
  const live = t.source('live', generator({ rate: 4000, make: (seq) => `b${seq % 5}` }))
  const out = sinkFn<Update>((records) => {
    for (const r of records) updates.push(r.value)
  })
  table
    .map((x) => x)
    .union(live)
    .keyBy((x) => x)
    .count('counts')
    .sink(out as never, { name: 'out' })
  if (statefulTable) {
    const collect = sinkFn<Update>((records) => {
      for (const r of records) tableOut.push(r.value)
    })
    const keyed = table.keyBy((x) => x)
    keyed.count('table-counts').sink(collect as never, { name: 'table-out' })
    keyed
      .process<Update>('table-total', () => {
        let n = 0
        return {
          process() {
            n++
          },
          finish(o) {
            o.emit({ key: 'total', count: n })
          },
        }
      })
      .sink(collect, { name: 'total-out' })
  }
  return t
}

const lastCompleted = (job: Job) => job.checkpointStatus?.().lastCompleted?.id ?? 0

describe('checkpoints after an input has ended', () => {
  it('go on once a bounded source and the stateless operator after it have finished; a restore does not read the ended source again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'squall-after-end-'))
    dirs.push(dir)
    const first: Update[] = []
    const log = memoryLogger()
    const a = runEmbedded(job(first), { state: { dir, checkpointInterval: '50ms' }, log })
    const tableDone = () => first.filter((u) => u.key.startsWith('a')).length === 200
    await until(tableDone, 'the whole table counted', 15_000)
    const atEnd = lastCompleted(a)
    await until(() => lastCompleted(a) >= atEnd + 3, 'three checkpoints after the table ended', 15_000)
    expect(log.entries.filter((e) => /has ended/.test(e.message))).toEqual([])
    await a.stop()

    const second: Update[] = []
    const b = runEmbedded(job(second), { state: { dir, checkpointInterval: '50ms' }, log: memoryLogger() })
    await until(() => second.length >= 50, 'fifty updates after the restore', 15_000)
    await b.stop()
    expect(b.checkpointStatus?.().restoredFrom).toBeGreaterThan(atEnd)
    // The table is not read again, and the live keys go on from their checkpointed counts.
    expect(second.filter((u) => u.key.startsWith('a'))).toEqual([])
    const lastBefore = new Map(first.map((u) => [u.key, u.count]))
    for (const u of second) expect(u.count).toBeGreaterThan(0)
    expect(second[0]!.count).toBeGreaterThan(1)
    expect(second[0]!.count).toBeLessThanOrEqual((lastBefore.get(second[0]!.key) ?? 0) + 1)
  })

  it('go on once operators that hold state or emit at their finish, and their sinks, have finished; a restore runs none of them again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'squall-after-end-'))
    dirs.push(dir)
    const first: Update[] = []
    const firstTable: Update[] = []
    const log = memoryLogger()
    const a = runEmbedded(job(first, true, firstTable), { state: { dir, checkpointInterval: '50ms' }, log })
    await until(() => firstTable.some((u) => u.key === 'total'), 'the table branch to finish', 15_000)
    const atEnd = lastCompleted(a)
    await until(() => lastCompleted(a) >= atEnd + 3, 'three checkpoints after the table branch ended', 15_000)
    expect(log.entries.filter((e) => /has ended/.test(e.message))).toEqual([])
    await a.stop()
    expect(firstTable.filter((u) => u.key !== 'total')).toHaveLength(200)
    expect(firstTable.filter((u) => u.key === 'total')).toEqual([{ key: 'total', count: 200 }])

    const second: Update[] = []
    const secondTable: Update[] = []
    const b = runEmbedded(job(second, true, secondTable), {
      state: { dir, checkpointInterval: '50ms' },
      log: memoryLogger(),
    })
    await until(() => second.length >= 50, 'fifty updates after the restore', 15_000)
    const restored = lastCompleted(b)
    await until(() => lastCompleted(b) > restored, 'a checkpoint after the restore', 15_000)
    await b.stop()
    expect(b.checkpointStatus?.().restoredFrom).toBeGreaterThan(atEnd)
    // The finished branch neither reads the table again nor emits its total a second time.
    expect(secondTable).toEqual([])
    expect(second.filter((u) => u.key.startsWith('a'))).toEqual([])
  })
})

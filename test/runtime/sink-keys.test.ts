import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type Job, type SinkSpec, Topology, generator, memoryLogger, runEmbedded } from '../../src/index.ts'
import { latestCheckpoint } from '../../src/runtime/checkpoint-storage.ts'
import { keysContinue } from '../../src/runtime/sink-keys.ts'
import { until } from '../integration/pipeline-support.ts'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})
function stateDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'squall-sink-keys-'))
  dirs.push(d)
  return d
}

const COUNT = 3000

/** What a sink task saw: each record's value with its idempotency key, in order. */
interface Seen {
  value: number
  key: string
}

/**
 * generator (0 … COUNT-1, paced so that checkpoints fall in the middle) → map → a sink that
 * records the key `IoContext.idempotencyKey` gives each record. Once `crash.armed` is set, its next
 * write records its batch and throws: the job fails there, as if killed, with no final checkpoint.
 */
function job(seen: Seen[], crash: { armed: boolean } = { armed: false }): Topology {
  const sink: SinkSpec<number> = {
    kind: 'keys',
    create: (ctx) => ({
      write(records) {
        const first = ctx.batchSequence!()
        for (let i = 0; i < records.length; i++)
          seen.push({ value: records[i]!.value, key: ctx.idempotencyKey!(first + i) })
        if (crash.armed) throw new Error('crash')
      },
    }),
  }
  const t = new Topology('sink-keys')
  t.source('numbers', generator({ count: COUNT, rate: 10_000, make: (seq) => seq }))
    .map((x) => x)
    .sink(sink, { name: 'out' })
  return t
}

const lastCompleted = (j: Job) => j.checkpointStatus?.().lastCompleted?.id ?? 0
const keyOf = (seen: Seen[]) => new Map(seen.map((s) => [s.value, s.key]))

/** Asserts that no key names two different values over all `runs`. */
function expectNoKeyForTwoRecords(...runs: Seen[][]): void {
  const recordOf = new Map<string, number>()
  for (const run of runs) {
    for (const s of run) {
      const before = recordOf.get(s.key)
      if (before !== undefined) expect(before, `key ${s.key}`).toBe(s.value)
      recordOf.set(s.key, s.value)
    }
  }
}

describe('idempotency keys of sink records', () => {
  it('after a crash, the restored job gives each replayed record the key it had before; no key names two records', async () => {
    const dir = stateDir()
    const state = { dir, checkpointInterval: '30ms' }
    const first: Seen[] = []
    const crash = { armed: false }
    const a = runEmbedded(job(first, crash), { state, log: memoryLogger() })
    await until(() => lastCompleted(a) >= 2 && first.length >= 500, 'two checkpoints and 500 records', 15_000)
    crash.armed = true
    await expect(a.done).rejects.toThrow(/failed to write/)
    expect(first.length).toBeLessThan(COUNT)

    const second: Seen[] = []
    const b = runEmbedded(job(second), { state, log: memoryLogger() })
    await b.done
    const restored = b.checkpointStatus!().restoredFrom!
    expect(restored).toBeGreaterThanOrEqual(2)

    // Within each run, keys are unique and follow `<base>.<task>.<seq>` with consecutive numbers.
    for (const run of [first, second]) {
      expect(new Set(run.map((s) => s.key)).size).toBe(run.length)
      for (const s of run) expect(s.key).toMatch(/^[A-Za-z0-9_-]{16}\.0\.\d+$/)
    }
    const seqOf = (key: string) => Number(key.split('.')[2])
    expect(first.map((s) => seqOf(s.key))).toEqual(first.map((_, i) => i))
    // The restored run replays from the checkpoint's barrier and goes on with the same sequence.
    const start = second[0]!.value
    expect(second.map((s) => s.value)).toEqual(Array.from({ length: COUNT - start }, (_, i) => start + i))
    expect(second.map((s) => seqOf(s.key))).toEqual(second.map((_, i) => start + i))
    const replayed = second.filter((s) => keyOf(first).has(s.value))
    expect(replayed.length).toBeGreaterThan(0)
    const before = keyOf(first)
    for (const s of replayed) expect(s.key, `record ${s.value}`).toBe(before.get(s.value))
    expectNoKeyForTwoRecords(first, second)

    // The final checkpoint records where the sequence stands: every record numbered once.
    const manifest = latestCheckpoint(dir, memoryLogger())!.manifest
    expect(manifest.sinkKeys?.out).toEqual([{ base: first[0]!.key.split('.')[0], next: COUNT }])
  })

  it('a restore at another parallelism starts new key sequences: no key of the crashed run comes back, for any record', async () => {
    const dir = stateDir()
    const state = { dir, checkpointInterval: '30ms' }
    const first: Seen[] = []
    const crash = { armed: false }
    const a = runEmbedded(job(first, crash), { state, parallelism: 1, log: memoryLogger() })
    await until(() => lastCompleted(a) >= 2 && first.length >= 500, 'two checkpoints and 500 records', 15_000)
    crash.armed = true
    await expect(a.done).rejects.toThrow(/failed to write/)

    const second: Seen[] = []
    const b = runEmbedded(job(second), { state, parallelism: 2, log: memoryLogger() })
    await b.done
    expect(b.checkpointStatus!().restoredFrom).toBeGreaterThanOrEqual(2)
    const keysA = new Set(first.map((s) => s.key))
    expect(second.filter((s) => keysA.has(s.key))).toEqual([])
    // Two tasks, two new bases, each numbering its own records from 0; still no key twice.
    const bases = new Set(second.map((s) => s.key.split('.')[0]))
    expect(bases.size).toBe(2)
    expect(new Set(second.map((s) => s.key.split('.')[1]))).toEqual(new Set(['0', '1']))
    expect(new Set(second.map((s) => s.key)).size).toBe(second.length)
    expectNoKeyForTwoRecords(first, second)
    const everything = new Set([...first, ...second].map((s) => s.value))
    expect(everything.size).toBe(COUNT)
  })

  it('sequences go on only when the restored checkpoint has the same nodes at the same parallelism', () => {
    const before = { nodes: ['in', 'map', 'out'], parallelism: { in: 1, map: 2, out: 1 } }
    expect(
      keysContinue(before, { nodes: ['in', 'map', 'out'], parallelism: { in: 1, map: 2, out: 1 } }),
    ).toBe(true)
    expect(
      keysContinue(before, { nodes: ['in', 'map', 'out'], parallelism: { in: 1, map: 3, out: 1 } }),
    ).toBe(false)
    expect(keysContinue(before, { nodes: ['in', 'out'], parallelism: { in: 1, out: 1 } })).toBe(false)
    expect(
      keysContinue(before, { nodes: ['in', 'map2', 'out'], parallelism: { in: 1, map2: 2, out: 1 } }),
    ).toBe(false)
  })
})

// A checkpoint of the earlier layout, without `sinkKeys`, is still restored; its sinks start anew.
describe('idempotency keys and older checkpoints', () => {
  it('a checkpoint without sinkKeys restores, and its sink tasks start a new sequence', async () => {
    const dir = stateDir()
    const state = { dir, checkpointInterval: '30ms' }
    const first: Seen[] = []
    const crash = { armed: false }
    const a = runEmbedded(job(first, crash), { state, log: memoryLogger() })
    await until(() => lastCompleted(a) >= 2 && first.length >= 500, 'two checkpoints and 500 records', 15_000)
    crash.armed = true
    await expect(a.done).rejects.toThrow(/failed to write/)
    const latest = latestCheckpoint(dir, memoryLogger())!
    const path = join(latest.dir, 'MANIFEST.json')
    const m = JSON.parse(readFileSync(path, 'utf8'))
    delete m.sinkKeys
    const { writeFileSync } = await import('node:fs')
    writeFileSync(path, JSON.stringify(m))

    const second: Seen[] = []
    const b = runEmbedded(job(second), { state, log: memoryLogger() })
    await b.done
    expect(b.checkpointStatus!().restoredFrom).toBe(latest.manifest.id)
    expect(second[0]!.key.endsWith('.0.0')).toBe(true)
    expect(second[0]!.key.split('.')[0]).not.toBe(first[0]!.key.split('.')[0])
    expectNoKeyForTwoRecords(first, second)
  })
})

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listCheckpoints } from '../../src/runtime/checkpoint-storage.ts'
import { crashLoop, killMoments, publishedRows, runJob, seeded, writeEvents } from './crash-harness.ts'

const EVENTS = 30_000
let dir: string
let input: string
let expected: string[]

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'squall-crash-'))
  input = join(dir, 'events.jsonl')
  writeEvents(input, EVENTS)
  const out = join(dir, 'reference')
  const r = await runJob([], { CRASH_INPUT: input, CRASH_OUTPUT: out })
  expect(r.code, r.stderr).toBe(0)
  expected = publishedRows(out)
}, 120_000)

afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('crash recovery of a real squall process', () => {
  it('the reference run produces one on-time window count per user and minute, covering every event', () => {
    expect(expected.length).toBeGreaterThan(100)
    const rows = expected.map(
      (row) =>
        JSON.parse(row) as {
          key: string
          windowStart: number
          windowEnd: number
          value: number
          firing: string
        },
    )
    expect(new Set(rows.map((r) => `${r.key} ${r.windowStart}`)).size).toBe(rows.length)
    expect(rows.every((r) => r.firing === 'on-time' && r.windowEnd - r.windowStart === 60_000)).toBe(true)
    expect(rows.reduce((n, r) => n + r.value, 0)).toBe(EVENTS)
  })

  it('the kill schedule takes every kind of moment in each three kills and never two start-up kills in a row', () => {
    for (let seed = 0; seed < 50; seed++) {
      const moments = killMoments(20, seeded(seed))
      expect(moments).toHaveLength(20)
      for (let i = 0; i + 3 <= 18; i += 3) {
        expect(new Set(moments.slice(i, i + 3))).toEqual(new Set(['start-up', 'checkpoint', 'running']))
      }
      for (let i = 1; i < moments.length; i++) {
        expect(moments[i] === 'start-up' && moments[i - 1] === 'start-up').toBe(false)
      }
    }
  })

  it('killed with SIGKILL five times (during start-up, right after a checkpoint, mid-run) and restarted, the memory backend gives the same rows, none twice', async () => {
    // Most attempts get one or two checkpoints (several thousand records) before they are killed,
    // so five kills need a longer input than the other tests.
    const longInput = join(dir, 'events-long.jsonl')
    writeEvents(longInput, EVENTS * 2)
    const reference = join(dir, 'reference-long')
    const ref = await runJob([], { CRASH_INPUT: longInput, CRASH_OUTPUT: reference })
    expect(ref.code, ref.stderr).toBe(0)
    const stateDir = join(dir, 'state-memory')
    const output = join(dir, 'out-memory')
    const r = await crashLoop({
      stateDir,
      output,
      input: longInput,
      kills: 5,
      seed: 11,
      argsFor: () => [],
      slowUs: 200,
    })
    expect(r.killed).toBe(5)
    expect(r.moments['start-up']).toBeGreaterThanOrEqual(1)
    expect(r.moments.checkpoint).toBeGreaterThanOrEqual(1)
    expect(r.moments.running).toBeGreaterThanOrEqual(1)
    expect(r.beforeFirstCheckpoint).toBeGreaterThanOrEqual(1)
    expect(r.log.at(-1)).toMatch(/restoring checkpoint/)
    expect(publishedRows(output)).toEqual(publishedRows(reference))
  }, 300_000)

  it('killed and restarted with the LMDB backend, the output equals the uninterrupted run', async () => {
    const stateDir = join(dir, 'state-lmdb')
    const output = join(dir, 'out-lmdb')
    const r = await crashLoop({
      stateDir,
      output,
      input,
      kills: 3,
      seed: 12,
      argsFor: () => ['--state-backend', 'lmdb'],
      slowUs: 100,
    })
    expect(r.killed).toBe(3)
    expect(r.restored).toBeGreaterThanOrEqual(1)
    expect(publishedRows(output)).toEqual(expected)
  }, 300_000)

  it('on two worker threads, restarted alternately on one and two threads, the output equals the uninterrupted run', async () => {
    const stateDir = join(dir, 'state-threads')
    const output = join(dir, 'out-threads')
    const r = await crashLoop({
      stateDir,
      output,
      input,
      kills: 3,
      seed: 13,
      argsFor: (attempt) => ['--threads', attempt % 2 === 0 ? '2' : '1', '--parallelism', '2'],
      slowUs: 100,
    })
    expect(r.killed).toBe(3)
    expect(r.restored).toBeGreaterThanOrEqual(1)
    expect(publishedRows(output)).toEqual(expected)
  }, 300_000)

  it('killed at parallelism 2, then restored with --from-checkpoint into a new state directory on 2 threads at parallelism 3, the output equals the uninterrupted run', async () => {
    const first = join(dir, 'state-savepoint')
    const second = join(dir, 'state-from-savepoint')
    const output = join(dir, 'out-savepoint')
    const env = { CRASH_INPUT: input, CRASH_OUTPUT: output, CRASH_SLOW_US: '100' }
    const killed = await runJob(
      ['--state-dir', first, '--checkpoint-interval', '200ms', '--parallelism', '2'],
      env,
      { at: 'checkpoint', checkpoint: 2, delayMs: 50 },
    )
    expect(killed.code).toBeNull()
    const latest = listCheckpoints(first).find((c) => c.complete)
    expect(latest).toBeDefined()
    const r = await runJob(
      ['--state-dir', second, '--from-checkpoint', latest!.dir, '--threads', '2', '--parallelism', '3'],
      env,
    )
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(new RegExp(`restoring checkpoint ${latest!.id}`))
    expect(publishedRows(output)).toEqual(expected)
  }, 120_000)

  it('a restart after the job finished publishes nothing new', async () => {
    const stateDir = join(dir, 'state-done')
    const output = join(dir, 'out-done')
    const env = { CRASH_INPUT: input, CRASH_OUTPUT: output }
    expect((await runJob(['--state-dir', stateDir], env)).code).toBe(0)
    const again = await runJob(['--state-dir', stateDir], env)
    expect(again.code).toBe(0)
    expect(again.stderr).toMatch(/already finished/)
    expect(publishedRows(output)).toEqual(expected)
  }, 120_000)
})

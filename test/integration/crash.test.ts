import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listCheckpoints } from '../../src/runtime/checkpoint-storage.ts'
import { crashLoop, publishedRows, runJob, writeEvents } from './crash-harness.ts'

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
  it('the reference run produces one row per user and minute', () => {
    expect(expected.length).toBeGreaterThan(100)
    expect(new Set(expected).size).toBe(expected.length)
    const total = expected.reduce((n, row) => n + (JSON.parse(row) as { count: number }).count, 0)
    expect(total).toBe(EVENTS)
  })

  it('killed with SIGKILL five times and restarted, the memory backend gives the same rows, none twice', async () => {
    // Each attempt gets one or two checkpoints (several thousand records) before it is killed, so
    // five kills need a longer input than the other tests.
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
    expect(r.restored).toBeGreaterThanOrEqual(4)
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
      { afterCheckpoints: 2, delayMs: 50 },
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

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type Job, memoryLogger, runEmbedded, runModule } from '../../src/index.ts'
import { checkpointDir, readCheckpoint } from '../../src/runtime/checkpoint-storage.ts'
import endless from '../fixtures/endless-count.ts'

const dirs: string[] = []
function stateDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'squall-cpstatus-'))
  dirs.push(d)
  return d
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

async function until(job: Job, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!ok()) {
    if (Date.now() > end)
      throw new Error(
        `job "${job.name}" did not get there within ${ms} ms: ${JSON.stringify(job.checkpointStatus?.())}`,
      )
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('Job.checkpointStatus()', () => {
  it('on the main thread: empty at a fresh start, then the latest completed checkpoint; a restart reports the checkpoint it restored', async () => {
    const dir = stateDir()
    const before = Date.now()
    const first = runEmbedded(endless, { state: { dir, checkpointInterval: '50ms' }, log: memoryLogger() })
    expect(first.checkpointStatus?.()).toEqual({})
    await until(first, () => (first.checkpointStatus?.().lastCompleted?.id ?? 0) >= 2)
    const seen = first.checkpointStatus!()
    expect(seen.restoredFrom).toBeUndefined()
    expect(seen.lastCompleted!.time).toBeGreaterThanOrEqual(before)
    expect(seen.lastCompleted!.time).toBeLessThanOrEqual(Date.now())
    first.drain()
    await first.done
    const last = first.checkpointStatus!().lastCompleted!.id
    expect(last).toBeGreaterThan(seen.lastCompleted!.id)

    const second = runEmbedded(endless, { state: { dir, checkpointInterval: '50ms' }, log: memoryLogger() })
    await until(second, () => second.checkpointStatus?.().restoredFrom !== undefined)
    expect(second.checkpointStatus!().restoredFrom).toBe(last)
    await until(second, () => (second.checkpointStatus?.().lastCompleted?.id ?? 0) > last)
    second.drain()
    await second.done
  })

  it('on worker threads: reports the restored checkpoint and the checkpoints completed since', async () => {
    const dir = stateDir()
    const options = { threads: 2, state: { dir, checkpointInterval: '50ms' }, log: memoryLogger() }
    const first = await runModule('test/fixtures/endless-count.ts', options)
    await until(first, () => (first.checkpointStatus?.().lastCompleted?.id ?? 0) >= 1)
    expect(first.checkpointStatus!().restoredFrom).toBeUndefined()
    first.drain()
    await first.done
    const last = first.checkpointStatus!().lastCompleted!.id

    const second = await runModule('test/fixtures/endless-count.ts', options)
    await until(second, () => (second.checkpointStatus?.().lastCompleted?.id ?? 0) > last)
    expect(second.checkpointStatus!().restoredFrom).toBe(last)
    second.drain()
    await second.done
  })

  it('a job without a state directory reports nothing', async () => {
    const job = runEmbedded(endless, { log: memoryLogger() })
    await new Promise((r) => setTimeout(r, 50))
    expect(job.checkpointStatus?.()).toEqual({})
    await job.stop()
  })
})

describe('Job.triggerCheckpoint()', () => {
  it('on worker threads: takes the next checkpoint now, and a restart after stop() resumes from it', async () => {
    const dir = stateDir()
    const options = { threads: 2, state: { dir, checkpointInterval: '1h' }, log: memoryLogger() }
    const first = await runModule('test/fixtures/endless-count.ts', options)
    await expect(first.triggerCheckpoint!()).rejects.toMatchObject({ code: 'ERR_CHECKPOINT_FAILED' })
    await until(first, () => first.status() === 'running')
    await first.triggerCheckpoint!()
    expect(first.checkpointStatus!().lastCompleted!.id).toBe(1)
    await first.triggerCheckpoint!()
    expect(first.checkpointStatus!().lastCompleted!.id).toBe(2)
    // Stopped at once (cancelled), as after Ctrl-C: the checkpoint just taken is the last one.
    await first.stop()
    expect((await first.done).status).toBe('cancelled')

    const second = await runModule('test/fixtures/endless-count.ts', options)
    await until(second, () => second.checkpointStatus?.().restoredFrom !== undefined)
    expect(second.checkpointStatus!().restoredFrom).toBe(2)
    await until(second, () => second.status() === 'running')
    await second.triggerCheckpoint!()
    expect(second.checkpointStatus!().lastCompleted!.id).toBe(3)
    await second.stop()
  })

  it('without an id, waits for the checkpoint in progress and then takes the next one', async () => {
    const dir = stateDir()
    const job = runEmbedded(endless, { state: { dir, checkpointInterval: '1h' }, log: memoryLogger() })
    await until(job, () => job.status() === 'running')
    // The second call comes while the first checkpoint is pending.
    const ids: number[] = []
    const first = job.triggerCheckpoint!().then(() => ids.push(job.checkpointStatus!().lastCompleted!.id))
    const second = job.triggerCheckpoint!().then(() => ids.push(job.checkpointStatus!().lastCompleted!.id))
    await Promise.all([first, second])
    expect(ids).toEqual([1, 2])
    // With an id, a call while one is pending is refused.
    const third = job.triggerCheckpoint!()
    await expect(job.triggerCheckpoint!(10)).rejects.toThrow(
      /checkpoint 10 not taken: checkpoint 3 is pending/,
    )
    await third
    await job.stop()
  })

  it('a job without a state directory takes none, and says so', async () => {
    const job = await runModule('test/fixtures/endless-count.ts', { threads: 2, log: memoryLogger() })
    await until(job, () => job.status() === 'running')
    await expect(job.triggerCheckpoint!()).rejects.toThrow(
      /no checkpoint taken: the job has no state directory/,
    )
    await job.stop()
  })
})

/** Records generator partitions had read at a checkpoint: partition p of P reads p, p+P, … up to its next `seq`. */
function readAt(dir: string, id: number, node: string): number {
  const read = readCheckpoint(checkpointDir(dir, id))
  if (!('manifest' in read)) throw new Error(`checkpoint ${id}: ${read.problem}`)
  const positions = read.manifest.sources[node] as { seq: number }[]
  return positions.reduce((sum, p, i) => sum + (p.seq - i) / positions.length, 0)
}

describe('Job.stop({ checkpoint: true })', () => {
  for (const threads of [1, 2]) {
    it(`on ${threads} thread(s): takes a last checkpoint after which the sources read nothing, then stops; the next run resumes from it`, async () => {
      const dir = stateDir()
      const options = { threads, state: { dir, checkpointInterval: '1h' }, log: memoryLogger() }
      const first = await runModule('test/fixtures/endless-count.ts', options)
      await until(first, () => first.status() === 'running' && (first.metrics().gen?.out ?? 0) > 2_000)
      await first.stop({ checkpoint: true })
      expect((await first.done).status).toBe('cancelled')
      expect(first.checkpointStatus!().lastCompleted!.id).toBe(1)
      // Every record the generator read is in the checkpoint: none was read after its barrier.
      const read = (await first.done).metrics.gen!.out!
      expect(read).toBeGreaterThan(2_000)
      expect(readAt(dir, 1, 'gen')).toBe(read)

      const second = await runModule('test/fixtures/endless-count.ts', options)
      await until(second, () => second.checkpointStatus?.().restoredFrom !== undefined)
      expect(second.checkpointStatus!().restoredFrom).toBe(1)
      await second.stop()
    })
  }

  it('without a state directory it still stops, and rejects naming why no checkpoint was taken', async () => {
    const job = runEmbedded(endless, { log: memoryLogger() })
    await until(job, () => job.status() === 'running')
    await expect(job.stop({ checkpoint: true })).rejects.toThrow(
      /no checkpoint taken: the job has no state directory/,
    )
    expect((await job.done).status).toBe('cancelled')
  })

  it('a plain stop() while it waits for the checkpoint stops at once', async () => {
    const dir = stateDir()
    const job = runEmbedded(endless, { state: { dir, checkpointInterval: '1h' }, log: memoryLogger() })
    await until(job, () => job.status() === 'running')
    // A checkpoint in progress makes the stop wait for it first.
    const pending = job.triggerCheckpoint!()
    const withCheckpoint = job.stop({ checkpoint: true })
    await job.stop()
    expect((await job.done).status).toBe('cancelled')
    await Promise.allSettled([pending, withCheckpoint])
    await expect(withCheckpoint).rejects.toMatchObject({ code: 'ERR_CHECKPOINT_FAILED' })
  })
})

describe('Job.runningSince()', () => {
  for (const threads of [1, 2]) {
    it(`on ${threads} thread(s): undefined while starting, then the moment processing began, which the run's running time counts from`, async () => {
      const before = Date.now()
      const job = await runModule('test/fixtures/endless-count.ts', { threads, log: memoryLogger() })
      expect(job.status()).toBe('starting')
      expect(job.runningSince()).toBeUndefined()
      await until(job, () => job.status() === 'running')
      const since = job.runningSince()!
      expect(since).toBeGreaterThanOrEqual(before)
      expect(since).toBeLessThanOrEqual(Date.now())
      await until(job, () => (job.metrics().gen?.out ?? 0) > 0)
      job.drain()
      const result = await job.done
      const ended = Date.now()
      expect(job.runningSince()).toBe(since)
      // The running time is the time from `runningSince` to the end (`Date.now()` granularity).
      expect(result.runningMs).toBeGreaterThanOrEqual(0)
      expect(Math.abs(since + result.runningMs - ended)).toBeLessThanOrEqual(50)
    })
  }
})

import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { type Job, memoryLogger, runEmbedded } from '../../src/index.ts'
import endless from '../fixtures/endless-count.ts'

const disk = vi.hoisted(() => ({ full: false }))

vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>()
  const enospc = (path: unknown) =>
    Object.assign(new Error(`ENOSPC: no space left on device, write '${String(path)}'`), {
      code: 'ENOSPC',
    })
  const writeFile: typeof fs.writeFile = async (path, data, options) => {
    if (disk.full && String(path).endsWith('.state')) {
      disk.full = false
      throw enospc(path)
    }
    return fs.writeFile(path, data, options)
  }
  // Task files are written through a handle: while the disk is full, its first write fails.
  const open = (async (path: Parameters<typeof fs.open>[0], ...rest: unknown[]) => {
    const handle = await (fs.open as (...a: unknown[]) => ReturnType<typeof fs.open>)(path, ...rest)
    if (disk.full && String(path).endsWith('.state')) {
      disk.full = false
      const fail = async () => {
        throw enospc(path)
      }
      Object.assign(handle, { write: fail, writev: fail })
    }
    return handle
  }) as typeof fs.open
  return { ...fs, default: { ...fs, writeFile, open }, writeFile, open }
})

const dirs: string[] = []
afterEach(() => {
  disk.full = false
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

async function until(job: Job, ok: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 15_000
  while (!ok()) {
    if (Date.now() > end) throw new Error(`job "${job.name}": ${what} did not happen within 15 s`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

function failures(log: ReturnType<typeof memoryLogger>): string[] {
  return log.entries
    .filter((e) => e.level === 'warn' && /checkpoint \d+ failed/.test(e.message))
    .map((e) => e.message)
}

describe('checkpoint faults', () => {
  it('a task file that cannot be written (disk full) fails that checkpoint, logged and counted, not the job; the next one succeeds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'squall-faults-'))
    dirs.push(dir)
    const log = memoryLogger()
    const job = runEmbedded(endless, { state: { dir, checkpointInterval: '50ms' }, log })
    await until(job, () => job.checkpointStatus?.().lastCompleted !== undefined, 'a first checkpoint')
    disk.full = true
    await until(job, () => failures(log).length > 0, 'a failed checkpoint')
    const failedId = Number(/checkpoint (\d+) failed/.exec(failures(log)[0]!)![1])
    expect(failures(log)[0]).toMatch(/ENOSPC/)
    await until(
      job,
      () => (job.checkpointStatus?.().lastCompleted?.id ?? 0) > failedId,
      'a checkpoint after the failure',
    )
    expect(job.status()).toBe('running')
    job.drain()
    const result = await job.done
    expect(result.status).toBe('finished')
    expect(result.metrics.checkpoints!.failed).toBe(1)
    expect(result.metrics.checkpoints!.completed).toBeGreaterThanOrEqual(2)
  })

  it('a checkpoint directory that cannot be created fails that checkpoint, not the job; checkpoints resume once it can', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'squall-faults-'))
    dirs.push(dir)
    const log = memoryLogger()
    const job = runEmbedded(endless, { state: { dir, checkpointInterval: '50ms' }, log })
    await until(job, () => job.checkpointStatus?.().lastCompleted !== undefined, 'a first checkpoint')
    // A file where the checkpoints directory should be: every mkdir under it fails (ENOTDIR).
    const checkpoints = join(dir, 'checkpoints')
    renameSync(checkpoints, `${checkpoints}.away`)
    writeFileSync(checkpoints, 'not a directory')
    await until(job, () => failures(log).length >= 2, 'two failed checkpoints')
    const before = job.checkpointStatus!().lastCompleted!.id
    rmSync(checkpoints)
    renameSync(`${checkpoints}.away`, checkpoints)
    await until(
      job,
      () => (job.checkpointStatus?.().lastCompleted?.id ?? 0) > before,
      'a checkpoint after the directory is back',
    )
    job.drain()
    const result = await job.done
    expect(result.status).toBe('finished')
    expect(result.metrics.checkpoints!.failed).toBeGreaterThanOrEqual(2)
  })
})

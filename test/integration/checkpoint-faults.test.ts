import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { type Job, memoryLogger, runEmbedded } from '../../src/index.ts'
import { listCheckpoints } from '../../src/runtime/checkpoint-storage.ts'
import endless from '../fixtures/endless-count.ts'

const disk = vi.hoisted(() => ({ full: false, manifestFull: false }))

// MANIFEST.json is written synchronously through a descriptor: while `manifestFull` is set, the
// first write to a descriptor opened on a MANIFEST.json fails.
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>()
  const manifests = new Set<number>()
  const openSync = ((path: Parameters<typeof fs.openSync>[0], ...rest: unknown[]) => {
    const fd = (fs.openSync as (...a: unknown[]) => number)(path, ...rest)
    if (String(path).endsWith('MANIFEST.json')) manifests.add(fd)
    return fd
  }) as typeof fs.openSync
  const closeSync: typeof fs.closeSync = (fd) => {
    manifests.delete(fd)
    fs.closeSync(fd)
  }
  const writeFileSync: typeof fs.writeFileSync = (file, data, options) => {
    if (disk.manifestFull && typeof file === 'number' && manifests.has(file)) {
      disk.manifestFull = false
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
    }
    fs.writeFileSync(file, data, options)
  }
  const patched = { openSync, closeSync, writeFileSync }
  return { ...fs, ...patched, default: { ...fs, ...patched } }
})

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
  disk.manifestFull = false
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

  it('a manifest that cannot be written (disk full) fails that checkpoint and leaves nothing of it; the job goes on, the next one completes, and a restart restores a complete one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'squall-faults-'))
    dirs.push(dir)
    const log = memoryLogger()
    const job = runEmbedded(endless, { state: { dir, checkpointInterval: '50ms' }, log })
    await until(job, () => job.checkpointStatus?.().lastCompleted !== undefined, 'a first checkpoint')
    disk.manifestFull = true
    await until(job, () => failures(log).length > 0, 'a failed checkpoint')
    const failedId = Number(/checkpoint (\d+) failed/.exec(failures(log)[0]!)![1])
    expect(failures(log)[0]).toMatch(/writing its manifest failed: ENOSPC/)
    // Neither a chk-<id> directory nor its temporary directory is left behind.
    expect(existsSync(join(dir, 'checkpoints', `chk-${failedId}`))).toBe(false)
    expect(readdirSync(join(dir, 'checkpoints')).filter((n) => n.startsWith(`chk-${failedId}.`))).toEqual([])
    await until(
      job,
      () => (job.checkpointStatus?.().lastCompleted?.id ?? 0) > failedId,
      'a checkpoint after the failure',
    )
    expect(job.status()).toBe('running')
    await job.stop()
    const result = await job.done
    expect(result.metrics.checkpoints!.failed).toBe(1)
    const newest = listCheckpoints(dir)[0]!
    expect(newest).toMatchObject({ id: job.checkpointStatus!().lastCompleted!.id, complete: true })
    expect(newest.id).toBeGreaterThan(failedId)

    const restarted = runEmbedded(endless, {
      state: { dir, checkpointInterval: '50ms' },
      log: memoryLogger(),
    })
    await until(restarted, () => restarted.status() === 'running', 'the restart')
    expect(restarted.checkpointStatus!().restoredFrom).toBe(newest.id)
    restarted.drain()
    expect((await restarted.done).status).toBe('finished')
  })
})

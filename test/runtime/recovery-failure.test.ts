// A job whose recovery fails — its state directory locked by another live process, or its
// checkpoint damaged — fails with the error's code after closing every task it built and opened,
// and lets go of the state directory (a lock held by another process stays with it).
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type Job, memoryLogger, runModule, SquallError } from '../../src/index.ts'
import { latestCheckpoint } from '../../src/runtime/checkpoint-storage.ts'
import { closeLogLines as lines, within } from '../fixtures/close-log.ts'

const FIXTURE = join(import.meta.dirname, '../fixtures/closing-endless.ts')

const dirs: string[] = []
const children: ChildProcess[] = []
afterEach(() => {
  delete process.env.SQUALL_CLOSE_LOG
  for (const c of children.splice(0)) c.kill('SIGKILL')
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** The error the job's `done` rejects with (a job that finishes instead fails the test). */
async function failure(job: Job): Promise<unknown> {
  return within(
    job.done.then(
      (r) => {
        throw new Error(`the job ended as ${r.status} instead of failing`)
      },
      (e: unknown) => e,
    ),
    20_000,
    'the job to fail',
  )
}

/** The close lines of every task a run of the fixture builds on `threads` threads. */
function allCloses(threads: number): string[] {
  return threads === 1 ? ['close counts', 'close sink 0'] : ['close counts', 'close sink 0', 'close sink 1']
}

/** Checks that every task was closed, every task opened was closed, and nothing runs on after. */
async function expectAllClosed(closeLog: string, threads: number): Promise<void> {
  expect(lines(closeLog, 'close')).toEqual(allCloses(threads))
  for (const open of lines(closeLog, 'open ')) {
    expect(lines(closeLog, 'close')).toContain(open.replace('open ', 'close '))
  }
  const before = readFileSync(closeLog, 'utf8')
  await new Promise((r) => setTimeout(r, 300))
  expect(readFileSync(closeLog, 'utf8')).toBe(before)
}

function tempRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'squall-recovery-failure-'))
  dirs.push(root)
  return root
}

describe('a job whose recovery fails', () => {
  for (const threads of [1, 2]) {
    it(`on ${threads} thread(s): a state directory locked by another live process fails with ERR_STATE_LOCKED, every task is closed and the lock stays with its holder`, async () => {
      const root = tempRoot()
      const dir = join(root, 'state')
      mkdirSync(dir)
      // A live process other than this one holds the lock.
      const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 60_000)'], { stdio: 'ignore' })
      children.push(holder)
      const lock = join(dir, 'LOCK')
      writeFileSync(lock, `${holder.pid}\n`)
      const closeLog = join(root, 'close.log')
      process.env.SQUALL_CLOSE_LOG = closeLog

      // The holder's working files: an LMDB backend of this job would clear them on opening.
      const working = join(dir, 'lmdb', 'counts-0')
      mkdirSync(working, { recursive: true })
      writeFileSync(join(working, 'data.mdb'), 'the live job state')

      const job = await runModule(FIXTURE, { threads, state: { dir, backend: 'lmdb' }, log: memoryLogger() })
      const error = await failure(job)
      expect(error).toBeInstanceOf(SquallError)
      expect((error as SquallError).code).toBe('ERR_STATE_LOCKED')
      expect((error as Error).message).toContain(`in use by process ${holder.pid}`)
      expect(job.status()).toBe('failed')
      if (threads === 1) await expectAllClosed(closeLog, threads)
      // On worker threads the lock is taken before any thread starts: nothing is built or opened.
      else expect(lines(closeLog, '')).toEqual([])
      expect(readFileSync(lock, 'utf8')).toBe(`${holder.pid}\n`)
      expect(readFileSync(join(working, 'data.mdb'), 'utf8')).toBe('the live job state')
    }, 60_000)

    it(`on ${threads} thread(s): a damaged checkpoint fails with ERR_STATE_FORMAT, every task is closed and the state directory is released`, async () => {
      const root = tempRoot()
      const dir = join(root, 'state')
      const options = { threads, state: { dir, checkpointInterval: '50ms' } }

      // A first run leaves a checkpoint holding the count's state.
      const first = await runModule(FIXTURE, { ...options, log: memoryLogger() })
      for (let end = Date.now() + 20_000; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) {
        const files = latestCheckpoint(dir, memoryLogger())?.manifest.stores.counts ?? []
        if (files.some((f) => f.bytes > 0)) break
      }
      first.drain()
      expect((await within(first.done, 20_000, 'the first run to drain')).status).toBe('finished')
      const latest = latestCheckpoint(dir, memoryLogger())!
      const files = latest.manifest.stores.counts ?? []
      expect(files.length).toBe(1)
      // Damaged in place, its size unchanged: the checkpoint still looks complete.
      const damaged = join(latest.dir, files[0]!.file)
      writeFileSync(damaged, Buffer.alloc(statSync(damaged).size, 0xc1))
      expect(latestCheckpoint(dir, memoryLogger())?.manifest.id).toBe(latest.manifest.id)

      const closeLog = join(root, 'close.log')
      process.env.SQUALL_CLOSE_LOG = closeLog
      const job = await runModule(FIXTURE, { ...options, log: memoryLogger() })
      const error = await failure(job)
      expect(error).toBeInstanceOf(SquallError)
      expect((error as SquallError).code).toBe('ERR_STATE_FORMAT')
      expect((error as Error).message).toContain(files[0]!.file)
      expect(job.status()).toBe('failed')
      await expectAllClosed(closeLog, threads)
      expect(existsSync(join(dir, 'LOCK'))).toBe(false)
    }, 60_000)
  }
})

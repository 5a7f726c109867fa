// A job restored from a checkpoint marked `finished` has nothing to run: it ends at once, closes
// every task it created and releases the state directory, on one thread and on worker threads.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type JobResult, memoryLogger, runModule } from '../../src/index.ts'
import { latestCheckpoint } from '../../src/runtime/checkpoint-storage.ts'
import { closeLogLines as lines, within } from '../fixtures/close-log.ts'

const BIN = join(import.meta.dirname, '../../bin/squall.js')
const FIXTURE = join(import.meta.dirname, '../fixtures/closing-count.ts')

const dirs: string[] = []
afterEach(() => {
  delete process.env.SQUALL_CLOSE_LOG
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

describe('a job restored from a finished checkpoint', () => {
  for (const threads of [1, 2]) {
    it(`on ${threads} thread(s): ends at once as finished, closes every task and releases the state directory`, async () => {
      const root = mkdtempSync(join(tmpdir(), 'squall-finished-restore-'))
      dirs.push(root)
      const dir = join(root, 'state')
      const closeLog = join(root, 'first.log')
      process.env.SQUALL_CLOSE_LOG = closeLog
      const options = { threads, state: { dir, checkpointInterval: 0 } }
      const closes =
        threads === 1
          ? ['close seen', 'close sink 0']
          : ['close seen', 'close seen', 'close sink 0', 'close sink 1']

      const first = await (await runModule(FIXTURE, { ...options, log: memoryLogger() })).done
      expect(first.status).toBe('finished')
      expect(latestCheckpoint(dir, memoryLogger())?.manifest.finished).toBe(true)
      expect(lines(closeLog, 'close')).toEqual(closes)
      expect(existsSync(join(dir, 'LOCK'))).toBe(false)

      const againLog = join(root, 'again.log')
      process.env.SQUALL_CLOSE_LOG = againLog
      const log = memoryLogger()
      const job = await runModule(FIXTURE, { ...options, log })
      const result: JobResult = await within(job.done, 10_000, 'the restored job to end')
      expect(result.status).toBe('finished')
      expect(job.status()).toBe('finished')
      expect(log.entries.map((e) => e.message)).toContainEqual(expect.stringMatching(/already finished/))
      // Every task the run created is closed, and each sink it opened too; nothing was written.
      expect(lines(againLog, 'close')).toEqual(closes)
      expect(lines(againLog, 'open').length).toBeLessThanOrEqual(lines(againLog, 'close sink').length)
      expect(existsSync(join(dir, 'LOCK'))).toBe(false)

      // Another process can take the state directory right after.
      const other = spawnSync(process.execPath, [BIN, 'run', FIXTURE, '--state-dir', dir], {
        encoding: 'utf8',
        timeout: 30_000,
      })
      expect(other.stderr).not.toMatch(/ERR_STATE_LOCKED/)
      expect(other.status, other.stderr).toBe(0)
      expect(other.stderr).toMatch(/already finished/)
    }, 60_000)
  }
})

// Worker threads kept between the jobs of a process: a job on threads runs on the threads of the
// last one that finished, a failed job's threads are not kept, and kept threads keep no process
// alive.

import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { endIdleThreads, runModule } from '../../src/index.ts'
import { idleThreads } from '../../src/runtime/embedded/thread-pool.ts'
import { seen } from '../fixtures/thread-ids.ts'

const FIXTURE = 'test/fixtures/thread-ids.ts'

/** Runs the fixture on two threads; returns the threads its records were made on, and their marks. */
async function run(): Promise<{ threads: Set<number>; marks: Set<string> }> {
  seen.clear()
  const result = await (await runModule(FIXTURE, { threads: 2 })).done
  expect(result.status).toBe('finished')
  expect(seen.values).toHaveLength(400)
  return {
    threads: new Set(seen.values.map((v) => v.thread)),
    marks: new Set(seen.values.map((v) => v.mark)),
  }
}

afterEach(async () => {
  await endIdleThreads()
  delete process.env.THREAD_IDS_MARK
})

describe('worker threads kept between jobs', () => {
  it('a job runs on the threads the last finished job gave back, and reads the environment as it is now', async () => {
    await endIdleThreads()
    process.env.THREAD_IDS_MARK = 'first'
    const first = await run()
    expect(first.threads.size).toBe(2)
    expect(first.threads.has(0)).toBe(false)
    expect([...first.marks]).toEqual(['first'])
    expect(idleThreads()).toBe(2)
    // The kept threads share this process's environment: they see the variable as it is now.
    process.env.THREAD_IDS_MARK = 'second'
    const second = await run()
    expect([...second.threads].sort()).toEqual([...first.threads].sort())
    expect([...second.marks]).toEqual(['second'])
    expect(idleThreads()).toBe(2)
  })

  it("a failed job's threads are ended, not kept", async () => {
    await endIdleThreads()
    const before = await run()
    expect(idleThreads()).toBe(2)
    const failing = await runModule('test/fixtures/failing.ts', { threads: 2 })
    await expect(failing.done).rejects.toMatchObject({ code: 'ERR_OPERATOR_FAILED' })
    // The failed job took the two kept threads and ended them: the next job starts new ones.
    expect(idleThreads()).toBe(0)
    const after = await run()
    for (const id of after.threads) expect(before.threads.has(id)).toBe(false)
  })

  it('endIdleThreads ends the kept threads: the next job starts new ones', async () => {
    const before = await run()
    expect(idleThreads()).toBe(2)
    await endIdleThreads()
    expect(idleThreads()).toBe(0)
    const after = await run()
    for (const id of after.threads) expect(before.threads.has(id)).toBe(false)
  })

  it('kept threads do not keep the process alive', () => {
    const dir = mkdtempSync(join(tmpdir(), 'squall-thread-pool-'))
    const script = join(dir, 'run.mjs')
    writeFileSync(
      script,
      `const { runModule } = await import(${JSON.stringify(pathToFileURL(join(process.cwd(), 'src/index.ts')).href)})
      const job = await runModule(${JSON.stringify(join(process.cwd(), FIXTURE))}, { threads: 2 })
      const result = await job.done
      console.log('finished', result.status)
      `,
    )
    const started = Date.now()
    const child = spawnSync(process.execPath, ['--import', 'tsx', script], {
      cwd: process.cwd(),
      encoding: 'utf8',
      timeout: 20_000,
    })
    rmSync(dir, { recursive: true, force: true })
    expect(child.stderr).toBe('')
    expect(child.stdout.trim()).toBe('finished finished')
    expect(child.status).toBe(0)
    // Ended by itself, long before an idle thread's time-out (30 s).
    expect(Date.now() - started).toBeLessThan(15_000)
  })
})

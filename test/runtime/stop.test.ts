// Job.stop() ends a job at once, also while a sink is still delivering and its destination never
// answers: the job ends as cancelled instead of waiting for the sink.
import { describe, expect, it } from 'vitest'
import { Topology, generator, memoryLogger, runEmbedded } from '../../src/index.ts'
import type { SinkSpec } from '../../src/core/source.ts'

/**
 * A buffered sink whose final flush never completes, as a webhook that accepts connections and
 * never answers: writes are taken at once, `finish` waits forever.
 */
function hangingSink(): SinkSpec<unknown> & { writes: number; finishing: boolean } {
  const s = {
    kind: 'hanging',
    writes: 0,
    finishing: false,
    create: () => ({
      write: () => {
        s.writes++
      },
      finish: () => {
        s.finishing = true
        return new Promise<void>(() => {})
      },
    }),
  }
  return s
}

describe('Job.stop()', () => {
  it('cancels a bounded job whose sink is still delivering at the end of input', async () => {
    const sink = hangingSink()
    const t = new Topology('stuck')
    t.source('gen', generator({ count: 10, make: (s) => s })).sink(sink, { name: 'out' })
    const job = runEmbedded(t, { log: memoryLogger() })
    for (let end = Date.now() + 5000; !sink.finishing && Date.now() < end; )
      await new Promise((r) => setTimeout(r, 10))
    expect(sink.writes).toBeGreaterThan(0)
    expect(sink.finishing).toBe(true)
    const started = Date.now()
    await job.stop()
    expect(Date.now() - started).toBeLessThan(3000)
    const result = await job.done.then(
      (r) => r,
      (e: unknown) => ({ status: 'failed', error: e }),
    )
    expect(job.status()).toBe('cancelled')
    expect(result.status).not.toBe('finished')
  })
})

import { describe, expect, it } from 'vitest'
import { runModule } from '../../src/index.ts'
import { words } from '../fixtures/word-count.ts'

function finals(): Map<string, number> {
  const m = new Map<string, number>()
  for (const v of words.values) m.set(v.key, Math.max(m.get(v.key) ?? 0, v.count))
  return new Map([...m].sort())
}

describe('worker threads', () => {
  it('a keyed count on 2 and 3 worker threads equals the same count on the main thread', async () => {
    words.clear()
    await (await runModule('test/fixtures/word-count.ts', { threads: 1 })).done
    const single = finals()
    expect(single.size).toBe(50)
    expect([...single.values()].reduce((a, b) => a + b, 0)).toBe(50_000)
    for (const threads of [2, 3]) {
      words.clear()
      const result = await (await runModule('test/fixtures/word-count.ts', { threads })).done
      expect(result.status).toBe('finished')
      expect(words.values).toHaveLength(50_000)
      expect(finals()).toEqual(single)
      expect(result.metrics.counts!.in).toBe(50_000)
    }
  })

  it('an operator failure on a worker thread fails the job with the error naming the node', async () => {
    const job = await runModule('test/fixtures/failing.ts', { threads: 2 })
    await expect(job.done).rejects.toMatchObject({
      code: 'ERR_OPERATOR_FAILED',
      message: expect.stringMatching(/node "explode"/),
    })
  })

  it('refuses to run on several threads without the topology module', async () => {
    const { runEmbedded } = await import('../../src/index.ts')
    const { default: t } = await import('../fixtures/word-count.ts')
    expect(() => runEmbedded(t, { threads: 2 })).toThrowError(/needs the topology's module/)
  })
})

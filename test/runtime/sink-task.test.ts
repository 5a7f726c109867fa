import { describe, expect, it } from 'vitest'
import { Topology, generator, memoryLogger, runEmbedded, sinkFn } from '../../src/index.ts'

describe('sink task', () => {
  it('batches that wait behind a pending write are all written, in order, when writes alternate between pending and immediate; the job then ends', async () => {
    const values: number[] = []
    let batches = 0
    const sink = sinkFn<number>((records) => {
      for (const r of records) values.push(r.value)
      // Every fourth write takes a while; the others return at once.
      if (++batches % 4 === 0) return new Promise((resolve) => setTimeout(resolve, 2))
    })
    const t = new Topology('sink-order')
    t.source('numbers', generator({ count: 5000, make: (seq) => seq })).sink(sink, { name: 'out' })
    const job = runEmbedded(t, { batchSize: 10, log: memoryLogger() })
    const ended = await Promise.race([
      job.done.then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), 10_000)),
    ])
    if (!ended) await job.stop()
    expect(ended).toBe(true)
    expect(values).toEqual(Array.from({ length: 5000 }, (_, i) => i))
  })
})

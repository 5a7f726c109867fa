// The generator source at a given rate, driven by a manual clock: exactly the records due by the
// clock's time, no more; and the same seed gives the same records, at any parallelism.
import { describe, expect, it } from 'vitest'
import type { IoContext } from '../../../src/core/source.ts'
import {
  ManualClock,
  type Record,
  Topology,
  collect,
  generator,
  memoryLogger,
  runEmbedded,
  runToEnd,
} from '../../../src/index.ts'

const START = Date.UTC(2026, 0, 1)

interface Made {
  seq: number
  n: number
  word: string
}

function seeded(options: { count: number; rate?: number; seed?: number }) {
  const out = collect<Made>()
  const t = new Topology('generated')
  t.source(
    'gen',
    generator({
      ...options,
      make: (seq, r) => ({ seq, n: r.int(1_000_000), word: r.pick(['storm', 'squall', 'gust']) }),
    }),
  ).sink(out, { name: 'out' })
  return { t, out }
}

async function until(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

/**
 * Runs 2 000 records at 1 000/s on a manual clock moved in steps of 250 ms, checking after each step
 * that exactly the records due by then have arrived. Returns the records in the order they arrived.
 */
async function runAtRate(parallelism: number, seed = 5): Promise<Record<Made>[]> {
  const { t, out } = seeded({ count: 2000, rate: 1000, seed })
  const clock = new ManualClock(START)
  const job = runEmbedded(t, { clock, parallelism, log: memoryLogger() })
  await until(() => job.status() === 'running', 'the job to start')
  // The clock has not moved: nothing is due, however long the job runs in real time.
  await new Promise((r) => setTimeout(r, 50))
  expect(out.values).toHaveLength(0)
  for (let ms = 250; ms <= 2000; ms += 250) {
    clock.advance(250)
    // 1 000 records/s: one record is due per millisecond.
    const due = ms
    await until(() => out.values.length >= due, `${due} records at ${ms} ms`)
    expect(out.values.length, `records by ${ms} ms`).toBe(due)
    if (ms < 2000) expect(job.status()).toBe('running')
  }
  const result = await job.done
  expect(result.status).toBe('finished')
  expect(result.metrics.gen!.out).toBe(2000)
  return [...out.records]
}

describe('generator source', () => {
  it('at 1 000 records/s hands out exactly the records due by the clock, at parallelism 1 and 2', async () => {
    for (const parallelism of [1, 2]) {
      const records = await runAtRate(parallelism)
      expect(records.map((r) => r.value.seq).sort((a, b) => a - b)).toEqual([...Array(2000).keys()])
      // Each record is stamped with the clock's time when it was generated: record 999 is due at 1 s.
      for (const r of records) expect(r.time - START).toBe(Math.ceil((r.value.seq + 1) / 250) * 250)
    }
  })

  it('the same seed gives identical records in two runs at a rate, and another seed other values', async () => {
    const first = await runAtRate(1)
    const second = await runAtRate(1)
    expect(second).toEqual(first)
    const other = await runAtRate(1, 6)
    expect(other.map((r) => r.value.seq)).toEqual(first.map((r) => r.value.seq))
    expect(other.map((r) => r.value.n)).not.toEqual(first.map((r) => r.value.n))
  })

  it('the same seed gives the same records at parallelism 1, 2 and 3', async () => {
    const runs: Made[][] = []
    for (const parallelism of [1, 2, 3]) {
      const { t, out } = seeded({ count: 3000, seed: 11 })
      await runToEnd(t, { parallelism })
      runs.push([...out.values].sort((a, b) => a.seq - b.seq))
    }
    expect(runs[0]).toHaveLength(3000)
    expect(runs[1]).toEqual(runs[0])
    expect(runs[2]).toEqual(runs[0])
  })

  it('on the system clock, 600 records at 1 000/s take at least 0.6 s', async () => {
    const { t, out } = seeded({ count: 600, rate: 1000 })
    const started = Date.now()
    await runToEnd(t)
    // Record 599 is due 600 ms after the source's first read, which is after `started`.
    expect(Date.now() - started).toBeGreaterThanOrEqual(600)
    expect(out.values).toHaveLength(600)
  })

  it('counts its rate from its first read: time spent before it (a restore, threads starting) brings no burst', () => {
    const clock = new ManualClock(START)
    const io: IoContext = {
      nodeName: 'gen',
      partition: 0,
      partitions: 1,
      log: memoryLogger(),
      clock,
      count() {},
      report() {},
      badRecord(e) {
        throw e
      },
    }
    const reader = generator({ rate: 1000, duration: '2s', make: (seq) => seq }).create(io)
    reader.open?.()
    // Five seconds between opening and the first read: nothing is due at that read, and the
    // duration has not run out.
    clock.advance(5000)
    expect(reader.nextBatch(10_000)).toEqual([])
    clock.advance(100)
    expect(reader.nextBatch(10_000)!.map((r) => r.value)).toEqual([...Array(100).keys()])
    clock.advance(1900)
    expect(reader.nextBatch(10_000)).toBeNull()
  })
})

import { describe, expect, it } from 'vitest'
import {
  type Processor,
  Topology,
  WatermarkStrategy,
  collect,
  generator,
  memoryLogger,
  runToEnd,
  sinkFn,
} from '../../src/index.ts'

function wordTopology(out: ReturnType<typeof collect<{ key: string; count: number }>>, count = 20_000) {
  const t = new Topology('words')
  t.source('gen', generator({ count, seed: 3, make: (_s, r) => ({ text: `w${r.int(40)} w${r.int(7)}` }) }))
    .flatMap((v) => v.text.split(' '))
    .keyBy((w) => w)
    .count('counts')
    .sink(out, { name: 'out' })
  return t
}

function finalCounts(values: { key: string; count: number }[]): Map<string, number> {
  const m = new Map<string, number>()
  for (const v of values) m.set(v.key, Math.max(m.get(v.key) ?? 0, v.count))
  return new Map([...m].sort())
}

describe('embedded runner', () => {
  it('map, filter, flatMap, keyBy and a rolling count give the counts of a plain loop', async () => {
    const out = collect<{ key: string; count: number }>()
    await runToEnd(wordTopology(out))
    // The same words computed by hand from the same seeded generator.
    const expected = new Map<string, number>()
    const ref = new Topology('ref')
    const texts = collect<{ text: string }>()
    ref
      .source(
        'gen',
        generator({ count: 20_000, seed: 3, make: (_s, r) => ({ text: `w${r.int(40)} w${r.int(7)}` }) }),
      )
      .sink(texts)
    await runToEnd(ref)
    for (const v of texts.values)
      for (const w of v.text.split(' ')) expected.set(w, (expected.get(w) ?? 0) + 1)
    expect(finalCounts(out.values)).toEqual(new Map([...expected].sort()))
    expect(out.values.length).toBe(40_000)
  })

  it('gives the same keyed results at parallelism 1, 2 and 3', async () => {
    const results: Map<string, number>[] = []
    for (const parallelism of [1, 2, 3]) {
      const out = collect<{ key: string; count: number }>()
      await runToEnd(wordTopology(out), { parallelism })
      results.push(finalCounts(out.values))
    }
    expect(results[1]).toEqual(results[0])
    expect(results[2]).toEqual(results[0])
  })

  it('key exchange sends every key to exactly one task', async () => {
    const seen = new Map<string, Set<number>>()
    const t = new Topology('owners')
    t.source('gen', generator({ count: 5000, make: (s) => `k${s % 97}` }))
      .keyBy((k) => k)
      .process(
        'owner',
        () => {
          let task = -1
          return {
            open(ctx) {
              task = ctx.taskIndex
            },
            process(r, out) {
              const s = seen.get(r.value) ?? new Set()
              s.add(task)
              seen.set(r.value, s)
              out.emit(r.value)
            },
          } satisfies Processor<string, string>
        },
        { parallelism: 3 },
      )
      .sink(collect())
    await runToEnd(t, { parallelism: 2 })
    expect(seen.size).toBe(97)
    for (const tasks of seen.values()) expect(tasks.size).toBe(1)
    const used = new Set([...seen.values()].flatMap((s) => [...s]))
    expect(used.size).toBe(3)
  })

  it('broadcast sends every record to every task, global to one, shuffle spreads evenly', async () => {
    const byTask = (name: string) => {
      const counts = new Map<number, number>()
      return {
        counts,
        factory: () => {
          let task = 0
          return {
            open(ctx) {
              task = ctx.taskIndex
            },
            process(r, out) {
              counts.set(task, (counts.get(task) ?? 0) + 1)
              out.emitRecord(r)
            },
          } satisfies Processor<unknown, unknown>
        },
        name,
      }
    }
    const b = byTask('b')
    const g = byTask('g')
    const s = byTask('s')
    const t = new Topology('exchanges')
    const src = t.source('gen', generator({ count: 900, make: (seq) => seq }), { parallelism: 1 })
    src.broadcast().process('b', b.factory, { parallelism: 3 }).sink(collect())
    src.global().process('g', g.factory, { parallelism: 3 }).sink(collect())
    src.shuffle().process('s', s.factory, { parallelism: 3 }).sink(collect())
    await runToEnd(t, { parallelism: 3 })
    expect([...b.counts.values()]).toEqual([900, 900, 900])
    expect([...g.counts.entries()]).toEqual([[0, 900]])
    expect([...s.counts.values()].sort()).toEqual([300, 300, 300])
  })

  it('union merges streams', async () => {
    const out = collect<number>()
    const t = new Topology('union')
    const a = t.source('a', generator({ count: 10, make: (s) => s }))
    const b = t.source('b', generator({ count: 5, make: (s) => 100 + s }))
    a.union(b).sink(out)
    await runToEnd(t)
    expect(out.values.sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 100, 101, 102, 103, 104])
  })

  it('calls open, process, finish and close in order, and finish may still emit', async () => {
    const calls: string[] = []
    const out = collect<string>()
    const t = new Topology('lifecycle')
    t.source('gen', generator({ count: 3, make: (s) => s }))
      .process('life', () => ({
        open: () => void calls.push('open'),
        process: (r, o) => {
          calls.push(`process ${r.value}`)
          o.emit(`v${r.value}`)
        },
        finish: (o) => {
          calls.push('finish')
          o.emitRecord({ value: 'last', key: undefined, time: 0, tag: '' })
        },
        close: () => void calls.push('close'),
      }))
      .sink(out)
    await runToEnd(t)
    expect(calls).toEqual(['open', 'process 0', 'process 1', 'process 2', 'finish', 'close'])
    expect(out.values).toEqual(['v0', 'v1', 'v2', 'last'])
  })

  it('a finish step may emit with emit() even when the task saw no record', async () => {
    const out = collect<string>()
    const t = new Topology('empty-finish')
    t.source('gen', generator({ count: 0, make: (s) => s }))
      .process('summary', () => {
        let n = 0
        return {
          process: () => void n++,
          finish: (o) => o.emit(`saw ${n}`),
        }
      })
      .sink(out)
    await runToEnd(t)
    expect(out.values).toEqual(['saw 0'])
  })

  it('a slow sink slows the source down and its queue never exceeds the bound', async () => {
    let maxBacklog = 0
    let written = 0
    const t = new Topology('slow')
    let produced = 0
    t.source(
      'gen',
      generator({
        count: 200_000,
        make: (s) => {
          produced = s
          return s
        },
      }),
    )
      .map((v) => v * 2)
      .sink(
        sinkFn(async (records) => {
          written += records.length
          maxBacklog = Math.max(maxBacklog, produced - written)
          await new Promise((r) => setTimeout(r, 1))
        }),
        { name: 'slow' },
      )
    const bound = 4
    const batch = 256
    const result = await runToEnd(t, { sinkQueueBound: bound, batchSize: batch })
    expect(written).toBe(200_000)
    expect(result.metrics.slow!.in).toBe(200_000)
    // At most `bound` batches wait for the sink, plus the one being written and the one being read.
    expect(maxBacklog).toBeLessThanOrEqual((bound + 2) * batch)
  })

  it('an exception in an operator fails the job with an error naming the node', async () => {
    const t = new Topology('boom')
    t.source('gen', generator({ count: 100, make: (s) => s }))
      .map(
        (v) => {
          if (v === 42) throw new Error('cannot handle 42')
          return v
        },
        { name: 'fragile' },
      )
      .sink(collect())
    await expect(runToEnd(t, { log: memoryLogger() })).rejects.toThrowError(
      /node "fragile" \(task 0\) failed on a record .*cannot handle 42/,
    )
  })

  it('the skip policy drops a failing record with a counter and a log line', async () => {
    const log = memoryLogger()
    const out = collect<number>()
    const t = new Topology('skip')
    t.source('gen', generator({ count: 100, make: (s) => s }))
      .map(
        (v) => {
          if (v % 10 === 0) throw new Error(`bad ${v}`)
          return v
        },
        { name: 'fragile', onError: 'skip' },
      )
      .sink(out)
    const result = await runToEnd(t, { log })
    expect(out.values.length).toBe(90)
    expect(result.metrics.fragile!.skipped).toBe(10)
    expect(log.entries.filter((e) => e.message.includes('node "fragile" skipped a record'))).toHaveLength(10)
  })

  it('a source stamps event time once for all its readers: records without a usable time are skipped, the others keep their order', async () => {
    const plain = collect<{ n: number; at: unknown }>()
    const keyed = collect<{ key: string; count: number }>()
    const t = new Topology('stamps')
    const s = t.source(
      'gen',
      // The reader's time is 1 000 + n; the record's own, that too except for multiples of 5.
      generator({
        count: 30,
        make: (n) => ({ n, at: n % 7 === 3 ? 'soon' : n % 5 === 0 ? 5_000 + n : 1_000 + n }),
        time: (n) => 1_000 + n,
      }),
      {
        watermarks: WatermarkStrategy.forMonotonousTimestamps<{ n: number; at: unknown }>().withTimestamp(
          (v) => v.at as number,
        ),
        onError: 'skip',
      },
    )
    s.sink(plain, { name: 'plain' })
    s.keyBy((v) => (v.n % 2 === 0 ? 'even' : 'odd'))
      .count('counts')
      .sink(keyed, { name: 'keyed' })
    const times: number[] = []
    s.process('times', () => ({ process: (r) => void times.push(r.time) })).sink(collect())
    const result = await runToEnd(t, { log: memoryLogger(), batchSize: 8 })
    const good = Array.from({ length: 30 }, (_, n) => n).filter((n) => n % 7 !== 3)
    expect(plain.values.map((v) => v.n)).toEqual(good)
    expect(times).toEqual(good.map((n) => (n % 5 === 0 ? 5_000 : 1_000) + n))
    expect(finalCounts(keyed.values)).toEqual(
      new Map([
        ['even', good.filter((n) => n % 2 === 0).length],
        ['odd', good.filter((n) => n % 2 === 1).length],
      ]),
    )
    expect(result.metrics.gen!.skipped).toBe(30 - good.length)
  })

  it('the dead-letter policy sends failing records to the dead-letter stream', async () => {
    const out = collect<number>()
    const dead = collect<{ value: number; error: string; node: string }>()
    const t = new Topology('dlq')
    const mapped = t.source('gen', generator({ count: 20, make: (s) => s })).map(
      (v) => {
        if (v % 5 === 0) throw new Error(`no multiples of 5: ${v}`)
        return v
      },
      { name: 'picky', onError: 'dead-letter' },
    )
    mapped.sink(out)
    mapped.deadLetters().sink(dead as never)
    const result = await runToEnd(t, { log: memoryLogger() })
    expect(out.values.length).toBe(16)
    expect(dead.values.map((d) => d.value)).toEqual([0, 5, 10, 15])
    expect(dead.values[1]).toMatchObject({ node: 'picky', error: 'no multiples of 5: 5' })
    expect(result.metrics.picky!.deadLettered).toBe(4)
  })

  it('a source that gives little is polled in fewer, larger batches while lingerMs lasts; none is lost', async () => {
    // 20 000 records a second: 20 a millisecond, so a poll after each 10 ms wait gets about 200.
    const sizes = async (lingerMs: number) => {
      const batches: number[] = []
      const t = new Topology('linger')
      t.source('gen', generator({ rate: 20_000, count: 6_000, make: (seq) => seq })).sink(
        sinkFn<number>((records) => void batches.push(records.length)),
        { name: 'out' },
      )
      await runToEnd(t, { lingerMs, log: memoryLogger() })
      expect(batches.reduce((a, b) => a + b, 0)).toBe(6_000)
      return batches.length
    }
    const lingering = await sizes(10)
    const eager = await sizes(0)
    // 6 000 records at about 200 a batch (a 10 ms wait is at least 10 ms) are at most about 30 batches.
    expect(lingering).toBeLessThanOrEqual(40)
    expect(eager).toBeGreaterThan(2 * lingering)
  })

  it('a bounded source whose last batch is short ends the job at once, without waiting for lingerMs', async () => {
    const out = collect<number>()
    const t = new Topology('short-end')
    t.source('gen', generator({ count: 100, make: (seq) => seq })).sink(out, { name: 'out' })
    // 100 records are one batch a quarter full: before, the job then waited lingerMs for more.
    const result = await runToEnd(t, { lingerMs: 5_000, log: memoryLogger() })
    expect(out.values).toEqual(Array.from({ length: 100 }, (_, i) => i))
    expect(result.runningMs).toBeLessThan(2_500)
  })
})

// A keyed exchange reading a source that hands its records over (`SourceReader.handsOver`, or the
// records a source task makes itself after fused steps) keys them in place; records a reader keeps
// are copied, never changed.
import { describe, expect, it } from 'vitest'
import {
  DEFAULT_MAX_PARALLELISM,
  type Processor,
  type Record,
  type SourceSpec,
  Topology,
  collect,
  generator,
  keyGroupOf,
  runToEnd,
} from '../../src/index.ts'
import { taskOfKeyGroup } from '../../src/core/key-group.ts'

const RECORDS = 5_000
const KEYS = 37

interface Seen {
  value: number
  key: unknown
  task: number
  tasks: number
}

/** Records what each task receives: the value, the key it came with, and the task. */
function receiver(): Processor<number, Seen> {
  let task = -1
  let tasks = 0
  return {
    open(ctx) {
      task = ctx.taskIndex
      tasks = ctx.parallelism
    },
    process(r, out) {
      out.emit({ value: r.value, key: r.key, task, tasks })
    },
  }
}

/** Every record arrived once, with its key, at the task owning the key's group. */
function expectKeyed(seen: readonly Seen[], keyOf: (v: number) => number, values: readonly number[]): void {
  expect(seen.map((s) => s.value).sort((a, b) => a - b)).toEqual([...values].sort((a, b) => a - b))
  for (const s of seen) {
    expect(s.key).toBe(keyOf(s.value))
    const owner = taskOfKeyGroup(keyGroupOf(s.key as number, DEFAULT_MAX_PARALLELISM), DEFAULT_MAX_PARALLELISM, s.tasks)
    expect(s.task).toBe(owner)
  }
}

describe('keyed exchanges over handed-over records', () => {
  for (const parallelism of [1, 3]) {
    it(`key a generator's records in place at parallelism ${parallelism}`, async () => {
      const out = collect<Seen>()
      const t = new Topology('handed-over')
      t.source('gen', generator({ count: RECORDS, make: (seq) => seq }))
        .keyBy((v) => v % KEYS)
        .process('seen', receiver)
        .sink(out)
      expect((await runToEnd(t, { parallelism })).status).toBe('finished')
      expectKeyed(out.values, (v) => v % KEYS, Array.from({ length: RECORDS }, (_, i) => i))
    })

    it(`key the records of fused steps in place at parallelism ${parallelism}`, async () => {
      const out = collect<Seen>()
      const t = new Topology('fused-keyed')
      t.source('gen', generator({ count: RECORDS, make: (seq) => seq }))
        .filter((v) => v % 2 === 0)
        .map((v) => v * 3)
        .keyBy((v) => v % KEYS)
        .process('seen', receiver)
        .sink(out)
      expect((await runToEnd(t, { parallelism })).status).toBe('finished')
      const kept = Array.from({ length: RECORDS / 2 }, (_, i) => i * 6)
      expectKeyed(out.values, (v) => v % KEYS, kept)
    })
  }

  it('copy the records of a reader that keeps them, leaving its records unchanged', async () => {
    // The reader hands out records it also keeps (and would hand out again on a restore).
    const kept: Record<number>[] = Array.from({ length: RECORDS }, (_, i) => ({
      value: i,
      key: undefined,
      time: i,
      tag: '',
    }))
    const source: SourceSpec<number> = {
      kind: 'kept',
      bounded: true,
      maxPartitions: 1,
      create: () => {
        let at = 0
        return {
          nextBatch(max) {
            if (at >= kept.length) return null
            const batch = kept.slice(at, at + max)
            at += batch.length
            return batch
          },
        }
      },
    }
    const out = collect<Seen>()
    const t = new Topology('kept-records')
    t.source('kept', source).keyBy((v) => v % KEYS).process('seen', receiver).sink(out)
    expect((await runToEnd(t, { parallelism: 3 })).status).toBe('finished')
    expectKeyed(out.values, (v) => v % KEYS, Array.from({ length: RECORDS }, (_, i) => i))
    expect(kept.every((r) => r.key === undefined)).toBe(true)
  })
})

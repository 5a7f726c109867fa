// Every exchange (forward, shuffle, key, broadcast, global) gives the results its contract defines,
// the same at parallelism 1, 2 and 3 on the main thread and on 2 worker threads.
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_MAX_PARALLELISM, keyGroupOf, runModule, runToEnd } from '../../src/index.ts'
import { taskOfKeyGroup } from '../../src/core/key-group.ts'
import { planTopology } from '../../src/runtime/plan.ts'
import topology, { type ExchangeName, type Hop, KEYS, RECORDS, outputs } from '../fixtures/exchanges.ts'

const FIXTURE = join(import.meta.dirname, '../fixtures/exchanges.ts')
const EXCHANGES = Object.keys(outputs) as ExchangeName[]
const ALL = Array.from({ length: RECORDS }, (_, i) => i)

interface Run {
  name: string
  parallelism: number
  threads: number
  hops: { [exchange in ExchangeName]: Hop[] }
}

const runs: Run[] = [
  { name: 'parallelism 1', parallelism: 1, threads: 1 },
  { name: 'parallelism 2', parallelism: 2, threads: 1 },
  { name: 'parallelism 3', parallelism: 3, threads: 1 },
  { name: '2 worker threads, parallelism 2', parallelism: 2, threads: 2 },
  { name: '2 worker threads, parallelism 3', parallelism: 3, threads: 2 },
].map((r) => ({ ...r, hops: {} as Run['hops'] }))

function seqs(hops: readonly Hop[]): number[] {
  return hops.map((h) => h.seq).sort((a, b) => a - b)
}

function countBy<T>(items: readonly T[], by: (item: T) => number): Map<number, number> {
  const m = new Map<number, number>()
  for (const item of items) m.set(by(item), (m.get(by(item)) ?? 0) + 1)
  return new Map([...m].sort((a, b) => a[0] - b[0]))
}

function crossesThreads(hops: readonly Hop[]): boolean {
  return hops.some((h) => h.fromThread !== h.toThread)
}

beforeAll(async () => {
  for (const run of runs) {
    for (const out of Object.values(outputs)) out.clear()
    const result =
      run.threads === 1
        ? await runToEnd(topology, { parallelism: run.parallelism })
        : await (await runModule(FIXTURE, { threads: run.threads, parallelism: run.parallelism })).done
    expect(result.status, run.name).toBe('finished')
    for (const name of EXCHANGES) run.hops[name] = [...outputs[name].values]
  }
}, 60_000)

describe('exchanges at parallelism 1, 2 and 3, on the main thread and on 2 worker threads', () => {
  it('the fixture plans each branch with the exchange it is named after', () => {
    for (const p of [1, 2, 3]) {
      const plan = planTopology(topology, p, 1)
      for (const name of EXCHANGES) {
        const node = plan.nodes.find((n) => n.spec.name === name)!
        expect(node.inputs.map((e) => [e.from.spec.name, e.type])).toEqual([['send', name]])
        expect(node.parallelism).toBe(name === 'global' ? 1 : p)
      }
      expect(plan.nodes.find((n) => n.spec.name === 'send')!.parallelism).toBe(p)
    }
  })

  it('the worker-thread runs put the tasks on both worker threads', () => {
    for (const run of runs.filter((r) => r.threads > 1)) {
      const senders = new Set(run.hops.forward.map((h) => h.fromThread))
      expect(senders.size, run.name).toBe(2)
      expect(senders.has(0), run.name).toBe(false)
    }
  })

  it('forward: every record arrives once, from task i of the sender to task i of the receiver, on its thread', () => {
    for (const run of runs) {
      const hops = run.hops.forward
      const p = run.parallelism
      expect(seqs(hops), run.name).toEqual(ALL)
      for (const h of hops) {
        expect(h.to, run.name).toBe(h.from)
        expect(h.toThread, run.name).toBe(h.fromThread)
        expect(h.toTasks, run.name).toBe(p)
        // Generator partition i makes the records i, i + p, …; forward keeps them on task i.
        expect(h.to, run.name).toBe(h.seq % p)
      }
      expect([...countBy(hops, (h) => h.to).values()], run.name).toEqual(Array(p).fill(RECORDS / p))
    }
  })

  it('shuffle: every record arrives once, spread round robin over all receiving tasks', () => {
    for (const run of runs) {
      const hops = run.hops.shuffle
      const p = run.parallelism
      expect(seqs(hops), run.name).toEqual(ALL)
      const perTask = countBy(hops, (h) => h.to)
      expect([...perTask.keys()], run.name).toEqual([...Array(p).keys()])
      // Each of the p senders deals its records in turn, so a task gets at most one extra per sender.
      for (const n of perTask.values()) expect(Math.abs(n - RECORDS / p), run.name).toBeLessThanOrEqual(p)
      if (p > 1)
        expect(
          hops.some((h) => h.from !== h.to),
          run.name,
        ).toBe(true)
      if (run.threads > 1) expect(crossesThreads(hops), run.name).toBe(true)
    }
  })

  it('key: every record arrives once, each key at the one task that owns its key group', () => {
    const perKey = (hops: readonly Hop[]) => countBy(hops, (h) => h.key)
    for (const run of runs) {
      const hops = run.hops.key
      const p = run.parallelism
      expect(seqs(hops), run.name).toEqual(ALL)
      const owners = new Map<number, Set<number>>()
      for (const h of hops) owners.set(h.key, (owners.get(h.key) ?? new Set()).add(h.to))
      expect(owners.size, run.name).toBe(KEYS)
      for (const [key, tasks] of owners) {
        const group = keyGroupOf(key, DEFAULT_MAX_PARALLELISM)
        expect([...tasks], `${run.name}, key ${key}`).toEqual([
          taskOfKeyGroup(group, DEFAULT_MAX_PARALLELISM, p),
        ])
      }
      expect(new Set(hops.map((h) => h.to)).size, run.name).toBe(p)
      expect(perKey(hops), run.name).toEqual(perKey(runs[0]!.hops.key))
      if (run.threads > 1) expect(crossesThreads(hops), run.name).toBe(true)
    }
  })

  it('broadcast: every receiving task gets every record once', () => {
    for (const run of runs) {
      const hops = run.hops.broadcast
      const p = run.parallelism
      expect(hops, run.name).toHaveLength(RECORDS * p)
      for (let task = 0; task < p; task++) {
        expect(seqs(hops.filter((h) => h.to === task)), `${run.name}, task ${task}`).toEqual(ALL)
      }
      expect(
        hops.every((h) => h.toTasks === p),
        run.name,
      ).toBe(true)
      if (run.threads > 1) expect(crossesThreads(hops), run.name).toBe(true)
    }
  })

  it('global: every record, from every sending task, reaches the single task of the receiver', () => {
    for (const run of runs) {
      const hops = run.hops.global
      const p = run.parallelism
      expect(seqs(hops), run.name).toEqual(ALL)
      expect(
        hops.every((h) => h.to === 0 && h.toTasks === 1),
        run.name,
      ).toBe(true)
      expect([...countBy(hops, (h) => h.from).keys()], run.name).toEqual([...Array(p).keys()])
      if (run.threads > 1) expect(crossesThreads(hops), run.name).toBe(true)
    }
  })
})

// TTL state in a running topology: entries expire on the task's processing-time tick, the operator
// then reads them as absent, and snapshots neither bring expired entries back nor keep restored
// ones longer than a TTL from the restore.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { type Processor, TestDriver, Topology, type ValueState, collect } from '../../src/index.ts'
import { pushed } from '../core/window/support.ts'

const dir = mkdtempSync(join(tmpdir(), 'squall-ttl-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

interface Visit {
  user: string
}

/** Per user: "new" when the TTL store holds nothing for the user, else the time of the last visit. */
const lastSeen = (): Processor<Visit, string> => {
  let last!: ValueState<number>
  return {
    open(ctx) {
      last = ctx.state.value<number>('last', { ttl: '10s' })
    },
    process(r, out) {
      const before = last.get()
      out.emit(`${r.value.user} ${r.time}: ${before === undefined ? 'new' : `last ${before}`}`)
      last.set(r.time)
    },
  }
}

function topology(): Topology {
  const t = new Topology('ttl')
  t.source<Visit>('visits', pushed as never, { parallelism: 1 })
    .keyBy((v) => v.user)
    .process('seen', lastSeen)
    .sink(collect(), { name: 'out' })
  return t
}

const visit = (d: TestDriver, ...users: string[]) =>
  d.push(
    'visits',
    users.map((user) => ({ user })),
  )

/** What the operator emitted, per user in order (users on different tasks interleave by chance). */
function perUser(d: TestDriver): { [user: string]: string[] } {
  const out: { [user: string]: string[] } = {}
  for (const line of d.values<string>('out')) {
    const [user, rest] = line.split(/ (.*)/) as [string, string]
    ;(out[user] ??= []).push(rest)
  }
  return out
}

/** Carries a driver's state into a new driver at `parallelism`, in memory or through task files. */
async function carry(d: TestDriver, via: 'memory' | 'files', parallelism: number): Promise<TestDriver> {
  const next = new TestDriver(topology(), { parallelism })
  if (via === 'memory') return next.restore(d.snapshot())
  return next.restoreFromFiles(await d.snapshotToFiles(mkdtempSync(join(dir, 'run-'))))
}

describe('TTL state in a running topology', () => {
  for (const backend of ['memory', 'lmdb'] as const) {
    it(`an entry not written for its TTL of processing time is dropped at a tick, and the operator reads it as absent (${backend})`, () => {
      // The manual clock starts at 0, far from the wall clock: entries stamped by wall time would stay.
      const lmdb = backend === 'lmdb' ? { lmdbDir: mkdtempSync(join(dir, 'lmdb-')) } : {}
      const d = new TestDriver(topology(), { parallelism: 2, ...lmdb })
      visit(d, 'a')
      d.advanceTime('4s')
      visit(d, 'a', 'b')
      d.advanceTime('9s')
      expect(d.stateSize('seen')).toBe(2)
      visit(d, 'b')
      d.advanceTime('1s')
      // 14 s: a was last written at 4 s, b at 13 s.
      expect(d.stateSize('seen')).toBe(1)
      visit(d, 'a', 'b')
      expect(perUser(d)).toEqual({
        a: ['0: new', '4000: last 0', '14000: new'],
        b: ['4000: new', '13000: last 4000', '14000: last 13000'],
      })
    })
  }

  for (const via of ['memory', 'files'] as const) {
    it(`an entry dropped before a snapshot is still absent after restoring it (${via})`, async () => {
      const d = new TestDriver(topology(), { parallelism: 1 })
      visit(d, 'a', 'b')
      d.advanceTime('8s')
      visit(d, 'b')
      d.advanceTime('3s')
      expect(d.stateSize('seen')).toBe(1)
      const restored = await carry(d, via, 3)
      expect(restored.stateSize('seen')).toBe(1)
      visit(restored, 'a', 'b')
      expect(perUser(restored)).toEqual({ a: ['11000: new'], b: ['11000: last 8000'] })
    })

    it(`an entry restored from a snapshot lives a full TTL from the restore, not from its last write (${via})`, async () => {
      const d = new TestDriver(topology(), { parallelism: 2 })
      visit(d, 'a')
      d.advanceTime('6s')
      // Written at 0 and snapshotted at 6 s: an uninterrupted run drops it at 10 s.
      const restored = await carry(d, via, 1)
      d.advanceTime('4s')
      expect(d.stateSize('seen')).toBe(0)
      restored.advanceTime('4s')
      expect(restored.stateSize('seen')).toBe(1)
      restored.advanceTime('6s')
      expect(restored.stateSize('seen')).toBe(0)
      visit(restored, 'a')
      expect(perUser(restored)).toEqual({ a: ['16000: new'] })
    })
  }
})

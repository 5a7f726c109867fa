import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Processor } from '../../src/core/processor.ts'
import { Topology } from '../../src/core/topology.ts'
import { WatermarkStrategy } from '../../src/core/watermark.ts'
import { HoppingWindows, SessionWindows } from '../../src/core/window/assigners.ts'
import type { WindowResult } from '../../src/core/window/window.ts'
import { collect } from '../../src/plugins/outputs/collect.ts'
import { TestDriver } from '../../src/runtime/test-driver.ts'
import { clicks, pushed, sorted, topology } from '../core/window/support.ts'

describe('TestDriver', () => {
  it('runs a topology without time on given values and returns what the sink received', () => {
    const t = new Topology('plain')
    t.source<string>('lines', pushed as never)
      .flatMap((l) => l.split(' '))
      .filter((w) => w.length > 2)
      .keyBy((w) => w)
      .count('counts')
      .sink(collect(), { name: 'out' })
    const d = new TestDriver(t, { parallelism: 2 })
    d.push('lines', ['the cat and the dog', 'the end'])
    expect(sorted(d.values('out'))).toEqual(
      sorted([
        { key: 'the', count: 1 },
        { key: 'cat', count: 1 },
        { key: 'and', count: 1 },
        { key: 'the', count: 2 },
        { key: 'dog', count: 1 },
        { key: 'the', count: 3 },
        { key: 'end', count: 1 },
      ]),
    )
    expect(d.metrics().counts?.in).toBe(7)
  })

  it('snapshot, restore into a new driver at another parallelism and continue gives the same windows as one run', () => {
    const build = () =>
      topology((e) => {
        const hop = e
          .keyBy((c) => c.user)
          .window(HoppingWindows.of('30s', '10s').withGrace('10s'))
          .count('hop')
        const ses = e
          .keyBy((c) => c.user)
          .window(SessionWindows.withGap('15s'))
          .count('ses')
        return hop.union(ses as never) as never
      }, 3_000)
    const first = [...clicks('a', 1, 5, 14, 33), ...clicks('b', 2, 9, 40), ...clicks('c', 12)]
    const second = [...clicks('a', 44, 31, 47, 90), ...clicks('b', 41, 38, 100), ...clicks('c', 20, 95)]
    const whole = new TestDriver(build(), { parallelism: 2 })
    whole.pushRecords('events', first)
    whole.pushRecords('events', second)
    whole.end()

    const before = new TestDriver(build(), { parallelism: 2 })
    before.pushRecords('events', first)
    const snapshot = before.snapshot()
    const after = new TestDriver(build(), { parallelism: 3 }).restore(snapshot)
    // Watermarks are not part of a snapshot (as in Flink): the restored run re-establishes it.
    after.watermark('events', 40_000 - 3_000 - 1)
    after.pushRecords('events', second)
    after.end()
    const resumed = [
      ...before.values<WindowResult<number>>('out'),
      ...after.values<WindowResult<number>>('out'),
    ]
    expect(sorted(resumed)).toEqual(sorted(whole.values('out')))
    expect(resumed.length).toBeGreaterThan(10)
  })

  it('a failing operator under the fail policy throws from the push that caused it', () => {
    const t = new Topology('boom')
    t.source<number>('n', pushed as never)
      .map((n) => {
        if (n === 3) throw new Error('three')
        return n
      })
      .sink(collect(), { name: 'out' })
    const d = new TestDriver(t)
    d.push('n', [1, 2])
    expect(() => d.push('n', [3])).toThrow(/three/)
    expect(() => d.push('n', [4])).toThrow(/three/)
  })
})

describe('keyed timers', () => {
  /** Emits `key:time:domain` when a timer fires; the value says what to do with timers. */
  const timerTopology = () => {
    const t = new Topology('timers')
    t.source<{ k: string; op: string; at: number }>('ops', pushed as never, {
      parallelism: 1,
      watermarks: WatermarkStrategy.forMonotonousTimestamps<{
        k: string
        op: string
        at: number
      }>().withTimestamp('at'),
    })
      .keyBy((v) => v.k)
      .process<string>('timers', (): Processor<{ k: string; op: string; at: number }, string> => {
        let ctx!: Parameters<NonNullable<Processor<unknown, string>['open']>>[0]
        return {
          open: (c) => {
            ctx = c
          },
          process: (r) => {
            const [op, arg] = r.value.op.split(' ')
            const time = Number(arg)
            if (op === 'event') ctx.timers.registerEventTimer(time)
            if (op === 'unevent') ctx.timers.deleteEventTimer(time)
            if (op === 'proc') ctx.timers.registerProcessingTimer(time)
            if (op === 'unproc') ctx.timers.deleteProcessingTimer(time)
          },
          onTimer: (timer, out) => out.emit(`${String(timer.key)}:${timer.time}:${timer.domain}`),
        }
      })
      .sink(collect(), { name: 'out' })
    return t
  }

  it('event-time timers fire once per key and time when the watermark reaches them, in time order', () => {
    for (const parallelism of [1, 3]) {
      const d = new TestDriver(timerTopology(), { parallelism })
      d.pushRecords('ops', [
        { value: { k: 'a', op: 'event 5000', at: 1000 } },
        { value: { k: 'a', op: 'event 5000', at: 1000 } },
        { value: { k: 'b', op: 'event 3000', at: 1000 } },
        { value: { k: 'a', op: 'event 8000', at: 1000 } },
        { value: { k: 'a', op: 'unevent 8000', at: 1000 } },
      ])
      expect(d.values('out')).toEqual([])
      d.pushRecords('ops', [{ value: { k: 'c', op: 'none', at: 6000 } }])
      expect(d.values('out')).toEqual(['b:3000:event', 'a:5000:event'])
      d.end()
      expect(d.values('out')).toEqual(['b:3000:event', 'a:5000:event'])
    }
  })

  it('processing-time timers fire when the manual clock reaches them, and deleted ones never fire', () => {
    const d = new TestDriver(timerTopology(), { startTime: 1_000 })
    d.pushRecords('ops', [
      { value: { k: 'a', op: 'proc 2000', at: 1 } },
      { value: { k: 'b', op: 'proc 2000', at: 1 } },
      { value: { k: 'a', op: 'proc 2000', at: 1 } },
      { value: { k: 'a', op: 'proc 4000', at: 1 } },
      { value: { k: 'b', op: 'proc 3000', at: 1 } },
      { value: { k: 'b', op: 'unproc 3000', at: 1 } },
    ])
    d.advanceTime(999)
    expect(d.values('out')).toEqual([])
    d.advanceTime(1)
    expect(d.values('out')).toEqual(['a:2000:processing', 'b:2000:processing'])
    d.advanceTime(5_000)
    expect(d.values('out')).toEqual(['a:2000:processing', 'b:2000:processing', 'a:4000:processing'])
    expect(d.timerCount('timers')).toBe(0)
  })

  it('snapshotToFiles writes a task file per operator task, and restoreFromFiles refuses a driver already pushed into', async () => {
    const build = () =>
      topology((e) =>
        e
          .keyBy((c) => c.user)
          .window(SessionWindows.withGap('15s'))
          .count('ses'),
      )
    const dir = mkdtempSync(join(tmpdir(), 'squall-driver-'))
    try {
      const d = new TestDriver(build(), { parallelism: 2 })
      d.pushRecords('events', clicks('a', 1, 5))
      const snap = await d.snapshotToFiles(dir)
      expect(snap.files).toEqual({ ses: ['ses-0.state', 'ses-1.state'] })
      for (const f of snap.files.ses!) expect(existsSync(join(dir, f))).toBe(true)
      const used = new TestDriver(build()).pushRecords('events', clicks('b', 2))
      await expect(used.restoreFromFiles(snap)).rejects.toMatchObject({ code: 'ERR_ARGUMENT' })
      const fresh = await new TestDriver(build()).restoreFromFiles(snap)
      expect(fresh.stateSize('ses')).toBe(1)
      expect(fresh.timerCount('ses')).toBe(1)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

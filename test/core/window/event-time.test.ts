import { describe, expect, it } from 'vitest'
import { TumblingWindows } from '../../../src/core/window/assigners.ts'
import type { WindowResult } from '../../../src/core/window/window.ts'
import { TestDriver } from '../../../src/runtime/test-driver.ts'
import { clicks, topology } from './support.ts'

const perMinute = (options: { partitions?: number; idleness?: string }) =>
  topology(
    (e) =>
      e
        .keyBy((c) => c.user)
        .window(TumblingWindows.of('1m'))
        .count('counts'),
    0,
    options,
  )

describe('event time', () => {
  it('a quiet partition holds the watermark back, so windows wait for the end of input', () => {
    for (const parallelism of [1, 3]) {
      const d = new TestDriver(perMinute({ partitions: 2 }), { parallelism })
      d.pushRecords('events', clicks('a', 1, 2, 70, 130), { partition: 0 })
      d.advanceTime('5m')
      expect(d.values('out')).toEqual([])
      d.end()
      expect(d.values<WindowResult<number>>('out').map((r) => r.value)).toEqual([2, 1, 1])
    }
  })

  it('with withIdleness, a quiet partition stops holding the watermark back once idle', () => {
    for (const parallelism of [1, 3]) {
      const d = new TestDriver(perMinute({ partitions: 2, idleness: '1m' }), { parallelism })
      d.pushRecords('events', clicks('a', 1, 2, 70), { partition: 0 })
      d.advanceTime('30s')
      expect(d.values('out')).toEqual([])
      d.advanceTime('30s')
      expect(d.values<WindowResult<number>>('out').map((r) => [r.windowStart, r.value])).toEqual([[0, 2]])
      d.pushRecords('events', clicks('a', 125), { partition: 1 })
      expect(d.values('out')).toHaveLength(2)
    }
  })

  it('a record without a usable time field is skipped, counted and logged with the field and value', () => {
    const d = new TestDriver(perMinute({}))
    d.pushRecords('events', [
      ...clicks('a', 1),
      { value: { user: 'a', when: 5 } as never },
      { value: { user: 'a', at: 'yesterday' } as never },
      ...clicks('a', 61),
    ])
    expect(d.values<WindowResult<number>>('out').map((r) => r.value)).toEqual([1])
    expect(d.metrics().events?.skipped).toBe(2)
    const lines = d.logged('warn').map((e) => e.message)
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatch(/field "at"/)
    expect(lines[1]).toMatch(/"yesterday"/)
  })
})

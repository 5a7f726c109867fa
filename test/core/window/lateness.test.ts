import { describe, expect, it } from 'vitest'
import { TumblingWindows } from '../../../src/core/window/assigners.ts'
import type { WindowResult } from '../../../src/core/window/window.ts'
import { type Click, atParallelism1And3, clicks, sorted, topology } from './support.ts'

const graced = (grace: string) => () =>
  topology((events) => {
    const counts = events
      .keyBy((c) => c.user)
      .window(TumblingWindows.of('1m').withGrace(grace))
      .count('counts')
    return [counts, counts.lateData()]
  }, 5_000)

const brief = (rs: WindowResult<number>[]) =>
  rs.map((r) => `${r.key}@${r.windowStart / 1000}:${r.value}:${r.firing}`)

describe('lateness', () => {
  it('tumbling window: out-of-order records within the bound are counted on time', () => {
    const d = atParallelism1And3(graced('0s'), (d) => {
      d.pushRecords('events', clicks('a', 10, 58, 62, 59, 57, 66))
    })
    expect(brief(d.values('out'))).toEqual(['a@0:4:on-time'])
    expect(d.values('late')).toEqual([])
  })

  it('tumbling window: a record late but within the grace re-fires an updated result marked late', () => {
    const d = atParallelism1And3(graced('30s'), (d) => {
      d.pushRecords('events', clicks('a', 10, 20, 66))
      d.pushRecords('events', clicks('a', 30))
      d.pushRecords('events', clicks('a', 40))
    })
    expect(brief(d.values('out'))).toEqual(['a@0:2:on-time', 'a@0:3:late', 'a@0:4:late'])
    expect(d.values('late')).toEqual([])
    expect(d.metrics().counts?.late).toBeUndefined()
  })

  it('tumbling window: a record past the grace period goes to the late output and is counted', () => {
    const d = atParallelism1And3(graced('10s'), (d) => {
      d.pushRecords('events', clicks('a', 10, 20, 75))
      d.pushRecords('events', clicks('a', 30))
      d.pushRecords('events', clicks('b', 40))
    })
    expect(brief(d.values('out'))).toEqual(['a@0:2:on-time'])
    expect(sorted(d.values<Click>('late'))).toEqual([
      { user: 'a', at: 30_000 },
      { user: 'b', at: 40_000 },
    ])
    expect(d.metrics().counts?.late).toBe(2)
    expect(d.output('late').map((r) => r.key)).toEqual(['a', 'b'])
  })

  it('window state and timers are cleaned up once the watermark passes end + grace', () => {
    const d = atParallelism1And3(graced('10s'), (d) => {
      d.pushRecords('events', [...clicks('a', 10), ...clicks('b', 20), ...clicks('c', 70)])
    })
    expect(d.stateSize('counts')).toBe(3)
    d.pushRecords('events', clicks('c', 76))
    expect(d.stateSize('counts')).toBe(1)
    expect(d.timerCount('counts')).toBe(1)
    d.end()
    expect(d.stateSize('counts')).toBe(0)
    expect(d.timerCount('counts')).toBe(0)
  })
})

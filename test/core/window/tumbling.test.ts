import { describe, expect, it } from 'vitest'
import { Aggregates } from '../../../src/core/window/aggregates.ts'
import { TumblingWindows } from '../../../src/core/window/assigners.ts'
import type { WindowResult } from '../../../src/core/window/window.ts'
import { type Click, atParallelism1And3, clicks, topology } from './support.ts'

const perMinute = () =>
  topology((events) =>
    events
      .keyBy((c) => c.user)
      .window(TumblingWindows.of('1m'))
      .count('per-minute'),
  )

describe('tumbling windows', () => {
  it('counts each key per minute and fires when the watermark passes the window end', () => {
    const d = atParallelism1And3(perMinute, (d) => {
      d.pushRecords('events', [...clicks('a', 1, 20, 59), ...clicks('b', 30)])
      expect(d.values('out')).toEqual([])
      d.pushRecords('events', clicks('a', 61))
      expect(d.values('out')).toHaveLength(2)
      d.pushRecords('events', clicks('b', 119))
      expect(d.values('out')).toHaveLength(2)
      d.pushRecords('events', clicks('b', 120))
    })
    expect(d.values<WindowResult<number>>('out')).toEqual([
      { key: 'a', windowStart: 0, windowEnd: 60_000, value: 3, firing: 'on-time' },
      { key: 'b', windowStart: 0, windowEnd: 60_000, value: 1, firing: 'on-time' },
      { key: 'a', windowStart: 60_000, windowEnd: 120_000, value: 1, firing: 'on-time' },
      { key: 'b', windowStart: 60_000, windowEnd: 120_000, value: 1, firing: 'on-time' },
    ])
    expect(d.output('out').map((r) => r.time)).toEqual([59_999, 59_999, 119_999, 119_999])
  })

  it('fires every remaining window at the end of input', () => {
    const d = atParallelism1And3(perMinute, (d) => {
      d.pushRecords('events', [...clicks('a', 5, 65, 70), ...clicks('b', 185)])
      d.end()
    })
    expect(d.values<WindowResult<number>>('out').map((r) => [r.key, r.windowStart, r.value])).toEqual([
      ['a', 0, 1],
      ['a', 60_000, 2],
      ['b', 180_000, 1],
    ])
  })

  it('aggregates with sum, min, max, avg, first, last, distinct count and collect', () => {
    const aggs = {
      sum: Aggregates.sum<Click>((c) => c.n ?? 0),
      min: Aggregates.min<Click>((c) => c.n ?? 0),
      max: Aggregates.max<Click>((c) => c.n ?? 0),
      avg: Aggregates.avg<Click>((c) => c.n ?? 0),
      first: Aggregates.first<Click, number>((c) => c.n ?? 0),
      last: Aggregates.last<Click, number>((c) => c.n ?? 0),
      distinct: Aggregates.distinctCount<Click, number>((c) => c.n ?? 0),
      all: Aggregates.collect<Click, number>((c) => c.n ?? 0),
    }
    const results: { [name: string]: unknown } = {}
    for (const [name, agg] of Object.entries(aggs)) {
      const d = atParallelism1And3(
        () =>
          topology((events) =>
            events
              .keyBy((c) => c.user)
              .window(TumblingWindows.of('10s'))
              .aggregate(name, agg as never),
          ),
        (d) => {
          d.pushRecords(
            'events',
            [4, 9, 4, 1].map((n, i) => ({ value: { user: 'u', at: 1000 * (i + 1), n } })),
          )
          d.end()
        },
      )
      results[name] = d.values<WindowResult<unknown>>('out').map((r) => r.value)
    }
    expect(results).toEqual({
      sum: [18],
      min: [1],
      max: [9],
      avg: [4.5],
      first: [4],
      last: [1],
      distinct: [3],
      all: [[4, 9, 4, 1]],
    })
  })
})

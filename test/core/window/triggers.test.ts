import { describe, expect, it } from 'vitest'
import { HoppingWindows, SessionWindows, TumblingWindows } from '../../../src/core/window/assigners.ts'
import { Trigger } from '../../../src/core/window/triggers.ts'
import type { WindowResult } from '../../../src/core/window/window.ts'
import { atParallelism1And3, clicks, topology } from './support.ts'

const brief = (rs: WindowResult<number>[]) =>
  rs.map((r) => `${r.key}@${r.windowStart / 1000}:${r.value}:${r.firing}`)

describe('early firings', () => {
  it('every 10 s of processing time, windows that changed emit an early result before the on-time one', () => {
    const d = atParallelism1And3(
      () =>
        topology((e) =>
          e
            .keyBy((c) => c.user)
            .window(TumblingWindows.of('1m'))
            .withEarlyFirings(Trigger.every('10s'))
            .count('early'),
        ),
      (d) => {
        d.pushRecords('events', [...clicks('a', 1, 2), ...clicks('b', 3)])
        expect(d.values('out')).toEqual([])
        d.advanceTime('10s')
        d.advanceTime('10s')
        d.pushRecords('events', clicks('a', 4))
        d.advanceTime('10s')
        d.pushRecords('events', clicks('a', 61))
        d.advanceTime('10s')
      },
    )
    expect(brief(d.values('out'))).toEqual([
      'a@0:2:early',
      'b@0:1:early',
      'a@0:3:early',
      'a@0:3:on-time',
      'b@0:1:on-time',
      'a@60:1:early',
    ])
  })

  it('every n records, a window emits an early result', () => {
    const d = atParallelism1And3(
      () =>
        topology((e) =>
          e
            .keyBy((c) => c.user)
            .window(HoppingWindows.of('20s', '10s'))
            .withEarlyFirings(Trigger.everyRecords(2))
            .count('n'),
        ),
      (d) => {
        d.pushRecords('events', clicks('a', 1, 2, 11, 12))
        d.end()
      },
    )
    expect(brief(d.values('out'))).toEqual([
      'a@-10:2:early',
      'a@0:2:early',
      'a@0:4:early',
      'a@10:2:early',
      'a@-10:2:on-time',
      'a@0:4:on-time',
      'a@10:2:on-time',
    ])
  })

  it('session windows fire early every n records', () => {
    const d = atParallelism1And3(
      () =>
        topology((e) =>
          e
            .keyBy((c) => c.user)
            .window(SessionWindows.withGap('10s'))
            .withEarlyFirings(Trigger.everyRecords(2))
            .count('n'),
        ),
      (d) => {
        d.pushRecords('events', clicks('a', 1, 2, 3))
        d.end()
      },
    )
    expect(brief(d.values('out'))).toEqual(['a@1:2:early', 'a@1:3:on-time'])
  })
})

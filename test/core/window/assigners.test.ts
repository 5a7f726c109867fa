import { describe, expect, it } from 'vitest'
import { SquallError } from '../../../src/core/errors.ts'
import { Aggregates } from '../../../src/core/window/aggregates.ts'
import {
  CumulatingWindows,
  HoppingWindows,
  SessionWindows,
  SlidingWindows,
  TumblingWindows,
} from '../../../src/core/window/assigners.ts'
import { Trigger } from '../../../src/core/window/triggers.ts'
import type { WindowResult } from '../../../src/core/window/window.ts'
import { atParallelism1And3, clicks, topology } from './support.ts'

const brief = (rs: WindowResult<unknown>[]) =>
  rs.map(
    (r) => `${r.key}[${r.windowStart / 1000},${r.windowEnd / 1000}):${JSON.stringify(r.value)}:${r.firing}`,
  )

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (e) {
    return e instanceof SquallError ? e.code : String(e)
  }
  return undefined
}

describe('window assigners', () => {
  it('hopping window: each record is counted in size / slide overlapping windows', () => {
    const d = atParallelism1And3(
      () =>
        topology((e) =>
          e
            .keyBy((c) => c.user)
            .window(HoppingWindows.of('30s', '10s'))
            .count('hop'),
        ),
      (d) => {
        d.pushRecords('events', clicks('a', 5, 12, 25))
        d.end()
      },
    )
    expect(brief(d.values('out'))).toEqual([
      'a[-20,10):1:on-time',
      'a[-10,20):2:on-time',
      'a[0,30):3:on-time',
      'a[10,40):2:on-time',
      'a[20,50):1:on-time',
    ])
  })

  it('hopping window: a slide that does not divide the size still gives exact windows', () => {
    const d = atParallelism1And3(
      () =>
        topology((e) =>
          e
            .keyBy((c) => c.user)
            .window(SlidingWindows.of('25s', '10s'))
            .aggregate(
              'hop',
              Aggregates.collect((c) => c.at / 1000),
            ),
        ),
      (d) => {
        d.pushRecords('events', clicks('a', 1, 14, 26, 33))
        d.end()
      },
    )
    expect(brief(d.values('out'))).toEqual([
      'a[-20,5):[1]:on-time',
      'a[-10,15):[1,14]:on-time',
      'a[0,25):[1,14]:on-time',
      'a[10,35):[14,26,33]:on-time',
      'a[20,45):[26,33]:on-time',
      'a[30,55):[33]:on-time',
    ])
  })

  it('tumbling window with an offset shifts the window boundaries', () => {
    const d = atParallelism1And3(
      () =>
        topology((e) =>
          e
            .keyBy((c) => c.user)
            .window(TumblingWindows.of('1m').withOffset('15s'))
            .count('off'),
        ),
      (d) => {
        d.pushRecords('events', clicks('a', 10, 20, 74, 76))
        d.end()
      },
    )
    expect(brief(d.values('out'))).toEqual([
      'a[-45,15):1:on-time',
      'a[15,75):2:on-time',
      'a[75,135):1:on-time',
    ])
  })

  it('session window: records closer than the gap form one session per key', () => {
    const d = atParallelism1And3(
      () =>
        topology((e) =>
          e
            .keyBy((c) => c.user)
            .window(SessionWindows.withGap('10s'))
            .count('sessions'),
        ),
      (d) => {
        d.pushRecords('events', [...clicks('a', 0, 5, 12), ...clicks('b', 3), ...clicks('a', 30, 35)])
        d.end()
      },
    )
    expect(brief(d.values('out'))).toEqual(['b[3,13):1:on-time', 'a[0,22):3:on-time', 'a[30,45):2:on-time'])
  })

  it('session window: a record bridging two sessions merges them and their counts', () => {
    const d = atParallelism1And3(
      () =>
        topology(
          (e) =>
            e
              .keyBy((c) => c.user)
              .window(SessionWindows.withGap('10s'))
              .count('sessions'),
          20_000,
        ),
      (d) => {
        d.pushRecords('events', clicks('a', 0, 2, 20, 21))
        expect(d.timerCount('sessions')).toBe(2)
        d.pushRecords('events', clicks('a', 11))
        expect(d.timerCount('sessions')).toBe(1)
        d.pushRecords('events', clicks('a', 60))
      },
    )
    expect(brief(d.values('out'))).toEqual(['a[0,31):5:on-time'])
  })

  it('session window: the full-window function sees every value of the merged session', () => {
    const d = atParallelism1And3(
      () =>
        topology(
          (e) =>
            e
              .keyBy((c) => c.user)
              .window(SessionWindows.withGap('10s'))
              .process<string>('sessions', (key, w, values, out) => {
                out.emit(
                  `${key} ${w.start / 1000}-${w.end / 1000} ${values.map((v) => v.at / 1000).join(',')}`,
                )
              }),
          5_000,
        ),
      (d) => {
        d.pushRecords('events', clicks('a', 0, 20, 10, 50))
        d.end()
      },
    )
    expect(d.values('out')).toEqual(['a 0-30 0,20,10', 'a 50-60 50'])
  })

  it('cumulating window: a running count every step, reset every maximum size', () => {
    const d = atParallelism1And3(
      () =>
        topology((e) =>
          e
            .keyBy((c) => c.user)
            .window(CumulatingWindows.of('10s', '30s'))
            .count('cum'),
        ),
      (d) => {
        d.pushRecords('events', clicks('a', 1, 2, 15, 27, 31))
        d.end()
      },
    )
    expect(brief(d.values('out'))).toEqual([
      'a[0,10):2:on-time',
      'a[0,20):3:on-time',
      'a[0,30):4:on-time',
      'a[30,40):1:on-time',
      'a[30,50):1:on-time',
      'a[30,60):1:on-time',
    ])
  })

  it('a window result is emitted again, marked late, for a late record into a session within the grace', () => {
    const d = atParallelism1And3(
      () =>
        topology((e) =>
          e
            .keyBy((c) => c.user)
            .window(SessionWindows.withGap('10s').withGrace('30s'))
            .count('s'),
        ),
      (d) => {
        d.pushRecords('events', clicks('a', 0, 5, 40))
        d.pushRecords('events', clicks('a', 12))
      },
    )
    expect(brief(d.values('out'))).toEqual(['a[0,15):2:on-time', 'a[0,22):3:late'])
  })

  it('a session past its grace is gone: a late record in its range starts a new session', () => {
    const d = atParallelism1And3(
      () =>
        topology((e) =>
          e
            .keyBy((c) => c.user)
            .window(SessionWindows.withGap('10s').withGrace('20s'))
            .count('s'),
        ),
      (d) => {
        d.pushRecords('events', clicks('a', 0, 5, 40))
        d.pushRecords('events', clicks('a', 12))
      },
    )
    expect(brief(d.values('out'))).toEqual(['a[0,15):2:on-time', 'a[12,22):1:late'])
  })

  it('zero or negative sizes, slides and gaps are refused with an error naming the parameter', () => {
    expect(codeOf(() => TumblingWindows.of('0s'))).toBe('ERR_WINDOW_SIZE')
    expect(codeOf(() => TumblingWindows.of('-1m'))).toBe('ERR_WINDOW_SIZE')
    expect(codeOf(() => HoppingWindows.of('1m', 0))).toBe('ERR_WINDOW_SLIDE')
    expect(codeOf(() => HoppingWindows.of('1m', '2m'))).toBe('ERR_WINDOW_SLIDE')
    expect(codeOf(() => SessionWindows.withGap('-5s'))).toBe('ERR_WINDOW_GAP')
    expect(codeOf(() => CumulatingWindows.of('7s', '30s'))).toBe('ERR_WINDOW_SIZE')
    expect(codeOf(() => TumblingWindows.of('1m').withGrace('-1s'))).toBe('ERR_WINDOW_GRACE')
    expect(codeOf(() => TumblingWindows.of('1m').withOffset('1m'))).toBe('ERR_WINDOW_OFFSET')
    expect(codeOf(() => Trigger.every(0))).toBe('ERR_WINDOW_TRIGGER')
    expect(codeOf(() => Trigger.everyRecords(0))).toBe('ERR_WINDOW_TRIGGER')
    expect(() => HoppingWindows.of('1m', '-10s')).toThrow(
      /HoppingWindows\.of\(slide\): expected a positive duration, got "-10s"/,
    )
  })
})

import { describe, expect, it } from 'vitest'
import {
  Aggregates,
  CumulatingWindows,
  HoppingWindows,
  type ListState,
  type Processor,
  Random,
  SessionWindows,
  type Stream,
  type TestRecord,
  TestDriver,
  Topology,
  type TimerService,
  TumblingWindows,
  type ValueState,
  WatermarkStrategy,
  collect,
} from '../../src/index.ts'
import { pushed, sorted } from '../core/window/support.ts'

/** An event: who, when (ms of event time), and an amount. */
interface Ev {
  user: string
  at: number
  n: number
}

const BOUND = 2_000

/** `count` events of 7 users over about 3 minutes of event time, up to 2 s out of order. */
function events(seed: number, count: number, startMs: number): TestRecord<Ev>[] {
  const r = new Random(seed)
  const out: TestRecord<Ev>[] = []
  for (let i = 0; i < count; i++) {
    const at = startMs + i * 900 - r.int(BOUND)
    out.push({ value: { user: `u${r.int(7)}`, at, n: 1 + r.int(9) }, time: at })
  }
  return out
}

type Build = (left: Stream<Ev>, right: Stream<Ev>) => Stream<unknown>

function topology(build: Build): Topology {
  const t = new Topology('snapshots')
  const wm = () => WatermarkStrategy.forBoundedOutOfOrderness<Ev>(BOUND).withTimestamp('at')
  const left = t.source('left', pushed as never, { parallelism: 1, watermarks: wm() })
  const right = t.source('right', pushed as never, { parallelism: 1, watermarks: wm() })
  build(left as Stream<Ev>, right as Stream<Ev>).sink(collect(), { name: 'out' })
  return t
}

const input = {
  left: [events(1, 200, 0), events(2, 200, 180_000)],
  right: [events(3, 200, 0), events(4, 200, 180_000)],
}

/** Pushes one half of the input into both sources, then moves processing time on by 5 s. */
function pushHalf(d: TestDriver, half: 0 | 1): void {
  d.pushRecords('left', input.left[half]!)
  d.pushRecords('right', input.right[half]!)
  d.advanceTime(5_000)
}

/**
 * Run A pushes everything straight through; run B pushes the first half at parallelism `before`,
 * snapshots, restores into a fresh driver at parallelism `after`, re-establishes the watermarks
 * (they are not part of a snapshot), pushes the rest. Both end the input; B's two outputs together
 * must equal A's.
 */
function expectResumeEqualsStraight(build: Build, before: number, after: number): unknown[] {
  const straight = new TestDriver(topology(build), { parallelism: before })
  pushHalf(straight, 0)
  pushHalf(straight, 1)
  straight.advanceTime(60_000)
  straight.end()

  const first = new TestDriver(topology(build), { parallelism: before })
  pushHalf(first, 0)
  const snapshot = first.snapshot()
  const second = new TestDriver(topology(build), { parallelism: after }).restore(snapshot)
  for (const side of ['left', 'right'] as const) {
    const maxTime = Math.max(...input[side][0]!.map((e) => e.time!))
    second.watermark(side, maxTime - BOUND - 1)
  }
  pushHalf(second, 1)
  second.advanceTime(60_000)
  second.end()

  const resumed = [...first.values('out'), ...second.values('out')]
  expect(first.values('out').length).toBeGreaterThan(0)
  expect(second.values('out').length).toBeGreaterThan(0)
  expect(sorted(resumed)).toEqual(sorted(straight.values('out')))
  return straight.values('out')
}

/**
 * A keyed process: sums per key until an event-time timer 10 s after the key's first event, and
 * counts a key's events on a processing-time timer 7 s after the first event of a burst.
 */
const timed = (): Processor<Ev, string> => {
  let sum!: ValueState<number>
  let seen!: ListState<number>
  let timers!: TimerService
  return {
    open(ctx) {
      sum = ctx.state.value<number>('sum')
      seen = ctx.state.list<number>('seen')
      timers = ctx.timers
    },
    process(r) {
      const pending = sum.get()
      if (pending === undefined) timers.registerEventTimer(r.value.at + 10_000)
      sum.set((pending ?? 0) + r.value.n)
      if (seen.get().length === 0) timers.registerProcessingTimer(timers.currentProcessingTime() + 7_000)
      seen.add(r.value.at)
    },
    onTimer(timer, out) {
      if (timer.domain === 'event') {
        out.emit(`${String(timer.key)} sum ${sum.get()} @${timer.time}`)
        sum.clear()
      } else {
        out.emit(`${String(timer.key)} burst ${seen.get().length} @${timer.time}`)
        seen.clear()
      }
    },
  }
}

const cases: [string, Build][] = [
  [
    'rolling reduce',
    (l) => l.keyBy((e) => e.user).reduce('reduce', (a, b) => ({ user: a.user, at: b.at, n: a.n + b.n })),
  ],
  [
    'rolling aggregate',
    (l) =>
      l
        .keyBy((e) => e.user)
        .aggregate('avg', {
          create: () => ({ sum: 0, count: 0 }),
          add: (a, e) => ({ sum: a.sum + e.n, count: a.count + 1 }),
          result: (a) => a.sum / a.count,
        }),
  ],
  ['rolling count', (l) => l.keyBy((e) => e.user).count('count')],
  [
    'keyed process with event-time and processing-time timers',
    (l) => l.keyBy((e) => e.user).process('timed', timed),
  ],
  [
    'tumbling window',
    (l) =>
      l
        .keyBy((e) => e.user)
        .window(TumblingWindows.of('20s').withGrace('3s'))
        .count('tumbling'),
  ],
  [
    'hopping window',
    (l) =>
      l
        .keyBy((e) => e.user)
        .window(HoppingWindows.of('30s', '10s'))
        .aggregate('hopping', Aggregates.count()),
  ],
  [
    'session window',
    (l) =>
      l
        .keyBy((e) => e.user)
        .window(SessionWindows.withGap('4s'))
        .count('session'),
  ],
  [
    'cumulating window',
    (l) =>
      l
        .keyBy((e) => e.user)
        .window(CumulatingWindows.of('10s', '40s'))
        .count('cumulating'),
  ],
  [
    'interval join',
    (l, r) =>
      l
        .keyBy((e) => e.user)
        .intervalJoin(r.keyBy((e) => e.user))
        .between('-3s', '+2s')
        .map('interval', (a, b) => `${a.user} ${a.at}+${b.at}`),
  ],
  [
    'window join',
    (l, r) =>
      l
        .keyBy((e) => e.user)
        .windowJoin(
          r.keyBy((e) => e.user),
          TumblingWindows.of('15s'),
        )
        .apply('wjoin', (a, b, w) => `${a.user} ${a.at}+${b.at}@${w.start}`),
  ],
]

describe('snapshot → restore → continue, for every stateful operator kind', () => {
  for (const [name, build] of cases) {
    it(`${name}: resumed at the same parallelism, the output equals an uninterrupted run`, () => {
      expect(expectResumeEqualsStraight(build, 1, 1).length).toBeGreaterThan(10)
    })
    it(`${name}: snapshotted at parallelism 2 and resumed at 3, the output equals an uninterrupted run`, () => {
      expectResumeEqualsStraight(build, 2, 3)
    })
    it(`${name}: snapshotted at parallelism 3 and resumed at 1, the output equals an uninterrupted run`, () => {
      expectResumeEqualsStraight(build, 3, 1)
    })
  }
})

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import {
  type Aggregate,
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
  Trigger,
  TumblingWindows,
  type ValueState,
  WatermarkStrategy,
  type WindowResult,
  collect,
  distinctCountAggregate,
} from '../../src/index.ts'
import { pushed, sorted } from '../core/window/support.ts'

/** An event: who, when (ms of event time), and an amount. */
interface Ev {
  user: string
  at: number
  n: number
}

const BOUND = 2_000

/**
 * `count` events of 7 users over about 3 minutes of event time, up to `disorder` ms out of order
 * (beyond `BOUND` some arrive behind the watermark).
 */
function events(seed: number, count: number, startMs: number, disorder = BOUND): TestRecord<Ev>[] {
  const r = new Random(seed)
  const out: TestRecord<Ev>[] = []
  for (let i = 0; i < count; i++) {
    const at = startMs + i * 900 - r.int(disorder)
    out.push({ value: { user: `u${r.int(7)}`, at, n: 1 + r.int(9) }, time: at })
  }
  return out
}

/** Builds the job on both sources; a pair is the output and the late-data stream of a window. */
type Build = (
  left: Stream<Ev>,
  right: Stream<Ev>,
) => Stream<unknown> | readonly [Stream<unknown>, Stream<unknown>]

function topology(build: Build): Topology {
  const t = new Topology('snapshots')
  const wm = () => WatermarkStrategy.forBoundedOutOfOrderness<Ev>(BOUND).withTimestamp('at')
  const left = t.source('left', pushed as never, { parallelism: 1, watermarks: wm() })
  const right = t.source('right', pushed as never, { parallelism: 1, watermarks: wm() })
  const built = build(left as Stream<Ev>, right as Stream<Ev>)
  if (Array.isArray(built)) {
    built[0].sink(collect(), { name: 'out' })
    built[1].sink(collect(), { name: 'late' })
  } else (built as Stream<unknown>).sink(collect(), { name: 'out' })
  return t
}

/** Both halves of the input of both sources. */
interface Input {
  left: TestRecord<Ev>[][]
  right: TestRecord<Ev>[][]
}

const input: Input = {
  left: [events(1, 200, 0), events(2, 200, 180_000)],
  right: [events(3, 200, 0), events(4, 200, 180_000)],
}

/** Up to 20 s out of order: records behind the watermark, within the grace and past it. */
const lateInput: Input = {
  left: [events(5, 200, 0, 20_000), events(6, 200, 180_000, 20_000)],
  right: [events(7, 200, 0, 20_000), events(8, 200, 180_000, 20_000)],
}

/** Records per push: each push moves the watermark, so later pushes can hold late records. */
const CHUNK = 5

/**
 * Moves processing time on by 5 s, then pushes one half of the input into both sources, in
 * alternating chunks; so a snapshot taken after the first half holds processing-time timers that
 * fire at the next step, while windows of the first half are still open.
 */
function pushHalf(d: TestDriver, data: Input, half: 0 | 1): void {
  d.advanceTime(5_000)
  const left = data.left[half]!
  const right = data.right[half]!
  for (let i = 0; i < Math.max(left.length, right.length); i += CHUNK) {
    d.pushRecords('left', left.slice(i, i + CHUNK))
    d.pushRecords('right', right.slice(i, i + CHUNK))
  }
}

const dir = mkdtempSync(join(tmpdir(), 'squall-op-snap-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let runs = 0

/** How a run is carried over: a `snapshot()` copy, or checkpoint task files written and read back. */
type Via = 'memory' | 'files'

/** What each sink of a run received: `out`, and `late` when the job has a late-data output. */
interface Outputs {
  out: unknown[]
  late: unknown[]
}

/**
 * Run A pushes everything straight through; run B pushes the first half at parallelism `before`,
 * snapshots (in memory, or into task files that are then read back), restores into a fresh driver
 * at parallelism `after`, re-establishes the watermarks (they are not part of a snapshot), pushes
 * the rest. Both end the input; B's two outputs together must equal A's, sink by sink.
 */
async function expectResumeEqualsStraight(
  build: Build,
  before: number,
  after: number,
  options: { data?: Input; via?: Via } = {},
): Promise<Outputs> {
  const data = options.data ?? input
  const sinks = topology(build).node('late') === undefined ? ['out'] : ['out', 'late']
  const straight = new TestDriver(topology(build), { parallelism: before })
  pushHalf(straight, data, 0)
  pushHalf(straight, data, 1)
  straight.advanceTime(60_000)
  straight.end()

  const first = new TestDriver(topology(build), { parallelism: before })
  pushHalf(first, data, 0)
  const fresh = new TestDriver(topology(build), { parallelism: after })
  const second =
    options.via === 'files'
      ? await fresh.restoreFromFiles(await first.snapshotToFiles(mkdtempSync(join(dir, `run-${runs++}-`))))
      : fresh.restore(first.snapshot())
  for (const side of ['left', 'right'] as const) {
    const maxTime = Math.max(...data[side][0]!.map((e) => e.time!))
    second.watermark(side, maxTime - BOUND - 1)
  }
  pushHalf(second, data, 1)
  second.advanceTime(60_000)
  second.end()

  expect(first.values('out').length).toBeGreaterThan(0)
  expect(second.values('out').length).toBeGreaterThan(0)
  for (const sink of sinks) {
    const resumed = [...first.values(sink), ...second.values(sink)]
    expect(sorted(resumed)).toEqual(sorted(straight.values(sink)))
  }
  return { out: straight.values('out'), late: sinks.includes('late') ? straight.values('late') : [] }
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

/** The sum of `n`, mergeable. */
const sumOfN = (): Aggregate<Ev, number, number> => ({
  create: () => 0,
  add: (a, e) => a + e.n,
  merge: (a, b) => a + b,
  result: (a) => a,
})

/** A full-window function: `key start firing: at/n …`, every value in the order it is given. */
function listWindow(
  key: unknown,
  w: { start: number; firing: string },
  values: readonly Ev[],
  out: { emit(v: string): void },
): void {
  out.emit(`${String(key)} ${w.start} ${w.firing}: ${values.map((v) => `${v.at}/${v.n}`).join(' ')}`)
}

/** The firing of a window result or of a `listWindow` line. */
function firingOf(v: unknown): string {
  return typeof v === 'string' ? v.split(' ')[2]!.replace(':', '') : (v as WindowResult<unknown>).firing
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
  [
    'window process (a full-window function) on hopping windows',
    (l) =>
      l
        .keyBy((e) => e.user)
        .window(HoppingWindows.of('30s', '10s'))
        .process('wprocess', listWindow),
  ],
  [
    'window process on session windows',
    (l) =>
      l
        .keyBy((e) => e.user)
        .window(SessionWindows.withGap('10s'))
        .process('sprocess', listWindow),
  ],
  [
    'window reduce on tumbling windows',
    (l) =>
      l
        .keyBy((e) => e.user)
        .window(TumblingWindows.of('20s'))
        .reduce('wreduce', (a, b) => ({ user: a.user, at: Math.max(a.at, b.at), n: a.n * 3 + b.n })),
  ],
  [
    'window reduce on session windows',
    (l) =>
      l
        .keyBy((e) => e.user)
        .window(SessionWindows.withGap('10s'))
        .reduce('sreduce', (a, b) => ({ user: a.user, at: Math.max(a.at, b.at), n: a.n * 3 + b.n })),
  ],
  [
    'window aggregate without merge (values buffered until the window fires)',
    (l) =>
      l
        .keyBy((e) => e.user)
        .window(HoppingWindows.of('30s', '10s'))
        .aggregate('buffered', {
          create: () => '',
          add: (a: string, e: Ev) => `${a}${e.n}`,
          result: (a: string) => a,
        }),
  ],
  [
    'hopping window over many slices (partial merges, rebuilt after a restore)',
    (l) =>
      l
        .keyBy((e) => e.user)
        .window(HoppingWindows.of('60s', '5s'))
        .aggregate('sliding', sumOfN()),
  ],
  [
    'windowed distinct count (kit distinctCountAggregate, exact and HyperLogLog accumulators)',
    (l) =>
      l
        .keyBy((e) => e.user)
        .window(HoppingWindows.of('60s', '5s'))
        .aggregate(
          'distinct',
          distinctCountAggregate<Ev>((e) => e.at % 97, { p: 6, exactUpTo: 6 }),
        ),
  ],
  [
    'tumbling window with early firings every 8 s of processing time',
    (l) =>
      l
        .keyBy((e) => e.user)
        .window(TumblingWindows.of('40s'))
        .withEarlyFirings(Trigger.every('8s'))
        .count('early-time'),
  ],
  [
    'hopping window with early firings every 5 records',
    (l) =>
      l
        .keyBy((e) => e.user)
        .window(HoppingWindows.of('30s', '10s'))
        .withEarlyFirings(Trigger.everyRecords(5))
        .aggregate('early-count', sumOfN()),
  ],
  [
    'session window with early firings every 3 records and every 8 s of processing time',
    (l) =>
      l
        .keyBy((e) => e.user)
        .window(SessionWindows.withGap('10s'))
        .withEarlyFirings(Trigger.everyRecords(3))
        .withEarlyFirings(Trigger.every('8s'))
        .count('early-session'),
  ],
]

/**
 * Jobs with a late-data output, run on `lateInput`; each is resumed at parallelism 1 and at the
 * pairs (before, after) listed. Which records are late, and what a late firing holds, depends on
 * the order records reach the node, which a key exchange keeps per key (a join's tagging nodes run
 * beside their inputs for that reason).
 */
const lateCases: [string, Build, (readonly [number, number])[]][] = [
  [
    'tumbling window with a grace period and a late-data output',
    (l) => {
      const w = l
        .keyBy((e) => e.user)
        .window(TumblingWindows.of('10s').withGrace('3s'))
        .count('late-tumbling')
      return [w, w.lateData()]
    },
    [
      [2, 3],
      [3, 1],
    ],
  ],
  [
    'hopping window process with a grace period and a late-data output',
    (l) => {
      const w = l
        .keyBy((e) => e.user)
        .window(HoppingWindows.of('10s', '5s').withGrace('1s'))
        .process('late-hopping', listWindow)
      return [w, w.lateData()]
    },
    [
      [2, 3],
      [3, 1],
    ],
  ],
  [
    'session window with a grace period and a late-data output',
    (l) => {
      const w = l
        .keyBy((e) => e.user)
        .window(SessionWindows.withGap('3s').withGrace('2s'))
        .reduce('late-session', (a, b) => ({ user: a.user, at: Math.max(a.at, b.at), n: a.n * 3 + b.n }))
      return [w, w.lateData()]
    },
    [
      [2, 3],
      [3, 1],
    ],
  ],
  [
    'window join with a grace period and a late-data output',
    (l, r) => {
      const w = l
        .keyBy((e) => e.user)
        .windowJoin(
          r.keyBy((e) => e.user),
          TumblingWindows.of('15s').withGrace('3s'),
        )
        .apply('late-wjoin', (a, b, win) => `${a.user} ${win.start} ${win.firing}: ${a.at}+${b.at}`)
      return [w, w.lateData()]
    },
    [
      [2, 3],
      [3, 1],
    ],
  ],
  [
    'interval join with a late-data output',
    (l, r) => {
      const j = l
        .keyBy((e) => e.user)
        .intervalJoin(r.keyBy((e) => e.user))
        .between('-3s', '+2s')
        .map('late-interval', (a, b) => `${a.user} ${a.at}+${b.at}`)
      return [j, j.lateData()]
    },
    [
      [2, 3],
      [3, 1],
    ],
  ],
]

/** Window jobs whose snapshots go through checkpoint task files. */
const fileCases: [string, Build, Input][] = [
  [
    'tumbling window with early firings by time and count, a grace period and a late-data output',
    (l) => {
      const w = l
        .keyBy((e) => e.user)
        .window(TumblingWindows.of('10s').withGrace('3s'))
        .withEarlyFirings(Trigger.every('8s'))
        .withEarlyFirings(Trigger.everyRecords(4))
        .aggregate('file-tumbling', sumOfN())
      return [w, w.lateData()]
    },
    lateInput,
  ],
  [
    'session window with early firings, a grace period and a late-data output',
    (l) => {
      const w = l
        .keyBy((e) => e.user)
        .window(SessionWindows.withGap('3s').withGrace('2s'))
        .withEarlyFirings(Trigger.every('8s'))
        .withEarlyFirings(Trigger.everyRecords(3))
        .count('file-session')
      return [w, w.lateData()]
    },
    lateInput,
  ],
  [
    'session window process',
    (l) =>
      l
        .keyBy((e) => e.user)
        .window(SessionWindows.withGap('10s'))
        .process('file-sprocess', listWindow),
    input,
  ],
  [
    'hopping window of distinct counts',
    (l) =>
      l
        .keyBy((e) => e.user)
        .window(HoppingWindows.of('60s', '5s'))
        .aggregate(
          'file-distinct',
          distinctCountAggregate<Ev>((e) => e.at % 97, { p: 6, exactUpTo: 6 }),
        ),
    input,
  ],
]

describe('snapshot → restore → continue, for every stateful operator kind', () => {
  for (const [name, build] of cases) {
    it(`${name}: resumed at the same parallelism, the output equals an uninterrupted run`, async () => {
      expect((await expectResumeEqualsStraight(build, 1, 1)).out.length).toBeGreaterThan(10)
    })
    it(`${name}: snapshotted at parallelism 2 and resumed at 3, the output equals an uninterrupted run`, async () => {
      await expectResumeEqualsStraight(build, 2, 3)
    })
    it(`${name}: snapshotted at parallelism 3 and resumed at 1, the output equals an uninterrupted run`, async () => {
      await expectResumeEqualsStraight(build, 3, 1)
    })
  }

  it('the early-firing cases emit early results before on-time ones', async () => {
    for (const [name, build] of cases.filter(([n]) => n.includes('early firings'))) {
      const { out } = await expectResumeEqualsStraight(build, 1, 1)
      expect(out.filter((v) => firingOf(v) === 'early').length, name).toBeGreaterThan(5)
      expect(out.filter((v) => firingOf(v) === 'on-time').length, name).toBeGreaterThan(5)
    }
  })

  it('the distinct count case has windows counted exactly and windows counted with registers', async () => {
    const [, build] = cases.find(([n]) => n.startsWith('windowed distinct count'))!
    const counts = (await expectResumeEqualsStraight(build, 1, 1)).out.map(
      (v) => (v as WindowResult<number>).value,
    )
    // An accumulator holding more than exactUpTo (6) values has switched to registers.
    expect(counts.some((c) => c <= 6)).toBe(true)
    expect(counts.some((c) => c > 6)).toBe(true)
  })
})

describe('snapshot → restore → continue with late data', () => {
  for (const [name, build, parallelisms] of lateCases) {
    it(`${name}: resumed at parallelism 1, both outputs equal an uninterrupted run, which has late records`, async () => {
      const { out, late } = await expectResumeEqualsStraight(build, 1, 1, { data: lateInput })
      if (!name.startsWith('interval join'))
        expect(out.filter((v) => firingOf(v) === 'late').length).toBeGreaterThan(3)
      expect(late.length).toBeGreaterThan(3)
    })
    for (const [before, after] of parallelisms) {
      it(`${name}: snapshotted at parallelism ${before} and resumed at ${after}, both outputs equal an uninterrupted run`, async () => {
        await expectResumeEqualsStraight(build, before, after, { data: lateInput })
      })
    }
  }
})

describe('snapshot → checkpoint task files → restore → continue', () => {
  for (const [name, build, data] of fileCases) {
    for (const [before, after] of [
      [1, 1],
      [2, 3],
      [3, 1],
    ] as const) {
      it(`${name}: written at parallelism ${before}, read back at ${after}, the output equals an uninterrupted run`, async () => {
        const { out } = await expectResumeEqualsStraight(build, before, after, { data, via: 'files' })
        expect(out.length).toBeGreaterThan(10)
      })
    }
  }
})

// Benchmarks: a hopping-window count (size 60 s, slide 10 s) per key over 2 million generated events
// of 10 000 keys, up to 5 s out of order — Squall on one thread (array source → keyBy → window →
// counting sink) against a hand-written plain-Node loop computing the same window counts; and
// session windows (30 s gap) over 1 million events of 200 000 users, where every user's session
// ends at a time of its own (one event-time timer per user), against a plain loop of sessions.
// Run: npm run bench -- windows   (BENCH_EVENTS=200000 for a quick run)

import { Topology, WatermarkStrategy, runToEnd, sinkFn } from '../src/index.ts'
import type { Record } from '../src/core/record.ts'
import type { SourceSpec } from '../src/core/source.ts'
import { HoppingWindows, SessionWindows } from '../src/core/window/assigners.ts'
import type { WindowResult } from '../src/core/window/window.ts'
import { Random } from '../src/plugins/inputs/generator.ts'
import { type BenchRow, compareRates, row, runningTime } from './harness.ts'

const EVENTS = Number(process.env.BENCH_EVENTS ?? 2_000_000)
const KEYS = 10_000
const SIZE = 60_000
const SLIDE = 10_000
const OUT_OF_ORDER = 5_000

interface Event {
  k: number
  at: number
}

/** 10 events per ms of event time, each up to 5 s late, keys uniform. */
function makeEvents(n: number): Record<Event>[] {
  const r = new Random(42)
  const out = new Array<Record<Event>>(n)
  for (let i = 0; i < n; i++) {
    const at = Math.floor(i / 10) + OUT_OF_ORDER - r.int(OUT_OF_ORDER)
    out[i] = { value: { k: r.int(KEYS), at }, key: undefined, time: at, tag: '' }
  }
  return out
}

/** A source handing out a prepared array in batches (one partition). */
function arraySource(events: Record<Event>[]): SourceSpec<Event> {
  return {
    kind: 'array',
    bounded: true,
    maxPartitions: 1,
    create: () => {
      let pos = 0
      return {
        nextBatch: (max) => {
          if (pos >= events.length) return null
          const batch = events.slice(pos, pos + max)
          pos += batch.length
          return batch
        },
      }
    },
  }
}

/**
 * The plain-Node baseline: per window end a Map of key → count, the watermark trailing the highest
 * time by 5 s, and every window whose end the watermark passes emitted (summed) and dropped.
 */
function plainWindows(events: Record<Event>[]): number {
  const windows = new Map<number, Map<number, number>>()
  let max = Number.NEGATIVE_INFINITY
  let nextEnd = Number.POSITIVE_INFINITY
  let total = 0
  const emit = (upTo: number) => {
    const ends = [...windows.keys()].filter((e) => e - 1 <= upTo).sort((a, b) => a - b)
    for (const e of ends) {
      for (const c of windows.get(e)!.values()) total += c
      windows.delete(e)
    }
    nextEnd = Number.POSITIVE_INFINITY
    for (const e of windows.keys()) if (e < nextEnd) nextEnd = e
  }
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!
    const t = e.time
    const k = e.value.k
    const last = t - (t % SLIDE) + SIZE
    for (let end = last; end > t && end > last - SIZE; end -= SLIDE) {
      let m = windows.get(end)
      if (m === undefined) {
        windows.set(end, (m = new Map()))
        if (end < nextEnd) nextEnd = end
      }
      m.set(k, (m.get(k) ?? 0) + 1)
    }
    if (t > max) max = t
    // Like the source task, the watermark moves once per batch of 1024 events.
    if ((i & 1023) === 1023 && nextEnd - 1 <= max - OUT_OF_ORDER - 1) emit(max - OUT_OF_ORDER - 1)
  }
  emit(Number.POSITIVE_INFINITY)
  return total
}

function squallWindows(events: Record<Event>[], sink: (n: number) => void): Topology {
  const t = new Topology('bench-windows')
  t.source('events', arraySource(events), {
    watermarks: WatermarkStrategy.forBoundedOutOfOrderness<Event>(OUT_OF_ORDER),
  })
    .keyBy((e) => e.k)
    .window(HoppingWindows.of(SIZE, SLIDE))
    .count('hop')
    .sink(
      sinkFn<WindowResult<number>>((records) => {
        let n = 0
        for (const r of records) n += r.value.value
        sink(n)
      }),
    )
  return t
}

export async function bench(): Promise<BenchRow[]> {
  const events = makeEvents(EVENTS)
  let plainTotal = 0
  let squallTotal = 0
  const [plain, squall] = await compareRates(EVENTS, 3, [
    () => {
      plainTotal = plainWindows(events)
    },
    async () => {
      squallTotal = 0
      const result = await runToEnd(
        squallWindows(events, (n) => {
          squallTotal += n
        }),
        { threads: 1 },
      )
      return runningTime(result)
    },
  ])
  const same = plainTotal === squallTotal && plainTotal === EVENTS * (SIZE / SLIDE)
  return [
    row(
      'hopping window count, 1 thread vs plain loop',
      squall!,
      plain!,
      0.5,
      `${EVENTS} events, ${KEYS} keys, 60s/10s${same ? '' : ` MISMATCH ${squallTotal} vs ${plainTotal}`}`,
    ),
    await sessionRow(),
  ]
}

const SESSION_EVENTS = Math.min(EVENTS, 1_000_000)
const USERS = 200_000
const GAP = 30_000

/** One event per ms of event time, in order, users uniform: about 30 000 sessions open at a time. */
function makeVisits(n: number): Record<Event>[] {
  const r = new Random(7)
  const out = new Array<Record<Event>>(n)
  for (let i = 0; i < n; i++) out[i] = { value: { k: r.int(USERS), at: i }, key: undefined, time: i, tag: '' }
  return out
}

/** The plain baseline: per user its open session; a visit after the gap closes it. Returns sessions. */
function plainSessions(events: Record<Event>[]): number {
  const open = new Map<number, { last: number; count: number }>()
  let sessions = 0
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!
    const s = open.get(e.value.k)
    if (s !== undefined && e.time - s.last <= GAP) {
      s.last = e.time
      s.count++
    } else {
      if (s !== undefined) sessions++
      open.set(e.value.k, { last: e.time, count: 1 })
    }
  }
  return sessions + open.size
}

async function sessionRow(): Promise<BenchRow> {
  const events = makeVisits(SESSION_EVENTS)
  let plainCount = 0
  let squallCount = 0
  const [plain, squall] = await compareRates(SESSION_EVENTS, 3, [
    () => {
      plainCount = plainSessions(events)
    },
    async () => {
      squallCount = 0
      const t = new Topology('bench-sessions')
      t.source('visits', arraySource(events), {
        watermarks: WatermarkStrategy.forMonotonousTimestamps<Event>(),
      })
        .keyBy((e) => e.k)
        .window(SessionWindows.withGap(GAP))
        .count('sessions')
        .sink(
          sinkFn<WindowResult<number>>((records) => {
            squallCount += records.length
          }),
        )
      return runningTime(await runToEnd(t, { threads: 1 }))
    },
  ])
  return row(
    'session windows (30 s gap), 1 thread vs plain loop',
    squall!,
    plain!,
    0.5,
    `${SESSION_EVENTS} events, ${USERS} users, ${plainCount} sessions${squallCount === plainCount ? '' : ` MISMATCH ${squallCount} vs ${plainCount}`}`,
  )
}

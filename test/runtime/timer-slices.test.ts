import { describe, expect, it } from 'vitest'
import { collect, generator, runEmbedded, Topology, WatermarkStrategy } from '../../src/index.ts'
import type { Processor, TimerService } from '../../src/index.ts'
import type { CollectSink } from '../../src/plugins/outputs/collect.ts'

// An operator whose watermark makes thousands of timers due at once fires them in time slices;
// the thread runs its other tasks in between, and the output is the same as firing them at once.

const KEYS = 4_000
const EVENTS = 40_000

/** Busy work, so that firing every key's timer takes far longer than one slice. */
function spin(us: number): void {
  const until = performance.now() + us / 1000
  while (performance.now() < until) {}
}

/** The job's shape: keys, events (one per key and second), and the busy work of one timer in µs. */
interface Shape {
  keys: number
  events: number
  timerUs: number
}

function job(order: string[], sink: CollectSink<string>, shape: Shape): Topology {
  const { keys, events: count, timerUs } = shape
  const t = new Topology('timer-slices')
  const events = t.source(
    'events',
    generator({ count, make: (seq) => ({ key: seq % keys, time: Math.floor(seq / keys) * 1_000 }) }),
    {
      watermarks: WatermarkStrategy.forMonotonousTimestamps<{ key: number; time: number }>().withTimestamp(
        'time',
      ),
    },
  )
  // Per key and second, a count emitted by an event timer at the end of the second.
  const perSecond: () => Processor<{ key: number; time: number }, string> = () => {
    const counts = new Map<string, number>()
    let timers!: TimerService
    return {
      open(ctx) {
        timers = ctx.timers
      },
      process(r) {
        const at = `${r.key}@${r.value.time}`
        counts.set(at, (counts.get(at) ?? 0) + 1)
        timers.registerEventTimer(r.value.time + 999)
      },
      onTimer(timer, out) {
        spin(timerUs)
        order.push(`timer ${timer.time}`)
        const at = `${timer.key}@${timer.time - 999}`
        out.emit(`${at}=${counts.get(at)}`)
        counts.delete(at)
      },
    }
  }
  events
    .keyBy((e) => e.key)
    .process('per-second', perSecond)
    .sink(sink, { name: 'out' })
  // A second pipeline on the same thread, to see whether it runs while the timers fire.
  t.source('ticks', generator({ count: 2_000_000, make: (seq) => seq }))
    .map((n) => {
      order.push('tick')
      return n
    })
    .filter(() => false)
    .sink(collect(), { name: 'ticks-out' })
  return t
}

const MANY: Shape = { keys: KEYS, events: EVENTS, timerUs: 20 }

async function run(
  timerSliceMs: number,
  shape: Shape = MANY,
): Promise<{ out: string[]; interleaved: number; longestRun: number }> {
  const order: string[] = []
  const sink = collect<string>()
  await runEmbedded(job(order, sink, shape), { timerSliceMs }).done
  // Ticks seen while the timers of one watermark were firing (between two timers of one time),
  // and the most timers of one time fired in a row, with no tick between them (one slice's worth).
  let interleaved = 0
  let ticks = 0
  let last = ''
  let streak = 0
  let longestRun = 0
  for (const x of order) {
    if (x === 'tick') ticks++
    else {
      if (x === last) interleaved += ticks
      streak = x === last && ticks === 0 ? streak + 1 : 1
      if (streak > longestRun) longestRun = streak
      ticks = 0
      last = x
    }
  }
  return { out: [...sink.values].sort(), interleaved, longestRun }
}

describe('event timers fired in time slices', () => {
  it('gives the output of firing them all at once, and lets other tasks run in between', async () => {
    const sliced = await run(2)
    const whole = await run(0)
    expect(sliced.out.length).toBe(EVENTS)
    expect(sliced.out).toEqual(whole.out)
    expect(whole.out.every((line) => line.endsWith('=1'))).toBe(true)
    expect(whole.interleaved).toBe(0)
    expect(sliced.interleaved).toBeGreaterThan(0)
  }, 60_000)

  it('ends a slice after the timer that overran it, however few timers it fired', async () => {
    // Each timer takes 3 ms, longer than the 2 ms slice: every slice fires one timer, then the
    // thread's other tasks run. (A slice that read the clock every 32 timers ran ~96 ms.)
    const slow: Shape = { keys: 48, events: 48 * 3, timerUs: 3_000 }
    const sliced = await run(2, slow)
    const whole = await run(0, slow)
    expect(sliced.out).toEqual(whole.out)
    expect(whole.longestRun).toBe(48)
    expect(sliced.longestRun).toBeLessThanOrEqual(2)
  }, 60_000)
})

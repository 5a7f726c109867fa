import { describe, expect, it } from 'vitest'
import type { Collector, ProcessorContext, TimerService } from '../../../src/core/processor.ts'
import { Aggregates } from '../../../src/core/window/aggregates.ts'
import { HoppingWindows } from '../../../src/core/window/assigners.ts'
import { SlicedWindowOperator } from '../../../src/core/window/sliced-operator.ts'
import { aggregateLogic } from '../../../src/core/window/window-logic.ts'
import { KeyedBackend } from '../../../src/state/keyed-backend.ts'

// A checkpoint's copy of a key's window state shares the slices' accumulators with the live state;
// the operator copies an accumulator before it next changes it. These tests change the state after
// a capture, in the slices the capture holds, and check the capture still reads as at the barrier.

const noop: Collector<unknown> = { emit() {}, emitRecord() {}, side() {} }

function operator() {
  const state = new KeyedBackend('w', 128, () => 0)
  const timers: TimerService = {
    currentWatermark: () => Number.NEGATIVE_INFINITY,
    currentProcessingTime: () => 0,
    registerEventTimer() {},
    registerProcessingTimer() {},
    deleteEventTimer() {},
    deleteProcessingTimer() {},
  }
  const ctx = {
    nodeName: 'w',
    taskIndex: 0,
    parallelism: 1,
    maxParallelism: 128,
    get currentKey() {
      return state.currentKey
    },
    state,
    timers,
    log: () => {},
    count: () => {},
  } as unknown as ProcessorContext
  // 60 s windows every second: 60 slices per key, each collecting its values (an object).
  const op = new SlicedWindowOperator<number, unknown>(
    HoppingWindows.of('60s', '1s'),
    aggregateLogic(Aggregates.collect<number>()),
    [],
  )
  op.open(ctx)
  const push = (key: string, time: number, value: number) => {
    state.currentKey = key
    op.process({ value, key, time, tag: '' }, noop)
  }
  /** The collected values per slice start of `key` in a capture, with copy-on-write resolved. */
  const captured = (capture: ReturnType<KeyedBackend['capture']>, key: string) => {
    const index = capture.stores.findIndex((s) => s.name === 'windows')
    for (const [k, v] of capture.entries(index)) {
      if (k !== key) continue
      const st = v as { starts: number[]; accs: unknown[] }
      return Object.fromEntries(st.starts.map((s, i) => [s, structuredClone(st.accs[i])]))
    }
    return undefined
  }
  return { state, push, captured }
}

describe('window state in checkpoints (copy-on-write per slice)', () => {
  it('records folded after the barrier, into slices the capture holds, do not reach the capture', () => {
    const { state, push, captured } = operator()
    for (let t = 0; t < 30_000; t += 500) push('a', t, t)
    push('b', 1_000, 1)
    const before = captured(state.capture(), 'a')
    const capture = state.capture()
    // Into the latest slice, into an older one, and into a new one.
    push('a', 29_600, -1)
    push('a', 3_200, -2)
    push('a', 31_000, -3)
    push('b', 1_100, -4)
    expect(captured(capture, 'a')).toEqual(before)
    expect(captured(capture, 'b')).toEqual({ 1000: [1] })
    capture.release()
    // The live state has every value.
    const now = captured(state.capture(), 'a')!
    expect(now[29_000]).toEqual([29_000, 29_500, -1])
    expect(now[3_000]).toEqual([3_000, 3_500, -2])
    expect(now[31_000]).toEqual([-3])
  })

  it('a second capture sees what changed after the first, and each keeps its own barrier', () => {
    const { state, push, captured } = operator()
    push('a', 0, 1)
    const first = state.capture()
    push('a', 100, 2)
    const second = state.capture()
    push('a', 200, 3)
    expect(captured(first, 'a')).toEqual({ 0: [1] })
    expect(captured(second, 'a')).toEqual({ 0: [1, 2] })
    first.release()
    second.release()
    expect(captured(state.capture(), 'a')).toEqual({ 0: [1, 2, 3] })
  })
})

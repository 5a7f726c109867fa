import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { Aggregate } from '../../../src/core/operators.ts'
import type { Collector, ProcessorContext, TimerService } from '../../../src/core/processor.ts'
import { Aggregates } from '../../../src/core/window/aggregates.ts'
import { HoppingWindows } from '../../../src/core/window/assigners.ts'
import { SlicedWindowOperator } from '../../../src/core/window/sliced-operator.ts'
import { aggregateLogic } from '../../../src/core/window/window-logic.ts'
import { distinctCountAggregate } from '../../../src/kit/operators.ts'
import { KeyedBackend } from '../../../src/state/keyed-backend.ts'
import { readSnapshotFile, writeSnapshotFile } from '../../../src/state/snapshot-file.ts'

// A checkpoint's copy of a key's window state shares the slices' accumulators with the live state;
// the operator copies an accumulator before it next changes it. These tests change the state after
// a capture, in the slices the capture holds, and check the capture still reads as at the barrier,
// and that the task files written from captures restore each key's slices as at their barrier.

const noop: Collector<unknown> = { emit() {}, emitRecord() {}, side() {} }

/** A task's context over `state`, with the watermark at its start. */
function contextOf(state: KeyedBackend): ProcessorContext {
  const timers: TimerService = {
    currentWatermark: () => Number.NEGATIVE_INFINITY,
    currentProcessingTime: () => 0,
    registerEventTimer() {},
    registerProcessingTimer() {},
    deleteEventTimer() {},
    deleteProcessingTimer() {},
  }
  return {
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
}

function operator(aggregate: Aggregate<number, unknown, unknown> = Aggregates.collect<number>()) {
  const state = new KeyedBackend('w', 128, () => 0)
  const ctx = contextOf(state)
  // 60 s windows every second: 60 slices per key, each collecting its values (an object).
  const op = new SlicedWindowOperator<number, unknown>(
    HoppingWindows.of('60s', '1s'),
    aggregateLogic(aggregate),
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

const dir = mkdtempSync(join(tmpdir(), 'squall-window-files-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** What `captured` reads of `key` now, with the capture released at once. */
function current(state: KeyedBackend, captured: ReturnType<typeof operator>['captured'], key: string) {
  const capture = state.capture()
  const value = captured(capture, key)
  capture.release()
  return value
}

/** Writes a checkpoint of `state` (its one task, every key group) to a task file named `name`. */
async function checkpoint(state: KeyedBackend, name: string): Promise<string> {
  const path = join(dir, `${name}.state`)
  await writeSnapshotFile(
    path,
    'w',
    0,
    { state: state.capture(), eventTimers: [], processingTimers: [] },
    [0, 128],
  )
  return path
}

/** The collected values per slice start of `key`, as a task file restores them. */
async function restored(path: string, key: string) {
  const snap = await readSnapshotFile(path, 0, 128, 128)
  const b = new KeyedBackend('w', 128, () => 0)
  b.restore(snap.stores, 0, 128)
  b.currentKey = key
  const st = b.value<{ starts: number[]; accs: unknown[] }>('windows').get()
  return st === undefined ? undefined : Object.fromEntries(st.starts.map((s, i) => [s, st.accs[i]]))
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

describe('window state in task files', () => {
  it('each file restores the slices as they were at its barrier, after records into old, current and new slices', async () => {
    const { state, push, captured } = operator()
    for (let t = 0; t < 30_000; t += 500) push('a', t, t)
    push('b', 1_000, 1)
    const atFirst = current(state, captured, 'a')
    const first = await checkpoint(state, 'first')
    // Between the files: into an old slice (late), the current one and a new one; 'b' untouched.
    push('a', 3_200, -2)
    push('a', 29_600, -1)
    push('a', 31_000, -3)
    const atSecond = current(state, captured, 'a')
    const second = await checkpoint(state, 'second')
    // After the second file: nothing of this reaches it.
    push('a', 3_300, -5)
    push('b', 1_100, -4)
    expect(await restored(first, 'a')).toEqual(atFirst)
    expect(await restored(second, 'a')).toEqual(atSecond)
    expect(atSecond![3_000]).toEqual([3_000, 3_500, -2])
    expect(atSecond![31_000]).toEqual([-3])
    expect(await restored(second, 'b')).toEqual({ 1000: [1] })
    // The live state has every value.
    expect(current(state, captured, 'a')![3_000]).toEqual([3_000, 3_500, -2, -5])
  })

  it('a checkpoint taken while a copy is held writes the copy, and the next one what changed since', async () => {
    const { state, push, captured } = operator()
    for (let t = 0; t < 10_000; t += 1_000) push('a', t, t)
    const capture = state.capture()
    // The key changes while the capture is pending: the capture keeps a copy, written below.
    push('a', 2_500, -1)
    const atBarrier = captured(capture, 'a')
    const path = join(dir, 'copy.state')
    await writeSnapshotFile(path, 'w', 0, { state: capture, eventTimers: [], processingTimers: [] }, [0, 128])
    expect(await restored(path, 'a')).toEqual(atBarrier)
    push('a', 2_600, -2)
    const later = await checkpoint(state, 'after-copy')
    expect((await restored(later, 'a'))![2_000]).toEqual([2_000, -1, -2])
  })
})

describe('window state of an aggregate that packs its accumulators', () => {
  const distinct = () =>
    distinctCountAggregate<number>((v) => v, { p: 10, exactUpTo: 64 }) as Aggregate<number, unknown, unknown>

  it("writes a key's slices as one block of bytes, and restores them as the sketches they were", async () => {
    const agg = distinct()
    const { state, push } = operator(agg)
    // 'a': 30 slices of 40 values each, overlapping; 'b': one slice past the exact limit.
    for (let t = 0; t < 30_000; t += 1_000) for (let v = 0; v < 40; v++) push('a', t, t / 100 + v)
    for (let v = 0; v < 200; v++) push('b', 1_000, v)
    const path = await checkpoint(state, 'packed')
    // Changed after the file: none of it is in the file.
    push('a', 29_500, -1)
    const snap = await readSnapshotFile(path, 0, 128, 128)
    const store = snap.stores.find((s) => s.name === 'windows')!
    const entries: [unknown, unknown][] = [...Object.values(store.groups).flat()]
    for (const u of store.ungrouped ?? [])
      for (let n = 0; n < u.keys.length; n++) entries.push([u.keys[n], u.values[n]])
    const written = entries.find(([k]) => k === 'a')![1] as { [field: string]: unknown }
    expect(written.packed).toBeInstanceOf(Uint8Array)
    expect(written.accs).toBeUndefined()
    // Restored: the operator reads the same counts per slice as the live state had at the file.
    const b = new KeyedBackend('w', 128, () => 0)
    b.restore(snap.stores, 0, 128)
    const restoredOp = new SlicedWindowOperator<number, unknown>(
      HoppingWindows.of('60s', '1s'),
      aggregateLogic(agg),
      [],
    )
    restoredOp.open(contextOf(b))
    b.currentKey = 'a'
    // A value the slice already holds: still 40 distinct.
    restoredOp.process({ value: 300, key: 'a', time: 29_000, tag: '' }, noop)
    const st = b.value<{ starts: number[]; accs: unknown[] }>('windows').get()!
    expect(st.starts).toEqual(Array.from({ length: 30 }, (_, i) => i * 1_000))
    expect(st.accs.map((a) => agg.result(a))).toEqual(Array(30).fill(40))
    b.currentKey = 'b'
    restoredOp.process({ value: 1, key: 'b', time: 1_000, tag: '' }, noop)
    const sb = b.value<{ starts: number[]; accs: unknown[] }>('windows').get()!
    expect(agg.result(sb.accs[0])).toBeGreaterThan(180)
    expect((sb.accs[0] as { registers: unknown }).registers).toBeInstanceOf(Uint8Array)
  })

  it('restores window state an earlier version wrote with one object per accumulator', () => {
    const agg = distinct()
    const b = new KeyedBackend('w', 128, () => 0)
    const acc = agg.create()
    for (let v = 0; v < 10; v++) agg.add(acc, v)
    b.currentKey = 'a'
    b.value('windows').set({
      starts: [0],
      accs: [acc],
      dirty: [false],
      fired: Number.NEGATIVE_INFINITY,
      early: false,
      counts: null,
    })
    const op = new SlicedWindowOperator<number, unknown>(
      HoppingWindows.of('60s', '1s'),
      aggregateLogic(agg),
      [],
    )
    op.open(contextOf(b))
    op.process({ value: 42, key: 'a', time: 500, tag: '' }, noop)
    const st = b.value<{ accs: unknown[] }>('windows').get()!
    expect(agg.result(st.accs[0])).toBe(11)
  })
})

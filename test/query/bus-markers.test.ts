// Checkpoint markers on the stream bus, and their alignment across the bus sources of one query.

import { describe, expect, it } from 'vitest'
import { memoryLogger } from '../../src/core/logger.ts'
import type { Record } from '../../src/core/record.ts'
import { type BusSubscription, StreamBus } from '../../src/query/bus.ts'
import { QueryBarriers } from '../../src/query/query-checkpoints.ts'
import type { Job, JobResult } from '../../src/runtime/job.ts'

const rec = (value: unknown, time = 0): Record => ({ value, key: undefined, time, tag: 't' })

/** Polls `sub` until it stops (a marker, or nothing waiting): the values read, then the marker. */
function read(sub: BusSubscription): unknown[] {
  const out: unknown[] = []
  for (;;) {
    const batch = sub.poll(100)
    if (batch === null || batch.length === 0) break
    out.push(...batch.map((r) => r.value))
  }
  if (sub.marker !== 0) out.push(`marker ${sub.marker}`)
  return out
}

const tick = () => new Promise((r) => setTimeout(r, 0))

describe('checkpoint markers on the stream bus', () => {
  it('a marker reaches a subscriber once every partition published it, after all they published before it and before anything after', () => {
    const bus = new StreamBus()
    bus.declare('t')
    const seen: number[] = []
    const sub = bus.subscribe('t', (id) => seen.push(id))
    bus.publish('t', [rec('a0')], 10, 0, 2)
    void bus.marker('t', 1, 0, 2)
    // Partition 0 is past its marker: what it publishes now waits, its watermark too.
    bus.publish('t', [rec('a1')], 20, 0, 2)
    bus.publish('t', [rec('b0')], 5, 1, 2)
    expect(read(sub)).toEqual(['a0', 'b0'])
    expect(bus.info('t')!.watermark).toBe(5)
    void bus.marker('t', 1, 1, 2)
    bus.publish('t', [rec('b1')], 30, 1, 2)
    expect(read(sub)).toEqual(['marker 1'])
    expect(seen).toEqual([1])
    // Stopped at the marker until it is passed.
    expect(read(sub)).toEqual(['marker 1'])
    sub.pass()
    expect(read(sub)).toEqual(['a1', 'b1'])
    expect(bus.info('t')!.watermark).toBe(20)
    expect(seen).toEqual([1])
  })

  it("a publisher's marker resolves once every subscriber that received it acknowledged it or closed", async () => {
    const bus = new StreamBus()
    bus.declare('t')
    const one = bus.subscribe('t', () => {})
    const two = bus.subscribe('t', () => {})
    const plain = bus.subscribe('t')
    const wait = bus.marker('t', 3)
    expect(wait).toBeInstanceOf(Promise)
    let done = false
    void wait!.then(() => {
      done = true
    })
    one.acknowledge(3)
    await tick()
    expect(done).toBe(false)
    two.close()
    await tick()
    expect(done).toBe(true)
    // A subscriber without `onMarker` gets no marker and is not waited for.
    bus.publish('t', [rec('x')])
    expect(read(plain)).toEqual(['x'])
    expect(read(one)).toEqual(['marker 3'])
    one.pass()
    expect(bus.marker('t', 5)).toBeInstanceOf(Promise)
    expect(read(one)).toEqual(['x', 'marker 5'])
    plain.close()
    one.close()
    expect(bus.marker('t', 6)).toBeUndefined()
  })

  it('a partition that has ended does not hold a marker back, and publishes none', async () => {
    const bus = new StreamBus()
    bus.declare('t')
    const first = bus.marker('t', 1, 0, 2)
    let done = false
    void first!.then(() => {
      done = true
    })
    bus.end('t', 1, 2)
    await tick()
    expect(done).toBe(true)
    expect(bus.marker('t', 2, 1, 2)).toBeUndefined()
    const sub = bus.subscribe('t', () => {})
    expect(sub.since).toBe(1)
    const wait = bus.marker('t', 2, 0, 2)
    expect(wait).toBeInstanceOf(Promise)
    expect(read(sub)).toEqual(['marker 2'])
    // The table ends after its last marker: the subscriber reads the marker, then the end.
    bus.end('t', 0, 2)
    expect(sub.ended).toBe(false)
    sub.pass()
    expect(sub.poll(10)).toBeNull()
  })

  it('a marker from a partition that ends before the others reach it is not waited for once all have ended', async () => {
    const bus = new StreamBus()
    bus.declare('t')
    void bus.marker('t', 1, 0, 2)
    // Partition 0 is ahead: its end and its next marker wait behind marker 1.
    bus.end('t', 0, 2)
    const late = bus.marker('t', 2, 0, 2)
    let done = false
    void late!.then(() => {
      done = true
    })
    bus.end('t', 1, 2)
    await tick()
    expect(done).toBe(true)
    expect(bus.info('t')!.ended).toBe(true)
  })
})

/** A stand-in for a query's job: records the checkpoints asked for and completes them on demand. */
function fakeJob() {
  const asked: number[] = []
  const pending: (() => void)[] = []
  let end!: (r: JobResult) => void
  const job: Job = {
    name: 'q',
    status: () => 'running',
    runningSince: () => 0,
    metrics: () => ({}),
    drain() {},
    async stop() {},
    done: new Promise<JobResult>((r) => {
      end = r
    }),
    triggerCheckpoint(id) {
      asked.push(id!)
      return new Promise<void>((r) => pending.push(r))
    },
  }
  return {
    job,
    asked,
    complete: () => pending.shift()!(),
    end: () => end({ status: 'finished', metrics: {}, durationMs: 0, runningMs: 0 }),
  }
}

describe('the checkpoint barriers of a query', () => {
  it('take checkpoint N once every source stopped at marker N, let them go on, and acknowledge N when it is complete', async () => {
    const bus = new StreamBus()
    bus.declare('a')
    bus.declare('b')
    const barriers = new QueryBarriers('q', memoryLogger())
    const subA: BusSubscription = bus.subscribe('a', (id) => barriers.reached(subA, id))
    const subB: BusSubscription = bus.subscribe('b', (id) => barriers.reached(subB, id))
    barriers.opened(subA)
    barriers.opened(subB)
    const fake = fakeJob()
    barriers.attach(fake.job)
    bus.publish('a', [rec('a0')])
    const waitA = bus.marker('a', 7)
    bus.publish('b', [rec('b0')])
    const waitB = bus.marker('b', 7)
    expect(read(subA)).toEqual(['a0', 'marker 7'])
    await tick()
    expect(fake.asked).toEqual([])
    expect(read(subB)).toEqual(['b0', 'marker 7'])
    await tick()
    expect(fake.asked).toEqual([7])
    // The barriers have left: the sources read on, and the job's taps wait for the checkpoint.
    expect(subA.marker).toBe(0)
    expect(subB.marker).toBe(0)
    let released = false
    void Promise.all([waitA, waitB]).then(() => {
      released = true
    })
    await tick()
    expect(released).toBe(false)
    fake.complete()
    await tick()
    await tick()
    expect(released).toBe(true)
    fake.end()
  })

  it('a source that subscribed after a marker does not hold it up, and one marker is taken at a time', async () => {
    const bus = new StreamBus()
    bus.declare('a')
    bus.declare('b')
    const barriers = new QueryBarriers('q', memoryLogger())
    const fake = fakeJob()
    const subA: BusSubscription = bus.subscribe('a', (id) => barriers.reached(subA, id))
    barriers.opened(subA)
    barriers.attach(fake.job)
    void bus.marker('b', 4)
    const subB: BusSubscription = bus.subscribe('b', (id) => barriers.reached(subB, id))
    barriers.opened(subB)
    void bus.marker('a', 4)
    expect(read(subA)).toEqual(['marker 4'])
    await tick()
    expect(fake.asked).toEqual([4])
    void bus.marker('a', 5)
    void bus.marker('b', 5)
    expect(read(subA)).toEqual(['marker 5'])
    expect(read(subB)).toEqual(['marker 5'])
    await tick()
    expect(fake.asked).toEqual([4])
    fake.complete()
    await tick()
    await tick()
    expect(fake.asked).toEqual([4, 5])
    fake.end()
  })
})

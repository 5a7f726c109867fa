// Shared scaffolding of the window tests: a source of timed events, and running one scenario at
// several parallelisms with the TestDriver.

import { expect } from 'vitest'
import { collect } from '../../../src/plugins/outputs/collect.ts'
import type { Stream } from '../../../src/core/stream.ts'
import { Topology } from '../../../src/core/topology.ts'
import { WatermarkStrategy } from '../../../src/core/watermark.ts'
import type { SourceSpec } from '../../../src/core/source.ts'
import { TestDriver } from '../../../src/runtime/test-driver.ts'

/** A click: who and when (ms). */
export interface Click {
  user: string
  at: number
  n?: number
}

/** A source spec the driver replaces; running it outside the driver is a mistake. */
export const pushed: SourceSpec<Click> = {
  kind: 'pushed',
  bounded: false,
  create: () => {
    throw new Error('the pushed source only runs in a TestDriver')
  },
}

/**
 * A topology `events` (one partition, time from `at`, bounded out-of-orderness) → `build` → sink
 * `out`, plus sink `late` on the window node's late side output when `build` returns a pair.
 */
export function topology(
  build: (events: Stream<Click>) => Stream<unknown> | [Stream<unknown>, Stream<unknown>],
  bound = 0,
  options: { partitions?: number; idleness?: string } = {},
): Topology {
  const t = new Topology('windows')
  let wm = WatermarkStrategy.forBoundedOutOfOrderness<Click>(bound).withTimestamp('at')
  if (options.idleness) wm = wm.withIdleness(options.idleness)
  const events = t.source('events', pushed, {
    parallelism: options.partitions ?? 1,
    watermarks: wm,
    onError: 'skip',
  })
  const built = build(events)
  if (Array.isArray(built)) {
    built[0].sink(collect(), { name: 'out' })
    built[1].sink(collect(), { name: 'late' })
  } else built.sink(collect(), { name: 'out' })
  return t
}

/** Clicks of one user at the given seconds. */
export function clicks(user: string, ...seconds: number[]): { value: Click; time: number }[] {
  return seconds.map((s) => ({ value: { user, at: s * 1000 }, time: s * 1000 }))
}

/** Sorts results by key, window and firing, for comparing runs at different parallelism. */
export function sorted<T>(values: T[]): T[] {
  return [...values].sort((a, b) =>
    JSON.stringify(a) < JSON.stringify(b) ? -1 : JSON.stringify(a) > JSON.stringify(b) ? 1 : 0,
  )
}

/**
 * Runs `scenario` on fresh drivers at parallelism 1 and 3 and checks that both give the same
 * output (as multisets); returns the parallelism-1 driver for further assertions.
 */
export function atParallelism1And3(build: () => Topology, scenario: (d: TestDriver) => void): TestDriver {
  const one = new TestDriver(build(), { parallelism: 1 })
  scenario(one)
  const three = new TestDriver(build(), { parallelism: 3 })
  scenario(three)
  expect(sorted(three.values('out'))).toEqual(sorted(one.values('out')))
  return one
}

import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { runModule, runToEnd } from '../../../src/runtime/embedded/runner.ts'
import { sorted } from './support.ts'

process.env.WINDOW_EVENTS = '8000'
const fixture = fileURLToPath(new URL('../../fixtures/windows-events.ts', import.meta.url))

type Fixture = typeof import('../../fixtures/windows-events.ts')

function results(m: Fixture) {
  return {
    hopping: sorted(m.hopping.values),
    sessions: sorted(m.sessions.values),
    cumulating: sorted(m.cumulating.values),
    late: m.late.values.length,
  }
}

function clear(m: Fixture) {
  for (const c of [m.hopping, m.sessions, m.cumulating, m.late]) c.clear()
}

describe('windows on worker threads', () => {
  it('hopping, session and cumulating windows give the same results at parallelism 1 and 3 and on 2 threads', async () => {
    const m: Fixture = await import(fixture)
    clear(m)
    await runToEnd(m.default, { parallelism: 1 })
    const one = results(m)
    clear(m)
    await runToEnd(m.default, { parallelism: 3 })
    const three = results(m)
    clear(m)
    const job = await runModule(fixture, { threads: 2 })
    const result = await job.done
    const threaded = results(m)
    expect(one.hopping.length).toBeGreaterThan(500)
    expect(one.sessions.length).toBeGreaterThan(20)
    expect(one.late).toBe(0)
    expect(three).toEqual(one)
    expect(threaded).toEqual(one)
    expect(result.metrics.hop?.in).toBe(8_000)
    const total = one.hopping.filter((r) => r.firing === 'on-time').reduce((n, r) => n + r.value, 0)
    expect(total).toBe(8_000 * 6)
  }, 30_000)
})

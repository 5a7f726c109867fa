import { describe, expect, it } from 'vitest'
import { EncodePacer } from '../../src/state/encode-pacer.ts'

/** Busy-waits `ms` (a slice of synchronous encoding). */
function work(ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end);
}

describe('EncodePacer', () => {
  it('gives one turn at a time, in the order asked, with the pause between the end of one and the start of the next', async () => {
    const pacer = new EncodePacer(2, 5)
    const turns: { who: string; start: number; end: number }[] = []
    const writer = async (who: string, slices: number) => {
      for (let i = 0; i < slices; i++) {
        await pacer.turn()
        const start = performance.now()
        work(2)
        turns.push({ who, start, end: performance.now() })
        pacer.done()
      }
    }
    await Promise.all([writer('a', 3), writer('b', 3), writer('c', 2)])
    expect(turns.map((t) => t.who).join('')).toBe('abcabcab')
    for (let i = 1; i < turns.length; i++) {
      // Timers may fire a little early on some platforms: allow 1 ms.
      expect(turns[i]!.start - turns[i - 1]!.end).toBeGreaterThanOrEqual(4)
    }
  })

  it('leaves the thread to other work during the pauses', async () => {
    const pacer = new EncodePacer(4, 4)
    let ticks = 0
    const timer = setInterval(() => ticks++, 1)
    const started = performance.now()
    for (let i = 0; i < 10; i++) {
      await pacer.turn()
      work(4)
      pacer.done()
    }
    clearInterval(timer)
    // 10 turns of 4 ms with 4 ms pauses: at least 36 ms, about half of it free for the interval.
    expect(performance.now() - started).toBeGreaterThanOrEqual(36)
    expect(ticks).toBeGreaterThanOrEqual(5)
  })

  it('grants the first turn at once when nothing ran before', async () => {
    const pacer = new EncodePacer(4, 50)
    const t0 = performance.now()
    await pacer.turn()
    expect(performance.now() - t0).toBeLessThan(25)
    pacer.done()
  })
})

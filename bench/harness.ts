// Shared shape of benchmark results: every figure is a rate plus its ratio to a plain-Node
// baseline measured in the same run, so results survive a noisy machine.

/** One benchmark row: what was measured, Squall's rate, the baseline's rate, and the target ratio. */
export interface BenchRow {
  name: string
  /** Records (or events) per second through Squall. */
  squall: number
  /** Records per second through the plain-Node baseline doing the same work, in the same run. */
  baseline: number
  /** squall / baseline. */
  ratio: number
  /** The ratio the project aims for (0: none; the row then has a `minRate`). */
  target: number
  /** A rate Squall must reach, where the target is a rate rather than a ratio (records per second). */
  minRate?: number
  /** Anything else worth printing (thread count, pause times, …). */
  note?: string
}

/** Builds a row, computing the ratio. */
export function row(name: string, squall: number, baseline: number, target: number, note?: string): BenchRow {
  return {
    name,
    squall,
    baseline,
    ratio: baseline > 0 ? squall / baseline : 0,
    target,
    ...(note ? { note } : {}),
  }
}

/** True when a row meets its target: its ratio, and its rate where it has a `minRate`. */
export function meetsTarget(r: BenchRow): boolean {
  return r.ratio >= r.target && r.squall >= (r.minRate ?? 0)
}

/** Runs `fn` once to warm up, then `rounds` times, and returns the best rate in records per second. */
export async function bestRate(
  records: number,
  rounds: number,
  fn: () => unknown | Promise<unknown>,
): Promise<number> {
  let best = 0
  await fn()
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now()
    await fn()
    const rate = records / ((performance.now() - t0) / 1000)
    if (rate > best) best = rate
  }
  return best
}

/** What a contender returns when only part of its wall time should count (e.g. without start-up). */
export interface Timed {
  seconds: number
}

/**
 * Measures several contenders in alternating rounds (a, b, c, a, b, c, …) after one warm-up each,
 * and returns each one's best rate. Alternating keeps a noisy neighbour from favouring one side.
 * A contender may return `{ seconds }` to say which time counts (a job's running time without
 * start-up); anything else it returns is ignored and its wall time is used.
 */
export async function compareRates(
  records: number,
  rounds: number,
  contenders: (() => unknown | Promise<unknown>)[],
): Promise<number[]> {
  const best = contenders.map(() => 0)
  for (const fn of contenders) await fn()
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < contenders.length; i++) {
      const t0 = performance.now()
      const result = await contenders[i]!()
      const timed =
        result !== null && typeof result === 'object' && typeof (result as Timed).seconds === 'number'
      const seconds = timed ? (result as Timed).seconds : (performance.now() - t0) / 1000
      const rate = records / seconds
      if (rate > best[i]!) best[i] = rate
    }
  }
  return best
}

/** A job's running time (start-up excluded), as `compareRates` counts it. */
export function runningTime(result: { runningMs: number }): Timed {
  return { seconds: result.runningMs / 1000 }
}

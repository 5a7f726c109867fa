// A deterministic, seeded generator source: as fast as possible or at a given rate.

import { type Duration, toMillis } from '../../core/duration.ts'
import { generate } from '../../core/generated.ts'
import { check } from '../../core/errors.ts'
import type { Record } from '../../core/record.ts'
import type { IoContext, SourceReader, SourceSpec } from '../../core/source.ts'

/** A seeded pseudo-random stream (mulberry32): `next()` in [0, 1), `int(n)` in [0, n). */
export class Random {
  private state = 0
  /** A `reseed` not yet applied: it is applied by the next `next()`, so an unused one costs nothing. */
  private pending = false
  private pendingSeed = 0
  private pendingSeq = 0
  constructor(seed = 1) {
    this.state = seed >>> 0
  }
  /** Reseeds from (seed, sequence), so record n's randomness does not depend on partitioning. */
  reseed(seed: number, seq: number): void {
    this.pendingSeed = seed
    this.pendingSeq = seq
    this.pending = true
  }
  private applySeed(): void {
    const seed = this.pendingSeed
    const seq = this.pendingSeq
    let h =
      (seed ^ Math.imul(seq | 0, 0x9e3779b1) ^ Math.imul(Math.floor(seq / 4294967296), 0x85ebca6b)) >>> 0
    h = Math.imul(h ^ (h >>> 16), 0x7feb352d)
    this.state = (h ^ (h >>> 15)) >>> 0
    this.pending = false
  }
  next(): number {
    if (this.pending) this.applySeed()
    this.state = (this.state + 0x6d2b79f5) | 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  int(n: number): number {
    return Math.floor(this.next() * n)
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!
  }
}

/** Options of the generator source. */
export interface GeneratorOptions<T> {
  /** Makes record number `seq` (0, 1, 2, …); `random` is seeded from (seed, seq). */
  make: (seq: number, random: Random) => T
  /** Number of records; omit for an unbounded stream. */
  count?: number
  /** Records per second over all partitions; omit for as fast as possible. */
  rate?: number
  seed?: number
  tag?: string
  /** Event time of record `seq`; default: the time it is generated. */
  time?: (seq: number, value: T) => number
  /** Stop after this long (processing time); the stream is then bounded. */
  duration?: Duration
}

/**
 * Sequence numbers already produced, beyond a partition's own progress: every `s` with
 * `from ≤ s < to` and `s mod mod = rem`. Appear in positions after a restore at another parallelism.
 */
export interface SeqRange {
  mod: number
  rem: number
  from: number
  to: number
}

/**
 * A generator partition's position: the next sequence number it produces (it then steps by the
 * partition count), and the sequence numbers to skip because an earlier run produced them.
 */
export interface GeneratorPosition {
  seq: number
  skip?: SeqRange[]
  /**
   * The partition ran out its `duration`: restored at the same parallelism it stays ended (a new
   * run would otherwise start a new duration). A rescale drops it.
   */
  ended?: true
}

/**
 * Maps the positions of P partitions to `partitions` new ones. Everything below the lowest `seq`
 * is done; above it, old partition p has produced its residue class up to its `seq`, recorded as
 * skip ranges that every new partition honours. New partition q starts at the first number ≥ that
 * lowest `seq` congruent to q.
 */
export function rescaleGenerator(
  positions: readonly (GeneratorPosition | null)[],
  partitions: number,
): GeneratorPosition[] {
  const P = positions.length
  const seqs = positions.map((p, i) => (typeof p?.seq === 'number' ? p.seq : i))
  const low = Math.min(...seqs)
  const skip: SeqRange[] = []
  seqs.forEach((seq) => {
    if (seq > low) skip.push({ mod: P, rem: seq % P, from: low, to: seq })
  })
  for (const pos of positions) {
    for (const r of pos?.skip ?? []) {
      if (r.to <= low) continue
      const from = Math.max(r.from, low)
      if (!skip.some((o) => o.mod === r.mod && o.rem === r.rem && o.from === from && o.to === r.to))
        skip.push({ ...r, from })
    }
  }
  const out: GeneratorPosition[] = []
  for (let q = 0; q < partitions; q++) {
    const seq = low + ((((q - low) % partitions) + partitions) % partitions)
    out.push(skip.length > 0 ? { seq, skip: skip.map((r) => ({ ...r })) } : { seq })
  }
  return out
}

/**
 * A deterministic source: partition p of P produces records p, p+P, p+2P, … so the same seed gives
 * the same records at any parallelism. Its position (the next sequence number) is checkpointed, and
 * a restore at another parallelism produces exactly the records the earlier run had not.
 */
export function generator<T>(options: GeneratorOptions<T>): SourceSpec<T> {
  check(
    typeof options?.make === 'function',
    'generator.make',
    'a function (seq, random) => value',
    options?.make,
  )
  if (options.count !== undefined)
    check(
      Number.isInteger(options.count) && options.count >= 0,
      'generator.count',
      'an integer ≥ 0',
      options.count,
    )
  if (options.rate !== undefined)
    check(options.rate > 0, 'generator.rate', 'a positive number of records per second', options.rate)
  const durationMs =
    options.duration === undefined ? undefined : toMillis(options.duration, 'generator.duration')
  return {
    kind: 'generator',
    bounded: options.count !== undefined || durationMs !== undefined,
    create: (ctx) => new GeneratorReader(options, ctx, durationMs),
    rescale: (positions, partitions) =>
      rescaleGenerator(positions as readonly (GeneratorPosition | null)[], partitions),
  }
}

/**
 * Fills `out[0..n)` with the records of sequence numbers `seq`, `seq + step`, …, each made with
 * `random` reseeded for it and timed `now` when the generator has no `time`; returns the next
 * sequence number.
 */
type FillLoop<T> = (
  out: Record<T>[],
  n: number,
  seq: number,
  step: number,
  seed: number,
  random: Random,
  tag: string,
  now: number,
) => number

/**
 * The loop making records with `make` (and `time`), made for each reader: every generator shares
 * `nextBatch`, so a loop written there would call every generator's `make` from one call site,
 * which the JIT then leaves as a generic call; a loop of its own calls one, and inlines it.
 */
function fillLoop<T>(make: GeneratorOptions<T>['make'], time: GeneratorOptions<T>['time']): FillLoop<T> {
  return generate<FillLoop<T>>(
    ['make', 'time'],
    `return function fill(out, n, seq, step, seed, random, tag, now) {
      for (let i = 0; i < n; i++, seq += step) {
        random.reseed(seed, seq)
        const value = make(seq, random)
        out[i] = { value, key: undefined, time: ${time ? 'time(seq, value)' : 'now'}, tag }
      }
      return seq
    }`,
    [make, time],
  )
}

class GeneratorReader<T> implements SourceReader<T> {
  /** Every batch is new records, made for the call. */
  readonly handsOver = true
  private seq: number
  private readonly step: number
  private readonly random: Random
  private readonly seed: number
  /**
   * When the first batch was asked for: the rate and the duration count from there, not from
   * `open`, so the time a job spends between opening its sources and running (restoring a
   * checkpoint, starting its threads) is not made up for with a burst.
   */
  private startedAt = 0
  private started = false
  private produced = 0
  private readonly ratePerPartition: number
  /** Numbers an earlier run produced (after a rescale); dropped once `seq` is past them all. */
  private skip: SeqRange[] = []
  private skipUntil = 0
  /** Ran out its duration (in this run or the one a restore came from). */
  private durationOver = false
  /** This reader's own loop making a batch of records (see `fillLoop`). */
  private readonly fill: FillLoop<T>

  constructor(
    private readonly options: GeneratorOptions<T>,
    private readonly ctx: IoContext,
    private readonly durationMs: number | undefined,
  ) {
    this.seq = ctx.partition
    this.step = ctx.partitions
    this.seed = options.seed ?? 1
    this.random = new Random(this.seed)
    this.ratePerPartition = options.rate === undefined ? 0 : options.rate / ctx.partitions
    this.fill = fillLoop(options.make, options.time)
  }

  nextBatch(max: number): Record<T>[] | null {
    const { options } = this
    const now = this.ctx.clock.now()
    if (!this.started) {
      this.started = true
      this.startedAt = now
    }
    if (this.durationOver) return null
    if (this.durationMs !== undefined && now - this.startedAt >= this.durationMs) {
      this.durationOver = true
      return null
    }
    if (options.count !== undefined && this.seq >= options.count) return null
    let n = max
    if (this.ratePerPartition > 0) {
      const due = Math.floor(((now - this.startedAt) / 1000) * this.ratePerPartition) - this.produced
      if (due <= 0) return []
      n = Math.min(n, due)
    }
    const tag = options.tag ?? ''
    const { make, time, count } = options
    const { random, seed, step } = this
    let seq = this.seq
    if (count !== undefined) n = Math.min(n, Math.ceil((count - seq) / step))
    let out: Record<T>[]
    if (seq >= this.skipUntil && Number.isInteger(n) && n <= 65_536) {
      // Nothing left to skip (the usual case): exactly n records, in an array of that size.
      out = new Array<Record<T>>(n)
      seq = this.fill(out, n, seq, step, seed, random, tag, now)
    } else {
      out = []
      for (; out.length < n && (count === undefined || seq < count); seq += step) {
        if (seq < this.skipUntil && this.skipped(seq)) continue
        random.reseed(seed, seq)
        const value = make(seq, random)
        out.push({ value, key: undefined, time: time ? time(seq, value) : now, tag })
      }
    }
    this.seq = seq
    this.produced += out.length
    return out
  }

  ready(): Promise<void> {
    if (this.ratePerPartition <= 0) return Promise.resolve()
    const wait = Math.max(1, Math.ceil(1000 / this.ratePerPartition))
    return new Promise((resolve) => setTimeout(resolve, Math.min(wait, 20)))
  }

  private skipped(seq: number): boolean {
    for (const r of this.skip) if (seq >= r.from && seq < r.to && seq % r.mod === r.rem) return true
    return false
  }

  snapshot(): GeneratorPosition {
    const p: GeneratorPosition = { seq: this.seq }
    if (this.seq < this.skipUntil) p.skip = this.skip.filter((r) => r.to > this.seq).map((r) => ({ ...r }))
    if (this.durationOver) p.ended = true
    return p
  }

  restore(position: unknown): void {
    const p = position as GeneratorPosition
    if (typeof p?.seq !== 'number') return
    this.seq = p.seq
    this.skip = (p.skip ?? []).map((r) => ({ ...r }))
    this.skipUntil = this.skip.reduce((m, r) => Math.max(m, r.to), 0)
    this.durationOver = p.ended === true
  }
}

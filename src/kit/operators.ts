// The kit as stream operators: a distinct-count aggregate for windows, a per-window top-K, and keyed
// trend, brute-force, crawler and rate-limit operators whose per-key state lives in keyed stores.

import type { Aggregate } from '../core/operators.ts'
import type { Collector, Processor, ProcessorContext, Timer } from '../core/processor.ts'
import type { Key, Record } from '../core/record.ts'
import { DeferredCopy, copyState, type MapState, type StateOptions, type ValueState } from '../core/state.ts'
import { toMillis } from '../core/duration.ts'
import { check } from '../core/errors.ts'
import type { WindowResult } from '../core/window/window.ts'
import {
  type BruteForceAlert,
  BruteForceRule,
  type BruteForceOptions,
  type LoginEvent,
} from './brute-force.ts'
import {
  CrawlerClient,
  type CrawlerDecision,
  CrawlerDetector,
  type CrawlerOptions,
  type HttpRequest,
} from './crawler.ts'
import type { Action } from './decision.ts'
import { hashLow, hashNumber, hashString } from './hash.ts'
import { estimateDistinct, estimateUnion, maxRegisters } from './hyperloglog.ts'
import {
  SlidingWindowLimiter,
  type SlidingWindowOptions,
  TokenBucketLimiter,
  type TokenBucketOptions,
} from './rate-limit.ts'
import { snapshotError } from './snapshot.ts'
import { type RankKey, type Ranked, TopK } from './top-k.ts'
import { type TrendOptions, TrendTracker } from './trend.ts'

// --- kit objects in keyed state ---

/** What a keyed store holds for one key: the kit object's snapshot, read when the store is copied. */
/** What a kit object gives of itself for checkpoints: a snapshot now, or one built later (`freeze`). */
interface Snapshots {
  snapshot(): unknown
  freeze?(): () => unknown
}

interface KitCell<K> {
  readonly data: unknown
  readonly live?: K
}

/**
 * A kit object per key, kept in the keyed value store `name`. The store holds a cell whose
 * enumerable `data` getter returns the object's `snapshot()`, so the snapshot is taken when the
 * store is copied (a checkpoint's capture, an LMDB write-back), not on every record; the live object
 * rides along as a non-enumerable property that copies leave behind. A cell read back from a
 * checkpoint or from LMDB carries only `data`, and is restored on first use.
 */
class KitState<K extends Snapshots> {
  private cell: KitCell<K> | undefined
  constructor(
    private readonly store: ValueState<KitCell<K>>,
    private readonly restore: (data: unknown) => K,
  ) {}

  /** The current key's object, or undefined when the key has none. */
  get(): K | undefined {
    const c = this.store.get()
    this.cell = c
    if (c === undefined) return undefined
    if (c.live !== undefined) return c.live
    const live = this.restore(c.data)
    this.cell = cellOf(live)
    this.store.set(this.cell)
    return live
  }

  /** The current key's object, made with `create` when it has none. */
  getOrCreate(create: () => K): K {
    const live = this.get()
    if (live !== undefined) return live
    const made = create()
    this.cell = cellOf(made)
    this.store.set(this.cell)
    return made
  }

  /** Writes the object read last back to the store (after changing it): refreshes its TTL, marks it dirty. */
  commit(): void {
    if (this.cell !== undefined) this.store.set(this.cell)
  }

  clear(): void {
    this.cell = undefined
    this.store.clear()
  }
}

function cellOf<K extends Snapshots>(live: K): KitCell<K> {
  const cell = {
    get data() {
      return live.freeze === undefined ? live.snapshot() : live.freeze()()
    },
  }
  Object.defineProperty(cell, 'live', { value: live, enumerable: false })
  // A checkpoint's copy: the snapshot now, or, for objects that can freeze cheaply, later.
  Object.defineProperty(cell, copyState, {
    value: () => {
      const later = live.freeze?.()
      return later === undefined ? { data: live.snapshot() } : new DeferredCopy(() => ({ data: later() }))
    },
    enumerable: false,
  })
  return cell as KitCell<K>
}

/** The next multiple of `step` after `time`. */
function nextTick(time: number, step: number): number {
  return (Math.floor(time / step) + 1) * step
}

/**
 * The moments of each step a cleanup timer may go to (see `cleanupTick`); a prime, so that event
 * times on round numbers (whole seconds) still spread over all of them.
 */
const CLEANUP_SLOTS = 17

/**
 * When the cleanup of a key whose latest event came at `latest` is due: after `latest + idle`, at
 * one of {@link CLEANUP_SLOTS} moments of the step `idle`, chosen by the milliseconds of `latest`.
 * On the multiples of the step themselves, the timers of every key fired together when the
 * watermark crossed one: the demo's 50 000 crawler clients, every 15 simulated minutes, held their
 * thread for 70 ms, and for 150 ms when a checkpoint was pending (each client read is then copied).
 * Spread over the step, each advance of the watermark fires a share of them.
 *
 * A keyed operator registers one when its key's latest event moves to a new step (`nextTick` of
 * the event time: one timer per key and step, with no hash of the key), and a cleanup timer that
 * finds its key active registers the next one, so a key is dropped within a step of falling idle.
 */
function cleanupTick(latest: number, idle: number): number {
  const offset = (Math.floor(latest) % CLEANUP_SLOTS) * Math.floor(idle / CLEANUP_SLOTS)
  return nextTick(latest + idle - offset, idle) + offset
}

// --- distinct counting ---

/**
 * The accumulator of `distinctCountAggregate`: the high 32 bits of the values' hashes while few
 * (`hashes32`), else HLL registers (`registers`). Plain data: it is checkpointed as it is.
 *
 * The hashes are kept in a typed array, an open-addressing table: 4 bytes a slot, outside the
 * heap's object graph, so a garbage collection does not visit them, and a checkpoint writes the
 * table as one block of bytes. A `Set` of them took about 24 bytes a value, and the demo's ranking,
 * 135 000 of them, made 100 MB of each worker's heap that every full collection went through.
 */
export interface DistinctSketch {
  p: number
  /**
   * While exact: the distinct 32-bit hashes, in a table a power of two long (linear probing, at
   * most three quarters full) where 0 marks an empty slot; null once the sketch is registers.
   */
  hashes32: Int32Array | null
  /** How many distinct hashes the sketch holds while exact, the hash 0 included. */
  size: number
  /** Whether the hash 0 is among them: it has no slot in the table, where 0 marks an empty one. */
  zero: boolean
  registers: Uint8Array | null
}

/**
 * The sketch as earlier versions checkpointed it: a `Set` of 32-bit hashes, or (earlier still) of
 * 52-bit hashes (high 32 bits × 2^20 + 20 more).
 */
interface OldSketch {
  p: number
  hashes32?: Set<number> | null
  hashes?: Set<number> | null
  size?: undefined
  registers: Uint8Array | null
}

/** Slots of a new sketch's table of hashes: 32 bytes, held in the typed array object itself. */
const FIRST_SLOTS = 8

/** A table of `slots` slots holding the non-zero hashes of `from` (a table, or a set of old). */
function hashTable(slots: number, from: Iterable<number>): Int32Array {
  const out = new Int32Array(slots)
  const mask = slots - 1
  for (const h of from) {
    if (h === 0) continue
    let i = h & mask
    while (out[i] !== 0) i = (i + 1) & mask
    out[i] = h
  }
  return out
}

/** Adds hash `h` (an int32) to an exact sketch. */
function addHash32(acc: DistinctSketch, h: number): void {
  if (h === 0) {
    if (!acc.zero) {
      acc.zero = true
      acc.size++
    }
    return
  }
  const t = acc.hashes32!
  const mask = t.length - 1
  let i = h & mask
  for (let x = t[i]!; x !== 0; x = t[i]!) {
    if (x === h) return
    i = (i + 1) & mask
  }
  t[i] = h
  if (++acc.size * 4 > t.length * 3) acc.hashes32 = hashTable(t.length * 2, t)
}

/** Whether an exact sketch holds hash `h`. */
function hasHash32(acc: DistinctSketch, h: number): boolean {
  if (h === 0) return acc.zero
  const t = acc.hashes32!
  const mask = t.length - 1
  let i = h & mask
  for (let x = t[i]!; x !== 0; x = t[i]!) {
    if (x === h) return true
    i = (i + 1) & mask
  }
  return false
}

/** Version of the packed form of distinct sketches (`packSketches`). */
const SKETCHES_VERSION = 1
/** Per sketch in the packed form: the tag of what follows its header. */
const EXACT = 0
const EXACT_WITH_ZERO = 1
const DENSE = 2

/**
 * Distinct sketches (of this version's form) as bytes, in 32-bit words of the platform's byte
 * order (little-endian on x64 and arm64), so that the hashes are written and read as an
 * `Int32Array`: a header word (the version in its first byte), the number of sketches, then per
 * sketch a header word (a tag byte, then the precision `p`) and either the hashes of an exact
 * sketch (their number, then each hash, without the table's empty slots; the hash 0 in the tag)
 * or the 2^p registers of a dense one.
 */
function packSketches(accs: readonly DistinctSketch[]): Uint8Array {
  let size = 8
  for (let i = 0; i < accs.length; i++) {
    const a = accs[i]!
    size += 4 + (a.registers !== null ? a.registers.length : 4 + 4 * (a.size - (a.zero ? 1 : 0)))
  }
  // Its own memory (offset 0, so aligned for the words), every byte written below.
  const buf = Buffer.allocUnsafeSlow(size)
  const words = new Int32Array(buf.buffer, buf.byteOffset, size >> 2)
  words[0] = 0
  buf[0] = SKETCHES_VERSION
  words[1] = accs.length
  let w = 2
  for (let i = 0; i < accs.length; i++) {
    const a = accs[i]!
    words[w] = 0
    buf[w * 4 + 1] = a.p
    if (a.registers !== null) {
      buf[w * 4] = DENSE
      buf.set(a.registers, w * 4 + 4)
      w += 1 + (a.registers.length >> 2)
      continue
    }
    buf[w * 4] = a.zero ? EXACT_WITH_ZERO : EXACT
    words[w + 1] = a.size - (a.zero ? 1 : 0)
    w += 2
    const t = a.hashes32!
    for (let j = 0; j < t.length; j++) {
      const h = t[j]!
      if (h !== 0) words[w++] = h
    }
  }
  return buf
}

/** Reads `packSketches` output; throws ERR_KIT_SNAPSHOT on bytes of another form or cut short. */
function unpackSketches(bytes: Uint8Array): DistinctSketch[] {
  const bad = (what: string, got: unknown = `${bytes.length} bytes`) =>
    snapshotError('distinctCount', 'packed', what, got)
  if (bytes.length < 8 || bytes.length % 4 !== 0 || bytes[0] !== SKETCHES_VERSION)
    throw bad(`version ${SKETCHES_VERSION} of packed sketches`)
  // A copy when the bytes do not start on a word (a view into a larger buffer).
  const b = bytes.byteOffset % 4 === 0 ? bytes : new Uint8Array(bytes)
  const words = new Int32Array(b.buffer, b.byteOffset, b.length >> 2)
  const out: DistinctSketch[] = []
  let w = 2
  for (let i = words[1]!; i > 0; i--) {
    if (w >= words.length) throw bad('a complete list of sketches')
    const tag = b[w * 4]!
    const p = b[w * 4 + 1]!
    if (p < 4 || p > 18) throw bad('a precision from 4 to 18', p)
    if (tag === DENSE) {
      const m = 1 << p
      if ((w + 1) * 4 + m > b.length) throw bad(`${m} registers`)
      // A copy, not a view (a Buffer's `slice`): a view would keep the whole file's buffer alive.
      const registers = new Uint8Array(b.subarray((w + 1) * 4, (w + 1) * 4 + m))
      out.push({ p, hashes32: null, size: 0, zero: false, registers })
      w += 1 + (m >> 2)
      continue
    }
    if (tag !== EXACT && tag !== EXACT_WITH_ZERO) throw bad('a sketch tag 0, 1 or 2', tag)
    if (w + 1 >= words.length) throw bad('a complete list of sketches')
    const n = words[w + 1]!
    w += 2
    if (n < 0 || w + n > words.length) throw bad(`${n} hashes`)
    const size = n + (tag === EXACT_WITH_ZERO ? 1 : 0)
    let slots = FIRST_SLOTS
    while (size * 4 > slots * 3) slots *= 2
    const hashes = words.subarray(w, w + n)
    if (hashes.includes(0)) throw bad('non-zero hashes', 0)
    w += n
    out.push({ p, hashes32: hashTable(slots, hashes), size, zero: tag === EXACT_WITH_ZERO, registers: null })
  }
  if (w !== words.length) throw bad(`${w * 4} bytes`)
  return out
}

/** Options of `distinctCountAggregate`. */
export interface DistinctCountOptions {
  /** HyperLogLog precision, 4..18 (default 14: relative standard error 0.81 %). */
  p?: number
  /** Distinct values kept exactly before switching to registers. Default 2^p / 16. */
  exactUpTo?: number
}

const TWO_20 = 1_048_576

/**
 * Distinct count as an incremental, mergeable `Aggregate` for windows and rolling aggregates.
 * Counts exactly while an accumulator holds at most `exactUpTo` values, up to collisions of their
 * 32-bit hashes: n values fall short by n(n − 1)/2^33 on average, 1.2 × 10⁻⁴ at the default 1 024
 * (p = 14), 1 at 92 000. Past that it becomes a HyperLogLog of precision `p` with the kit's
 * registers, hash and estimator (relative standard error 1.04/√2^p). `merge` is exact on the union
 * in both forms, so hopping windows combine their slices without double counting. Values hash by
 * value: `1` and `"1"` differ. A window checkpoints one key's sketches together as one block of
 * bytes (`pack`: the hashes without the table's empty slots, or the registers). Sketches
 * checkpointed by earlier versions (a `Set` of 32-bit or of 52-bit hashes, or each sketch as an
 * object) are converted when first used.
 */
export function distinctCountAggregate<T>(
  fn: (value: T) => string | number,
  options: DistinctCountOptions = {},
): Aggregate<T, DistinctSketch, number> {
  const p = options.p ?? 14
  check(Number.isInteger(p) && p >= 4 && p <= 18, 'distinctCount.p', 'an integer from 4 to 18', p)
  const limit = options.exactUpTo ?? (1 << p) >>> 4
  check(Number.isInteger(limit) && limit >= 0, 'distinctCount.exactUpTo', 'an integer ≥ 0', options.exactUpTo)
  const shift = 32 - p
  let scratch: Uint8Array | undefined

  const addHash = (regs: Uint8Array, hi: number, lo: number): void => {
    const index = hi >>> shift
    const rest = hi << p
    const rank = rest !== 0 ? Math.clz32(rest) + 1 : shift + (lo !== 0 ? Math.clz32(lo) : 32) + 1
    if (rank > regs[index]!) regs[index] = rank
  }
  // A kept hash has no low half: read as one whose first bit is set, the lowest rank past the high
  // half (which matters for 1 value in 2^(32 − p)).
  const addHigh = (regs: Uint8Array, hi: number): void => addHash(regs, hi, 0x80000000)
  /** Adds the hashes of an exact sketch to `regs`. */
  const addAll = (regs: Uint8Array, acc: DistinctSketch): void => {
    const t = acc.hashes32!
    for (let i = 0; i < t.length; i++) if (t[i] !== 0) addHigh(regs, t[i]!)
    if (acc.zero) addHigh(regs, 0)
  }
  /** Turns an exact sketch into registers. */
  const densify = (acc: DistinctSketch, regs: Uint8Array = new Uint8Array(1 << p)): void => {
    addAll(regs, acc)
    acc.hashes32 = null
    acc.size = 0
    acc.zero = false
    acc.registers = regs
  }
  /** The sketch in this version's form: one checkpointed by an earlier version is converted in place. */
  const current = (acc: DistinctSketch): DistinctSketch => {
    if (acc.size !== undefined) return acc
    const old = acc as unknown as OldSketch
    let hashes: Set<number> | null = null
    if (old.hashes32 != null) hashes = old.hashes32
    else if (old.hashes != null) {
      hashes = new Set()
      for (const h of old.hashes) hashes.add(Math.floor(h / TWO_20) | 0)
    }
    old.hashes = undefined
    acc.hashes32 = null
    acc.size = 0
    acc.zero = false
    if (hashes !== null) {
      let slots = FIRST_SLOTS
      while (hashes.size * 4 > slots * 3) slots *= 2
      acc.hashes32 = hashTable(slots, hashes)
      acc.size = hashes.size
      acc.zero = hashes.has(0)
    }
    return acc
  }
  return {
    create: () => ({ p, hashes32: new Int32Array(FIRST_SLOTS), size: 0, zero: false, registers: null }),
    add(acc, value) {
      const v = fn(value)
      const hi = typeof v === 'number' ? hashNumber(v) : hashString(v)
      if (current(acc).hashes32 === null) addHash(acc.registers!, hi, hashLow)
      else {
        addHash32(acc, hi)
        if (acc.size > limit) densify(acc)
      }
      return acc
    },
    merge(a, b) {
      current(a)
      current(b)
      if (b.registers !== null) {
        if (a.registers !== null) maxRegisters(a.registers, b.registers)
        // A set into registers: a copy of b's, with a's hashes added (the union either way).
        else densify(a, b.registers.slice())
      } else if (a.registers !== null) {
        addAll(a.registers, b)
      } else if (b.size > a.size) {
        // Two sets, b the larger: a becomes a copy of b's table (one block copy) with a's hashes
        // added, rather than b's hashes added one by one to a's table as it grows. A window's
        // partial merges take this way when a slice is merged with the later ones (see
        // SlidingMerges), and a copy (`merge(create(), x)`) too.
        const own = a.hashes32!
        const ownZero = a.zero
        a.hashes32 = b.hashes32!.slice()
        a.size = b.size
        a.zero = b.zero
        for (let i = 0; i < own.length; i++) if (own[i] !== 0) addHash32(a, own[i]!)
        if (ownZero) addHash32(a, 0)
        if (a.size > limit) densify(a)
      } else {
        const t = b.hashes32!
        for (let i = 0; i < t.length; i++) if (t[i] !== 0) addHash32(a, t[i]!)
        if (b.zero) addHash32(a, 0)
        if (a.size > limit) densify(a)
      }
      return a
    },
    result(acc) {
      current(acc)
      return acc.registers === null ? acc.size : estimateDistinct(acc.registers)
    },
    pack(accs) {
      for (let i = 0; i < accs.length; i++) current(accs[i]!)
      return packSketches(accs)
    },
    unpack: unpackSketches,
    mergedResult(a, b) {
      current(a)
      current(b)
      if (a.registers === null && b.registers === null) {
        const small = a.size <= b.size ? a : b
        const large = small === a ? b : a
        let n = large.size
        const t = small.hashes32!
        for (let i = 0; i < t.length; i++) if (t[i] !== 0 && !hasHash32(large, t[i]!)) n++
        if (small.zero && !large.zero) n++
        if (n <= limit) return n
      }
      if (a.registers !== null && b.registers !== null) return estimateUnion(a.registers, b.registers)
      // What `merge` would make: the registers of one (or none), with the hashes of the other.
      const regs = (scratch ??= new Uint8Array(1 << p))
      const dense = a.registers ?? b.registers
      if (dense === null) regs.fill(0)
      else regs.set(dense)
      if (a.hashes32 !== null) addAll(regs, a)
      if (b.hashes32 !== null) addAll(regs, b)
      return estimateDistinct(regs)
    },
  }
}

// --- top-K per window ---

/** The best entries of one window, best first (score descending, then key ascending). */
export interface WindowTopK {
  windowStart: number
  windowEnd: number
  top: Ranked<RankKey>[]
}

/**
 * Ranks the results of a windowed aggregate per window: feed it `WindowResult<number>`s keyed by
 * `windowEnd` (`.keyBy((r) => r.windowEnd).process(name, topKOperator({ k: 10 }))`). Each result
 * offers its key with its value as score into the window's `TopK` (kept in keyed state); when the
 * watermark reaches the window's last instant the ranking is emitted once, with time `windowEnd − 1`,
 * and the window's state is dropped. Exact when each key has one result per window, or when its
 * results only grow (early firings of counts); results arriving after the ranking was emitted
 * (late firings) are not ranked.
 */
export function topKOperator(options: { k: number }): () => Processor<WindowResult<number>, WindowTopK> {
  const k = options?.k
  check(Number.isInteger(k) && k >= 1, 'topK.k', 'a positive integer', k)
  return () => {
    let ranking!: KitState<TopK<RankKey>>
    let bounds!: ValueState<number>
    let ctx!: ProcessorContext
    return {
      open(c) {
        ctx = c
        ranking = new KitState(c.state.value('top-k'), (d) => TopK.restore<RankKey>(d))
        bounds = c.state.value<number>('window-start')
      },
      process(r, _out) {
        const v = r.value
        if (v.windowEnd - 1 <= ctx.timers.currentWatermark()) {
          ctx.count('late')
          return
        }
        const top = ranking.getOrCreate(() => TopK.create<RankKey>(k))
        top.offer(v.key as RankKey, v.value)
        ranking.commit()
        if (bounds.get() === undefined) {
          bounds.set(v.windowStart)
          ctx.timers.registerEventTimer(v.windowEnd - 1)
        }
      },
      onTimer(timer, out) {
        const top = ranking.get()
        const start = bounds.get()
        if (top !== undefined && start !== undefined) {
          out.emitRecord({
            value: { windowStart: start, windowEnd: timer.time + 1, top: top.entries() },
            key: timer.key,
            time: timer.time,
            tag: '',
          })
        }
        ranking.clear()
        bounds.clear()
      },
    }
  }
}

// --- trends ---

/** One key's trend at the end of a slide. */
export interface TrendPoint {
  key: RankKey
  /** The last instant of the slide judged. */
  time: number
  score: number
  ratio: number
  recent: number
  baseline: number
  expected: number
  /** Whether the key passes every threshold (see `TrendTracker`). */
  trending: boolean
}

/** Options of `trendOperator`: the tracker's, plus where history starts and what to emit. */
export interface TrendOperatorOptions<T> extends TrendOptions {
  /** The weight of a record (a pre-aggregated count); default 1. */
  weight?: (value: T) => number
  /**
   * The event time history starts at: every key's baseline counts from here, so a new key that
   * bursts is judged against an empty past rather than not at all. Default: the time of the first
   * record the task sees (pass it explicitly for runs resumed from a checkpoint to match exactly).
   */
  since?: number
  /** `'trending'` (default): emit only trending keys; `'active'`: every key with a recent count. */
  emit?: 'trending' | 'active'
}

/**
 * Per-key trend detection on a keyed stream (keyed by the term): each key has its own
 * `TrendTracker` in keyed state. A record's weight waits in keyed state until the watermark passes
 * the end of its slide, then goes into the tracker, so slides are judged in event-time order
 * whatever the arrival order; records for a slide already judged are counted as `late`. At the end of
 * every slide in which the key has recent observations, the operator emits its `TrendPoint` (time =
 * the slide's last instant), when the watermark passes it. A key whose counts all left the tracked
 * span is dropped from state. Output per key is in time order.
 */
export function trendOperator<T>(options: TrendOperatorOptions<T> = {}): () => Processor<T, TrendPoint> {
  const { weight, since, emit = 'trending', ...trend } = options
  TrendTracker.create(trend)
  const slide = toMillis(trend.slide ?? '1m', 'trend.slide')
  check(emit === 'trending' || emit === 'active', 'trend.emit', 'one of "trending", "active"', emit)
  return () => {
    let trackers!: KitState<TrendTracker>
    let pending!: MapState<number, number>
    let ctx!: ProcessorContext
    let first = since
    return {
      open(c) {
        ctx = c
        trackers = new KitState(c.state.value('trend'), (d) => TrendTracker.restore(d))
        pending = c.state.map<number, number>('pending')
      },
      process(r, _out) {
        if (first === undefined) first = r.time
        const at = nextTick(r.time, slide) - 1
        if (at <= ctx.timers.currentWatermark()) {
          ctx.count('late')
          return
        }
        const w = weight === undefined ? 1 : weight(r.value)
        pending.set(at, (pending.get(at) ?? 0) + w)
        ctx.timers.registerEventTimer(at)
      },
      onTimer(timer, out) {
        const key = ctx.currentKey as RankKey
        const now = timer.time
        const origin = first ?? now
        const tracker = trackers.getOrCreate(() => {
          const t = TrendTracker.create(trend)
          t.observe(key, Math.min(origin, now), 0)
          return t
        })
        const w = pending.get(now)
        if (w !== undefined) {
          tracker.observe(key, now, w)
          pending.delete(now)
        }
        if (tracker.evictIdle(now) > 0 && tracker.size === 0 && pending.size === 0) {
          trackers.clear()
          return
        }
        trackers.commit()
        const s = tracker.scores(now)[0]
        if (s !== undefined && s.recent > 0) {
          const trending = tracker.trending(now, 1).length > 0
          if (trending || emit === 'active') {
            const { score, ratio, recent, baseline, expected } = s
            out.emit({ key, time: now, score, ratio, recent, baseline, expected, trending })
          }
        }
        ctx.timers.registerEventTimer(now + slide)
      },
    }
  }
}

// --- abuse detection ---

/** A decision of a keyed detector, with the event time that caused it. */
export type TimedDecision<D> = D & { time: number }

/**
 * Brute-force detection on a stream keyed by the rule's `by` (the IP, or the user): each key's
 * recent failure times live in keyed state (a sorted list; a key with none has no state), and the
 * `BruteForceRule` decides. Emits the kit's alert, plus `time`, when a login completes the pattern.
 * Keys idle for the rule's `idle` are dropped by event-time cleanup. Logins must arrive in
 * event-time order per key.
 */
export function bruteForceOperator(
  options: BruteForceOptions = {},
  state: StateOptions = {},
): () => Processor<LoginEvent, TimedDecision<BruteForceAlert>> {
  const rule = new BruteForceRule(options)
  const idle = rule.idle
  return () => {
    let failures!: ValueState<number[]>
    let ctx!: ProcessorContext
    return {
      open(c) {
        ctx = c
        failures = c.state.value<number[]>('failures', state)
      },
      process(r, out) {
        const event = r.value
        let times = failures.get()
        if (times === undefined) {
          if (event.success) return
          times = []
        }
        const previous = times.length > 0 ? times[times.length - 1]! : undefined
        const alert = rule.apply(times, event, rule.keyOf(event))
        if (alert !== undefined) out.emit({ ...alert, time: event.time })
        if (times.length === 0) {
          failures.clear()
          return
        }
        failures.set(times)
        // One cleanup timer per key and step (see `cleanupTick`).
        const latest = times[times.length - 1]!
        if (previous === undefined || nextTick(latest, idle) !== nextTick(previous, idle))
          ctx.timers.registerEventTimer(cleanupTick(latest, idle))
      },
      onTimer(timer) {
        const times = failures.get()
        if (times === undefined) return
        const latest = times[times.length - 1]!
        if (rule.isIdle(latest, timer.time)) failures.clear()
        else ctx.timers.registerEventTimer(cleanupTick(latest, idle))
      },
    }
  }
}

/**
 * Crawler detection on a stream keyed by client IP (or `ip agent`, with `by: 'ip+agent'`): each
 * client's request history lives in keyed state (a `CrawlerClient`), judged by one detector per task
 * (whose cache of path hashes all clients share). The stream's key is the client: key it as the
 * detector's `keyOf` does (as `fraudPipeline` does), or clients sharing a key are judged as one. Emits a decision, plus `time`, when a client's
 * action escalates (allow → throttle → block). Clients with no request in the history window are
 * dropped by event-time cleanup.
 */
export function crawlerOperator(
  options: CrawlerOptions = {},
  state: StateOptions = {},
): () => Processor<HttpRequest, TimedDecision<CrawlerDecision>> {
  const history = toMillis(options.history ?? '1h', 'crawler.history')
  CrawlerDetector.create(options)
  return () => {
    const detector = CrawlerDetector.create(options)
    let clients!: KitState<CrawlerClient>
    let ctx!: ProcessorContext
    return {
      open(c) {
        ctx = c
        clients = new KitState(c.state.value('crawler', state), (d) =>
          CrawlerDetector.restoreClient(options, d, String(ctx.currentKey)),
        )
      },
      process(r, out) {
        const request = r.value
        const client = clients.getOrCreate(() => new CrawlerClient(detector.keyOf(request)))
        const last = client.lastTime
        const decision = detector.observeClient(client, request)
        if (decision !== undefined) out.emit({ ...decision, time: request.time })
        clients.commit()
        // One cleanup timer per client and step (see `cleanupTick`).
        const latest = client.lastTime!
        if (last === undefined || nextTick(latest, history) !== nextTick(last, history))
          ctx.timers.registerEventTimer(cleanupTick(latest, history))
      },
      onTimer(timer) {
        const client = clients.get()
        if (client === undefined) return
        if (detector.isIdle(client, timer.time)) clients.clear()
        else ctx.timers.registerEventTimer(cleanupTick(client.lastTime!, history))
      },
    }
  }
}

/** The limiter of `rateLimitOperator`: a sliding-window counter or a token bucket, with its options. */
export type RateLimit =
  | ({ limiter: 'sliding-window' } & SlidingWindowOptions)
  | ({ limiter: 'token-bucket' } & TokenBucketOptions)

/** A rate-limit verdict on one key at `time`. */
export interface RateDecision {
  action: Action
  key: string
  reason: string
  time: number
}

type Limiter = SlidingWindowLimiter | TokenBucketLimiter

/**
 * Per-key rate limiting on a keyed stream (the key is the client): each record is one request at
 * its event time, admitted by a one-key limiter kept in keyed state. Emits a decision only when the
 * key's action changes (allow → throttle, throttle → block, back to allow), so a flood yields a
 * handful of records, not one per request. Idle keys are dropped by event-time cleanup.
 */
export function rateLimitOperator<T>(
  options: RateLimit,
  state: StateOptions = {},
): () => Processor<T, RateDecision> {
  check(
    options?.limiter === 'sliding-window' || options?.limiter === 'token-bucket',
    'rateLimit.limiter',
    'one of "sliding-window", "token-bucket"',
    options?.limiter,
  )
  const create = (): Limiter =>
    options.limiter === 'sliding-window'
      ? SlidingWindowLimiter.create(options)
      : TokenBucketLimiter.create(options)
  const restore = (d: unknown): Limiter =>
    options.limiter === 'sliding-window'
      ? SlidingWindowLimiter.restore(options, d)
      : TokenBucketLimiter.restore(options, d)
  const idle = create().idle
  return () => {
    let limiters!: KitState<Limiter>
    let last!: ValueState<Action>
    let ctx!: ProcessorContext
    return {
      open(c) {
        ctx = c
        limiters = new KitState(c.state.value('limiter', state), restore)
        last = c.state.value<Action>('action', state)
      },
      process(r: Record<T>, out: Collector<RateDecision>) {
        const key = String(ctx.currentKey as Key)
        const l = limiters.getOrCreate(create)
        const d = l.decide(key, r.time)
        limiters.commit()
        const before = last.get() ?? 'allow'
        if (d.action !== before) {
          out.emit({ action: d.action, key, reason: d.reason, time: r.time })
          last.set(d.action)
        }
        ctx.timers.registerEventTimer(nextTick(r.time + idle, idle))
      },
      onTimer(timer: Timer) {
        const l = limiters.get()
        if (l !== undefined && l.evictIdle(timer.time) > 0 && l.size === 0) {
          limiters.clear()
          last.clear()
        }
      },
    }
  }
}

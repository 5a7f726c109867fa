// The window operator of tumbling, hopping and cumulating windows: each record folds into one slice
// (pane) of its key; a firing window combines the slices it covers. One timer chain per key.

import type { Collector, Processor, ProcessorContext, Timer, TimerService } from '../processor.ts'
import { hashKey } from '../key-group.ts'
import type { Key, Record } from '../record.ts'
import { type ValueState, copyState, copyStateValue } from '../state.ts'
import { SquallError } from '../errors.ts'
import { CumulatingWindows, HoppingWindows, type SlicedWindows } from './assigners.ts'
import type { Trigger, Firing } from './triggers.ts'
import type { Fold, WindowLogic } from './window-logic.ts'

/** A fold's pair of functions that write one key's slice accumulators as bytes and read them back. */
type AccCodec<A> = Required<Pick<Fold<unknown, A>, 'pack' | 'unpack'>>

/**
 * The window state of one key, kept in the node's keyed value store `windows`. A key has few live
 * slices (window size / slice, plus out-of-orderness), so they sit in small parallel arrays that a
 * linear scan searches faster than a Map.
 *
 * A checkpoint's copy (`copyState`) copies the arrays but shares the accumulators, and marks them
 * `shared`: the operator copies a shared accumulator before it next folds into it. Records go to
 * one or two recent slices, so a 60-minute window of 1-minute slices copies one accumulator per
 * key and checkpoint instead of sixty. Accumulators are only ever changed by `Fold.add` (merges
 * start from `Fold.create()`), which is what makes sharing them safe.
 *
 * With a fold that packs its accumulators (`Fold.pack`), the accumulators are written as one block
 * of bytes per key (`packed`, an enumerable getter, read when a checkpoint or a state backend
 * encodes the value) and `accs` is left out of what is written: sixty sketches of a page are then
 * one value to encode instead of sixty objects and their typed arrays.
 */
class KeyWindows<A> {
  /** Slice start times, and each slice's accumulator and "changed since the last early firing". */
  starts: number[] = []
  /** Set in the constructor: a plain field, or one left out of what is written (see above). */
  declare accs: A[]
  dirty: boolean[] = []
  /** The end of the latest window fired on time. */
  fired = Number.NEGATIVE_INFINITY
  /** A processing-time early firing is pending. */
  early = false
  /** Records per unfired window end, for `Trigger.everyRecords`. */
  counts: Map<number, number> | null = null
  /** Per slice: its accumulator is shared with a checkpoint's copy. Not part of the state. */
  declare shared: boolean[]
  /** How the accumulators are written, if packed. Not part of the state. */
  declare codec: AccCodec<A> | undefined

  constructor(codec?: AccCodec<A>) {
    Object.defineProperty(this, 'shared', { value: [], writable: true, enumerable: false })
    Object.defineProperty(this, 'codec', { value: codec, enumerable: false })
    if (codec === undefined) this.accs = []
    else {
      Object.defineProperty(this, 'accs', { value: [], writable: true, enumerable: false })
      Object.defineProperty(this, 'packed', { get: packedAccs, enumerable: true })
    }
  }

  /**
   * The state as a checkpoint restored it (plain data: `accs`, or `packed` when it was written
   * packed), with its methods back.
   */
  static from<A>(
    data: KeyWindows<A> & { packed?: Uint8Array },
    codec: AccCodec<A> | undefined,
  ): KeyWindows<A> {
    const st = new KeyWindows<A>(codec)
    st.starts = data.starts
    if (data.packed !== undefined) {
      if (codec === undefined)
        throw new SquallError(
          'ERR_STATE_FORMAT',
          'window state holds packed accumulators, but the aggregate has no unpack (was the job changed?)',
        )
      st.accs = codec.unpack(data.packed)
    } else st.accs = data.accs
    if (st.accs.length !== st.starts.length)
      throw new SquallError(
        'ERR_STATE_FORMAT',
        `window state has ${st.accs.length} accumulators for ${st.starts.length} slices`,
      )
    st.dirty = data.dirty
    st.fired = data.fired
    st.early = data.early
    st.counts = data.counts
    return st
  }

  /** Slice `i`'s accumulator, ready to be changed: copied first if a checkpoint shares it. */
  own(i: number): A {
    if (this.shared[i] === true) {
      this.shared[i] = false
      this.accs[i] = copyStateValue(this.accs[i]!)
    }
    return this.accs[i]!
  }

  [copyState](): unknown {
    const shared = this.shared
    shared.length = this.accs.length
    shared.fill(true)
    const accs = this.accs.slice()
    const codec = this.codec
    const rest = {
      dirty: this.dirty.slice(),
      fired: this.fired,
      early: this.early,
      counts: this.counts === null ? null : new Map(this.counts),
    }
    // Packed when it is encoded, not now: the accumulators it holds no longer change (see above).
    if (codec !== undefined)
      return {
        starts: this.starts.slice(),
        get packed() {
          return codec.pack(accs)
        },
        ...rest,
      }
    return { starts: this.starts.slice(), accs, ...rest }
  }
}

/**
 * The getter of `KeyWindows.packed`: one function for every key's state, so that every state has
 * the same shape (a getter made per object gives each its own, and every access site that sees
 * them goes megamorphic: the ranking bench ran 10–40 % slower).
 */
function packedAccs(this: KeyWindows<unknown>): Uint8Array {
  return this.codec!.pack(this.accs)
}

/**
 * Partial merges of one key's sealed slices, for on-time firings of windows that cover many slices
 * (the two-stacks sliding-window aggregation): the slices `[head, split)` each have the merge of
 * themselves and every later slice up to `split` (`suffix`), the slices `[split, n)` one running
 * merge (`back`). A window is then `suffix[head] ⊕ back`: two merges however many slices it covers;
 * a slice leaving the window is dropped from the front, and when the front is empty the back is
 * turned into suffixes (one merge per slice, once). Derived data: not checkpointed, rebuilt on use.
 *
 * Every key's windows end at the same times, so left to itself every key would rebuild its
 * suffixes at the same firing — a window's worth of merges for every key at once, every window
 * length. Each key so rebuilds them (front and back together) when the firing's slice number,
 * modulo the slices in a window, equals its `phase` (see {@link rebuildEnd}): the rebuilds spread
 * evenly over the firings, about one per window length per key.
 *
 * A key first fires here with the slices it holds then: one for a new key, which starts its back
 * with it, or many (a whole window for every key after a restore, whose merges are not
 * checkpointed). A key holding many fires by merging its slices `[head, n)` into one new
 * accumulator (`direct`, no front and no back) until its build firing, one of the next
 * {@link BUILD_SPREAD} (by its hash, so that restored keys do not all build at one firing): there,
 * the slices that leave before its phase become suffixes and the others the back, one merge per
 * slice as a rebuild, so that its front empties exactly at its phase. A key whose front empties
 * before its phase (a firing it missed) fires `direct` again until its phase comes.
 */
interface SlidingMerges<A> {
  starts: number[]
  /** The slices' accumulators; those before `head` have left and are dropped (undefined). */
  accs: (A | undefined)[]
  /** Front suffixes of `[head, split)`; as `accs`, none before `head`. */
  suffix: (A | undefined)[]
  head: number
  split: number
  back: A | undefined
  phase: number
  /** No front and no back: fire by merging `[head, n)` (then `split` = `head`). */
  direct: boolean
  /** The window end of the first firing at the phase (see {@link rebuildEnd}). */
  rebuildAt: number
  /** The window end of the firing that makes the merges of a key made `direct`; +∞ once made. */
  buildAt: number
}

/**
 * The firings over which keys first seen with many slices (every key after a restore) make their
 * partial merges: each fires `direct` until its own one of them. Few, as a direct firing costs
 * what a rebuild does; more than one, as a firing's rebuilds are its costliest.
 */
const BUILD_SPREAD = 8

/** A window covering at least this many slices fires from partial merges (below, merging them all is as cheap). */
const SLIDING_FROM = 8

/**
 * The window end of the firing at which a key whose partial merges are made at the firing of
 * window end `end` rebuilds them (see `SlidingMerges`): `1 + hash % n` firings (of `stepMs`) ahead,
 * `n` being the firings of a window after this one. Keys made together (every key after a restore,
 * whose merges are not checkpointed) so rebuild spread over a window length.
 */
export function rebuildEnd(
  hash: number,
  end: number,
  sliceMs: number,
  stepMs: number,
  spanSlices: number,
): number {
  const n = Math.max(1, Math.floor((spanSlices * sliceMs) / stepMs) - 1)
  return end + (1 + (hash % n)) * stepMs
}

/**
 * The phase of the firing of window end `end` (see `SlidingMerges`): its slice number modulo
 * `spanSlices`. A key rebuilds its partial merges at the firings of its own phase.
 */
export function phaseOf(end: number, sliceMs: number, spanSlices: number): number {
  return Math.floor(end / sliceMs) % spanSlices
}

/**
 * Runs sliced windows on a keyed stream (Flink SQL's slicing window operator).
 *
 * - A record at time t goes to slice `sliceOf(t)`; the slice's first unfired action (a window end
 *   − 1, or its cleanup time) is registered as an event timer when the slice is created. On each
 *   timer the key fires the window ending there (if it holds data), drops slices no window needs
 *   any more (watermark past their last window's end + grace) and registers its next action, so a
 *   key has about one pending timer whatever the number of overlapping windows.
 * - A record whose every window is past end + grace goes to the `late` side output and is counted
 *   in the metric `late`. A record within the grace updates its slice and re-fires every window
 *   of it the watermark has passed, marked `late`.
 * - Early triggers emit `early` results of windows not yet fired on time.
 * Output is emitted on the thread of the task, in window-end order per key.
 */
export class SlicedWindowOperator<T, A> implements Processor<T, unknown> {
  private state!: ValueState<KeyWindows<A>>
  private timers!: TimerService
  private ctx!: ProcessorContext
  private readonly fold: Fold<T, A>
  /** How a key's accumulators are written in checkpoints, when the fold packs them. */
  private readonly codec: AccCodec<A> | undefined
  private readonly grace: number
  private readonly step: number
  private readonly countEvery: number
  private readonly timeEvery: number
  private readonly singleSlice: boolean
  /** Per key, partial merges for on-time firings; only for incremental folds over many slices. */
  private readonly sliding: Map<Key, SlidingMerges<A>> | undefined
  /** Slices in the longest window (for the rebuild phase of `SlidingMerges`). */
  private readonly spanSlices: number

  constructor(
    private readonly windows: SlicedWindows,
    private readonly logic: WindowLogic<T, unknown>,
    triggers: readonly Trigger[],
  ) {
    this.fold = logic.fold as Fold<T, A>
    const { pack, unpack } = this.fold
    this.codec = pack !== undefined && unpack !== undefined ? { pack, unpack } : undefined
    this.grace = windows.graceMs
    this.step = windows.endStepMs
    this.countEvery = triggers.find((t) => t.kind === 'count')?.every ?? 0
    this.timeEvery = triggers.find((t) => t.kind === 'processing-time')?.every ?? 0
    this.singleSlice = windows.kind === 'tumbling'
    const span =
      windows instanceof HoppingWindows
        ? windows.sizeMs
        : windows instanceof CumulatingWindows
          ? windows.maxSizeMs
          : 0
    this.spanSlices = Math.max(1, Math.round(span / windows.sliceMs))
    this.sliding = this.fold.incremental && this.spanSlices >= SLIDING_FROM ? new Map() : undefined
  }

  open(ctx: ProcessorContext): void {
    this.ctx = ctx
    this.timers = ctx.timers
    this.state = ctx.state.value<KeyWindows<A>>('windows')
  }

  process(r: Record<T>, out: Collector<unknown>): void {
    const w = this.windows
    const s = w.sliceOf(r.time)
    const wm = this.timers.currentWatermark()
    if (w.lastEnd(s) - 1 + this.grace <= wm) {
      this.ctx.count('late')
      out.side('late', r.value)
      return
    }
    let st = this.read()
    if (st === undefined) st = new KeyWindows<A>(this.codec)
    const starts = st.starts
    let i = starts.length - 1
    while (i >= 0 && starts[i] !== s) i--
    if (i < 0) {
      i = starts.length
      starts.push(s)
      st.accs.push(this.fold.add(this.fold.create(), r.value))
      st.dirty.push(false)
      st.shared.push(false)
      const next = this.nextAction(s, wm)
      if (next !== Number.POSITIVE_INFINITY) this.timers.registerEventTimer(next)
    } else {
      st.accs[i] = this.fold.add(st.own(i), r.value)
    }
    if (this.sliding !== undefined) {
      // A record in a slice the partial merges hold (late, within the grace) makes them stale.
      const m = this.sliding.get(r.key as Key)
      if (m !== undefined && m.starts.length > 0 && s <= m.starts[m.starts.length - 1]!)
        this.sliding.delete(r.key as Key)
    }
    this.state.set(st)
    const firstEnd = w.firstEnd(s)
    if (firstEnd - 1 <= wm) this.fireLate(st, s, firstEnd, wm, out)
    if (this.countEvery > 0) this.countTrigger(st, s, wm, out)
    if (this.timeEvery > 0 && w.lastEnd(s) - 1 > wm) {
      st.dirty[i] = true
      if (!st.early) {
        st.early = true
        const now = this.timers.currentProcessingTime()
        this.timers.registerProcessingTimer(now - (now % this.timeEvery) + this.timeEvery)
      }
    }
  }

  /** The current key's window state; state restored from a checkpoint gets its methods back. */
  private read(): KeyWindows<A> | undefined {
    const st = this.state.get()
    if (st === undefined || st instanceof KeyWindows) return st as KeyWindows<A> | undefined
    const live = KeyWindows.from<A>(st as KeyWindows<A>, this.codec)
    this.state.set(live)
    return live
  }

  onTimer(timer: Timer, out: Collector<unknown>): void {
    const st = this.read()
    if (st === undefined) return
    if (timer.domain === 'processing') {
      this.earlyFiring(st, out)
      return
    }
    const w = this.windows
    const t = timer.time
    const end = t + 1
    if (end > st.fired && w.isEnd(end)) {
      if (this.sliding !== undefined) this.fireSliding(st, w.startOf(end), end, out)
      else this.fire(st, w.startOf(end), end, 'on-time', out)
      st.fired = end
      st.counts?.delete(end)
    }
    let next = Number.POSITIVE_INFINITY
    const { starts, accs, dirty, shared } = st
    let kept = 0
    for (let i = 0; i < starts.length; i++) {
      const s = starts[i]!
      if (w.lastEnd(s) - 1 + this.grace <= t) continue
      starts[kept] = s
      accs[kept] = accs[i]!
      dirty[kept] = dirty[i]!
      shared[kept] = shared[i] === true
      kept++
      const a = this.nextAction(s, t)
      if (a < next) next = a
    }
    starts.length = kept
    accs.length = kept
    dirty.length = kept
    shared.length = kept
    if (kept === 0) {
      this.state.clear()
      this.sliding?.delete(this.ctx.currentKey as Key)
      return
    }
    this.state.set(st)
    if (next !== Number.POSITIVE_INFINITY) this.timers.registerEventTimer(next)
  }

  /** The first moment after `after` when slice `s` needs attention: a window end − 1, or its cleanup. */
  private nextAction(s: number, after: number): number {
    const w = this.windows
    const first = w.firstEnd(s)
    if (first - 1 > after) return first - 1
    const last = w.lastEnd(s)
    if (last - 1 > after) {
      const step = this.step
      return first + Math.ceil((after + 2 - first) / step) * step - 1
    }
    const cleanup = last - 1 + this.grace
    return cleanup > after ? cleanup : Number.POSITIVE_INFINITY
  }

  /** Emits the window `[start, end)` of the current key from the slices it covers, if any. */
  private fire(st: KeyWindows<A>, start: number, end: number, firing: Firing, out: Collector<unknown>): void {
    const key = this.ctx.currentKey as Key
    const { starts, accs } = st
    if (this.singleSlice) {
      const i = starts.indexOf(start)
      if (i >= 0) this.logic.emit(key, start, end, firing, accs[i]!, out)
      return
    }
    // Merge in slice order, so order-sensitive aggregates (first, last, collect) see time order.
    const fold = this.fold
    let only = -1
    let acc!: A
    let merged = false
    let from = start
    for (;;) {
      let at = -1
      for (let i = 0; i < starts.length; i++) {
        const s = starts[i]!
        if (s >= from && s < end && (at < 0 || s < starts[at]!)) at = i
      }
      if (at < 0) break
      from = starts[at]! + 1
      if (only < 0) {
        only = at
        continue
      }
      if (!merged) {
        acc = fold.merge(fold.create(), accs[only]!)
        merged = true
      }
      acc = fold.merge(acc, accs[at]!)
    }
    if (merged) this.logic.emit(key, start, end, firing, acc, out)
    else if (only >= 0) this.logic.emit(key, start, end, firing, accs[only]!, out)
  }

  /**
   * Fires the window `[start, end)` on time from the key's partial merges: adds the slices sealed
   * since the last firing, drops those before `start`, and merges front and back.
   */
  private fireSliding(st: KeyWindows<A>, start: number, end: number, out: Collector<unknown>): void {
    const key = this.ctx.currentKey as Key
    const fold = this.fold
    let m = this.sliding!.get(key)
    let hash = -1
    if (m === undefined) {
      const sliceMs = this.windows.sliceMs
      hash = hashKey(key)
      const rebuildAt = rebuildEnd(hash, end, sliceMs, this.step, this.spanSlices)
      const phase = phaseOf(rebuildAt, sliceMs, this.spanSlices)
      m = {
        starts: [],
        accs: [],
        suffix: [],
        head: 0,
        split: 0,
        back: undefined,
        phase,
        direct: false,
        rebuildAt,
        buildAt: Number.POSITIVE_INFINITY,
      }
      this.sliding!.set(key, m)
    }
    // New sealed slices, in time order (usually one).
    const last = m.starts.length > 0 ? m.starts[m.starts.length - 1]! : Number.NEGATIVE_INFINITY
    const fresh: number[] = []
    for (let i = 0; i < st.starts.length; i++) {
      const s = st.starts[i]!
      if (s > last && s < end && s >= start) fresh.push(i)
    }
    fresh.sort((a, b) => st.starts[a]! - st.starts[b]!)
    // A key first seen with many slices fires direct until its build firing (see SlidingMerges).
    if (hash >= 0 && fresh.length > 1) {
      m.direct = true
      m.buildAt = end + ((hash >>> 16) % BUILD_SPREAD) * this.step
    }
    for (const i of fresh) {
      m.starts.push(st.starts[i]!)
      m.accs.push(st.accs[i]!)
      if (!m.direct) m.back = fold.merge(m.back ?? fold.create(), st.accs[i]!)
    }
    // Slices before the window leave from the front; one leaving the back drops it (direct).
    while (m.head < m.starts.length && m.starts[m.head]! < start) {
      if (m.head >= m.split) {
        m.direct = true
        m.back = undefined
      }
      // What left is not kept until the arrays are cut: a window's worth of sketches, unreachable.
      m.accs[m.head] = undefined
      m.suffix[m.head] = undefined
      m.head++
    }
    if (m.direct) {
      m.split = m.head
      if (end >= m.buildAt && end < m.rebuildAt) this.build(m)
    }
    // This key's turn to rebuild (see SlidingMerges): the front and the back become one front.
    if (m.split < m.starts.length && phaseOf(end, this.windows.sliceMs, this.spanSlices) === m.phase)
      this.flip(m, m.head)
    if (m.head > 32 && m.head * 2 > m.starts.length) {
      m.starts = m.starts.slice(m.head)
      m.accs = m.accs.slice(m.head)
      m.suffix = m.suffix.slice(m.head)
      m.split -= m.head
      m.head = 0
    }
    if (m.direct) {
      if (m.head >= m.starts.length) return
      let acc = fold.merge(fold.create(), m.accs[m.head]!)
      for (let i = m.head + 1; i < m.starts.length; i++) acc = fold.merge(acc, m.accs[i]!)
      this.logic.emit(key, start, end, 'on-time', acc, out)
      return
    }
    const front = m.head < m.split ? m.suffix[m.head] : undefined
    const back = m.split < m.starts.length ? m.back : undefined
    if (front === undefined && back === undefined) return
    if (back !== undefined && this.logic.emitMerged !== undefined) {
      // Without a front (a key's first window length, before its first rebuild), the back's result
      // with an empty front: no copy of the back, which a sketch's registers make 16 KB.
      this.logic.emitMerged(key, start, end, 'on-time', front ?? fold.create(), back, out)
      return
    }
    // The running back merge changes at the next firing: what is emitted is a copy of it.
    const acc =
      front === undefined
        ? fold.merge(fold.create(), back!)
        : back === undefined
          ? front
          : fold.merge(fold.merge(fold.create(), front), back)
    this.logic.emit(key, start, end, 'on-time', acc, out)
  }

  /**
   * Turns slices `from … n-1` (the back, or the front and the back) into front suffixes:
   * `suffix[i]` = slices `i … n-1` merged, in time order.
   */
  private flip(m: SlidingMerges<A>, from: number): void {
    this.suffixes(m, from, m.starts.length)
    m.back = undefined
    m.direct = false
  }

  /**
   * Makes the merges of a key that fires `direct` before its first phase: the slices that leave
   * before that firing become suffixes, the others the back, so the front empties at the phase.
   */
  private build(m: SlidingMerges<A>): void {
    const fold = this.fold
    const leaving = this.windows.startOf(m.rebuildAt)
    const n = m.starts.length
    let k = m.head
    while (k < n && m.starts[k]! < leaving) k++
    this.suffixes(m, m.head, k)
    let back: A | undefined
    for (let i = k; i < n; i++) back = fold.merge(back ?? fold.create(), m.accs[i]!)
    m.back = back
    m.direct = false
    m.buildAt = Number.POSITIVE_INFINITY
  }

  /** Makes slices `from … to-1` front suffixes (`suffix[i]` = slices `i … to-1` merged) up to `split` = `to`. */
  private suffixes(m: SlidingMerges<A>, from: number, to: number): void {
    const fold = this.fold
    let next: A | undefined
    for (let i = to - 1; i >= from; i--) {
      const own = fold.merge(fold.create(), m.accs[i]!)
      next = next === undefined ? own : fold.merge(own, next)
      m.suffix[i] = next
    }
    m.split = to
  }

  /** Re-fires the windows of slice `s` that the watermark has passed but that are within the grace. */
  private fireLate(
    st: KeyWindows<A>,
    s: number,
    firstEnd: number,
    wm: number,
    out: Collector<unknown>,
  ): void {
    const w = this.windows
    const last = w.lastEnd(s)
    for (let end = firstEnd; end <= last && end - 1 <= wm; end += this.step) {
      if (end - 1 + this.grace > wm) this.fire(st, w.startOf(end), end, 'late', out)
    }
  }

  /** `Trigger.everyRecords(n)`: counts the record in each unfired window of slice `s`. */
  private countTrigger(st: KeyWindows<A>, s: number, wm: number, out: Collector<unknown>): void {
    const w = this.windows
    const counts = (st.counts ??= new Map())
    for (let end = this.firstUnfired(s, wm); end <= w.lastEnd(s); end += this.step) {
      const c = (counts.get(end) ?? 0) + 1
      if (c >= this.countEvery) {
        counts.delete(end)
        this.fire(st, w.startOf(end), end, 'early', out)
      } else counts.set(end, c)
    }
  }

  /** `Trigger.every(interval)`: emits the unfired windows of every slice changed since last time. */
  private earlyFiring(st: KeyWindows<A>, out: Collector<unknown>): void {
    st.early = false
    const wm = this.timers.currentWatermark()
    const w = this.windows
    const ends = new Set<number>()
    for (let i = 0; i < st.starts.length; i++) {
      if (!st.dirty[i]) continue
      st.dirty[i] = false
      const s = st.starts[i]!
      for (let end = this.firstUnfired(s, wm); end <= w.lastEnd(s); end += this.step) ends.add(end)
    }
    for (const end of [...ends].sort((a, b) => a - b)) this.fire(st, w.startOf(end), end, 'early', out)
    this.state.set(st)
  }

  /** The end of the earliest window of slice `s` the watermark has not passed. */
  private firstUnfired(s: number, wm: number): number {
    const first = this.windows.firstEnd(s)
    if (first - 1 > wm) return first
    return first + Math.ceil((wm + 2 - first) / this.step) * this.step
  }
}

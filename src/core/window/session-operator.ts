// The window operator of session windows: per key, a sorted list of sessions that grow and merge as
// records arrive; accumulators merge and timers move to the merged session's end.

import type { Collector, Processor, ProcessorContext, Timer, TimerService } from '../processor.ts'
import type { Key, Record } from '../record.ts'
import type { ValueState } from '../state.ts'
import type { SessionWindows } from './assigners.ts'
import type { Trigger } from './triggers.ts'
import type { Fold, WindowLogic } from './window-logic.ts'

/** One session of one key: `[start, end)` where end = last record's time + gap. */
interface Session<A> {
  start: number
  end: number
  acc: A
  /** Fired on time (the watermark passed its end). */
  fired: boolean
  /** Changed since the last processing-time early firing. */
  dirty: boolean
  /** Records since the last count-triggered early firing. */
  count: number
}

/** The sessions of one key, sorted by start and pairwise apart by more than nothing. */
interface KeySessions<A> {
  sessions: Session<A>[]
  early: boolean
}

/**
 * Runs session windows on a keyed stream, as Flink's merging window operator does: a record at t
 * opens `[t, t + gap)`, which merges with every session it touches (accumulators merged in start
 * order, the old sessions' timers deleted, one timer at the merged end − 1 registered). When the
 * merged session is already past end + grace the record goes to the `late` side output (metric
 * `late`); when the watermark has passed its end but not end + grace, the record re-fires it
 * (`late`). Sessions are dropped when the watermark passes end + grace.
 */
export class SessionWindowOperator<T, A> implements Processor<T, unknown> {
  private state!: ValueState<KeySessions<A>>
  private timers!: TimerService
  private ctx!: ProcessorContext
  private readonly fold: Fold<T, A>
  private readonly gap: number
  private readonly grace: number
  private readonly countEvery: number
  private readonly timeEvery: number

  constructor(
    windows: SessionWindows,
    private readonly logic: WindowLogic<T, unknown>,
    triggers: readonly Trigger[],
  ) {
    this.fold = logic.fold as Fold<T, A>
    this.gap = windows.gapMs
    this.grace = windows.graceMs
    this.countEvery = triggers.find((t) => t.kind === 'count')?.every ?? 0
    this.timeEvery = triggers.find((t) => t.kind === 'processing-time')?.every ?? 0
  }

  open(ctx: ProcessorContext): void {
    this.ctx = ctx
    this.timers = ctx.timers
    this.state = ctx.state.value<KeySessions<A>>('sessions')
  }

  process(r: Record<T>, out: Collector<unknown>): void {
    const wm = this.timers.currentWatermark()
    let start = r.time
    let end = r.time + this.gap
    const st = this.state.get() ?? { sessions: [], early: false }
    const list = st.sessions
    let first = -1
    let last = -1
    for (let i = 0; i < list.length; i++) {
      const s = list[i]!
      if (s.start <= end && s.end >= start) {
        if (first < 0) first = i
        last = i
        if (s.start < start) start = s.start
        if (s.end > end) end = s.end
      }
    }
    if (end - 1 + this.grace <= wm) {
      this.ctx.count('late')
      out.side('late', r.value)
      return
    }
    const fold = this.fold
    let session: Session<A>
    if (first < 0) {
      session = { start, end, acc: fold.add(fold.create(), r.value), fired: false, dirty: false, count: 0 }
      let at = 0
      while (at < list.length && list[at]!.start < start) at++
      list.splice(at, 0, session)
    } else if (first === last && list[first]!.start === start && list[first]!.end === end) {
      session = list[first]!
      session.acc = fold.add(session.acc, r.value)
    } else {
      let acc = list[first]!.acc
      let count = list[first]!.count
      let dirty = list[first]!.dirty
      for (let i = first; i <= last; i++) {
        const old = list[i]!
        if (i > first) {
          acc = fold.merge(acc, old.acc)
          count += old.count
          dirty ||= old.dirty
        }
        if (old.end !== end) this.dropTimers(old.end)
      }
      session = { start, end, acc: fold.add(acc, r.value), fired: false, dirty, count }
      list.splice(first, last - first + 1, session)
    }
    if (end - 1 > wm) this.timers.registerEventTimer(end - 1)
    if (this.grace > 0) this.timers.registerEventTimer(end - 1 + this.grace)
    this.state.set(st)
    if (end - 1 <= wm) {
      session.fired = true
      this.emit(session, 'late', out)
      return
    }
    if (this.countEvery > 0 && ++session.count >= this.countEvery) {
      session.count = 0
      this.emit(session, 'early', out)
    }
    if (this.timeEvery > 0) {
      session.dirty = true
      if (!st.early) {
        st.early = true
        const now = this.timers.currentProcessingTime()
        this.timers.registerProcessingTimer(now - (now % this.timeEvery) + this.timeEvery)
      }
    }
  }

  private dropTimers(end: number): void {
    this.timers.deleteEventTimer(end - 1)
    if (this.grace > 0) this.timers.deleteEventTimer(end - 1 + this.grace)
  }

  onTimer(timer: Timer, out: Collector<unknown>): void {
    const st = this.state.get()
    if (st === undefined) return
    const list = st.sessions
    if (timer.domain === 'processing') {
      st.early = false
      const wm = this.timers.currentWatermark()
      for (const s of list) {
        if (s.dirty && s.end - 1 > wm) this.emit(s, 'early', out)
        s.dirty = false
      }
      this.state.set(st)
      return
    }
    const t = timer.time
    for (const s of list) {
      if (!s.fired && s.end - 1 <= t) {
        s.fired = true
        this.emit(s, 'on-time', out)
      }
    }
    const kept = list.filter((s) => s.end - 1 + this.grace > t)
    if (kept.length === 0) this.state.clear()
    else this.state.set({ sessions: kept, early: st.early })
  }

  private emit(s: Session<A>, firing: 'early' | 'on-time' | 'late', out: Collector<unknown>): void {
    this.logic.emit(this.ctx.currentKey as Key, s.start, s.end, firing, s.acc, out)
  }
}

// The keyed CEP operator shared by MATCH_RECOGNIZE and the Pattern API: rows wait in keyed state
// until the watermark passes them, then go through the partition's Matcher in event-time order.

import type { Collector, Processor, ProcessorContext, Timer } from '../../core/processor.ts'
import type { Key, Record } from '../../core/record.ts'
import type { ValueState } from '../../core/state.ts'
import type { Match, Matcher, MatcherState } from './nfa.ts'

/** Turns a match into the value emitted for it; `n` is the 1-based match number in the partition. */
export type MatchSelect<R, O> = (match: Match<R>, key: Key | undefined, n: number) => O

interface CepState<R> {
  pending: { row: R; t: number }[]
  matcher: MatcherState<R>
  matches: number
}

/** The end-of-input timer: fires only when the watermark reaches +∞. */
const END = Number.MAX_SAFE_INTEGER

/**
 * Keyed processor running a Matcher per key. Rows later than the watermark are counted as `late`
 * and dropped. Each match is emitted with the time of its last row. State: the rows waiting for
 * the watermark, and the partial matches; runs past WITHIN are dropped when time passes them.
 */
export class CepOperator<R, O> implements Processor<R, O> {
  private state!: ValueState<CepState<R>>
  private ctx!: ProcessorContext

  constructor(
    private readonly matcher: Matcher<R>,
    private readonly select: MatchSelect<R, O>,
    private readonly withinMs: number,
  ) {}

  open(ctx: ProcessorContext): void {
    this.ctx = ctx
    this.state = ctx.state.value<CepState<R>>('cep')
  }

  process(r: Record<R>): void {
    if (r.time <= this.ctx.timers.currentWatermark()) {
      this.ctx.count('late')
      return
    }
    const s = this.state.get() ?? { pending: [], matcher: this.matcher.empty(), matches: 0 }
    s.pending.push({ row: r.value, t: r.time })
    this.state.set(s)
    this.ctx.timers.registerEventTimer(r.time)
  }

  onTimer(timer: Timer, out: Collector<O>): void {
    const s = this.state.get()
    if (s === undefined) return
    const due = s.pending.filter((p) => p.t <= timer.time).sort((a, b) => a.t - b.t)
    s.pending = s.pending.filter((p) => p.t > timer.time)
    for (const p of due) {
      for (const m of this.matcher.push(s.matcher, p.row, p.t)) this.out(s, m, timer.key, out)
      if (this.withinMs >= 0) this.ctx.timers.registerEventTimer(p.t + this.withinMs + 1)
    }
    if (this.withinMs >= 0) {
      const w = this.withinMs
      s.matcher.runs = s.matcher.runs.filter((r) => timer.time - r.startTime <= w)
    }
    const settled = timer.time >= END ? this.matcher.flush(s.matcher) : this.matcher.settle(s.matcher)
    for (const m of settled) this.out(s, m, timer.key, out)
    if (timer.time >= END) s.matcher.runs = []
    else if (s.matcher.runs.length > 0 || s.matcher.done.length > 0) this.ctx.timers.registerEventTimer(END)
    if (
      s.pending.length === 0 &&
      s.matcher.runs.length === 0 &&
      s.matcher.done.length === 0 &&
      timer.time >= END
    )
      this.state.clear()
    else this.state.set(s)
  }

  private out(s: CepState<R>, m: Match<R>, key: Key | undefined, out: Collector<O>): void {
    s.matches++
    out.emitRecord({
      value: this.select(m, key, s.matches),
      key,
      time: m.times[m.times.length - 1]!,
      tag: '',
    })
  }
}

// The NFA behind MATCH_RECOGNIZE and the Pattern API: a row pattern compiled into states, and a
// matcher that advances every partial match with each row (in event-time order) and emits matches.

import type { AfterMatch, PatternTerm } from '../ast.ts'

/** A compiled state: consume a row mapped to `name`, split (prefer `a`), or accept. */
type State =
  | { readonly kind: 'var'; readonly name: string; next: number }
  | { readonly kind: 'split'; a: number; b: number }
  | { readonly kind: 'accept' }

/** A pattern compiled into states; `start` is the first. */
export interface Nfa {
  readonly states: readonly State[]
  readonly start: number
  readonly variables: readonly string[]
}

/**
 * Compiles a row pattern (Thompson's construction). Greedy quantifiers prefer one more row,
 * reluctant ones (`B+?`) prefer to stop. `{n,m}` unrolls into n required and m − n optional copies.
 */
export function compilePattern(term: PatternTerm): Nfa {
  const states: State[] = [{ kind: 'accept' }]
  const vars = new Set<string>()
  const add = (s: State): number => {
    states.push(s)
    return states.length - 1
  }
  const build = (t: PatternTerm, next: number): number => {
    switch (t.kind) {
      case 'var':
        vars.add(t.name)
        return add({ kind: 'var', name: t.name, next })
      case 'seq': {
        let n = next
        for (let i = t.items.length - 1; i >= 0; i--) n = build(t.items[i]!, n)
        return n
      }
      case 'alt': {
        let n = build(t.options[t.options.length - 1]!, next)
        for (let i = t.options.length - 2; i >= 0; i--)
          n = add({ kind: 'split', a: build(t.options[i]!, next), b: n })
        return n
      }
      case 'repeat': {
        let tail: number
        if (t.max === null) {
          const loop = add({ kind: 'split', a: -1, b: -1 })
          const body = build(t.body, loop)
          const s = states[loop] as { a: number; b: number }
          s.a = t.reluctant ? next : body
          s.b = t.reluctant ? body : next
          tail = loop
        } else {
          tail = next
          for (let i = t.min; i < t.max; i++) {
            const body = build(t.body, tail)
            tail = add(
              t.reluctant ? { kind: 'split', a: next, b: body } : { kind: 'split', a: body, b: next },
            )
          }
        }
        let n = tail
        for (let i = 0; i < t.min; i++) n = build(t.body, n)
        return n
      }
    }
  }
  const start = build(term, 0)
  return { states, start, variables: [...vars] }
}

/** A partial or complete match: where it stands, where it started, and the rows mapped so far. */
export interface Run<R> {
  state: number
  start: number
  startTime: number
  vars: string[]
  rows: R[]
  times: number[]
  /** Up to the matcher's `lookback` rows of the partition right before the first row, oldest first. */
  before?: R[]
}

/** A complete match: the variable of each row, the rows, and their times, in row order. */
export interface Match<R> {
  readonly vars: readonly string[]
  readonly rows: readonly R[]
  readonly times: readonly number[]
  /** Index (in the partition's row sequence) of the first row. */
  readonly start: number
  /** Up to the matcher's `lookback` rows of the partition right before the first row, oldest first. */
  readonly before: readonly R[]
}

/** The matcher's state for one partition: plain data, kept in keyed state between rows. */
export interface MatcherState<R> {
  runs: Run<R>[]
  /** Complete matches by start index, waiting until no run with the same start can extend them. */
  done: Run<R>[]
  /** Rows seen so far (the index of the next row). */
  next: number
  /** The last `lookback` rows seen, oldest first. */
  recent?: R[]
}

/** Decides whether `row` may be mapped to `variable`, given the rows the run mapped before it. */
export type Condition<R> = (variable: string, row: R, run: Run<R>) => boolean

/**
 * Runs an NFA over the rows of one partition. Rows must come in event-time order. Matching is
 * leftmost first; among matches from one start the greedy (longest) one wins, and it is emitted
 * once no run from that start can go on. AFTER MATCH SKIP decides which runs survive a match;
 * WITHIN drops runs whose first row is more than `withinMs` before the current row. Each run
 * keeps the `lookback` rows of the partition before its first row, for conditions that look back
 * past the start of the match (SQL's PREV).
 */
export class Matcher<R> {
  constructor(
    readonly nfa: Nfa,
    private readonly test: Condition<R>,
    private readonly skip: AfterMatch,
    private readonly withinMs: number,
    private readonly lookback = 0,
  ) {}

  /** A fresh partition state. */
  empty(): MatcherState<R> {
    return { runs: [], done: [], next: 0 }
  }

  /** Feeds one row; returns the matches it completes, in order. */
  push(st: MatcherState<R>, row: R, time: number): Match<R>[] {
    const index = st.next++
    const within = this.withinMs
    const runs = st.runs.filter((r) => !(within >= 0 && time - r.startTime > within))
    if (within >= 0) st.done = st.done.filter((r) => r.times[r.times.length - 1]! - r.startTime <= within)
    const recent = st.recent ?? []
    this.closure(
      {
        state: this.nfa.start,
        start: index,
        startTime: time,
        vars: [],
        rows: [],
        times: [],
        ...(this.lookback > 0 ? { before: recent.slice() } : {}),
      },
      runs,
      st,
      new Set(),
    )
    const next: Run<R>[] = []
    const seen = new Set<string>()
    const cut = new Set<number>()
    for (const r of runs) {
      if (cut.has(r.start)) continue
      const s = this.nfa.states[r.state]!
      if (s.kind !== 'var' || !this.test(s.name, row, r)) continue
      const moved: Run<R> = {
        state: s.next,
        start: r.start,
        startTime: r.startTime,
        vars: [...r.vars, s.name],
        rows: [...r.rows, row],
        times: [...r.times, time],
        ...(r.before !== undefined ? { before: r.before } : {}),
      }
      const k = `${moved.start}/${moved.state}`
      if (seen.has(k)) continue
      seen.add(k)
      this.closure(moved, next, st, cut)
    }
    st.runs = next
    if (this.lookback > 0) {
      recent.push(row)
      if (recent.length > this.lookback) recent.shift()
      st.recent = recent
    }
    return this.emit(st, false)
  }

  /** Emits every waiting match, extendable or not: at the end of input. */
  flush(st: MatcherState<R>): Match<R>[] {
    return this.emit(st, true)
  }

  /** Emits the waiting matches no run can extend any more (after runs were dropped by WITHIN). */
  settle(st: MatcherState<R>): Match<R>[] {
    return this.emit(st, false)
  }

  /**
   * Expands epsilon moves in priority order: consuming states become runs; reaching accept records
   * the run as its start's match (replacing a lower-priority one) and cuts every lower-priority
   * run of that start (`cut`), which is how greedy and reluctant quantifiers decide.
   */
  private closure(r: Run<R>, into: Run<R>[], st: MatcherState<R>, cut: Set<number>): void {
    const visit = (state: number, seenStates: Set<number>) => {
      if (seenStates.has(state) || cut.has(r.start)) return
      seenStates.add(state)
      const s = this.nfa.states[state]!
      if (s.kind === 'split') {
        visit(s.a, seenStates)
        visit(s.b, seenStates)
      } else if (s.kind === 'var') into.push({ ...r, state })
      else if (r.rows.length > 0) {
        const old = st.done.findIndex((d) => d.start === r.start)
        if (old < 0) st.done.push({ ...r, state })
        else st.done[old] = { ...r, state }
        cut.add(r.start)
      }
    }
    visit(r.state, new Set())
  }

  private emit(st: MatcherState<R>, all: boolean): Match<R>[] {
    const out: Match<R>[] = []
    for (;;) {
      if (st.done.length === 0) break
      st.done.sort((a, b) => a.start - b.start)
      const first = st.done[0]!
      const blocking = st.runs.some((r) => r.start <= first.start)
      if (blocking && !all) break
      st.done.shift()
      out.push({
        vars: first.vars,
        rows: first.rows,
        times: first.times,
        start: first.start,
        before: first.before ?? [],
      })
      const keep = this.skipFrom(first)
      st.runs = st.runs.filter((r) => r.start >= keep)
      st.done = st.done.filter((r) => r.start >= keep)
    }
    return out
  }

  /** The smallest start index a run may have after `m` matched. */
  private skipFrom(m: Run<R>): number {
    const last = m.start + m.rows.length - 1
    switch (this.skip.kind) {
      case 'pastLastRow':
        return last + 1
      case 'toNextRow':
        return m.start + 1
      case 'toFirst':
      case 'toLast': {
        const name = this.skip.variable
        const idx = this.skip.kind === 'toFirst' ? m.vars.indexOf(name) : m.vars.lastIndexOf(name)
        return idx <= 0 ? m.start + 1 : m.start + idx
      }
    }
  }
}

// The TypeScript pattern API (Flink CEP's shape) on the same NFA as MATCH_RECOGNIZE:
// `Pattern.begin('fail').where(...).times(5).followedBy('ok').where(...).within('60s')`.

import { type Duration, toMillis } from '../../core/duration.ts'
import { check } from '../../core/errors.ts'
import type { ProcessorFactory } from '../../core/processor.ts'
import type { Key } from '../../core/record.ts'
import type { AfterMatch, PatternTerm } from '../ast.ts'
import { Matcher, type Run, compilePattern } from './nfa.ts'
import { CepOperator } from './operator.ts'

/** A condition on a value; `matched` holds the values already mapped to each step of this match. */
export type StepCondition<T> = (value: T, matched: { readonly [step: string]: readonly T[] }) => boolean

interface Step<T> {
  readonly name: string
  readonly where: StepCondition<T> | undefined
  readonly min: number
  readonly max: number | null
  /** Rows not matching anything may come between the previous step and this one. */
  readonly relaxed: boolean
}

/** What a match hands to the select function: the values of each step, in order. */
export type PatternMatch<T> = { readonly [step: string]: readonly T[] }

const SKIP = '$skip'

/**
 * An immutable pattern over the values of a keyed stream. Steps match consecutive values (`next`)
 * or allow other values in between (`followedBy`); `times(n)` repeats a step over consecutive
 * values. Each method returns a new Pattern. Run it with
 * `keyed.process('name', pattern.processor(select))`: matches are found per key in event-time
 * order (values wait for the watermark) and emitted with the time of their last value.
 */
export class Pattern<T> {
  private constructor(
    private readonly steps: readonly Step<T>[],
    readonly withinMs: number,
    readonly afterMatch: AfterMatch,
  ) {}

  /** Starts a pattern with the step `name`. */
  static begin<T>(name: string): Pattern<T> {
    check(
      typeof name === 'string' && name.length > 0 && !name.startsWith('$'),
      'Pattern.begin(name)',
      'a step name',
      name,
    )
    return new Pattern<T>([{ name, where: undefined, min: 1, max: 1, relaxed: false }], -1, {
      kind: 'pastLastRow',
    })
  }

  private last(change: Partial<Step<T>>): Pattern<T> {
    const steps = [...this.steps]
    steps[steps.length - 1] = { ...steps[steps.length - 1]!, ...change }
    return new Pattern(steps, this.withinMs, this.afterMatch)
  }

  private addStep(name: string, relaxed: boolean): Pattern<T> {
    check(
      typeof name === 'string' && name.length > 0 && !name.startsWith('$'),
      'step name',
      'a step name',
      name,
    )
    check(!this.steps.some((s) => s.name === name), 'step name', 'a name not used by an earlier step', name)
    return new Pattern(
      [...this.steps, { name, where: undefined, min: 1, max: 1, relaxed }],
      this.withinMs,
      this.afterMatch,
    )
  }

  /** The condition of the last step (a step without one matches any value). */
  where(fn: StepCondition<T>): Pattern<T> {
    check(typeof fn === 'function', 'where(fn)', 'a function (value, matched) => boolean', fn)
    return this.last({ where: fn })
  }

  /** The last step matches exactly `n` consecutive values, or `n` to `m`. */
  times(n: number, m: number = n): Pattern<T> {
    check(Number.isInteger(n) && n >= 1, 'times(n)', 'an integer ≥ 1', n)
    check(Number.isInteger(m) && m >= n, 'times(n, m)', `an integer ≥ ${n}`, m)
    return this.last({ min: n, max: m })
  }

  /** The last step matches `n` or more consecutive values (greedy). */
  timesOrMore(n: number): Pattern<T> {
    check(Number.isInteger(n) && n >= 0, 'timesOrMore(n)', 'an integer ≥ 0', n)
    return this.last({ min: n, max: null })
  }

  /** The last step matches one or more consecutive values. */
  oneOrMore(): Pattern<T> {
    return this.timesOrMore(1)
  }

  /** The last step may be absent. */
  optional(): Pattern<T> {
    return this.last({ min: 0 })
  }

  /** A step that must match the value right after the previous step's. */
  next(name: string): Pattern<T> {
    return this.addStep(name, false)
  }

  /** A step that may come after other values (relaxed contiguity). */
  followedBy(name: string): Pattern<T> {
    return this.addStep(name, true)
  }

  /** A match must fit in this span of event time, first to last value. */
  within(span: Duration): Pattern<T> {
    return new Pattern(this.steps, toMillis(span, 'within(span)'), this.afterMatch)
  }

  /** Where the next match may start (default: after the last value of this one). */
  skip(strategy: AfterMatch): Pattern<T> {
    return new Pattern(this.steps, this.withinMs, strategy)
  }

  /** The row pattern this builds, as MATCH_RECOGNIZE would write it. */
  toTerm(): PatternTerm {
    const items: PatternTerm[] = []
    for (const s of this.steps) {
      if (s.relaxed)
        items.push({ kind: 'repeat', body: { kind: 'var', name: SKIP }, min: 0, max: null, reluctant: true })
      const v: PatternTerm = { kind: 'var', name: s.name }
      items.push(
        s.min === 1 && s.max === 1
          ? v
          : { kind: 'repeat', body: v, min: s.min, max: s.max, reluctant: false },
      )
    }
    return { kind: 'seq', items }
  }

  /** A processor factory for a keyed stream: emits `select(match, key)` for every match. */
  processor<O>(select: (match: PatternMatch<T>, key: Key | undefined) => O): ProcessorFactory<T, O> {
    const nfa = compilePattern(this.toTerm())
    const conditions = new Map(this.steps.map((s) => [s.name, s.where]))
    const grouped = (run: { vars: readonly string[]; rows: readonly T[] }): PatternMatch<T> => {
      const m: { [step: string]: T[] } = {}
      for (const s of this.steps) m[s.name] = []
      for (let i = 0; i < run.vars.length; i++) if (run.vars[i] !== SKIP) m[run.vars[i]!]!.push(run.rows[i]!)
      return m
    }
    const test = (variable: string, row: T, run: Run<T>): boolean => {
      if (variable === SKIP) return true
      const fn = conditions.get(variable)
      return fn === undefined || fn(row, grouped(run))
    }
    const within = this.withinMs
    const skip = this.afterMatch
    return () =>
      new CepOperator<T, O>(
        new Matcher<T>(nfa, test, skip, within),
        (m, key) => select(grouped(m), key),
        within,
      )
  }
}

// Stateless steps on one value (filters, maps, projections) that a source task may run itself.

import { generate } from './generated.ts'

/** What a ValueStep returns to drop the record. */
export const DROP: unique symbol = Symbol('squall.drop')

/**
 * A stateless step on one value — a filter, a map, a projection — as a function: it returns the
 * new value, or `DROP` to drop the record. An operator node that declares one (`addProcessor`'s
 * `calc`) may run in the task of the source it reads (see `fuseIntoSources` in the runtime).
 */
export type ValueStep = (value: unknown) => unknown

/** An operator fused into a source: its node name and its step. */
export interface FusedStep {
  readonly name: string
  readonly calc: ValueStep
}

/**
 * A predicate as a step: the value when `test` holds, else DROP. Generated, so that each filter
 * has a call site of its own (monomorphic, inlined by the JIT).
 */
export function filterStep(test: (value: unknown) => unknown): ValueStep {
  const body = 'return function (v) { return test(v) ? v : DROP }'
  return generate<ValueStep>(['test', 'DROP'], body, [test, DROP])
}

// Functions of ARRAY and MAP values: CARDINALITY and ELEMENT, as Flink has them.

import { SquallError } from '../core/errors.ts'
import { type ArgCheck, type ScalarFunction, scalar } from './function-def.ts'
import { type SqlType, SqlTypes } from './types.ts'

const arrayOrMap: ArgCheck = {
  accepts: 'an ARRAY or a MAP',
  test: (t: SqlType) => t.kind === 'ARRAY' || t.kind === 'MAP' || t.kind === 'NULL',
}
const array: ArgCheck = {
  accepts: 'an ARRAY',
  test: (t: SqlType) => t.kind === 'ARRAY' || t.kind === 'NULL',
}

/** CARDINALITY and ELEMENT. */
export const COLLECTION_FUNCTIONS: readonly ScalarFunction[] = [
  scalar(
    'CARDINALITY(collection)',
    'The number of elements of an ARRAY, or of entries of a MAP.',
    [arrayOrMap],
    SqlTypes.INT,
    (c: unknown) => {
      if (Array.isArray(c)) return c.length
      if (c instanceof Map) return c.size
      return Object.keys(c as object).length
    },
  ),
  scalar(
    'ELEMENT(array)',
    'The only element of an ARRAY of one element; NULL when it is empty; an error when it has more.',
    [array],
    (args) => (args[0]!.kind === 'ARRAY' ? args[0]!.element : SqlTypes.NULL),
    (a: unknown[]) => {
      if (a.length > 1)
        throw new SquallError(
          'ERR_SQL_RUNTIME',
          `ELEMENT: the array has ${a.length} elements; it takes an array of one element (or none)`,
        )
      return a.length === 1 ? (a[0] ?? null) : null
    },
  ),
]

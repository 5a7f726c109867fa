// Names and result types of the functions the planner evaluates over many rows: aggregates,
// ranking/offset window functions (only with OVER) and MATCH_RECOGNIZE navigation functions.

import { Arg, type PlannedFunction, planned, typeName } from './function-def.ts'
import { decimalAvgType, decimalSumType, isNumeric, isString, type SqlType, SqlTypes } from './types.ts'

const firstArg = (args: readonly SqlType[]): SqlType =>
  args[0] && args[0].kind !== 'NULL' ? args[0] : SqlTypes.INT

function sumType(args: readonly SqlType[]): SqlType | string {
  const t = args[0]!
  if (t.kind === 'DECIMAL') return decimalSumType(t)
  if (isNumeric(t) || t.kind === 'NULL') return firstArg(args)
  return `SUM: argument must be a number, got ${typeName(t)}`
}

const avgType = (args: readonly SqlType[]): SqlType =>
  args[0]?.kind === 'DECIMAL' ? decimalAvgType(args[0]) : firstArg(args)

const comparableArg = {
  accepts: 'a number, string, time or BOOLEAN',
  test: (t: SqlType) => t.kind !== 'MAP' && t.kind !== 'ROW' && t.kind !== 'ARRAY',
}

/**
 * Aggregates. Like Flink, SUM and AVG keep the argument's type (AVG of a BIGINT column is a
 * BIGINT, truncated; `CAST(x AS DOUBLE)` first for a fractional average), except for DECIMAL(p, s):
 * SUM gives DECIMAL(38, s) and AVG DECIMAL(38, max(6, s)).
 */
export const AGGREGATE_FUNCTIONS: readonly PlannedFunction[] = [
  planned(
    'aggregate',
    'COUNT([x])',
    'The number of rows (COUNT(*)) or of non-NULL x; COUNT(DISTINCT x) counts distinct values.',
    [Arg.any],
    SqlTypes.BIGINT,
  ),
  planned('aggregate', 'SUM(x)', 'The sum of non-NULL x; NULL when there is none.', [Arg.numeric], sumType),
  planned('aggregate', 'SUM0(x)', 'Like SUM but 0 when there is no value.', [Arg.numeric], sumType),
  planned(
    'aggregate',
    'AVG(x)',
    'The average of non-NULL x, in the type of x (of a DECIMAL(p, s): DECIMAL(38, max(6, s))).',
    [Arg.numeric],
    avgType,
  ),
  planned('aggregate', 'MIN(x)', 'The smallest non-NULL x.', [comparableArg], firstArg),
  planned('aggregate', 'MAX(x)', 'The largest non-NULL x.', [comparableArg], firstArg),
  planned(
    'aggregate',
    'APPROX_COUNT_DISTINCT(x)',
    'An estimate of the number of distinct x (HyperLogLog).',
    [Arg.any],
    SqlTypes.BIGINT,
  ),
  planned(
    'aggregate',
    'TOPK(x, k)',
    'The k most frequent values of x with their counts, most frequent first.',
    [Arg.any, Arg.integer],
    (args) =>
      SqlTypes.array(
        SqlTypes.row([
          { name: 'value', type: firstArg(args) },
          { name: 'count', type: SqlTypes.BIGINT },
        ]),
      ),
  ),
  planned(
    'aggregate',
    'FIRST_VALUE(x)',
    'x of the first row (in arrival or ORDER BY order).',
    [Arg.any],
    firstArg,
  ),
  planned('aggregate', 'LAST_VALUE(x)', 'x of the last row.', [Arg.any], firstArg),
  planned(
    'aggregate',
    'LISTAGG(x [, separator])',
    'The non-NULL x joined with separator (default ",").',
    [Arg.any, Arg.string],
    (args) =>
      isString(args[0]!) || args[0]!.kind === 'NULL'
        ? SqlTypes.STRING
        : `LISTAGG: argument 1 must be a string, got ${typeName(args[0]!)}`,
  ),
  planned(
    'aggregate',
    'COLLECT(x)',
    'All non-NULL x as an ARRAY (Flink returns a MULTISET).',
    [Arg.any],
    (args) => SqlTypes.array(firstArg(args)),
  ),
  planned('aggregate', 'STDDEV_POP(x)', 'The population standard deviation.', [Arg.numeric], SqlTypes.DOUBLE),
  planned('aggregate', 'STDDEV_SAMP(x)', 'The sample standard deviation.', [Arg.numeric], SqlTypes.DOUBLE),
  planned('aggregate', 'VAR_POP(x)', 'The population variance.', [Arg.numeric], SqlTypes.DOUBLE),
  planned('aggregate', 'VAR_SAMP(x)', 'The sample variance.', [Arg.numeric], SqlTypes.DOUBLE),
]

/** Ranking and offset functions, valid only with OVER. */
export const WINDOW_FUNCTIONS: readonly PlannedFunction[] = [
  planned(
    'window',
    'ROW_NUMBER()',
    'The 1-based number of the row in its partition, by the OVER ORDER BY (Top-N, deduplication).',
    [],
    SqlTypes.BIGINT,
  ),
  planned('window', 'RANK()', 'The rank with gaps after ties.', [], SqlTypes.BIGINT),
  planned('window', 'DENSE_RANK()', 'The rank without gaps.', [], SqlTypes.BIGINT),
  planned(
    'window',
    'LAG(x [, offset [, default]])',
    'x of the row offset (default 1) rows before.',
    [Arg.any, Arg.integer, Arg.any],
    firstArg,
  ),
  planned(
    'window',
    'LEAD(x [, offset [, default]])',
    'x of the row offset rows after.',
    [Arg.any, Arg.integer, Arg.any],
    firstArg,
  ),
]

/** Navigation and match functions, valid only in MATCH_RECOGNIZE MEASURES and DEFINE. */
export const PATTERN_FUNCTIONS: readonly PlannedFunction[] = [
  planned(
    'pattern',
    'FIRST(x [, n])',
    'x of the first (or n-th from first) row mapped to the variable in x.',
    [Arg.any, Arg.integer],
    firstArg,
  ),
  planned(
    'pattern',
    'LAST(x [, n])',
    'x of the last (or n-th from last) row mapped to the variable in x.',
    [Arg.any, Arg.integer],
    firstArg,
  ),
  planned(
    'pattern',
    'PREV(x [, n])',
    'x of the row n (default 1) before the current one, in DEFINE.',
    [Arg.any, Arg.integer],
    firstArg,
  ),
  planned(
    'pattern',
    'NEXT(x [, n])',
    'x of the row n after the current one.',
    [Arg.any, Arg.integer],
    firstArg,
  ),
  planned(
    'pattern',
    'MATCH_ROWTIME()',
    'The event time of the last row of the match, a time attribute.',
    [],
    SqlTypes.TIMESTAMP3,
  ),
  planned('pattern', 'MATCH_PROCTIME()', 'The processing time of the match.', [], SqlTypes.TIMESTAMP_LTZ3),
  planned(
    'pattern',
    'MATCH_NUMBER()',
    'The 1-based number of the match in its partition.',
    [],
    SqlTypes.BIGINT,
  ),
  planned(
    'pattern',
    'CLASSIFIER()',
    'The name of the variable the current row is mapped to.',
    [],
    SqlTypes.STRING,
  ),
]

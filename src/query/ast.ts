// The syntax tree of Squall's SQL dialect (Flink's streaming SQL): statements, queries, FROM
// items (tables, window TVFs, joins, MATCH_RECOGNIZE), expressions and row patterns.
// Every node carries `at`, the offset in the SQL text where it starts, for error messages.

import type { SqlType } from './types.ts'

// ---------------------------------------------------------------------------------------------
// Expressions
// ---------------------------------------------------------------------------------------------

/** Units of intervals, EXTRACT, FLOOR/CEIL ... TO, TIMESTAMPADD and TIMESTAMPDIFF. */
export type TimeUnit =
  | 'YEAR'
  | 'QUARTER'
  | 'MONTH'
  | 'WEEK'
  | 'DAY'
  | 'HOUR'
  | 'MINUTE'
  | 'SECOND'
  | 'MILLISECOND'
  | 'DOW'
  | 'DOY'
  | 'EPOCH'

/**
 * A literal. `value` is already converted: numbers as JS numbers, TIMESTAMP/DATE/TIME literals as
 * epoch milliseconds (UTC; TIME as ms of the day), strings as strings, NULL as null. `text` keeps
 * the literal as written.
 */
export interface Literal {
  readonly kind: 'literal'
  readonly at: number
  readonly type: SqlType
  readonly value: number | string | boolean | null
  readonly text: string
}

/**
 * `INTERVAL '10' SECOND`, `INTERVAL '1:30' MINUTE TO SECOND`. `value` is milliseconds for day-time
 * intervals and months for year-month ones (`INTERVAL '2' YEAR` gives 24).
 */
export interface IntervalLiteral {
  readonly kind: 'interval'
  readonly at: number
  readonly value: number
  readonly text: string
  readonly unit: TimeUnit
  readonly toUnit?: TimeUnit
  readonly yearMonth: boolean
}

/**
 * A name: `col`, `t.col` (qualifier `t`), or in MATCH_RECOGNIZE `A.col` (qualifier is the pattern
 * variable). Whether the qualifier is a table, a pattern variable or a ROW column is decided when
 * the name is resolved against a schema. `quoted` tells whether the name was written in quotes.
 */
export interface ColumnRef {
  readonly kind: 'column'
  readonly at: number
  readonly qualifier?: string
  readonly name: string
}

/** `*` or `t.*` in a select list, `COUNT(*)`, `COUNT(A.*)`. */
export interface Star {
  readonly kind: 'star'
  readonly at: number
  readonly qualifier?: string
}

/** Unary `-`, `+` and `NOT`. */
export interface Unary {
  readonly kind: 'unary'
  readonly at: number
  readonly op: '-' | '+' | 'NOT'
  readonly operand: Expr
}

/** Binary operators. `AND`/`OR` follow SQL's three-valued logic. */
export type BinaryOp =
  | '+'
  | '-'
  | '*'
  | '/'
  | '%'
  | '||'
  | '='
  | '<>'
  | '<'
  | '<='
  | '>'
  | '>='
  | 'AND'
  | 'OR'

export interface Binary {
  readonly kind: 'binary'
  readonly at: number
  readonly op: BinaryOp
  readonly left: Expr
  readonly right: Expr
}

/** `x IS [NOT] NULL`, `x IS [NOT] TRUE`, `x IS [NOT] FALSE`, `x IS [NOT] DISTINCT FROM y`. */
export interface IsTest {
  readonly kind: 'is'
  readonly at: number
  readonly not: boolean
  readonly test: 'NULL' | 'TRUE' | 'FALSE' | 'DISTINCT'
  readonly operand: Expr
  /** The right side of `IS DISTINCT FROM`. */
  readonly other?: Expr
}

/** `x [NOT] IN (a, b, c)` or `x [NOT] IN (SELECT ...)`. Exactly one of `list`/`query` is set. */
export interface InTest {
  readonly kind: 'in'
  readonly at: number
  readonly not: boolean
  readonly operand: Expr
  readonly list?: readonly Expr[]
  readonly query?: Query
}

/** `x [NOT] BETWEEN low AND high` (inclusive at both ends). */
export interface Between {
  readonly kind: 'between'
  readonly at: number
  readonly not: boolean
  readonly operand: Expr
  readonly low: Expr
  readonly high: Expr
}

/** `x [NOT] LIKE pattern [ESCAPE 'c']` and `x [NOT] SIMILAR TO pattern` (regex syntax). */
export interface Like {
  readonly kind: 'like'
  readonly at: number
  readonly not: boolean
  readonly similar: boolean
  readonly operand: Expr
  readonly pattern: Expr
  readonly escape?: Expr
}

/** One `WHEN ... THEN ...` branch. */
export interface WhenClause {
  readonly when: Expr
  readonly result: Expr
}

/** Searched `CASE WHEN c THEN v ... [ELSE e] END` or simple `CASE x WHEN v THEN r ... END` (with `operand`). */
export interface Case {
  readonly kind: 'case'
  readonly at: number
  readonly operand?: Expr
  readonly whens: readonly WhenClause[]
  readonly else?: Expr
}

/** `CAST(x AS type)`; `TRY_CAST` sets `safe` and gives NULL instead of failing. */
export interface Cast {
  readonly kind: 'cast'
  readonly at: number
  readonly operand: Expr
  readonly type: SqlType
  readonly safe: boolean
}

/** `EXTRACT(unit FROM x)`. */
export interface Extract {
  readonly kind: 'extract'
  readonly at: number
  readonly unit: TimeUnit
  readonly operand: Expr
}

/**
 * A function call, scalar or aggregate: `UPPER(s)`, `COUNT(*)` (args is one Star),
 * `COUNT(DISTINCT x)` (`distinct`), `SUM(x) FILTER (WHERE c)`, `ROW_NUMBER() OVER (...)`,
 * `FLOOR(ts TO MINUTE)` and `TIMESTAMPADD(HOUR, 1, ts)` (the unit goes to `unit`).
 * `name` is upper case. `over` is an inline window spec or the name of a WINDOW clause entry.
 * `args` may hold `named` arguments (`DATA => TABLE t`) only for table functions.
 */
export interface Call {
  readonly kind: 'call'
  readonly at: number
  readonly name: string
  readonly args: readonly Expr[]
  readonly distinct: boolean
  readonly unit?: TimeUnit
  readonly filter?: Expr
  readonly over?: WindowSpec | string
}

/** `x[i]` on arrays (1-based) and `m['key']` on maps. */
export interface Index {
  readonly kind: 'index'
  readonly at: number
  readonly target: Expr
  readonly index: Expr
}

/** Field access on an expression that is not a plain name: `(r).f`, `m['k'].f`, `t.r.f`. */
export interface FieldAccess {
  readonly kind: 'field'
  readonly at: number
  readonly target: Expr
  readonly field: string
}

/** `ARRAY[a, b]`, `MAP[k1, v1, k2, v2]` and `ROW(a, b)`. */
export interface Constructor {
  readonly kind: 'constructor'
  readonly at: number
  readonly type: 'ARRAY' | 'MAP' | 'ROW'
  readonly items: readonly Expr[]
}

/** A scalar subquery `(SELECT ...)` or `EXISTS (SELECT ...)`. */
export interface SubqueryExpr {
  readonly kind: 'subquery'
  readonly at: number
  readonly exists: boolean
  readonly query: Query
}

/** `name => value`, only as an argument of a table function. */
export interface NamedArg {
  readonly kind: 'named'
  readonly at: number
  readonly name: string
  readonly value: Expr
}

/** `TABLE t` and `DESCRIPTOR(col)` as arguments of a table function. */
export interface TableArg {
  readonly kind: 'tableArg'
  readonly at: number
  readonly table: FromItem
  readonly partitionBy: readonly Expr[]
}
export interface DescriptorArg {
  readonly kind: 'descriptor'
  readonly at: number
  readonly columns: readonly string[]
}

/** Any expression. Switch on `kind`. */
export type Expr =
  | Literal
  | IntervalLiteral
  | ColumnRef
  | Star
  | Unary
  | Binary
  | IsTest
  | InTest
  | Between
  | Like
  | Case
  | Cast
  | Extract
  | Call
  | Index
  | FieldAccess
  | Constructor
  | SubqueryExpr
  | NamedArg
  | TableArg
  | DescriptorArg

// ---------------------------------------------------------------------------------------------
// Windows for OVER
// ---------------------------------------------------------------------------------------------

/** One `ORDER BY` item. `nulls` is set only when written (`NULLS FIRST`). */
export interface OrderItem {
  readonly expr: Expr
  readonly desc: boolean
  readonly nulls?: 'FIRST' | 'LAST'
}

/** A frame bound. `offset` is a number of rows (ROWS) or an interval or number (RANGE). */
export interface FrameBound {
  readonly kind: 'unboundedPreceding' | 'preceding' | 'currentRow' | 'following' | 'unboundedFollowing'
  readonly offset?: Expr
}

/** `ROWS|RANGE BETWEEN start AND end`; `ROWS n PRECEDING` alone gives `end` = current row. */
export interface Frame {
  readonly unit: 'ROWS' | 'RANGE'
  readonly start: FrameBound
  readonly end: FrameBound
}

/** The inside of `OVER (...)` or of `WINDOW w AS (...)`. `base` names a window it extends. */
export interface WindowSpec {
  readonly at: number
  readonly base?: string
  readonly partitionBy: readonly Expr[]
  readonly orderBy: readonly OrderItem[]
  readonly frame?: Frame
}

/** `WINDOW name AS (spec)`. */
export interface NamedWindow {
  readonly name: string
  readonly spec: WindowSpec
}

// ---------------------------------------------------------------------------------------------
// FROM items
// ---------------------------------------------------------------------------------------------

/** `catalog.db.table [AS alias] [FOR SYSTEM_TIME AS OF expr]`; `name` holds the dotted parts. */
export interface TableRef {
  readonly kind: 'table'
  readonly at: number
  readonly name: readonly string[]
  readonly alias?: string
  readonly columnAliases?: readonly string[]
  readonly forSystemTime?: Expr
}

/** `(SELECT ...) [AS alias]`. */
export interface SubqueryRef {
  readonly kind: 'subquery'
  readonly at: number
  readonly query: Query
  readonly alias?: string
  readonly columnAliases?: readonly string[]
}

/**
 * A window table-valued function: `TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), size [, offset]))`,
 * `HOP(data, ts, slide, size [, offset])`, `CUMULATE(data, ts, step, maxSize [, offset])`,
 * `SESSION(TABLE t PARTITION BY k, ts, gap)`. Durations are interval literals in milliseconds.
 * It adds the columns `window_start`, `window_end` and `window_time` to its input.
 */
export interface WindowTvf {
  readonly kind: 'windowTvf'
  readonly at: number
  readonly fn: 'TUMBLE' | 'HOP' | 'CUMULATE' | 'SESSION'
  readonly input: FromItem
  readonly timeColumn: string
  /** TUMBLE and HOP: the window size; CUMULATE: the max size; SESSION: unset. */
  readonly size?: IntervalLiteral
  /** HOP: the slide. */
  readonly slide?: IntervalLiteral
  /** CUMULATE: the step. */
  readonly step?: IntervalLiteral
  /** SESSION: the gap. */
  readonly gap?: IntervalLiteral
  readonly offset?: IntervalLiteral
  /** SESSION: the keys sessions are kept per. */
  readonly partitionBy: readonly Expr[]
  readonly alias?: string
}

/** Join kinds; `comma` is `FROM a, b` (a cross join whose condition sits in WHERE). */
export type JoinType = 'inner' | 'left' | 'right' | 'full' | 'cross' | 'comma'

/** `left [INNER|LEFT|RIGHT|FULL [OUTER]|CROSS] JOIN right [ON cond | USING (cols)]`. */
export interface Join {
  readonly kind: 'join'
  readonly at: number
  readonly type: JoinType
  readonly left: FromItem
  readonly right: FromItem
  readonly on?: Expr
  readonly using?: readonly string[]
}

/** `AFTER MATCH SKIP ...`: where the next match may start. */
export type AfterMatch =
  | { readonly kind: 'pastLastRow' }
  | { readonly kind: 'toNextRow' }
  | { readonly kind: 'toFirst'; readonly variable: string }
  | { readonly kind: 'toLast'; readonly variable: string }

/** A row pattern (the regular expression of PATTERN). */
export type PatternTerm =
  | { readonly kind: 'var'; readonly name: string }
  | { readonly kind: 'seq'; readonly items: readonly PatternTerm[] }
  | { readonly kind: 'alt'; readonly options: readonly PatternTerm[] }
  | {
      readonly kind: 'repeat'
      readonly body: PatternTerm
      readonly min: number
      /** null for no upper bound (`*`, `+`, `{n,}`). */
      readonly max: number | null
      /** True for the `?` suffix (`B+?`): match as few rows as possible. */
      readonly reluctant: boolean
    }

/** `expr AS name` in MEASURES, or `A AS condition` in DEFINE (`name` is then the variable). */
export interface NamedExpr {
  readonly name: string
  readonly expr: Expr
}

/** `input MATCH_RECOGNIZE (...) [AS alias]`. */
export interface MatchRecognize {
  readonly kind: 'matchRecognize'
  readonly at: number
  readonly input: FromItem
  readonly partitionBy: readonly Expr[]
  readonly orderBy: readonly OrderItem[]
  readonly measures: readonly NamedExpr[]
  readonly rowsPerMatch: 'one' | 'all'
  readonly afterMatch: AfterMatch
  readonly pattern: PatternTerm
  /** Milliseconds between the first and the last row of a match, at most. */
  readonly within?: IntervalLiteral
  readonly subsets: readonly { readonly name: string; readonly variables: readonly string[] }[]
  readonly define: readonly NamedExpr[]
  readonly alias?: string
}

/** Anything that can stand in FROM. */
export type FromItem = TableRef | SubqueryRef | WindowTvf | Join | MatchRecognize

// ---------------------------------------------------------------------------------------------
// Queries and statements
// ---------------------------------------------------------------------------------------------

/** One select-list entry; `alias` is set for `expr AS name` and `expr name`. */
export interface SelectItem {
  readonly expr: Expr
  readonly alias?: string
}

/** `SELECT [DISTINCT] ... FROM ... WHERE ... GROUP BY ... HAVING ... WINDOW ...`. */
export interface Select {
  readonly kind: 'select'
  readonly at: number
  readonly distinct: boolean
  readonly items: readonly SelectItem[]
  readonly from?: FromItem
  readonly where?: Expr
  readonly groupBy: readonly Expr[]
  readonly having?: Expr
  readonly windows: readonly NamedWindow[]
}

/** `left UNION [ALL] right` (also INTERSECT and EXCEPT, which a streaming planner may refuse). */
export interface SetOperation {
  readonly kind: 'union' | 'intersect' | 'except'
  readonly at: number
  readonly all: boolean
  readonly left: QueryBody
  readonly right: QueryBody
}

/** A query body without ORDER BY/LIMIT. */
export type QueryBody = Select | SetOperation | QueryExpr

/** `WITH name AS (query), ...`. */
export interface CommonTable {
  readonly name: string
  readonly columns?: readonly string[]
  readonly query: Query
}

/**
 * A complete query: optional WITH, a body, and ORDER BY / LIMIT / OFFSET that apply to it.
 * ORDER BY with LIMIT after a time attribute or with ROW_NUMBER is how Top-N is written.
 */
export interface QueryExpr {
  readonly kind: 'query'
  readonly at: number
  readonly with: readonly CommonTable[]
  readonly body: QueryBody
  readonly orderBy: readonly OrderItem[]
  readonly limit?: number
  readonly offset?: number
}

/** What `parseQuery` returns. */
export type Query = QueryExpr

/** A column of `CREATE TABLE`: physical (`type`), computed (`AS expr`) or `METADATA`. */
export interface ColumnDef {
  readonly name: string
  readonly type?: SqlType
  readonly computed?: Expr
  readonly metadata?: { readonly key?: string; readonly virtual: boolean }
}

/** `CREATE [TEMPORARY] TABLE name (columns, WATERMARK FOR c AS expr, PRIMARY KEY (..)) WITH (...)`. */
export interface CreateTable {
  readonly kind: 'createTable'
  readonly at: number
  readonly name: readonly string[]
  readonly ifNotExists: boolean
  readonly columns: readonly ColumnDef[]
  readonly watermark?: { readonly column: string; readonly expr: Expr }
  readonly primaryKey?: readonly string[]
  readonly options: { readonly [key: string]: string }
}

/** `CREATE [TEMPORARY] VIEW [IF NOT EXISTS] name [(cols)] AS query`. */
export interface CreateView {
  readonly kind: 'createView'
  readonly at: number
  readonly name: readonly string[]
  readonly ifNotExists: boolean
  readonly columns?: readonly string[]
  readonly query: Query
}

/** `INSERT INTO sink [(cols)] query`. */
export interface Insert {
  readonly kind: 'insert'
  readonly at: number
  readonly target: readonly string[]
  /** Offset of the target table's name in the SQL text. */
  readonly targetAt: number
  readonly columns?: readonly string[]
  readonly query: Query
}

/** A bare query used as a statement. */
export interface QueryStatement {
  readonly kind: 'queryStatement'
  readonly at: number
  readonly query: Query
}

/** `SET 'key' = 'value'`. */
export interface SetStatement {
  readonly kind: 'set'
  readonly at: number
  readonly key: string
  readonly value: string
}

/**
 * A statement set, Flink's way to run several INSERTs as one job: `EXECUTE STATEMENT SET BEGIN
 * INSERT ...; INSERT ...; END` or the SQL client's `BEGIN STATEMENT SET; INSERT ...; END`.
 */
export interface StatementSet {
  readonly kind: 'statementSet'
  readonly at: number
  /** At least one, in the order written. */
  readonly inserts: readonly Insert[]
}

/** Any statement. */
export type Statement = QueryStatement | Insert | CreateView | CreateTable | SetStatement | StatementSet

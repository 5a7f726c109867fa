// The SQL planner: turns a query over named tables into a Topology of the engine's own operators
// (keyed state, timers, watermarks), and says whether its result updates and what it keeps.

import { SquallError } from '../core/errors.ts'
import { generate } from '../core/generated.ts'
import type { Processor } from '../core/processor.ts'
import type { SinkSpec, SourceSpec } from '../core/source.ts'
import { Topology } from '../core/topology.ts'
import { WatermarkStrategy } from '../core/watermark.ts'
import type { Insert, Statement } from './ast.ts'
import type { SqlRow } from './compile-expr.ts'
import type { QueryPlanner } from './manager.ts'
import { parseScript } from './parser.ts'
import { explainInserts, explainText, updatingBecause, upstreamOf } from './plan/explain.ts'
import { declareResultTable, planInsert, type ResultTable } from './plan/insert.ts'
import { planQueryExpr, type QueryScope } from './plan/query.ts'
import type { ExplainLine, PlanContext, Rel } from './plan/relation.ts'
import { refuseSeveralInserts, type ScriptShape, scriptShape } from './plan/script.ts'
import type { PlannedQuery } from './query-job.ts'
import { type Column, type RowSchema, schemaOf } from './row-schema.ts'
import { closestName, errorAt, positionAt } from './sql-error.ts'
import { parseTimestamp } from './sql-time.ts'
import { formatType, type SqlType, SqlTypes } from './types.ts'

/**
 * One table a query can read: a source the plan adds (`source`), or a node already in the topology
 * the plan is built into (`node`, with `PlanOptions.topology`).
 */
export interface CatalogTable {
  /** The table's records: each value a row object (`{ column: value }`). */
  readonly source?: SourceSpec
  /**
   * Instead of `source`: the name of a node of `PlanOptions.topology` whose record values are the
   * table's rows (a pipeline's source). Its records keep their event time and its watermarks hold.
   */
  readonly node?: string
  /**
   * With `node`: a column added to every row, holding the record's event time (TIMESTAMP(3)); it is
   * the table's time attribute and replaces a field of the same name in the record.
   */
  readonly recordTime?: string
  /**
   * Column names and types (`{ price: 'BIGINT', ts: 'TIMESTAMP(3)' }` or a RowSchema). Without
   * it, the types are inferred from `sample` rows.
   */
  readonly schema?: RowSchema | { readonly [column: string]: string | SqlType }
  /** Rows to infer the schema from when `schema` is not given (the first records of the input). */
  readonly sample?: readonly object[]
  /** Makes `column` the table's time attribute, with watermarks `watermarkDelayMs` behind the highest time seen. */
  readonly eventTime?: { readonly column: string; readonly watermarkDelayMs: number }
  /** A ready watermark strategy instead of `eventTime` (a running job's own); needs `timeColumn`. */
  readonly watermarks?: WatermarkStrategy<unknown>
  readonly timeColumn?: string
}

/** Tables by name, as an object or a Map. */
export type Catalog = { readonly [table: string]: CatalogTable } | ReadonlyMap<string, CatalogTable>

/** The result table a sink is made for: the table an INSERT writes, with its WITH options. */
export interface SinkTarget {
  /** The table's name (for a query without INSERT, the sink's node name). */
  readonly table: string
  /** The `WITH (...)` options of its CREATE TABLE (none for a query without INSERT). */
  readonly options: { readonly [key: string]: string }
}

/** Options of planQuery. */
export interface PlanOptions {
  /** Refuse queries whose state grows without bound (ERR_SQL_UNBOUNDED_STATE) instead of warning. */
  strict?: boolean
  /**
   * Ends every result in a sink: the query's, or each INSERT's. `spec` is the sink, or a function
   * making one per INSERT (called once per INSERT, in the order written, with its table); a script
   * with several INSERTs needs the function. A sink node is named after its INSERT's table (`sink`
   * for a query) unless `name` names it, which only a script with one result may.
   * `requireAppendOnly` is checked for each result when `appendOnly`.
   */
  sink?: {
    readonly spec: SinkSpec | ((target: SinkTarget) => SinkSpec)
    readonly name?: string
    readonly appendOnly?: boolean
  }
  /**
   * Refuse a script with several INSERTs (ERR_SQL_PLAN at the second one's line), ending the message
   * with this sentence: for callers that take the results as one stream.
   */
  singleResult?: string
  /** The topology's name (default `sql`). */
  name?: string
  /** TIMESTAMP result columns as text (`2020-04-15 08:05:00.000`, UTC; default) or epoch ms. */
  timestamps?: 'text' | 'ms'
  /**
   * Plan into this topology instead of a new one (tables given by `node` read its nodes). Node names
   * the plan adds start with `prefix`, so several queries fit in one topology.
   */
  topology?: Topology
  /** Prefix of every node name the plan adds, e.g. `top_pages.` (default none). */
  prefix?: string
}

/** One INSERT INTO of a planned script: its result. Output values as in QueryPlan. */
export interface InsertPlan {
  /** The table it writes, as its CREATE TABLE names it. */
  readonly table: string
  /** The table's `WITH (...)` options, as written (the planner does not read them). */
  readonly options: { readonly [key: string]: string }
  /** Where the statement starts in the SQL text (1-based). */
  readonly line: number
  readonly column: number
  /** The node whose output are its rows (before any sink). */
  readonly output: string
  /** The node of its sink, when `PlanOptions.sink` is given. */
  readonly sink?: string
  readonly columns: readonly string[]
  readonly types: readonly SqlType[]
  readonly updating: boolean
  /** The result's unique key, when known (see QueryPlan.key). */
  readonly key?: readonly string[]
  /** With `updating`: the first operator its rows pass whose output updates. */
  readonly updatingBecause?: string
}

/**
 * A planned query. Output values are rows, or `{ op, row }` changes when `updating`. For a script
 * with several INSERTs, the result fields (`output`, `columns`, `types`, `key`, `updating`,
 * `updatingBecause`) are those of the first; `inserts` has each one's.
 */
export interface QueryPlan extends PlannedQuery {
  /** The node whose output are the result rows (before any sink). */
  readonly output: string
  readonly columns: readonly string[]
  readonly types: readonly SqlType[]
  /**
   * With `updating`: the first operator whose output updates, for messages, e.g.
   * `a GROUP BY without a window (node top.group-aggregate)`. Absent for an append-only query.
   */
  readonly updatingBecause?: string
  /**
   * The script's INSERT INTO statements in the order written (empty for a query). All run in the
   * one topology: a table read by several is one source node whose records fan out to each.
   */
  readonly inserts: readonly InsertPlan[]
  /**
   * The operators, their keys and state, and whether results update; with several INSERTs, one
   * section per INSERT listing every operator its rows pass, those shared with an earlier one marked.
   */
  explain(): string
}

/** Infers column types from sample rows: integers BIGINT, other numbers DOUBLE, text STRING, ... */
export function inferSchema(name: string, rows: readonly object[], timeColumn?: string): RowSchema {
  const types = new Map<string, SqlType>()
  for (const row of rows) {
    for (const [k, v] of Object.entries(row)) {
      const t = typeOfValue(v)
      const old = types.get(k)
      if (old === undefined || old.kind === 'NULL') types.set(k, t)
      else if (old.kind === 'BIGINT' && t.kind === 'DOUBLE') types.set(k, t)
    }
  }
  if (timeColumn !== undefined) types.set(timeColumn, SqlTypes.TIMESTAMP3)
  return {
    name,
    columns: [...types].map(([c, type]) => ({
      name: c,
      type: type.kind === 'NULL' ? SqlTypes.STRING : type,
      table: name,
    })),
  }
}

function typeOfValue(v: unknown): SqlType {
  if (v === null || v === undefined) return SqlTypes.NULL
  if (typeof v === 'number') return Number.isInteger(v) ? SqlTypes.BIGINT : SqlTypes.DOUBLE
  if (typeof v === 'boolean') return SqlTypes.BOOLEAN
  if (typeof v === 'string') return SqlTypes.STRING
  if (Array.isArray(v)) return SqlTypes.array(v.length > 0 ? typeOfValue(v[0]) : SqlTypes.STRING)
  return SqlTypes.row(Object.entries(v as object).map(([name, x]) => ({ name, type: typeOfValue(x) })))
}

/** Reads event time from a row: epoch ms, or a timestamp text (UTC when it names no zone). */
export function timeReader(column: string): (row: unknown) => number | undefined {
  // Generated for its column, so the load sees one property name (a shared closure's keyed load
  // would see every table's time column and go megamorphic).
  const body = `return function (row) {
    const v = row[${JSON.stringify(column)}]
    if (typeof v === 'number') return v
    if (typeof v === 'string') return parseTimestamp(v)
    return undefined
  }`
  return generate<(row: unknown) => number | undefined>(['parseTimestamp'], body, [parseTimestamp])
}

function tableOf(catalog: Catalog, name: string): CatalogTable | undefined {
  if (catalog instanceof Map) return (catalog as ReadonlyMap<string, CatalogTable>).get(name)
  const o = catalog as { readonly [t: string]: CatalogTable }
  return Object.hasOwn(o, name) ? o[name] : undefined
}

function tableNames(catalog: Catalog): string[] {
  return catalog instanceof Map
    ? [...(catalog as ReadonlyMap<string, CatalogTable>).keys()]
    : Object.keys(catalog)
}

function schemaFor(name: string, t: CatalogTable, timeColumn: string | undefined): RowSchema {
  let schema: RowSchema
  if (t.schema !== undefined) {
    schema =
      'columns' in t.schema && Array.isArray((t.schema as RowSchema).columns)
        ? (t.schema as RowSchema)
        : schemaOf(name, t.schema as { readonly [c: string]: string | SqlType })
  } else if (t.sample !== undefined && t.sample.length > 0) {
    const sampled = t.eventTime === undefined || t.sample.some((r) => Object.hasOwn(r, t.eventTime!.column))
    schema = inferSchema(name, t.sample, sampled ? timeColumn : undefined)
  } else {
    throw new SquallError(
      'ERR_SQL_PLAN',
      `table "${name}" has no schema: give its columns, or sample rows to infer them from`,
    )
  }
  const columns: Column[] = schema.columns.map((c) => ({
    ...c,
    table: name,
    ...(timeColumn !== undefined && c.name === timeColumn ? { type: SqlTypes.TIMESTAMP3 } : {}),
  }))
  if (timeColumn !== undefined && !columns.some((c) => c.name === timeColumn)) {
    const near = closestName(
      timeColumn,
      columns.map((c) => c.name),
    )
    throw new SquallError(
      'ERR_SQL_PLAN',
      `table "${name}": event-time column "${timeColumn}" is not one of its columns (${columns.map((c) => c.name).join(', ')})${near ? `; did you mean "${near}"?` : ''}`,
    )
  }
  if (t.eventTime !== undefined && t.sample !== undefined) {
    const read = timeReader(t.eventTime.column)
    const bad = t.sample.find((row) => {
      const v = (row as { [c: string]: unknown })[t.eventTime!.column]
      if (v === null || v === undefined) return false
      const ms = read(row)
      return ms === undefined || !Number.isFinite(ms)
    })
    if (bad !== undefined) {
      const v = JSON.stringify((bad as { [c: string]: unknown })[t.eventTime.column])
      throw new SquallError(
        'ERR_SQL_PLAN',
        `table "${name}": event-time column "${t.eventTime.column}" holds ${v.length > 40 ? `${v.slice(0, 40)}...` : v}, which is not a time: expected epoch milliseconds or timestamp text such as "2024-03-05 14:07:09"`,
      )
    }
  }
  return { name, columns }
}

const NODE_NAME = /[^A-Za-z0-9_.:-]/g

/**
 * Plans `sql` — `CREATE VIEW` and `CREATE TABLE` statements, then one query, or one or more
 * `INSERT INTO <table declared by CREATE TABLE> query` (plain statements, or inside one statement
 * set: `EXECUTE STATEMENT SET BEGIN ... END`, `BEGIN STATEMENT SET; ... END`) — over `catalog`.
 * Several INSERTs plan into the one topology, as Flink runs a statement set as one job: each INSERT
 * has its own result (`inserts`) and sink, a table read by several is one source node fanned out to
 * each, a view read by several is planned once, and each result holds the rows the INSERT would
 * give alone. An INSERT's query is checked against the table's columns by position (count,
 * assignable types) and its rows are named after them; its results go to `options.sink`, a node
 * named after the table (the table's WITH options are not read, but are passed to a sink function).
 * Every table read becomes a source node named after it (with its watermark strategy when it has
 * event time), or, for a table given by `node`, a node reading that node of `options.topology`; the
 * query plans into filter, projection, window, aggregate and join operators over keyed state.
 * Windowed aggregations and interval/window joins give append-only results; a non-windowed GROUP BY
 * or a regular join over an updating input gives changes. Throws ERR_SQL_SYNTAX, ERR_SQL_TYPE,
 * ERR_SQL_UNKNOWN_COLUMN, ERR_SQL_PLAN (also for a script of other shape: two queries, a query
 * beside INSERTs, two statement sets, an INSERT outside the statement set, two INSERTs into one
 * table — each naming the statement's line and column), and ERR_SQL_UNBOUNDED_STATE under
 * `strict`; nothing starts. The topology is new for each call unless `options.topology` is given;
 * a throw may leave nodes added to that one.
 */
export function planQuery(sql: string, catalog: Catalog, options: PlanOptions = {}): QueryPlan {
  const statements = parseScript(sql)
  const shape = scriptShape(sql, statements)
  if (options.singleResult !== undefined) refuseSeveralInserts(sql, shape, options.singleResult)
  checkSinkOption(sql, shape, options)
  const topology = options.topology ?? new Topology(options.name ?? 'sql')
  const prefix = options.prefix ?? ''
  const lines: ExplainLine[] = []
  const warnings: string[] = []
  const counters = new Map<string, number>()
  const ctx: PlanContext = {
    topology,
    sql,
    lines,
    warnings,
    strict: options.strict === true,
    name(kind) {
      const n = (counters.get(kind) ?? 0) + 1
      counters.set(kind, n)
      return `${prefix}${kind}-${n}`
    },
  }
  const sources = new Map<string, Rel>()
  const scope: QueryScope = {
    views: new Map(),
    table(name) {
      const known = sources.get(name)
      if (known !== undefined) return known
      const t = tableOf(catalog, name)
      if (t === undefined) return undefined
      if (t.node !== undefined) {
        const rel = tableOfNode(ctx, name, t)
        sources.set(name, rel)
        return rel
      }
      if (t.source === undefined)
        throw new SquallError('ERR_SQL_PLAN', `table "${name}" has neither a source nor a node to read`)
      const timeColumn = t.eventTime?.column ?? t.timeColumn
      const schema = schemaFor(name, t, timeColumn)
      const node = prefix + name.replace(NODE_NAME, '_')
      let watermarks = t.watermarks
      if (watermarks === undefined && t.eventTime !== undefined) {
        watermarks = WatermarkStrategy.forBoundedOutOfOrderness<unknown>(
          t.eventTime.watermarkDelayMs,
        ).withTimestamp(timeReader(t.eventTime.column) as (v: unknown) => number | undefined)
      }
      topology.addSource(node, t.source, watermarks ? { watermarks } : {})
      lines.push({
        node,
        operator: 'Source',
        detail: `table ${name} (${schema.columns.map((c) => `${c.name} ${formatType(c.type)}`).join(', ')})${
          timeColumn
            ? `, time attribute ${timeColumn}${t.eventTime ? `, watermark ${t.eventTime.watermarkDelayMs} ms behind` : ''}`
            : ''
        }`,
        updating: false,
      })
      const rel: Rel = { node, schema, updating: false, ...(timeColumn ? { rowtime: timeColumn } : {}) }
      sources.set(name, rel)
      return rel
    },
    tableNames: () => tableNames(catalog),
  }
  const script: ScriptState = { results: new Map(), written: [] }
  let query: Rel | undefined
  for (const st of statements) query = planStatement(ctx, scope, st, options, query, script)
  const inserts = script.written.map((w) => insertPlan(ctx, w, options))
  const first = inserts[0]
  const result = query ?? script.written[0]?.rel
  if (result === undefined)
    throw new SquallError('ERR_SQL_PLAN', 'the SQL holds no query: end it with a SELECT or an INSERT INTO')
  if (query !== undefined && options.sink !== undefined) {
    const name = options.sink.name ?? 'sink'
    if (options.sink.appendOnly) requireAppendOnly(query, name)
    const spec = options.sink.spec
    topology.addSink(
      name,
      typeof spec === 'function' ? spec({ table: name, options: {} }) : spec,
      [{ from: query.node }],
      { parallelism: 1 },
    )
  }
  const columns = result.schema.columns.map((c) => c.name)
  const types = result.schema.columns.map((c) => c.type)
  const updating = result.updating
  const key = result.key
  const because = first !== undefined ? first.updatingBecause : updating ? updatingBecause(lines) : undefined
  return {
    topology,
    output: result.node,
    updating,
    columns,
    types,
    ...(key !== undefined ? { key } : {}),
    ...(because !== undefined ? { updatingBecause: because } : {}),
    warnings,
    inserts,
    explain: () =>
      inserts.length > 1
        ? explainInserts(topology, lines, warnings, inserts)
        : explainText(lines, warnings, updating, columns, key),
  }
}

/** Refuses a sink option that cannot serve the script's results, before anything is planned. */
function checkSinkOption(sql: string, shape: ScriptShape, options: PlanOptions): void {
  const sink = options.sink
  if (sink === undefined || shape.inserts.length < 2) return
  const where = shape.inserts.map((st) => `line ${positionAt(sql, st.at).line}`).join(', ')
  if (typeof sink.spec !== 'function') {
    throw new SquallError(
      'ERR_SQL_PLAN',
      `the script has ${shape.inserts.length} INSERT INTO statements (${where}), each with its own sink: give options.sink.spec as a function of the table, which makes each INSERT's sink`,
    )
  }
  if (sink.name !== undefined) {
    throw new SquallError(
      'ERR_SQL_PLAN',
      `the script has ${shape.inserts.length} INSERT INTO statements (${where}): options.sink.name names the sink of a single result; leave it out, and each sink is named after its table`,
    )
  }
}

/** One planned INSERT as InsertPlan, with its sink when `options.sink` is given. */
function insertPlan(ctx: PlanContext, w: WrittenTable, options: PlanOptions): InsertPlan {
  const rel = w.rel
  const pos = positionAt(ctx.sql, w.st.at)
  const upstream = upstreamOf(ctx.topology, rel.node)
  const because = rel.updating ? updatingBecause(ctx.lines.filter((l) => upstream.has(l.node))) : undefined
  let sink: string | undefined
  if (options.sink !== undefined) {
    sink = options.sink.name ?? w.table.name
    if (options.sink.appendOnly) requireAppendOnly(rel, sink)
    const spec = options.sink.spec
    const target = { table: w.table.name, options: w.table.options }
    ctx.topology.addSink(sink, typeof spec === 'function' ? spec(target) : spec, [{ from: rel.node }], {
      parallelism: 1,
    })
  }
  return {
    table: w.table.name,
    options: w.table.options,
    line: pos.line,
    column: pos.column,
    output: rel.node,
    ...(sink !== undefined ? { sink } : {}),
    columns: rel.schema.columns.map((c) => c.name),
    types: rel.schema.columns.map((c) => c.type),
    updating: rel.updating,
    ...(rel.key !== undefined ? { key: rel.key } : {}),
    ...(because !== undefined ? { updatingBecause: because } : {}),
  }
}

/**
 * A table read from a node of the topology: a node turning its records into rows (copies, with the
 * record's event time in `recordTime` when given), so the rows of one record never share an object
 * with other readers of that node.
 */
function tableOfNode(ctx: PlanContext, name: string, t: CatalogTable): Rel {
  const from = t.node!
  if (ctx.topology.node(from) === undefined)
    throw new SquallError('ERR_SQL_PLAN', `table "${name}": node "${from}" is not in the topology`)
  const field = t.recordTime
  const timeColumn = field ?? t.timeColumn
  let schema = schemaFor(name, t, field === undefined ? timeColumn : undefined)
  if (field !== undefined) {
    const columns = schema.columns.filter((c) => c.name !== field)
    columns.push({ name: field, type: SqlTypes.TIMESTAMP3, table: name })
    schema = { name, columns }
  }
  const node = ctx.name(`table-${name.replace(NODE_NAME, '_')}`)
  const factory = (): Processor<unknown, SqlRow> => ({
    process(r, out) {
      const v = r.value
      const row: { [column: string]: unknown } = v !== null && typeof v === 'object' ? { ...v } : {}
      if (field !== undefined) row[field] = r.time
      out.emitRecord({ value: row, key: r.key, time: r.time, tag: r.tag })
    },
  })
  ctx.topology.addProcessor(node, factory as () => Processor<unknown, unknown>, [{ from }])
  ctx.lines.push({
    node,
    operator: 'Table',
    detail: `table ${name} from node ${from} (${schema.columns.map((c) => `${c.name} ${formatType(c.type)}`).join(', ')})${
      timeColumn ? `, time attribute ${timeColumn}` : ''
    }`,
    updating: false,
  })
  return { node, schema, updating: false, ...(timeColumn ? { rowtime: timeColumn } : {}) }
}

/** An INSERT planned: the statement, the table it writes and its result rows. */
interface WrittenTable {
  readonly st: Insert
  readonly table: ResultTable
  readonly rel: Rel
}

/** What a script has declared so far: its result tables, and the INSERTs planned, in order. */
interface ScriptState {
  readonly results: Map<string, ResultTable>
  readonly written: WrittenTable[]
}

function planStatement(
  ctx: PlanContext,
  scope: QueryScope,
  st: Statement,
  options: PlanOptions,
  last: Rel | undefined,
  script: ScriptState,
): Rel | undefined {
  switch (st.kind) {
    case 'createView': {
      const name = st.name[st.name.length - 1]!
      if (scope.views.has(name) && !st.ifNotExists)
        throw new SquallError('ERR_SQL_PLAN', `view "${name}" is defined twice`)
      scope.views.set(name, { query: st.query, ...(st.columns ? { columns: st.columns } : {}) })
      return last
    }
    case 'queryStatement':
      return planQueryExpr(ctx, scope, st.query, options.timestamps !== 'ms')
    case 'insert':
      planInsertStatement(ctx, scope, st, options, script)
      return last
    case 'statementSet':
      for (const insert of st.inserts) planInsertStatement(ctx, scope, insert, options, script)
      return last
    case 'set':
      return last
    case 'createTable':
      declareResultTable(ctx.sql, script.results, st, (name) => scope.tableNames().includes(name))
      return last
  }
}

/**
 * Plans one INSERT into its declared table. Throws ERR_SQL_PLAN at the table's name when an earlier
 * INSERT of the script writes the same table, besides planInsert's errors.
 */
function planInsertStatement(
  ctx: PlanContext,
  scope: QueryScope,
  st: Insert,
  options: PlanOptions,
  script: ScriptState,
): void {
  const name = st.target[st.target.length - 1]!
  const before = script.written.find((w) => w.table.name === name)
  if (before !== undefined) {
    throw errorAt(
      'ERR_SQL_PLAN',
      ctx.sql,
      st.targetAt,
      `table "${name}" is already written by the INSERT at line ${positionAt(ctx.sql, before.st.at).line}; each INSERT of a script writes a table of its own: combine the two queries with UNION ALL in one INSERT`,
    )
  }
  const rel = planQueryExpr(ctx, scope, st.query, options.timestamps !== 'ms')
  const body = st.query.body
  const at = body.kind === 'select' ? body.items.map((i) => i.expr.at) : []
  const routed = planInsert(ctx, script.results, st, rel, at)
  script.written.push({ st, table: script.results.get(name)!, rel: routed })
}

/**
 * Refuses an updating plan for a sink that takes only appends, before anything runs: throws
 * ERR_SQL_UPDATING_SINK naming the sink and why the query updates.
 */
export function requireAppendOnly(
  plan: { readonly updating: boolean; readonly output?: string },
  sinkName: string,
): void {
  if (!plan.updating) return
  throw new SquallError(
    'ERR_SQL_UPDATING_SINK',
    `sink "${sinkName}" takes only appended rows, but the query's results update earlier ones (a GROUP BY without a window, a regular join of updating inputs, or a continuous Top-N emits -U/+U/-D changes); window the query (TUMBLE/HOP/CUMULATE/SESSION) or write it to a sink that takes a changelog`,
    { where: { node: sinkName } },
  )
}

/**
 * `planQuery` as a QueryManager planner (what a served job uses): each table of a running job
 * becomes a catalog table with its declared schema or sample rows, the job's own watermark strategy,
 * and its time attribute: the catalog's `timeColumn` (the `time` column of a table with event time),
 * else the field the strategy reads time from (`withTimestamp('ts')`), when it reads one.
 * A registered query has one result: a script with several INSERTs is refused (ERR_SQL_PLAN).
 */
export const sqlPlanner: QueryPlanner = (sql, catalog) => {
  const tables = new Map<string, CatalogTable>()
  for (const [name, t] of catalog) {
    const field = t.watermarks ? /^field "([^"]+)"$/.exec(t.watermarks.timeSource)?.[1] : undefined
    const timeColumn = t.timeColumn ?? field
    tables.set(name, {
      source: t.source,
      ...(t.schema ? { schema: t.schema } : {}),
      ...(t.sample ? { sample: t.sample } : {}),
      ...(t.watermarks ? { watermarks: t.watermarks } : {}),
      ...(timeColumn ? { timeColumn } : {}),
    })
  }
  return planQuery(sql, tables, {
    singleResult: 'a registered query has one result table; register each INSERT as a query of its own',
  })
}

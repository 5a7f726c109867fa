// The SQL planner: turns a query over named tables into a Topology of the engine's own operators
// (keyed state, timers, watermarks), and says whether its result updates and what it keeps.

import { SquallError } from '../core/errors.ts'
import type { Processor } from '../core/processor.ts'
import type { SinkSpec, SourceSpec } from '../core/source.ts'
import { Topology } from '../core/topology.ts'
import { WatermarkStrategy } from '../core/watermark.ts'
import type { Statement } from './ast.ts'
import type { SqlRow } from './compile-expr.ts'
import { parseScript } from './parser.ts'
import type { QueryPlanner } from './manager.ts'
import type { PlannedQuery } from './query-job.ts'
import { type Column, type RowSchema, schemaOf } from './row-schema.ts'
import { parseTimestamp } from './sql-time.ts'
import { SqlTypes, type SqlType, formatType } from './types.ts'
import { type ResultTable, declareResultTable, planInsert } from './plan/insert.ts'
import { type QueryScope, planQueryExpr } from './plan/query.ts'
import type { ExplainLine, PlanContext, Rel } from './plan/relation.ts'

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

/** Options of planQuery. */
export interface PlanOptions {
  /** Refuse queries whose state grows without bound (ERR_SQL_UNBOUNDED_STATE) instead of warning. */
  strict?: boolean
  /** Ends the plan in this sink (node `name`, default `sink`); `requireAppendOnly` is checked when `appendOnly`. */
  sink?: { readonly spec: SinkSpec; readonly name?: string; readonly appendOnly?: boolean }
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

/** A planned query. Output values are rows, or `{ op, row }` changes when `updating`. */
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
  /** The operators, their keys and state, and whether results update. */
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
  return (row) => {
    const v = (row as { [c: string]: unknown })[column]
    if (typeof v === 'number') return v
    if (typeof v === 'string') return parseTimestamp(v)
    return undefined
  }
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
  } else if (t.sample !== undefined && t.sample.length > 0) schema = inferSchema(name, t.sample, timeColumn)
  else {
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
    throw new SquallError(
      'ERR_SQL_PLAN',
      `table "${name}": event-time column "${timeColumn}" is not one of its columns (${columns.map((c) => c.name).join(', ')})`,
    )
  }
  return { name, columns }
}

const NODE_NAME = /[^A-Za-z0-9_.:-]/g

/**
 * Plans `sql` — `CREATE VIEW` and `CREATE TABLE` statements, then one query or one
 * `INSERT INTO <table declared by CREATE TABLE> query` — over `catalog`. An INSERT's query is
 * checked against the table's columns by position (count, assignable types) and its rows are
 * named after them; its results go to `options.sink`, a node named after the table unless
 * `options.sink.name` says otherwise (the table's WITH options are not read). Every table read becomes
 * a source node named after it (with its watermark strategy when it has event time), or, for a
 * table given by `node`, a node reading that node of `options.topology`; the query
 * plans into filter, projection, window, aggregate and join operators over keyed state. Windowed
 * aggregations and interval/window joins give append-only results; a non-windowed GROUP BY or a
 * regular join over an updating input gives changes. Throws ERR_SQL_SYNTAX, ERR_SQL_TYPE,
 * ERR_SQL_UNKNOWN_COLUMN, ERR_SQL_PLAN, and ERR_SQL_UNBOUNDED_STATE under `strict`; nothing
 * starts. The topology is new for each call unless `options.topology` is given; a throw may leave
 * nodes added to that one.
 */
export function planQuery(sql: string, catalog: Catalog, options: PlanOptions = {}): QueryPlan {
  const statements = parseScript(sql)
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
  const script: ScriptState = { results: new Map(), target: undefined }
  let result: Rel | undefined
  for (const st of statements) result = planStatement(ctx, scope, st, options, result, script)
  if (result === undefined)
    throw new SquallError('ERR_SQL_PLAN', 'the SQL holds no query: end it with a SELECT')
  const columns = result.schema.columns.map((c) => c.name)
  const types = result.schema.columns.map((c) => c.type)
  const updating = result.updating
  if (options.sink !== undefined) {
    const plan0 = { updating, output: result.node }
    if (options.sink.appendOnly) requireAppendOnly(plan0, options.sink.name ?? script.target ?? 'sink')
    topology.addSink(
      options.sink.name ?? script.target ?? 'sink',
      options.sink.spec,
      [{ from: result.node }],
      {
        parallelism: 1,
      },
    )
  }
  const key = result.key
  const because = updating ? updatingBecause(lines) : undefined
  return {
    topology,
    output: result.node,
    updating,
    columns,
    types,
    ...(key !== undefined ? { key } : {}),
    ...(because !== undefined ? { updatingBecause: because } : {}),
    warnings,
    explain: () => explainText(lines, warnings, updating, columns, key),
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

/** What a script has declared so far: its result tables, and the one its INSERT INTO writes to. */
interface ScriptState {
  readonly results: Map<string, ResultTable>
  target: string | undefined
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
      if (last !== undefined)
        throw new SquallError(
          'ERR_SQL_PLAN',
          'the SQL holds more than one query; plan one query at a time (views may come first)',
        )
      return planQueryExpr(ctx, scope, st.query, options.timestamps !== 'ms')
    case 'insert': {
      if (last !== undefined)
        throw new SquallError(
          'ERR_SQL_PLAN',
          'the SQL holds more than one query; plan one query at a time (views may come first)',
        )
      const rel = planQueryExpr(ctx, scope, st.query, options.timestamps !== 'ms')
      const body = st.query.body
      const at = body.kind === 'select' ? body.items.map((i) => i.expr.at) : []
      const routed = planInsert(ctx, script.results, st, rel, at)
      script.target = st.target[st.target.length - 1]
      return routed
    }
    case 'set':
      return last
    case 'createTable':
      declareResultTable(ctx.sql, script.results, st, (name) => scope.tableNames().includes(name))
      return last
  }
}

/** What the first updating operator of a plan is, in the user's terms, with its node. */
function updatingBecause(lines: readonly ExplainLine[]): string | undefined {
  const line = lines.find((l) => l.updating)
  if (line === undefined) return undefined
  const what =
    line.operator === 'GroupAggregate'
      ? 'a GROUP BY without a window'
      : line.operator === 'TopN'
        ? 'a Top-N (ROW_NUMBER … rownum <= N) without a window'
        : line.operator.endsWith('Join')
          ? 'a regular join (an outer join, or a join of updating inputs)'
          : `the operator ${line.operator}`
  return `${what} (node ${line.node})`
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

function explainText(
  lines: readonly ExplainLine[],
  warnings: readonly string[],
  updating: boolean,
  columns: readonly string[],
  key: readonly string[] | undefined,
): string {
  const out: string[] = []
  for (const l of lines) {
    out.push(`${l.operator.padEnd(16)} ${l.node}${l.updating ? '  [updating]' : ''}`)
    out.push(`    ${l.detail}`)
    if (l.state !== undefined) out.push(`    state: ${l.state}`)
  }
  out.push(`Result: (${columns.join(', ')})`)
  out.push(
    updating
      ? `    updating: a changelog of +I, -U, +U, -D rows${key && key.length > 0 ? ` keyed by (${key.join(', ')})` : ''}`
      : '    append-only: every row is final',
  )
  for (const w of warnings) out.push(`Warning: ${w}`)
  return out.join('\n')
}

/**
 * `planQuery` as a QueryManager planner (what a served job uses): each table of a running job
 * becomes a catalog table with its declared schema or sample rows, the job's own watermark strategy,
 * and its time attribute: the catalog's `timeColumn` (the `time` column of a table with event time),
 * else the field the strategy reads time from (`withTimestamp('ts')`), when it reads one.
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
  return planQuery(sql, tables)
}

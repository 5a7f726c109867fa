// Result tables: `CREATE TABLE name (columns) WITH (...)` declares the table a script's
// `INSERT INTO name SELECT ...` writes to; the query's columns are checked against it by position
// and its rows leave named after the table's columns.

import type { Processor } from '../../core/processor.ts'
import type { CreateTable, Insert } from '../ast.ts'
import type { Change } from '../changelog.ts'
import type { RowEvaluator, SqlRow } from '../compile-expr.ts'
import type { Column } from '../row-schema.ts'
import { closestName, errorAt } from '../sql-error.ts'
import { assignable, formatType, type SqlType } from '../types.ts'
import { rowBuilder } from './project.ts'
import type { PlanContext, Rel } from './relation.ts'

/** A declared result table: its name, typed columns and (unused) connector options. */
export interface ResultTable {
  readonly name: string
  readonly columns: readonly { readonly name: string; readonly type: SqlType }[]
  readonly options: { readonly [key: string]: string }
}

/**
 * Records `st` in `tables` as a result table. Throws ERR_SQL_PLAN when the name is declared twice
 * (without IF NOT EXISTS), is a table of the catalog, or a column is computed, METADATA, or the
 * table has a WATERMARK: a result table holds only typed physical columns.
 */
export function declareResultTable(
  sql: string,
  tables: Map<string, ResultTable>,
  st: CreateTable,
  isSource: (name: string) => boolean,
): void {
  const name = st.name[st.name.length - 1]!
  if (tables.has(name)) {
    if (st.ifNotExists) return
    throw errorAt('ERR_SQL_PLAN', sql, st.at, `table "${name}" is declared twice`)
  }
  if (isSource(name)) {
    throw errorAt(
      'ERR_SQL_PLAN',
      sql,
      st.at,
      `table "${name}" is already a source of the job; CREATE TABLE declares the table INSERT INTO writes to, so give it another name`,
    )
  }
  if (st.watermark !== undefined) {
    throw errorAt(
      'ERR_SQL_PLAN',
      sql,
      st.at,
      `table "${name}": a result table has no WATERMARK; event time comes from the job's sources`,
    )
  }
  const columns: { name: string; type: SqlType }[] = []
  for (const c of st.columns) {
    if (c.type === undefined || c.computed !== undefined || c.metadata !== undefined) {
      throw errorAt(
        'ERR_SQL_PLAN',
        sql,
        st.at,
        `table "${name}": column "${c.name}" is computed or METADATA; a result table takes only typed columns`,
      )
    }
    columns.push({ name: c.name, type: c.type })
  }
  tables.set(name, { name, columns, options: st.options })
}

/**
 * Checks the planned query `rel` of `st` against its declared result table and names its columns
 * after the table's, by position as Flink does (with a column list, the listed columns in that
 * order; the others are NULL). Adds a renaming node only when a name changes. Values are not
 * converted: a type is checked to be assignable, and the value leaves as the query produced it.
 * Throws ERR_SQL_PLAN for an unknown table or a different number of columns, ERR_SQL_TYPE for a
 * column whose type does not fit, each naming the line and column of the statement.
 */
export function planInsert(
  ctx: PlanContext,
  tables: ReadonlyMap<string, ResultTable>,
  st: Insert,
  rel: Rel,
  selectAt: readonly number[],
): Rel {
  const sql = ctx.sql
  const name = st.target[st.target.length - 1]!
  const table = tables.get(name)
  if (table === undefined) {
    const near = closestName(name, tables.keys())
    const declared = [...tables.keys()]
    throw errorAt(
      'ERR_SQL_PLAN',
      sql,
      st.targetAt,
      `unknown table "${name}" in INSERT INTO${near ? ` (did you mean ${near}?)` : ''}; ${
        declared.length > 0 ? `declared tables: ${declared.join(', ')}` : 'no table is declared'
      }. Declare it first: CREATE TABLE ${name} (column TYPE, ...) WITH ('connector' = 'blackhole')`,
    )
  }
  let targets = table.columns
  if (st.columns !== undefined) {
    targets = st.columns.map((c) => {
      const col =
        table.columns.find((t) => t.name === c) ??
        table.columns.find((t) => t.name.toLowerCase() === c.toLowerCase())
      if (col === undefined) {
        const near = closestName(
          c,
          table.columns.map((t) => t.name),
        )
        throw errorAt(
          'ERR_SQL_UNKNOWN_COLUMN',
          sql,
          st.targetAt,
          `unknown column "${c}" in table "${name}"${near ? ` (did you mean ${near}?)` : ''}`,
        )
      }
      return col
    })
  }
  const given = rel.schema.columns
  if (given.length !== targets.length) {
    throw errorAt(
      'ERR_SQL_PLAN',
      sql,
      st.query.at,
      `INSERT INTO ${name}: the query gives ${given.length} column${given.length === 1 ? '' : 's'} (${given
        .map((c) => c.name)
        .join(', ')}) but the table takes ${targets.length} (${targets.map((c) => c.name).join(', ')})`,
    )
  }
  for (let i = 0; i < targets.length; i++) {
    const want = targets[i]!
    const got = given[i]!
    if (!assignable(got.type, want.type)) {
      throw errorAt(
        'ERR_SQL_TYPE',
        sql,
        selectAt[i] ?? st.query.at,
        `INSERT INTO ${name}: column ${i + 1} "${want.name}" is ${formatType(want.type)}, but the query gives ${formatType(
          got.type,
        )} ("${got.name}"); CAST it to ${formatType(want.type)} or change the column's type`,
      )
    }
  }
  const out = table.columns.map((c) => {
    const i = targets.indexOf(c)
    return { name: c.name, type: c.type, from: i < 0 ? undefined : given[i]! }
  })
  if (
    out.every(
      (o, i) => o.from !== undefined && o.from === given[i] && (o.from.field ?? o.from.name) === o.name,
    )
  ) {
    return rel
  }
  return renameRows(ctx, rel, name, out)
}

function renameRows(
  ctx: PlanContext,
  rel: Rel,
  table: string,
  out: readonly { readonly name: string; readonly type: SqlType; readonly from: Column | undefined }[],
): Rel {
  const fns: RowEvaluator[] = out.map((o) => {
    if (o.from === undefined) return () => null
    const field = o.from.field ?? o.from.name
    return (row) => row[field]
  })
  const build = rowBuilder(
    out.map((o) => o.name),
    fns,
  )
  const renamed = new Map<string, string>()
  for (const o of out) if (o.from !== undefined) renamed.set(o.from.field ?? o.from.name, o.name)
  const node = ctx.name('insert')
  const factory = rel.updating
    ? (): Processor<Change, Change> => ({
        process: (r, emit) => emit.emit({ op: r.value.op, row: build(r.value.row) }),
      })
    : (): Processor<SqlRow, SqlRow> => ({ process: (r, emit) => emit.emit(build(r.value)) })
  ctx.topology.addProcessor(node, factory as () => Processor<unknown, unknown>, [{ from: rel.node }])
  ctx.lines.push({
    node,
    operator: 'Insert',
    detail: `INSERT INTO ${table} (${out
      .map((o) => (o.from === undefined ? `NULL AS ${o.name}` : `${o.from.name} AS ${o.name}`))
      .join(', ')})`,
    updating: rel.updating,
  })
  const columns: Column[] = out.map((o) => ({
    name: o.name,
    type: o.from?.type ?? o.type,
    field: o.name,
  }))
  const map = (f: string | undefined) => (f === undefined ? undefined : renamed.get(f))
  const key = rel.key?.every((k) => renamed.has(k)) ? rel.key.map((k) => renamed.get(k)!) : undefined
  const rowtime = map(rel.rowtime)
  const windowStart = map(rel.windowStart)
  const windowEnd = map(rel.windowEnd)
  return {
    node,
    schema: { name: table, columns },
    updating: rel.updating,
    ...(rowtime !== undefined ? { rowtime } : {}),
    ...(windowStart !== undefined && windowEnd !== undefined ? { windowStart, windowEnd } : {}),
    ...(key !== undefined ? { key } : {}),
  }
}

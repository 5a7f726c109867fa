// The columns an expression can see: their names, types and the tables (or aliases) they come
// from, and how a name in SQL (`path`, `a.path`, `r.field`) is resolved to one of them.

import { SquallError } from '../core/errors.ts'
import type { ColumnRef } from './ast.ts'
import { Cursor } from './parser-cursor.ts'
import { parseType } from './parser-expr.ts'
import { closestName } from './sql-error.ts'
import type { SqlType } from './types.ts'

/**
 * One column. `table` is the table name or alias that qualifies it (`A` in `A.id`); `field` is
 * the property of the row object that holds its value (default: `name`), so that joined rows can
 * keep two `id` columns as, say, `A.id` and `B.id`.
 */
export interface Column {
  readonly name: string
  readonly type: SqlType
  readonly table?: string
  readonly field?: string
}

/**
 * The column every table whose source declares event time gets, unless another time column is
 * declared for it (the HTTP API's tables, a pipeline's sources): the record's event time as
 * TIMESTAMP(3), the table's time attribute. It replaces a field of the same name in the record.
 */
export const TIME_COLUMN = 'time'

/** The columns of the rows an expression is evaluated on. `name` is used in messages. */
export interface RowSchema {
  readonly name: string
  readonly columns: readonly Column[]
}

/**
 * Builds a schema from `{ column: type }`, where each type is a SqlType or its SQL text
 * (`'BIGINT'`, `'TIMESTAMP(3)'`, `'ROW<a INT, b STRING>'`). Every column is qualified by `name`.
 * Throws ERR_SQL_SYNTAX for type text that does not parse.
 */
export function schemaOf(name: string, columns: { readonly [column: string]: SqlType | string }): RowSchema {
  return {
    name,
    columns: Object.entries(columns).map(([col, t]) => ({
      name: col,
      type: typeof t === 'string' ? parseTypeText(t) : t,
      table: name,
    })),
  }
}

/** Parses SQL type text such as `DECIMAL(10, 2)`. Throws ERR_SQL_SYNTAX. */
export function parseTypeText(text: string): SqlType {
  const c = new Cursor(text)
  const t = parseType(c)
  if (!c.atEnd()) c.failExpected('the end of the type')
  return t
}

/** A resolved name: the column, and for `r.f` on a ROW column, the field path into it. */
export interface ResolvedColumn {
  readonly column: Column
  readonly path: readonly string[]
  readonly type: SqlType
}

function sameName(a: string, b: string): boolean {
  return a === b || a.toLowerCase() === b.toLowerCase()
}

function pick(candidates: readonly Column[], name: string): Column[] {
  const exact = candidates.filter((c) => c.name === name)
  return exact.length > 0 ? exact : candidates.filter((c) => c.name.toLowerCase() === name.toLowerCase())
}

function fieldOf(type: SqlType, field: string): SqlType | undefined {
  if (type.kind !== 'ROW') return undefined
  return (type.fields.find((f) => f.name === field) ?? type.fields.find((f) => sameName(f.name, field)))?.type
}

function unknown(ref: ColumnRef, candidates: readonly Column[], table: string): SquallError {
  const shown = ref.qualifier ? `${ref.qualifier}.${ref.name}` : ref.name
  const guess = closestName(
    ref.name,
    candidates.map((c) => c.name),
  )
  const hint = guess
    ? `; did you mean "${guess}"?`
    : candidates.length
      ? `; columns are ${candidates.map((c) => c.name).join(', ')}`
      : ''
  return new SquallError('ERR_SQL_UNKNOWN_COLUMN', `unknown column "${shown}" in table "${table}"${hint}`)
}

/**
 * Resolves a name against a schema. `q.name` looks for a column `name` of table `q`; if no table
 * is called `q`, it reads field `name` of a ROW column `q`. Exact case wins over other cases.
 * Throws ERR_SQL_UNKNOWN_COLUMN naming the table and the closest column, or when a bare name is
 * ambiguous between tables.
 */
export function resolveColumn(ref: ColumnRef, schema: RowSchema): ResolvedColumn {
  const all = schema.columns
  if (ref.qualifier !== undefined) {
    const q = ref.qualifier
    const ofTable = all.filter((c) => c.table !== undefined && sameName(c.table, q))
    if (ofTable.length > 0) {
      const found = pick(ofTable, ref.name)
      if (found.length === 0) throw unknown(ref, ofTable, ofTable[0]!.table!)
      return { column: found[0]!, path: [], type: found[0]!.type }
    }
    const rowCol = pick(all, q).find((c) => c.type.kind === 'ROW')
    if (rowCol) {
      const ft = fieldOf(rowCol.type, ref.name)
      if (!ft) {
        const fields = rowCol.type.kind === 'ROW' ? rowCol.type.fields.map((f) => f.name) : []
        const guess = closestName(ref.name, fields)
        throw new SquallError(
          'ERR_SQL_UNKNOWN_COLUMN',
          `unknown field "${ref.name}" of ROW column "${q}" in table "${schema.name}"${guess ? `; did you mean "${guess}"?` : `; fields are ${fields.join(', ')}`}`,
        )
      }
      const field =
        rowCol.type.kind === 'ROW'
          ? rowCol.type.fields.find((f) => sameName(f.name, ref.name))!.name
          : ref.name
      return { column: rowCol, path: [field], type: ft }
    }
    const tables = [...new Set(all.map((c) => c.table).filter((t): t is string => t !== undefined))]
    const guess = closestName(q, tables)
    throw new SquallError(
      'ERR_SQL_UNKNOWN_COLUMN',
      `unknown table or ROW column "${q}" in "${q}.${ref.name}"${guess ? `; did you mean "${guess}"?` : tables.length ? `; tables are ${tables.join(', ')}` : ''}`,
    )
  }
  const found = pick(all, ref.name)
  if (found.length === 0) throw unknown(ref, all, schema.name)
  if (found.length > 1) {
    const tables = found.map((c) => c.table ?? schema.name)
    if (new Set(tables).size > 1) {
      throw new SquallError(
        'ERR_SQL_UNKNOWN_COLUMN',
        `column "${ref.name}" is ambiguous: it is in ${tables.map((t) => `"${t}"`).join(' and ')}; write ${tables[0]}.${ref.name}`,
      )
    }
  }
  return { column: found[0]!, path: [], type: found[0]!.type }
}

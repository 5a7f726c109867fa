// The shape of a script: one query, or INSERT INTO statements (plain, or in one statement set)
// that run together as one job. Checked before anything is planned.

import type { Insert, QueryStatement, Statement, StatementSet } from '../ast.ts'
import { errorAt, positionAt } from '../sql-error.ts'

/** What a script asks for: its one query, or its INSERTs in the order written. */
export interface ScriptShape {
  readonly query?: QueryStatement
  readonly inserts: readonly Insert[]
}

/**
 * The query or INSERTs of `statements`. A script holds one query, or one or more INSERTs: either
 * all plain statements (run together, as one job) or all inside one statement set. Throws
 * ERR_SQL_PLAN naming the line and column of the statement that breaks this: a second query, a
 * query beside INSERTs, a second statement set, an INSERT outside the script's statement set.
 */
export function scriptShape(sql: string, statements: readonly Statement[]): ScriptShape {
  let query: QueryStatement | undefined
  let set: StatementSet | undefined
  const plain: Insert[] = []
  const inserts: Insert[] = []
  const line = (at: number) => positionAt(sql, at).line
  for (const st of statements) {
    if (st.kind === 'queryStatement') {
      if (query !== undefined) {
        throw errorAt(
          'ERR_SQL_PLAN',
          sql,
          st.at,
          `a second query (the first is at line ${line(query.at)}); plan one query at a time (views may come first), or write each one as an INSERT INTO a table of its own`,
        )
      }
      query = st
    } else if (st.kind === 'statementSet') {
      if (set !== undefined) {
        throw errorAt(
          'ERR_SQL_PLAN',
          sql,
          st.at,
          `a second statement set (the first is at line ${line(set.at)}); a script runs as one job, with one statement set: move these INSERTs into the first`,
        )
      }
      set = st
      inserts.push(...st.inserts)
    } else if (st.kind === 'insert') {
      plain.push(st)
      inserts.push(st)
    }
  }
  if (set !== undefined && plain.length > 0) {
    const st = plain[0]!
    throw errorAt(
      'ERR_SQL_PLAN',
      sql,
      st.at,
      `INSERT INTO ${st.target.join('.')} is outside the statement set at line ${line(set.at)}; the statement set is the script's job: move this INSERT into it`,
    )
  }
  if (query !== undefined && inserts.length > 0) {
    throw errorAt(
      'ERR_SQL_PLAN',
      sql,
      query.at,
      `a query beside INSERT INTO statements (line ${line(inserts[0]!.at)}) has no table to go to: declare one with CREATE TABLE and INSERT INTO it, or plan the query on its own`,
    )
  }
  return query !== undefined ? { query, inserts } : { inserts }
}

/**
 * Refuses a script with several INSERTs where the results must be one stream: ERR_SQL_PLAN at
 * the second INSERT, ending with `hint` (what to do instead).
 */
export function refuseSeveralInserts(sql: string, shape: ScriptShape, hint: string): void {
  if (shape.inserts.length < 2) return
  const second = shape.inserts[1]!
  throw errorAt(
    'ERR_SQL_PLAN',
    sql,
    second.at,
    `a second INSERT INTO (the first is at line ${positionAt(sql, shape.inserts[0]!.at).line}): ${hint}`,
  )
}

// A planner for a handful of fixed query shapes, used by the server and manager tests to exercise
// the QueryManager and the HTTP API independently of the SQL planner.

import { SquallError } from '../../src/core/errors.ts'
import { Topology } from '../../src/core/topology.ts'
import { TumblingWindows } from '../../src/core/window/assigners.ts'
import type { QueryCatalog, QueryPlanner } from '../../src/query/manager.ts'
import type { PlannedQuery } from '../../src/query/query-job.ts'
import { syntaxError } from '../../src/query/sql-error.ts'

type Row = { [field: string]: unknown }

const COUNT = /^SELECT (\w+), COUNT\(\*\) AS (\w+) FROM (\w+) GROUP BY (\w+)$/i
const WINDOW = /^SELECT (\w+), COUNT\(\*\) AS (\w+) FROM (\w+) GROUP BY (\w+), TUMBLE\((\d+)ms\)$/i
const FILTER = /^SELECT \* FROM (\w+) WHERE (\w+) = '([^']*)'$/i
const FAIL = /^SELECT FAIL_AFTER\((\d+)\) FROM (\w+)$/i

function table(sql: string, catalog: QueryCatalog, name: string, topology: Topology) {
  const t = catalog.get(name)
  if (t === undefined)
    throw syntaxError(
      sql,
      sql.indexOf(name),
      `unknown table "${name}"; tables: ${[...catalog.keys()].join(', ')}`,
    )
  return topology.source(name, t.source, t.watermarks ? { watermarks: t.watermarks } : {})
}

/** Plans the four shapes above; anything else is a syntax error at the first word it cannot use. */
export const toyPlanner: QueryPlanner = (sql, catalog): PlannedQuery => {
  const from = /\bFROM\s+(\w+)/i.exec(sql)
  if (from && !catalog.has(from[1]!)) {
    throw syntaxError(
      sql,
      from.index + from[0].length - from[1]!.length,
      `unknown table "${from[1]}"; tables: ${[...catalog.keys()].join(', ')}`,
    )
  }
  const text = sql.trim()
  const topology = new Topology('query')
  let m = WINDOW.exec(text)
  if (m) {
    const [, field, alias, from] = m as unknown as [string, string, string, string, string, string]
    const size = Number(m[5])
    table(text, catalog, from, topology)
      .keyBy((v) => String((v as Row)[field]))
      .window(TumblingWindows.of(size))
      .count('window-count')
      .map((w) => ({ [field]: w.key, [alias]: w.value, window_end: w.windowEnd }))
    return { topology, updating: false, columns: [field, alias, 'window_end'], key: [field], warnings: [] }
  }
  m = COUNT.exec(text)
  if (m) {
    const [, field, alias, from, group] = m as unknown as [string, string, string, string, string]
    if (group !== field)
      throw syntaxError(
        text,
        text.lastIndexOf(group),
        `GROUP BY ${group} must name the selected column ${field}`,
      )
    table(text, catalog, from, topology)
      .keyBy((v) => String((v as Row)[field]))
      .count('group-count')
      .map((c) => ({ [field]: c.key, [alias]: c.count }))
    return { topology, updating: true, columns: [field, alias], key: [field], warnings: [] }
  }
  m = FILTER.exec(text)
  if (m) {
    const [, from, field, value] = m as unknown as [string, string, string, string]
    table(text, catalog, from, topology).filter((v) => String((v as Row)[field]) === value)
    return {
      topology,
      updating: false,
      columns: ['*'],
      key: [field],
      warnings: ['SELECT * returns every field'],
    }
  }
  m = FAIL.exec(text)
  if (m) {
    const limit = Number(m[1])
    let seen = 0
    table(text, catalog, m[2]!, topology).map((v) => {
      if (++seen > limit) throw new Error(`FAIL_AFTER(${limit}) reached`)
      return v
    })
    return { topology, updating: false, columns: ['*'], warnings: [] }
  }
  const words = /^(SELECT)\s/i.exec(text)
  if (!words) throw syntaxError(sql, sql.indexOf(text), `expected SELECT, got "${text.split(/\s+/)[0]}"`)
  if (!/\bFROM\b/i.test(text)) throw syntaxError(sql, sql.length, 'expected FROM, got the end of the query')
  throw new SquallError('ERR_SQL_SYNTAX', `unsupported query shape: ${text}`)
}

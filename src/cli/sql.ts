// `squall sql "<query>" --source name=path.jsonl`: runs a query (or a script of INSERTs) over
// JSON-lines files as bounded streams and prints its result rows (or its changelog) as JSON lines.

import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs'
import { type Duration, toMillis } from '../core/duration.ts'
import { SquallError } from '../core/errors.ts'
import type { Record } from '../core/record.ts'
import { file } from '../plugins/inputs/file.ts'
import { collect } from '../plugins/outputs/collect.ts'
import { ChangelogTable, changeLine, isChange } from '../query/changelog.ts'
import {
  type Catalog,
  type CatalogTable,
  type InsertPlan,
  planQuery,
  type QueryPlan,
} from '../query/planner.ts'
import { runToEnd } from '../runtime/embedded/runner.ts'
import { parse } from './args.ts'
import type { Command } from './commands.ts'

const HELP = `Usage: squall sql "<query>" | query.sql --source name=path.jsonl [options]

Runs a SQL query over JSON-lines files, read as bounded streams, and prints the result rows as
JSON lines. At the end of the input the watermark goes to +infinity, so every window fires.
A script with several INSERT INTO statements (plain, or in EXECUTE STATEMENT SET BEGIN ... END)
runs them as one job and prints each row as {"table": "<target>", "row": {...}}, table by table
in the order of the INSERTs ({"table": ..., "op": "+U", "row": {...}} with --emit changelog).

Options:
  --source NAME=PATH       a table named NAME read from the JSON-lines file PATH (repeatable)
  --event-time NAME=COL    column COL of table NAME is its event time (repeatable); values are
                           epoch ms or timestamp text (UTC when no zone is given)
  --watermark-delay D      how far out of order event times may come, e.g. 4s (default 0)
  --emit final|changelog   final (default): the final table of an updating query;
                           changelog: every change, as {"op":"+U", ...row}
  --strict                 refuse queries whose state grows without bound

Examples:
  squall sql "SELECT url, COUNT(*) AS n FROM logs GROUP BY url" --source logs=access.jsonl
  squall sql "SELECT window_start, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE logs, DESCRIPTOR(ts),
    INTERVAL '1' MINUTE)) GROUP BY window_start, window_end" --source logs=a.jsonl --event-time logs=ts`

/** Options shared by sql and explain: the tables and their event time. */
export const TABLE_OPTIONS = {
  source: { type: 'string', multiple: true },
  'event-time': { type: 'string', multiple: true },
  'watermark-delay': { type: 'string' },
  strict: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const

function pairs(flag: string, values: readonly string[] | undefined): [string, string][] {
  return (values ?? []).map((v) => {
    const i = v.indexOf('=')
    if (i <= 0 || i === v.length - 1)
      throw new SquallError('ERR_CLI_USAGE', `--${flag}: expected NAME=VALUE, got "${v}"`)
    return [v.slice(0, i), v.slice(i + 1)]
  })
}

/** Reads up to `max` JSON objects from the start of a JSON-lines file, to infer its columns. */
export function sampleRows(path: string, max = 100): object[] {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch (e) {
    throw new SquallError('ERR_CLI_USAGE', `--source: cannot read "${path}": ${(e as Error).message}`)
  }
  const buf = Buffer.alloc(256 * 1024)
  const n = readSync(fd, buf, 0, buf.length, 0)
  closeSync(fd)
  const lines = buf.subarray(0, n).toString('utf8').split('\n')
  if (n === buf.length) lines.pop()
  const rows: object[] = []
  for (const line of lines) {
    if (rows.length >= max) break
    if (line.trim() === '') continue
    try {
      const v: unknown = JSON.parse(line)
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) rows.push(v)
    } catch {
      throw new SquallError(
        'ERR_CLI_USAGE',
        `--source: "${path}" line ${rows.length + 1} is not JSON: ${line.slice(0, 80)}`,
      )
    }
  }
  return rows
}

/** Builds the catalog of `--source`/`--event-time`/`--watermark-delay`; usage errors name the flag. */
export function catalogFromFlags(values: { [flag: string]: unknown }): Catalog {
  const delayText = values['watermark-delay'] as string | undefined
  let delay = 0
  if (delayText !== undefined) {
    try {
      delay = toMillis(
        (/^\d+$/.test(delayText) ? Number(delayText) : delayText) as Duration,
        '--watermark-delay',
      )
    } catch {
      throw new SquallError(
        'ERR_CLI_USAGE',
        `--watermark-delay: expected a duration like "4s" or "500ms", got "${delayText}"`,
      )
    }
  }
  const times = new Map(pairs('event-time', values['event-time'] as string[] | undefined))
  const catalog: { [name: string]: CatalogTable } = {}
  for (const [name, path] of pairs('source', values.source as string[] | undefined)) {
    const column = times.get(name)
    times.delete(name)
    catalog[name] = {
      source: file({ path, format: 'jsonl' }),
      sample: sampleRows(path),
      ...(column !== undefined ? { eventTime: { column, watermarkDelayMs: delay } } : {}),
    }
  }
  for (const name of times.keys()) {
    throw new SquallError('ERR_CLI_USAGE', `--event-time ${name}=...: there is no --source named "${name}"`)
  }
  return catalog
}

/** Plans a query from CLI flags. */
export function planFromFlags(
  query: string | undefined,
  values: { [flag: string]: unknown },
  command: string,
): QueryPlan {
  if (query === undefined || query.trim() === '') {
    throw new SquallError(
      'ERR_CLI_USAGE',
      `squall ${command}: give the query as the first argument. Run "squall ${command} --help".`,
    )
  }
  // A query may also be given as the path of a .sql file.
  const text =
    /\.sql$/i.test(query.trim()) && existsSync(query.trim()) ? readFileSync(query.trim(), 'utf8') : query
  return planQuery(text, catalogFromFlags(values), { strict: values.strict === true })
}

/**
 * Runs the plan to the end of its input and returns the lines to print: the rows of an
 * append-only query in arrival order; for an updating one, the final table (`final`) or every
 * change (`changelog`). For a script with several INSERTs, all run in one job and the lines are
 * each INSERT's in turn, in the order written, as `{ table, row }` (`{ table, op, row }` for
 * `changelog`).
 */
export async function runPlan(plan: QueryPlan, emit: 'final' | 'changelog'): Promise<object[]> {
  const results = plan.inserts.length > 1 ? plan.inserts : [plan]
  const sinks = results.map((r, i) => {
    const sink = collect<unknown>()
    plan.topology.addSink(results.length > 1 ? `output-${i + 1}` : 'output', sink, [{ from: r.output }], {
      parallelism: 1,
    })
    return sink
  })
  await runToEnd(plan.topology, { threads: 1, parallelism: 1, log: () => {} })
  if (results.length === 1) return resultLines(plan, sinks[0]!.records as Record<unknown>[], emit)
  const out: object[] = []
  results.forEach((r, i) => {
    const table = (r as InsertPlan).table
    const records = sinks[i]!.records as Record<unknown>[]
    if (emit === 'final') {
      for (const row of resultLines(r, records, emit)) out.push({ table, row })
      return
    }
    for (const { value: v } of records)
      out.push(isChange(v) ? { table, op: v.op, row: v.row } : { table, op: '+I', row: v })
  })
  return out
}

function resultLines(
  result: { readonly updating: boolean },
  records: readonly Record<unknown>[],
  emit: 'final' | 'changelog',
): object[] {
  const values = records.map((r) => r.value)
  if (emit === 'changelog')
    return values.map((v) => (isChange(v) ? changeLine(v) : { op: '+I', ...(v as object) }))
  if (!result.updating) return values as object[]
  const table = new ChangelogTable()
  for (const v of values) table.apply(v as never)
  return table.toRows()
}

export const sqlCommand: Command = {
  name: 'sql',
  usage: 'sql "<query>" --source name=path.jsonl [options]',
  summary: 'run a SQL query over JSON-lines files and print the result rows',
  help: HELP,
  async run(args) {
    const { values, positionals } = parse('sql', args, { ...TABLE_OPTIONS, emit: { type: 'string' } })
    if (values.help) {
      process.stdout.write(`${HELP}\n`)
      return 0
    }
    const emit = (values.emit ?? 'final') as string
    if (emit !== 'final' && emit !== 'changelog') {
      throw new SquallError('ERR_CLI_USAGE', `--emit: expected "final" or "changelog", got "${emit}"`)
    }
    const plan = planFromFlags(positionals[0], values, 'sql')
    for (const w of plan.warnings) process.stderr.write(`warning: ${w}\n`)
    const rows = await runPlan(plan, emit)
    let text = ''
    for (const r of rows) text += `${JSON.stringify(r)}\n`
    process.stdout.write(text)
    return 0
  },
}

// The SQL engine as the planner of a pipeline file's `queries`: each query reads the pipeline's
// sources as tables, and its result rows go to the outputs tagged `query.<name>`.

import { SquallError } from '../core/errors.ts'
import type { Processor } from '../core/processor.ts'
import { Stream } from '../core/stream.ts'
import { compileTagPattern, type TagMatcher } from '../core/tag-match.ts'
import type { Topology } from '../core/topology.ts'
import type { PipelineQuery, PlannedPipelineQuery, QueryPlanningContext } from '../pipeline/queries.ts'
import { changeLine, isChange } from './changelog.ts'
import { type CatalogTable, planQuery } from './planner.ts'
import { TIME_COLUMN } from './row-schema.ts'

/**
 * The sources as tables; reading one whose columns are unknown throws a message naming the fix.
 * With a tag pattern, a table read by the query reads node `<query>.match-<source>`, added on its
 * first read, which keeps the source's records whose tag matches (and its watermarks).
 */
class SourceTables extends Map<string, CatalogTable> {
  private readonly filtered = new Set<string>()

  constructor(
    private readonly unknown: ReadonlyMap<string, string>,
    private readonly topology: Topology,
    private readonly query: string,
    private readonly match: TagMatcher | undefined,
  ) {
    super()
  }

  override get(name: string): CatalogTable | undefined {
    const path = this.unknown.get(name)
    if (path !== undefined)
      throw new SquallError(
        'ERR_SQL_PLAN',
        `table "${name}": the columns of its records are unknown (its parser declares none); list them in ${path}.columns, e.g. { user: STRING, bytes: BIGINT }`,
      )
    const table = super.get(name)
    const match = this.match
    if (table?.node === undefined || match === undefined || this.filtered.has(name)) return table
    const node = `${this.query}.match-${name}`
    const keep = (): Processor<unknown, unknown> => ({
      process(r, out) {
        if (match(r.tag)) out.emitRecord(r)
      },
    })
    this.topology.addProcessor(node, keep, [{ from: table.node }])
    const filtered = { ...table, node }
    this.set(name, filtered)
    this.filtered.add(name)
    return filtered
  }
}

/**
 * Plans one query of a pipeline file into the pipeline's topology. Every source is a table named
 * after it, with the columns of `ctx.tables` plus `time`, the record's event time (the source's
 * `eventTime`, or its parser's time) and the table's time attribute; the source's watermarks hold.
 * With `query.match`, the tables hold only the records whose tag matches that pattern.
 * The nodes the query adds are named `<query>.…`; its results come out of node `<query>.results`
 * tagged `query.<query>`: rows, or `{ op, ...row }` changes for a query whose results update
 * (`updating`, with the operator that makes them update in `updatingBecause`).
 * A query is one SELECT or one INSERT INTO: several INSERTs are refused (ERR_SQL_PLAN at the
 * second one's line), since one query's rows leave under one tag.
 * Throws the SQL engine's errors (ERR_SQL_*), which the pipeline reports at `queries[i]`.
 */
export function planPipelineQuery(query: PipelineQuery, ctx: QueryPlanningContext): PlannedPipelineQuery {
  const unknown = new Map<string, string>()
  const match = query.match === undefined ? undefined : compileTagPattern(query.match)
  const tables = new SourceTables(unknown, ctx.topology, query.name, match)
  for (const [name, stream] of Object.entries(ctx.streams)) {
    const table = ctx.tables?.[name]
    if (table?.columns === undefined) unknown.set(name, table?.path ?? `the source "${name}"`)
    tables.set(name, {
      node: stream.nodeName,
      recordTime: TIME_COLUMN,
      ...(table?.columns === undefined ? {} : { schema: table.columns }),
    })
  }
  const plan = planQuery(query.sql, tables, {
    topology: ctx.topology,
    prefix: `${query.name}.`,
    singleResult: `the results of queries[].sql go to one tag (query.${query.name}); write each INSERT as an entry of queries of its own (the sources are read once for all of them)`,
  })
  for (const w of plan.warnings) ctx.log?.('warn', `query "${query.name}": ${w}`)
  const tag = `query.${query.name}`
  const node = `${query.name}.results`
  const results = (): Processor<unknown, unknown> => ({
    process(r, out) {
      const v = r.value
      out.emitRecord({ value: isChange(v) ? changeLine(v) : v, key: r.key, time: r.time, tag })
    },
  })
  ctx.topology.addProcessor(node, results, [{ from: plan.output }])
  return {
    results: new Stream<unknown>(ctx.topology, node),
    updating: plan.updating,
    updatingBecause: plan.updatingBecause,
  }
}

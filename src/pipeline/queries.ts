// The hook through which the SQL engine plans the `queries` of a pipeline file.

import type { Logger } from '../core/logger.ts'
import type { Stream } from '../core/stream.ts'
import type { Topology } from '../core/topology.ts'

/** One `queries[i]` entry. */
export interface PipelineQuery {
  readonly name: string
  readonly sql: string
  /**
   * A fluentd tag pattern (`web.**`, `{a,b}.c`), already checked by the pipeline: the query's
   * tables hold only the records whose tag matches it. `undefined`: every record.
   */
  readonly match?: string | undefined
}

/** What the pipeline file says about one source's records, for planners that type-check. */
export interface SourceTable {
  /** Where the source is in the file (`sources[0]`), for messages. */
  readonly path: string
  /** Column names and SQL types of its records: the source's `columns`, else its parser's. */
  readonly columns?: { readonly [column: string]: string }
}

/** What a planner gets: the topology being built and the streams of the sources, by source name. */
export interface QueryPlanningContext {
  readonly topology: Topology
  readonly streams: { readonly [source: string]: Stream<unknown> }
  /** What is known about each source's records, by source name. */
  readonly tables?: { readonly [source: string]: SourceTable }
  /** Where a planner reports warnings (a query whose state grows without bound). */
  readonly log?: Logger
}

/**
 * A query planned into a pipeline: its result stream, tagged `query.<name>`, and whether those
 * results update rows emitted earlier (changes `{ op, ...row }`), with why when known.
 */
export interface PlannedPipelineQuery {
  readonly results: Stream<unknown>
  readonly updating: boolean
  /** Which part of the query makes its results update, e.g. `a GROUP BY without a window (node q.agg)`. */
  readonly updatingBecause?: string | undefined
}

/**
 * Plans one query into the topology and returns its result stream (routed to outputs by tag
 * like any other record) — as a bare stream, taken as append-only, or with whether its results
 * update — or nothing when the query ends in its own sink. With `query.match`, the query must read
 * only the records whose tag matches. A throw becomes a config error at `queries[i]`.
 */
export type QueryPlanner = (
  query: PipelineQuery,
  ctx: QueryPlanningContext,
) => Stream<unknown> | PlannedPipelineQuery | undefined

let planner: QueryPlanner | undefined

/**
 * Installs the planner of pipelines' `queries` in place of the SQL engine's (`planPipelineQuery`,
 * loaded when a file has queries and no planner is installed); `undefined` restores the SQL engine.
 */
export function registerQueryPlanner(fn: QueryPlanner | undefined): void {
  planner = fn
}

/** The installed planner, if any (none: pipelines use the SQL engine's). */
export function queryPlanner(): QueryPlanner | undefined {
  return planner
}

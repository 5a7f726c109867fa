// The hook through which the SQL engine plans the `queries` of a pipeline file.

import type { Stream } from '../core/stream.ts'
import type { Topology } from '../core/topology.ts'

/** One `queries[i]` entry. */
export interface PipelineQuery {
  readonly name: string
  readonly sql: string
}

/** What a planner gets: the topology being built and the streams of the sources, by source name. */
export interface QueryPlanningContext {
  readonly topology: Topology
  readonly streams: { readonly [source: string]: Stream<unknown> }
}

/**
 * Plans one query into the topology and returns its result stream (routed to outputs by tag
 * like any other record), or nothing when the query ends in its own sink. A throw becomes a config
 * error at `queries[i]`.
 */
export type QueryPlanner = (query: PipelineQuery, ctx: QueryPlanningContext) => Stream<unknown> | undefined

let planner: QueryPlanner | undefined

/** Installs the query planner pipelines use (the SQL engine calls this); replaces any earlier one. */
export function registerQueryPlanner(fn: QueryPlanner | undefined): void {
  planner = fn
}

/** The installed planner, if any. */
export function queryPlanner(): QueryPlanner | undefined {
  return planner
}

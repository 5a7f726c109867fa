// Serving a job over HTTP: taps its sources onto a stream bus, runs it, and starts the query
// manager and the HTTP API next to it (what `squall run --http PORT` does).

import { type Logger, consoleLogger } from '../core/logger.ts'
import type { Topology } from '../core/topology.ts'
import { StreamBus, withTaps } from '../query/bus.ts'
import { QueryManager, type QueryPlanner, type TableDeclaration } from '../query/manager.ts'
import { planQuery } from '../query/planner.ts'
import { type EmbeddedOptions, runEmbedded } from '../runtime/embedded/runner.ts'
import type { Job } from '../runtime/job.ts'
import { loadTopology } from '../runtime/load-module.ts'
import { type IngestHandler, type SquallServer, startServer } from './server.ts'

/** Options of a served job's HTTP side. */
export interface HttpOptions {
  port: number
  host?: string
  token?: string
  /** Where registered queries persist (the job's state directory). */
  stateDir?: string
  /** The SQL planner; default: `planQuery` of src/query/planner.ts. */
  planner?: QueryPlanner
  /** Schemas and time columns of the job's tables (default: inferred from the first records). */
  tables?: { readonly [table: string]: TableDeclaration }
  ingest?: IngestHandler
  log?: Logger
}

/** A job with its HTTP API. `close()` stops the server and the queries (not the job). */
export interface ServedJob {
  readonly job: Job
  readonly bus: StreamBus
  readonly manager: QueryManager
  readonly server: SquallServer
  close(): Promise<void>
}

/**
 * Runs a copy of `topology` with every source tapped (tables named like the sources; see
 * `withTaps`) with `options`, and serves it. Queries read the taps, so they need the job on one thread: with `threads` > 1 the
 * job runs untapped and its catalog is empty (health, metrics and ingest still work).
 * Throws before anything runs if the server cannot listen.
 */
export async function serveTopology(
  topology: Topology,
  options: EmbeddedOptions,
  http: HttpOptions,
): Promise<ServedJob> {
  const log = http.log ?? options.log ?? consoleLogger()
  const bus = new StreamBus()
  const threads = options.threads === undefined ? 1 : options.threads
  const run = threads === 1 ? withTaps(topology, bus) : topology
  if (threads !== 1)
    log(
      'warn',
      'queries read the job on its own thread; with --threads > 1 the job exposes no tables to queries',
    )
  const manager = await QueryManager.open({
    bus,
    planner: http.planner ?? ((sql, catalog) => planQuery(sql, catalog)),
    ...(http.tables !== undefined ? { tables: http.tables } : {}),
    log,
    ...(http.stateDir !== undefined ? { stateDir: http.stateDir } : {}),
  })
  const job = runEmbedded(run, options)
  let server: SquallServer
  try {
    server = await startServer({
      port: http.port,
      manager,
      job,
      log,
      ...(http.host !== undefined ? { host: http.host } : {}),
      ...(http.token !== undefined ? { token: http.token } : {}),
      ...(http.ingest !== undefined ? { ingest: http.ingest } : {}),
    })
  } catch (e) {
    await job.stop()
    await manager.close()
    throw e
  }
  log('info', `http API of job "${job.name}" on ${server.url}`, { url: server.url })
  return {
    job,
    bus,
    manager,
    server,
    async close() {
      await server.close()
      await manager.close()
    },
  }
}

/** Loads a topology module and serves it (see `serveTopology`). */
export async function serveModule(
  path: string,
  options: EmbeddedOptions,
  http: HttpOptions,
): Promise<ServedJob> {
  const topology = await loadTopology(path, options.exportName)
  return serveTopology(topology, { ...options, module: path }, http)
}

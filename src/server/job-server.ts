// Serving a job over HTTP: taps its sources onto a stream bus, runs it, and starts the query
// manager and the HTTP API next to it (what `squall run --http PORT` does).

import { dirname, resolve } from 'node:path'
import { type Logger, consoleLogger } from '../core/logger.ts'
import type { Topology } from '../core/topology.ts'
import { StreamBus, withTaps } from '../query/bus.ts'
import { withThreadTaps } from '../query/thread-taps.ts'
import { QueryManager, type QueryPlanner, type TableDeclaration } from '../query/manager.ts'
import type { QueryCheckpointOptions } from '../query/query-checkpoints.ts'
import { sqlPlanner } from '../query/planner.ts'
import {
  type JobStateOptions,
  checkpointToRestore,
  resolveStateOptions,
} from '../runtime/checkpoint-recovery.ts'
import { checkpointsDir } from '../runtime/checkpoint-storage.ts'
import { type EmbeddedOptions, runEmbedded } from '../runtime/embedded/runner.ts'
import type { Job } from '../runtime/job.ts'
import { loadTopology } from '../runtime/load-module.ts'
import { type IngestHandler, type SquallServer, startServer } from './server.ts'

/** Options of a served job's HTTP side. */
export interface HttpOptions {
  port: number
  host?: string
  token?: string
  /**
   * Where registered queries persist (the job's state directory). When the job has a state
   * directory too (`options.state`), each query's state is part of the job's checkpoints and
   * comes back with it after a restart (see QueryManagerOptions.checkpoints).
   */
  stateDir?: string
  /** The SQL planner; default: `sqlPlanner` of src/query/planner.ts. */
  planner?: QueryPlanner
  /**
   * Schemas and time columns of the job's tables (default: inferred from the first records; a table
   * whose source declares event time has the `time` column, see QueryManager's TIME_COLUMN).
   */
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
 * `withTaps`; `withThreadTaps` when the job runs on worker threads) with `options`, and serves it.
 * The persisted queries start before the job, from the state they had at the checkpoint the job
 * resumes from. Throws before anything runs if the server cannot listen, or (as the job would)
 * when the checkpoint to restore cannot be read.
 */
export async function serveTopology(
  topology: Topology,
  options: EmbeddedOptions,
  http: HttpOptions,
): Promise<ServedJob> {
  const log = http.log ?? options.log ?? consoleLogger()
  const bus = new StreamBus()
  const threads = options.threads === undefined ? 1 : options.threads
  // On worker threads, the taps send their streams to this thread's bus.
  const tapped = threads === 1 ? { topology: withTaps(topology, bus) } : withThreadTaps(topology, bus)
  const run = tapped.topology
  const runOptions = 'decorate' in tapped ? { ...options, decorate: tapped.decorate } : options
  const checkpoints =
    http.stateDir !== undefined && options.state !== undefined
      ? queryCheckpoints(options.state, log)
      : undefined
  const manager = await QueryManager.open({
    bus,
    planner: http.planner ?? sqlPlanner,
    ...(http.tables !== undefined ? { tables: http.tables } : {}),
    log,
    ...(http.stateDir !== undefined ? { stateDir: http.stateDir } : {}),
    ...(checkpoints !== undefined ? { checkpoints } : {}),
  })
  const job = runEmbedded(run, runOptions)
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

/**
 * Where the queries of a job with `state` keep their checkpoints, and the checkpoint the job will
 * resume from (the one its start picks; one of another state directory counts as none, as the
 * queries' checkpoints of this directory do not match it).
 */
function queryCheckpoints(state: JobStateOptions, log: Logger): QueryCheckpointOptions {
  const { dir, retain } = resolveStateOptions(state)
  // The job logs what it skips when it starts; this look is silent.
  const restore = checkpointToRestore(state, () => {})
  if (restore === undefined) return { dir, retain }
  if (resolve(dirname(restore.dir)) !== resolve(checkpointsDir(dir))) {
    log(
      'warn',
      `the job resumes from "${restore.dir}", outside its state directory: registered queries start with empty state`,
    )
    return { dir, retain }
  }
  return { dir, retain, resumedFrom: { id: restore.manifest.id, finished: restore.manifest.finished } }
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

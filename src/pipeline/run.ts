// Running a pipeline file: build its topology, take its state and server sections, start the job.

import { fileURLToPath } from 'node:url'
import { resolve } from 'node:path'
import type { EmbeddedOptions } from '../runtime/embedded/runner.ts'
import { runEmbedded } from '../runtime/embedded/runner.ts'
import type { Job } from '../runtime/job.ts'
import { ConfigError } from '../core/errors.ts'
import { loadPipeline } from './load.ts'

/** The HTTP API options given on the command line; they override the file's `server` section. */
export interface PipelineHttp {
  port?: number
  host?: string
  token?: string
}

/** A started pipeline job; `close()` stops its HTTP API (not the job). */
export interface StartedPipeline {
  readonly job: Job
  /** The URL of the job's HTTP API (`http://127.0.0.1:8080`), when it has one. */
  readonly url: string | undefined
  close(): Promise<void>
}

/** The module worker threads import to rebuild a pipeline's topology (see pipeline-module.ts). */
const PIPELINE_MODULE = fileURLToPath(new URL('./pipeline-module.ts', import.meta.url))

/**
 * Loads the pipeline file at `path` and starts it. `options.state` (command-line flags) wins over
 * the file's `state`; the HTTP API runs when the file has `server` or `http.port` is given, and then
 * serves `POST /api/ingest/{tag}` for an http source without its own port. With
 * several threads, each worker rebuilds the topology from the file (named by `SQUALL_PIPELINE_FILE`).
 * Throws ConfigError with every problem of the file before anything starts.
 */
export async function startPipeline(
  path: string,
  options: EmbeddedOptions = {},
  http: PipelineHttp = {},
): Promise<StartedPipeline> {
  const abs = resolve(path)
  const built = await loadPipeline(abs, options.log ? { log: options.log } : {})
  const state = options.state ?? built.state
  const threads = options.threads === 'auto' ? 2 : (options.threads ?? 1)
  if (threads !== 1) process.env.SQUALL_PIPELINE_FILE = abs
  const runOptions: EmbeddedOptions = {
    ...options,
    ...(state ? { state } : {}),
    ...(threads !== 1 ? { module: PIPELINE_MODULE } : {}),
  }
  const port = http.port ?? built.server?.port
  const ingest = port === undefined || threads !== 1 ? undefined : built.ingest
  if (port !== undefined && threads !== 1 && built.ingest !== undefined)
    throw new ConfigError([
      {
        path: 'sources',
        message: `with more than one thread, the http source "${built.ingest.owner}" cannot accept on the job's HTTP server; give it its own port`,
      },
    ])
  if (ingest) ingest.served = true
  if (port === undefined) {
    const job = runEmbedded(built.topology, runOptions)
    return { job, url: undefined, close: async () => {} }
  }
  const { serveTopology } = await import('../server/job-server.ts')
  const token = http.token ?? built.server?.token
  const host = http.host ?? built.server?.bind
  const served = await serveTopology(built.topology, runOptions, {
    port,
    ...(host ? { host } : {}),
    ...(token ? { token } : {}),
    ...(state ? { stateDir: state.dir } : {}),
    ...(ingest ? { ingest: ingest.handler } : {}),
  })
  return { job: served.job, url: served.server.url, close: () => served.close() }
}

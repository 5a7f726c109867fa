// The topology module of a pipeline file, for worker threads: each worker rebuilds the topology
// from the file named by the SQUALL_PIPELINE_FILE environment variable.

import { SquallError } from '../core/errors.ts'
import type { Topology } from '../core/topology.ts'
import { loadPipeline } from './load.ts'

/** Builds the topology of the pipeline file in `SQUALL_PIPELINE_FILE`. */
export default async function pipelineTopology(): Promise<Topology> {
  const path = process.env.SQUALL_PIPELINE_FILE
  if (!path)
    throw new SquallError(
      'ERR_MODULE_LOAD',
      'SQUALL_PIPELINE_FILE is not set: this module builds the pipeline named there',
    )
  return (await loadPipeline(path, { log: () => {} })).topology
}

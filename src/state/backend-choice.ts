// Chooses where a job's keyed state lives while it runs: in memory (default) or in LMDB files.

import { join } from 'node:path'
import type { Executor } from '../runtime/executor.ts'
import { LmdbBackend } from './lmdb-backend.ts'

/**
 * Gives every operator task of the executor the backend the job asked for; call before the tasks
 * open. `memory` keeps the tasks' default in-memory stores. `lmdb` opens one LMDB environment per
 * task under `<dir>/lmdb/` (emptied first: checkpoints, not these files, are what survives a crash).
 * Either way TTL is stamped and expired by the executor's clock.
 */
export function installStateBackend(
  executor: Executor,
  state: { dir: string; backend: 'memory' | 'lmdb' },
): void {
  if (state.backend !== 'lmdb') return
  for (const o of executor.operators) {
    const path = join(state.dir, 'lmdb', `${o.node.spec.name}-${o.index}`)
    // TTL stamps come from the job's clock, as with the in-memory stores (a manual clock in tests).
    o.useState(
      LmdbBackend.open(path, o.node.spec.name, executor.plan.maxParallelism, () => o.currentProcessingTime()),
    )
  }
}

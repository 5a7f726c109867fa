// Options shared by the network inputs that journal what they accept (forward, http, syslog).

import { join, resolve } from 'node:path'
import { z } from 'zod'
import type { PluginContext } from '../define.ts'
import { size } from '../config.ts'

/** The journal options every journaled input takes. */
export const journalOptions = {
  journalDir: z
    .string()
    .optional()
    .describe(
      'Directory of the input journal; default `<state.dir>/journal/<source name>` (a temporary directory without state.dir).',
    ),
  fsync: z
    .enum(['always', 'batch', 'interval', 'never'])
    .default('always')
    .describe(
      'When journaled events are synced to disk before the sender is acknowledged: `always` (default: group commit, one fdatasync at a time, each covering every append made before it started), `batch` (one fdatasync for what arrives within at most 5 ms, or sooner once 10 000 entries wait: fewer syncs, longer acks), `interval` (acknowledged once written; synced every second, so a machine crash may lose the last second), `never` (synced only at segment roll-over and close).',
    ),
  maxLagBytes: size('64MiB').describe(
    'Journal bytes the job may lag behind before the input is busy: http answers 429 with Retry-After, forward holds its acks, syslog pauses its TCP connections (UDP cannot be paused).',
  ),
}

/** Where a journaled input keeps its journal: `journalDir`, else under the state directory. */
export function journalDirOf(configured: string | undefined, ctx: PluginContext): string | undefined {
  if (configured !== undefined) return resolve(ctx.baseDir, configured)
  return ctx.stateDir === undefined ? undefined : join(ctx.stateDir, 'journal', ctx.name)
}

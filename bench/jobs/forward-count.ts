// The forward count job: events received by the `forward` input (each chunk journaled before its
// ack), keyed by `path` and counted; the sink discards the counts but notes when the last expected
// event has been counted.

import { Topology } from '../../src/core/topology.ts'
import type { SinkSpec } from '../../src/core/source.ts'
import type { InputContext } from '../../src/plugins/define.ts'
import forwardInput, { ForwardInputConfig } from '../../src/plugins/inputs/forward.ts'
import type { Logger } from '../../src/core/logger.ts'
import type { FsyncPolicy } from '../../src/state/journal.ts'

/** A sink that drops `{ key, count }` updates and counts them: one update per event counted. */
export interface CountingSink extends SinkSpec<{ key: unknown; count: number }> {
  /** Updates received so far. */
  readonly updates: number
}

/** Options of {@link forwardCount}. */
export interface ForwardCountOptions {
  /** The events the sender will send; `onAll` runs when the count of the last one arrives. */
  expected: number
  /** Called once, on the job's thread, right after the `expected`-th update reached the sink. */
  onAll: () => void
  /** The input's log (the temporary-journal warning goes there). */
  log: Logger
  /** The journal's fsync policy; default the input's own default (`always`). */
  fsync?: FsyncPolicy | undefined
}

/** A discarding sink that counts the updates it receives and calls `onAll` at `expected`. */
export function countingSink(expected: number, onAll: () => void): CountingSink {
  let updates = 0
  return {
    kind: 'discard',
    get updates() {
      return updates
    },
    create: () => ({
      write(batch) {
        const before = updates
        updates += batch.length
        if (before < expected && updates >= expected) onAll()
      },
    }),
  }
}

/**
 * Builds forward → keyBy(path) → count → counting sink. The input listens on a free port of
 * 127.0.0.1 with its default settings (journal fsync `always`) unless `fsync` is given; without a
 * state directory its journal is a temporary directory, removed when the job ends, synced by the
 * same policy. The bound port is reported on the `listening:fluent` channel (`onReport`).
 */
export function forwardCount(options: ForwardCountOptions): { topology: Topology; sink: CountingSink } {
  const ctx: InputContext = {
    name: 'fluent',
    path: 'sources[0]',
    baseDir: process.cwd(),
    stateDir: undefined,
    log: options.log,
    tag: 'bench',
    parser: undefined,
  }
  const config = ForwardInputConfig.parse({
    port: 0,
    bind: '127.0.0.1',
    ...(options.fsync === undefined ? {} : { fsync: options.fsync }),
  })
  const sink = countingSink(options.expected, options.onAll)
  const t = new Topology('forward-count')
  t.source('fluent', forwardInput.create(config, ctx))
    .keyBy((v) => (v as { path: string }).path)
    .count('hits')
    .sink(sink, { name: 'out' })
  return { topology: t, sink }
}

// Benchmark: the cost of checkpoints on a keyed count over 1 million distinct keys — the same job
// with a checkpoint every second against no checkpoints (throughput, in the same run), the longest
// gap between two batches reaching the sink (with and without checkpoints), the synchronous capture
// at the barrier, and the time a restart takes from start to processing again on a 1M-key checkpoint.
// Run: npm run bench -- checkpoint   (BENCH_RECORDS=3000000 for a quicker run)

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type Job,
  type JobResult,
  Topology,
  generator,
  memoryLogger,
  runEmbedded,
  sinkFn,
} from '../src/index.ts'
import type { Record } from '../src/core/record.ts'
import { type BenchRow, compareRates, row, runningTime } from './harness.ts'

const KEYS = Number(process.env.BENCH_KEYS ?? 1_000_000)
const RECORDS = Number(process.env.BENCH_RECORDS ?? 8_000_000)

/** What a run saw at its sink: the longest gap between two batches, after the first batch. */
interface Gaps {
  maxGapMs: number
  last: number
  records: number
}

function gapSink(gaps: Gaps) {
  return sinkFn<unknown>((batch: Record<unknown>[]) => {
    const now = performance.now()
    if (gaps.last > 0 && now - gaps.last > gaps.maxGapMs) gaps.maxGapMs = now - gaps.last
    gaps.last = now
    gaps.records += batch.length
  })
}

/** Key `u<seq mod KEYS>`: every key is seen once per KEYS records. */
function countJob(gaps: Gaps, count: number | undefined): Topology {
  const t = new Topology('checkpoint-bench')
  t.source('gen', generator({ ...(count === undefined ? {} : { count }), make: (seq) => `u${seq % KEYS}` }))
    .keyBy((k) => k)
    .count('counts')
    .sink(gapSink(gaps), { name: 'out' })
  return t
}

function fresh(): Gaps {
  return { maxGapMs: 0, last: 0, records: 0 }
}

export async function bench(): Promise<BenchRow[]> {
  const root = mkdtempSync(join(tmpdir(), 'squall-bench-cp-'))
  let run = 0
  const plainGaps: number[] = []
  const cpGaps: number[] = []
  let captureMs = 0
  let completed = 0
  try {
    const [without, withCp] = await compareRates(RECORDS, 2, [
      async () => {
        const gaps = fresh()
        const r = await runEmbedded(countJob(gaps, RECORDS)).done
        plainGaps.push(gaps.maxGapMs)
        return runningTime(r)
      },
      async () => {
        const gaps = fresh()
        const dir = join(root, `run-${run++}`)
        const r: JobResult = await runEmbedded(countJob(gaps, RECORDS), {
          state: { dir, checkpointInterval: '1s' },
          log: memoryLogger(),
        }).done
        rmSync(dir, { recursive: true, force: true })
        cpGaps.push(gaps.maxGapMs)
        const c = r.metrics.checkpoints ?? {}
        captureMs = Math.max(captureMs, c.maxPauseMs ?? 0)
        completed = Math.max(completed, c.completed ?? 0)
        return runningTime(r)
      },
    ])
    const recovery = await measureRecovery(join(root, 'recovery'))
    const worst = (xs: number[]) => Math.max(...xs.slice(1))
    return [
      row(
        `keyed count, ${KEYS / 1e6}M keys, checkpoint every 1 s vs none`,
        withCp!,
        without!,
        0.9,
        `${completed} checkpoints per run; longest sink gap ${worst(cpGaps).toFixed(0)} ms with, ${worst(plainGaps).toFixed(0)} ms without (target < 100 ms); capture at the barrier ${captureMs.toFixed(1)} ms`,
      ),
      row(
        `restart on a ${KEYS / 1e6}M-key checkpoint: keys restored per second`,
        KEYS / (recovery.ms / 1000),
        KEYS / 2,
        1,
        `${recovery.ms.toFixed(0)} ms from start to processing again (target < 2000 ms); baseline = 1M keys in 2 s`,
      ),
    ]
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}

async function waitFor(ok: () => boolean): Promise<void> {
  while (!ok()) await new Promise((r) => setTimeout(r, 5))
}

/**
 * Fills a state directory with a checkpoint of KEYS keys (an endless job drained after 1.2 × KEYS
 * records), then restarts the job on it and times the start until the first batch reaches the sink.
 */
async function measureRecovery(dir: string): Promise<{ ms: number }> {
  const gaps = fresh()
  const first: Job = runEmbedded(countJob(gaps, undefined), {
    state: { dir, checkpointInterval: 0 },
    log: memoryLogger(),
  })
  await waitFor(() => gaps.records >= KEYS * 1.2)
  first.drain()
  await first.done
  const again = fresh()
  const t0 = performance.now()
  const second = runEmbedded(countJob(again, undefined), {
    state: { dir, checkpointInterval: 0 },
    log: memoryLogger(),
  })
  await waitFor(() => again.records > 0)
  const ms = performance.now() - t0
  if (second.checkpointStatus?.().restoredFrom === undefined)
    throw new Error('the restart did not restore a checkpoint')
  await second.stop()
  return { ms }
}

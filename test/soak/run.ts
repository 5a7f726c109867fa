// The long crash loop (`npm run soak`): the crash-test job (a keyed tumbling-window count) killed
// with SIGKILL at least 20 times per variant — during start-up or restore, right after a checkpoint,
// or mid-run — for the memory backend, the LMDB backend, worker threads (alternating one and two
// threads), and restarts at another parallelism (1, 2, 3 in turn: the file source rescales), each
// compared row for row with an uninterrupted run. Exits 1 when any variant differs or fails.
// SOAK_VARIANTS=memory,lmdb runs only those variants; SOAK_KILLS and SOAK_EVENTS change the size.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { crashLoop, publishedRows, runJob, writeEvents } from '../integration/crash-harness.ts'

const KILLS = Number(process.env.SOAK_KILLS ?? 20)
const EVENTS = Number(process.env.SOAK_EVENTS ?? 200_000)

// An attempt is killed before its first checkpoint, or after one or two checkpoints and a little
// more, so it gets through a number of records that depends on how fast the variant runs, not on the
// work per record: parallel variants, which get further per attempt, read a longer input, so that
// every attempt but the last is killed (the crash loop fails when the job finishes earlier).
const all: { name: string; slowUs: number; events: number; argsFor: (attempt: number) => string[] }[] = [
  { name: 'memory', slowUs: 120, events: EVENTS, argsFor: () => [] },
  { name: 'lmdb', slowUs: 120, events: EVENTS, argsFor: () => ['--state-backend', 'lmdb'] },
  {
    name: 'threads',
    slowUs: 200,
    events: EVENTS * 2,
    argsFor: (a) => ['--threads', a % 2 === 0 ? '2' : '1', '--parallelism', '2'],
  },
  {
    name: 'rescale',
    slowUs: 300,
    events: EVENTS * 2,
    argsFor: (a) => ['--parallelism', String(1 + (a % 3))],
  },
]
const only = process.env.SOAK_VARIANTS?.split(',').map((name) => name.trim())
const unknown = only?.filter((name) => !all.some((v) => v.name === name)) ?? []
if (unknown.length > 0) {
  throw new Error(
    `SOAK_VARIANTS: unknown variant ${unknown.join(', ')}; expected some of ${all.map((v) => v.name).join(', ')}`,
  )
}
const variants = only ? all.filter((v) => only.includes(v.name)) : all

const dir = mkdtempSync(join(tmpdir(), 'squall-soak-'))
let failed = false
try {
  // One input and one uninterrupted reference run per input size.
  const inputs = new Map<number, { input: string; expected: string[] }>()
  for (const events of new Set(variants.map((v) => v.events))) {
    const input = join(dir, `events-${events}.jsonl`)
    writeEvents(input, events)
    const reference = join(dir, `reference-${events}`)
    const ref = await runJob([], { CRASH_INPUT: input, CRASH_OUTPUT: reference })
    if (ref.code !== 0) throw new Error(`reference run failed:\n${ref.stderr}`)
    inputs.set(events, { input, expected: publishedRows(reference) })
  }
  for (const v of variants) {
    const { input, expected } = inputs.get(v.events)!
    const output = join(dir, `out-${v.name}`)
    const t0 = Date.now()
    try {
      const r = await crashLoop({
        stateDir: join(dir, `state-${v.name}`),
        output,
        input,
        kills: KILLS,
        seed: 100 + all.indexOf(v),
        argsFor: v.argsFor,
        slowUs: v.slowUs,
      })
      const rows = publishedRows(output)
      const same = rows.length === expected.length && rows.every((row, j) => row === expected[j])
      // Each variant must really have been killed KILLS times, not have finished before the kills.
      if (!same || r.killed < KILLS) failed = true
      const m = r.moments
      process.stdout.write(
        `${v.name}: ${r.killed} kills (${m['start-up']} at start-up, ${r.beforeFirstCheckpoint} before a first checkpoint; ${m.checkpoint} right after a checkpoint; ${m.running} mid-run), ${r.restored} restores, ${rows.length}/${expected.length} rows, ${same ? 'equal' : 'DIFFERENT'} (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`,
      )
    } catch (e) {
      failed = true
      process.stdout.write(
        `${v.name}: FAILED after ${((Date.now() - t0) / 1000).toFixed(0)} s: ${(e as Error).message}\n`,
      )
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
process.exitCode = failed ? 1 : 0

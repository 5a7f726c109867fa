// Runs the crash-test job as a real `squall run` process, kills it with SIGKILL at random moments,
// restarts it, and reads the published output: shared by the crash tests and the soak script.
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { listCheckpoints } from '../../src/runtime/checkpoint-storage.ts'

const BIN = join(import.meta.dirname, '../../bin/squall.js')
export const CRASH_JOB = join(import.meta.dirname, '../fixtures/crash-count.ts')

/** Writes `n` events of 40 users over about `n × 50 ms` of event time, a little out of order. */
export function writeEvents(path: string, n: number): void {
  const lines: string[] = []
  for (let i = 0; i < n; i++) {
    lines.push(
      JSON.stringify({ user: `u${(i * 7919) % 40}`, time: 1_700_000_000_000 + i * 50 + ((i * 31) % 3000) }),
    )
  }
  writeFileSync(path, `${lines.join('\n')}\n`)
}

/** The published rows of a file-sink directory, sorted (parts from any task or checkpoint). */
export function publishedRows(dir: string): string[] {
  if (!existsSync(dir)) return []
  const rows: string[] = []
  for (const f of readdirSync(dir).sort()) {
    if (!f.startsWith('part-')) continue
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) if (line.length > 0) rows.push(line)
  }
  return rows.sort()
}

/** One run of the job. */
export interface RunOutcome {
  /** The exit code; null when the process was killed. */
  code: number | null
  stderr: string
  /** True when the kill plan killed it (false when it exited, or the watchdog killed it). */
  killed: boolean
  /** Checkpoints the run completed, as its debug log reports them. */
  checkpoints: number
  /** Milliseconds from the spawn to the run's first completed checkpoint, if it had one. */
  firstCheckpointMs: number | undefined
}

/**
 * When to kill a run. Every moment is measured from an event of the run itself (its spawn, a line
 * of its log), so it depends on the job's progress rather than on how long the process took to
 * start.
 * - `start-up`: `delayMs` after the spawn (loading, taking the lock, restoring, then running
 *   towards the first checkpoint), or after the `restoring checkpoint` log line; at the latest when
 *   the run's first checkpoint completes.
 * - `checkpoint`: `delayMs` after the run's `checkpoint`-th completed checkpoint (with a delay of a
 *   few ms, while sinks publish that checkpoint's output and old checkpoints are pruned).
 * - `running`: `delayMs` after the run's first completed checkpoint (anywhere in the checkpoint
 *   cycle: processing, barriers in flight, snapshots being written).
 */
export type KillPlan =
  | { at: 'start-up'; from: 'spawn' | 'restore'; delayMs: number }
  | { at: 'checkpoint'; checkpoint: number; delayMs: number }
  | { at: 'running'; delayMs: number }

/** A run is killed by SIGKILL after this long whatever its plan, and then counts as hung. */
const WATCHDOG_MS = 170_000

/**
 * Starts `squall run` on the crash job with `args` and resolves when the process has exited.
 * With a kill plan, sends SIGKILL at the planned moment (see KillPlan).
 */
export function runJob(
  args: string[],
  env: { [name: string]: string },
  kill?: KillPlan,
): Promise<RunOutcome> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const child: ChildProcess = spawn(process.execPath, [BIN, 'run', CRASH_JOB, ...args], {
      env: { ...process.env, SQUALL_LOG: 'debug', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    let partial = ''
    let checkpoints = 0
    let firstCheckpointMs: number | undefined
    let killed = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const killNow = (): void => {
      if (killed) return
      killed = true
      if (timer !== undefined) clearTimeout(timer)
      child.kill('SIGKILL')
    }
    const killIn = (ms: number): void => {
      if (timer !== undefined || killed) return
      if (ms <= 0) killNow()
      else timer = setTimeout(killNow, ms)
    }
    const watchdog = setTimeout(() => child.kill('SIGKILL'), WATCHDOG_MS)
    if (kill?.at === 'start-up' && kill.from === 'spawn') killIn(kill.delayMs)
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', (text: string) => {
      stderr += text
      const lines = (partial + text).split('\n')
      partial = lines.pop()!
      for (const line of lines) {
        if (/checkpoint \d+ complete/.test(line)) {
          checkpoints++
          firstCheckpointMs ??= performance.now() - started
        }
        if (kill === undefined) continue
        if (kill.at === 'start-up') {
          if (kill.from === 'restore' && /restoring checkpoint/.test(line)) killIn(kill.delayMs)
          if (checkpoints >= 1) killNow()
        } else if (checkpoints >= (kill.at === 'checkpoint' ? kill.checkpoint : 1)) killIn(kill.delayMs)
      }
    })
    child.on('error', reject)
    child.on('exit', (code) => {
      clearTimeout(watchdog)
      if (timer) clearTimeout(timer)
      resolve({ code, stderr, killed: killed && code === null, checkpoints, firstCheckpointMs })
    })
  })
}

/** A small seeded random generator, so a failing crash schedule can be replayed. */
export function seeded(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) | 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The kinds of kill moment. */
export type KillMoment = KillPlan['at']

/**
 * The kind of moment of each of `kills` kills: every three kills take the three kinds in a random
 * order, and two `start-up` kills never follow each other, so at least every other attempt
 * completes a checkpoint before it dies and the job progresses.
 */
export function killMoments(kills: number, random: () => number): KillMoment[] {
  const out: KillMoment[] = []
  while (out.length < kills) {
    const block: KillMoment[] = ['start-up', 'checkpoint', 'running']
    for (let i = block.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1))
      ;[block[i], block[j]] = [block[j]!, block[i]!]
    }
    if (block[0] === 'start-up' && out[out.length - 1] === 'start-up') block.push(block.shift()!)
    out.push(...block.slice(0, kills - out.length))
  }
  return out
}

/** Options of a crash loop. */
export interface CrashLoop {
  stateDir: string
  output: string
  input: string
  kills: number
  seed: number
  /** Extra arguments per attempt (threads, backend, parallelism changes). */
  argsFor(attempt: number): string[]
  slowUs: number
  /** The longest delay of a `running` kill after the attempt's first checkpoint; 800 ms by default. */
  runningMs?: number
}

/** What a crash loop did. */
export interface CrashLoopResult {
  /** Attempts killed by SIGKILL (always the loop's `kills`). */
  killed: number
  /** Attempts that restored a checkpoint. */
  restored: number
  /** Kills by kind of planned moment. */
  moments: { [M in KillMoment]: number }
  /** Kills that landed before the attempt had completed a checkpoint. */
  beforeFirstCheckpoint: number
  /** Every attempt's stderr. */
  log: string[]
}

/**
 * Kills the job `kills` times at random moments (see killMoments and KillPlan), then lets it
 * finish. Rejects when an attempt exits with an error or hangs, and when the job finishes before
 * it has been killed `kills` times (its input is then too short for the number of kills).
 */
export async function crashLoop(o: CrashLoop): Promise<CrashLoopResult> {
  const random = seeded(o.seed)
  const env = { CRASH_INPUT: o.input, CRASH_OUTPUT: o.output, CRASH_SLOW_US: String(o.slowUs) }
  const runningMs = o.runningMs ?? 800
  const schedule = killMoments(o.kills, random)
  const moments = { 'start-up': 0, checkpoint: 0, running: 0 }
  const log: string[] = []
  let restored = 0
  let killed = 0
  let beforeFirstCheckpoint = 0
  // Spawn to first checkpoint in the latest attempt that had one: the span of start-up kills.
  let startUpMs = 1500
  for (let attempt = 0; attempt <= o.kills; attempt++) {
    const args = ['--state-dir', o.stateDir, '--checkpoint-interval', '200ms', ...o.argsFor(attempt)]
    const moment = schedule[attempt]
    // Two draws per attempt whatever the plan, so the schedule depends on the seed alone.
    const [a, b] = [random(), random()]
    let plan: KillPlan | undefined
    if (moment === 'start-up') {
      const restorable = listCheckpoints(o.stateDir).some((c) => c.complete)
      plan =
        restorable && a < 0.5
          ? { at: 'start-up', from: 'restore', delayMs: Math.floor(b * 30) }
          : { at: 'start-up', from: 'spawn', delayMs: Math.floor(b * startUpMs) }
    } else if (moment === 'checkpoint') {
      plan = { at: 'checkpoint', checkpoint: 1 + Math.floor(a * 2), delayMs: Math.floor(b * 5) }
    } else if (moment === 'running') {
      plan = { at: 'running', delayMs: Math.floor(b * runningMs) }
    }
    const r = await runJob(args, env, plan)
    log.push(r.stderr)
    if (r.firstCheckpointMs !== undefined) startUpMs = r.firstCheckpointMs
    if (/restoring checkpoint/.test(r.stderr)) restored++
    if (r.killed) {
      killed++
      moments[moment!]++
      if (r.checkpoints === 0) beforeFirstCheckpoint++
    } else if (r.code === null) {
      throw new Error(`attempt ${attempt} hung and was killed after ${WATCHDOG_MS} ms:\n${r.stderr}`)
    } else if (r.code !== 0) {
      throw new Error(`attempt ${attempt} exited with ${r.code}:\n${r.stderr}`)
    } else if (plan !== undefined) {
      throw new Error(
        `the job finished in attempt ${attempt}, after ${killed} of ${o.kills} kills: give it a longer input or more work per record`,
      )
    }
  }
  return { killed, restored, moments, beforeFirstCheckpoint, log }
}

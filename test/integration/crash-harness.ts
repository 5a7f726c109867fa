// Runs the crash-test job as a real `squall run` process, kills it with SIGKILL at random moments,
// restarts it, and reads the published output: shared by the crash tests and the soak script.
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

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

/** One run of the job: resolves with its exit code (null when killed) and what it wrote to stderr. */
export interface RunOutcome {
  code: number | null
  stderr: string
}

/** When to kill a run: after its `afterCheckpoints`-th completed checkpoint, plus `delayMs`. */
export interface KillPlan {
  afterCheckpoints: number
  delayMs: number
}

/**
 * Starts `squall run` on the crash job with `args`. With a kill plan, sends SIGKILL once the job
 * has completed that many checkpoints (read from its debug log) and the delay has passed, so the
 * moment depends on the job's progress, not on how long the process took to start.
 */
export function runJob(
  args: string[],
  env: { [name: string]: string },
  kill?: KillPlan,
): Promise<RunOutcome> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [BIN, 'run', CRASH_JOB, ...args], {
      env: { ...process.env, SQUALL_LOG: 'debug', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    let completed = 0
    let timer: ReturnType<typeof setTimeout> | undefined
    const watchdog = setTimeout(() => child.kill('SIGKILL'), 170_000)
    child.stderr!.on('data', (d: Buffer) => {
      const text = d.toString()
      stderr += text
      completed += text.match(/checkpoint \d+ complete/g)?.length ?? 0
      if (kill && timer === undefined && completed >= kill.afterCheckpoints) {
        timer = setTimeout(() => child.kill('SIGKILL'), kill.delayMs)
      }
    })
    child.on('error', reject)
    child.on('exit', (code) => {
      clearTimeout(watchdog)
      if (timer) clearTimeout(timer)
      resolve({ code, stderr })
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
}

/**
 * Kills the job `kills` times at random moments, then lets it finish. Returns how many restarts
 * restored a checkpoint and every attempt's stderr. Rejects when an attempt exits with an error.
 */
export async function crashLoop(o: CrashLoop): Promise<{ restored: number; killed: number; log: string[] }> {
  const random = seeded(o.seed)
  const env = { CRASH_INPUT: o.input, CRASH_OUTPUT: o.output, CRASH_SLOW_US: String(o.slowUs) }
  const log: string[] = []
  let restored = 0
  let killed = 0
  for (let attempt = 0; attempt <= o.kills; attempt++) {
    const args = ['--state-dir', o.stateDir, '--checkpoint-interval', '200ms', ...o.argsFor(attempt)]
    const last = attempt === o.kills
    const plan = last
      ? undefined
      : { afterCheckpoints: 1 + Math.floor(random() * 2), delayMs: Math.floor(random() * 150) }
    const r = await runJob(args, env, plan)
    log.push(r.stderr)
    if (/restoring checkpoint/.test(r.stderr)) restored++
    if (r.code === null) killed++
    else if (r.code !== 0) throw new Error(`attempt ${attempt} exited with ${r.code}:\n${r.stderr}`)
  }
  return { restored, killed, log }
}

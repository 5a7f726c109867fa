// Runs the benchmarks and prints a readable table and CSV rows.
// Usage: npm run bench [-- name ...]   (names: file names in bench/ without .ts, e.g. jsonl-count)
//
// Each benchmark file runs in a Node process of its own, as JMH forks a JVM per benchmark: what
// one file's jobs leave behind — the JIT's type feedback in the engine's shared code, a heap of
// their data that every young-generation collection then pays for — does not weigh on the next
// file's figures, so no row depends on which rows ran before it. Within a file, Squall and its
// plain-Node baseline still run in the same process, in alternating rounds.

import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import { type BenchRow, meetsTarget } from './harness.ts'

const ALL = ['jsonl-count', 'windows', 'checkpoint', 'forward-ingest', 'tail', 'nexmark', 'usecases']
/** What a child process prints before each row it measured, as JSON. */
const ROW = 'bench-row:'

const args = process.argv.slice(2)
if (args[0] === '--one') await runOne(args[1]!)
else await runAll(args)

/** The child: runs one file's `bench()` and prints its rows, each as one JSON line. */
async function runOne(name: string): Promise<void> {
  const mod = (await import(new URL(`./${name}.ts`, import.meta.url).href)) as {
    bench?: () => Promise<BenchRow[]>
  }
  if (typeof mod.bench !== 'function') return
  for (const r of await mod.bench()) console.log(`${ROW}${JSON.stringify(r)}`)
}

/** The parent: runs each wanted file in a process of its own, then prints the table's CSV. */
async function runAll(wanted: string[]): Promise<void> {
  const names = (wanted.length ? ALL.filter((n) => wanted.some((w) => n.startsWith(w))) : ALL).filter((n) =>
    existsSync(new URL(`./${n}.ts`, import.meta.url)),
  )
  const rows: BenchRow[] = []
  console.log(`squall bench — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`)
  for (const name of names) {
    process.stdout.write(`running ${name}…\n`)
    for (const r of await runChild(name)) {
      rows.push(r)
      const ok = meetsTarget(r) ? 'ok ' : 'LOW'
      console.log(
        `  ${ok} ${r.name.padEnd(48)} ${fmt(r.squall).padStart(10)}/s  baseline ${fmt(r.baseline).padStart(10)}/s  ratio ${r.ratio.toFixed(2)} (target ${targetText(r)})${r.note ? `  ${r.note}` : ''}`,
      )
    }
  }
  console.log('\ncsv:name,squall_per_s,baseline_per_s,ratio,target,min_per_s')
  for (const r of rows)
    console.log(
      `csv:"${r.name}",${Math.round(r.squall)},${Math.round(r.baseline)},${r.ratio.toFixed(3)},${r.target},${r.minRate ?? ''}`,
    )
}

/** A row's target as printed: its ratio, its rate, or both. */
function targetText(r: BenchRow): string {
  const rate = r.minRate === undefined ? '' : `≥ ${fmt(r.minRate)}/s`
  if (r.target === 0 && rate) return rate
  return rate ? `${r.target}, ${rate}` : String(r.target)
}

/**
 * Runs `bench/<name>.ts` in a new Node process (with this process's flags, e.g. the TypeScript
 * loader) and returns its rows; anything else the child prints passes through. A child that fails
 * fails the run, naming the file.
 */
function runChild(name: string): Promise<BenchRow[]> {
  const script = fileURLToPath(import.meta.url)
  const child = spawn(process.execPath, [...process.execArgv, script, '--one', name], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const rows: BenchRow[] = []
  let pending = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => {
    pending += chunk
    let nl = pending.indexOf('\n')
    while (nl >= 0) {
      const line = pending.slice(0, nl)
      pending = pending.slice(nl + 1)
      if (line.startsWith(ROW)) rows.push(JSON.parse(line.slice(ROW.length)) as BenchRow)
      else process.stdout.write(`${line}\n`)
      nl = pending.indexOf('\n')
    }
  })
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => {
      if (pending !== '') process.stdout.write(pending)
      if (code === 0) resolve(rows)
      else reject(new Error(`bench/${name}.ts failed (${signal ?? `exit code ${code}`})`))
    })
  })
}

function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(1)
}

// Runs the benchmarks and prints a readable table and CSV rows.
// Usage: npm run bench [-- name ...]   (names: file names in bench/ without .ts, e.g. jsonl-count)

import { existsSync } from 'node:fs'
import { cpus } from 'node:os'
import type { BenchRow } from './harness.ts'

const ALL = ['jsonl-count', 'windows', 'checkpoint', 'forward-ingest', 'tail', 'nexmark', 'usecases']
const wanted = process.argv.slice(2)
const names = wanted.length ? ALL.filter((n) => wanted.some((w) => n.startsWith(w))) : ALL

const rows: BenchRow[] = []
console.log(`squall bench — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`)
for (const name of names) {
  const url = new URL(`./${name}.ts`, import.meta.url)
  if (!existsSync(url)) continue
  const mod = (await import(url.href)) as { bench?: () => Promise<BenchRow[]> }
  if (typeof mod.bench !== 'function') continue
  process.stdout.write(`running ${name}…\n`)
  for (const r of await mod.bench()) {
    rows.push(r)
    const ok = r.ratio >= r.target ? 'ok ' : 'LOW'
    console.log(
      `  ${ok} ${r.name.padEnd(48)} ${fmt(r.squall).padStart(10)}/s  baseline ${fmt(r.baseline).padStart(10)}/s  ratio ${r.ratio.toFixed(2)} (target ${r.target})${r.note ? `  ${r.note}` : ''}`,
    )
  }
}
console.log('\ncsv:name,squall_per_s,baseline_per_s,ratio,target')
for (const r of rows)
  console.log(
    `csv:"${r.name}",${Math.round(r.squall)},${Math.round(r.baseline)},${r.ratio.toFixed(3)},${r.target}`,
  )

function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(1)
}

// Benchmark (a): 2 million JSON log lines parsed, keyed by path and counted — Squall on one thread
// against a hand-written plain-Node loop doing the same work; (b) the same job on 1 and 2 threads.
// Run: npm run bench (or: node --import tsx bench/run.ts jsonl)

import { closeSync, openSync, readSync } from 'node:fs'
import { runEmbedded } from '../src/index.ts'
import { jsonlFile } from './data.ts'
import { type BenchRow, compareRates, row, runningTime } from './harness.ts'
import jsonlCount from './jobs/jsonl-count.ts'

const LINES = Number(process.env.BENCH_LINES ?? 2_000_000)

/** The plain-Node baseline: chunked read, split lines, JSON.parse, count in a Map. */
function plainCount(path: string): Map<string, number> {
  const counts = new Map<string, number>()
  const fd = openSync(path, 'r')
  const chunk = Buffer.allocUnsafe(1 << 20)
  let rest = Buffer.alloc(0)
  for (;;) {
    const n = readSync(fd, chunk, 0, chunk.length, null)
    if (n === 0) break
    const buf = rest.length ? Buffer.concat([rest, chunk.subarray(0, n)]) : chunk.subarray(0, n)
    let pos = 0
    for (let nl = buf.indexOf(10, pos); nl >= 0; nl = buf.indexOf(10, pos)) {
      const v = JSON.parse(buf.toString('utf8', pos, nl)) as { path: string }
      counts.set(v.path, (counts.get(v.path) ?? 0) + 1)
      pos = nl + 1
    }
    rest = Buffer.from(buf.subarray(pos))
  }
  closeSync(fd)
  return counts
}

export async function bench(): Promise<BenchRow[]> {
  const path = jsonlFile(LINES)
  const moduleUrl = new URL('./jobs/jsonl-count.ts', import.meta.url).href
  const [plain, one, two] = await compareRates(LINES, 5, [
    () => plainCount(path),
    async () => runningTime(await runEmbedded(jsonlCount(path), { threads: 1 }).done),
    async () => {
      process.env.BENCH_FILE = path
      return runningTime(await runEmbedded(jsonlCount(path), { threads: 2, module: moduleUrl }).done)
    },
  ])
  return [
    row('jsonl count, 1 thread vs plain loop', one!, plain!, 0.8, `${LINES} lines`),
    row('jsonl count, 2 threads vs 1 thread', two!, one!, 1.6, 'running time, worker start-up excluded'),
  ]
}

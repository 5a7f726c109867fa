// Benchmark: tail of a 2-million-line Apache access log (read from its head) → apache2 parser →
// keyed count by path, against a plain-Node loop doing the same read, the same parse and the same
// count in the same run. Run: npm run bench -- tail (BENCH_LINES=… for another size).

import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  statSync,
  writeSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { memoryLogger } from '../src/core/logger.ts'
import { Topology } from '../src/core/topology.ts'
import type { InputContext } from '../src/plugins/define.ts'
import tailInput from '../src/plugins/inputs/tail.ts'
import { apache2Parser } from '../src/plugins/parsers/apache.ts'
import type { Parser } from '../src/plugins/parsers/parser.ts'
import { discard } from '../src/plugins/outputs/collect.ts'
import { runEmbedded } from '../src/runtime/embedded/runner.ts'
import { type BenchRow, compareRates, row } from './harness.ts'
import { SHARED_ACCESS_LOG } from '../examples/shared/data.ts'

const LINES = Number(process.env.BENCH_LINES ?? 2_000_000)
const SAMPLE = SHARED_ACCESS_LOG

/** Writes (once) an access log of `lines` lines: the sample's lines with varied IPs and paths. */
function accessLog(lines: number): string {
  const dir = join(tmpdir(), 'squall-bench')
  mkdirSync(dir, { recursive: true })
  const path = join(dir, `apache-${lines}.log`)
  if (existsSync(path) && statSync(path).size > lines * 100) return path
  const sample = readFileSync(SAMPLE, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
  const fd = openSync(path, 'w')
  let chunk = ''
  for (let i = 0; i < lines; i++) {
    const base = sample[i % sample.length]!
    const ip = `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`
    const line = base
      .replace(/^\S+/, ip)
      .replace(
        /"(GET|POST|HEAD|PUT|DELETE) (\S+)/,
        (_m, verb: string, p: string) => `"${verb} /s${i % 97}${p}`,
      )
    chunk += `${line}\n`
    if (chunk.length > 1 << 20) {
      writeSync(fd, chunk)
      chunk = ''
    }
  }
  writeSync(fd, chunk)
  closeSync(fd)
  return path
}

/** The plain-Node baseline: chunked read, split lines, the same apache2 parser, count in a Map. */
function plainCount(path: string, parser: Parser): number {
  const counts = new Map<unknown, number>()
  const fd = openSync(path, 'r')
  const chunk = Buffer.allocUnsafe(1 << 20)
  let rest = Buffer.alloc(0)
  let n = 0
  for (;;) {
    const got = readSync(fd, chunk, 0, chunk.length, null)
    if (got === 0) break
    const buf = rest.length ? Buffer.concat([rest, chunk.subarray(0, got)]) : chunk.subarray(0, got)
    let pos = 0
    for (let nl = buf.indexOf(10, pos); nl >= 0; nl = buf.indexOf(10, pos)) {
      const parsed = parser.parse(buf.toString('utf8', pos, nl))
      pos = nl + 1
      if (parsed === undefined) continue
      const p = parsed.value.path
      counts.set(p, (counts.get(p) ?? 0) + 1)
      n++
    }
    rest = Buffer.from(buf.subarray(pos))
  }
  closeSync(fd)
  return n
}

/** Runs the tail job until every line is counted; returns the seconds that took. */
async function tailCount(path: string, parser: Parser): Promise<number> {
  const ctx: InputContext = {
    name: 'access',
    path: 'sources[0]',
    baseDir: '/',
    stateDir: undefined,
    log: memoryLogger(),
    tag: 'web.access',
    parser,
  }
  const source = tailInput.create(
    {
      path,
      readFromHead: true,
      refreshInterval: 60_000,
      pollInterval: 50,
      rotateWait: 5_000,
      maxLineSize: 1 << 22,
      multilineFlushInterval: 5_000,
    },
    ctx,
  )
  let seen = 0
  let done: () => void = () => {}
  const all = new Promise<void>((resolve) => {
    done = resolve
  })
  const t = new Topology('tail-count')
  t.source('access', source)
    .map((v) => (v as { path: string }).path)
    .keyBy((p) => p)
    .count('hits')
    .map((c) => {
      if (++seen === LINES) done()
      return c
    })
    .sink(discard(), { name: 'out' })
  const t0 = performance.now()
  const job = runEmbedded(t, { log: () => {} })
  await all
  const seconds = (performance.now() - t0) / 1000
  await job.stop()
  return seconds
}

export async function bench(): Promise<BenchRow[]> {
  const path = accessLog(LINES)
  const parser = apache2Parser()
  const [plain, tail] = await compareRates(LINES, 3, [
    () => {
      if (plainCount(path, parser) !== LINES) throw new Error('the baseline did not parse every line')
    },
    () => tailCount(path, parser),
  ])
  return [row('tail apache2 → keyed count vs plain loop', tail!, plain!, 0.7, `${LINES} lines`)]
}

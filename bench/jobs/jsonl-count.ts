// The jsonl count job: parse JSON lines, key by path, count. Reads the file named by BENCH_FILE.
import { Topology, discard, file } from '../../src/index.ts'

export default function jsonlCount(path = process.env.BENCH_FILE ?? ''): Topology {
  const t = new Topology('jsonl-count')
  t.source('access', file({ path, format: 'jsonl' }))
    .map((v) => (v as { path: string }).path)
    .keyBy((p) => p)
    .count('hits')
    .sink(discard(), { name: 'out' })
  return t
}

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Topology, generator, memoryLogger, runEmbedded, discard } from '../src/index.ts'
import { runningTime } from './harness.ts'
const KEYS = 1e6, RECORDS = 8e6
function countJob(): Topology {
  const t = new Topology('checkpoint-bench')
  t.source('gen', generator({ count: RECORDS, make: (seq) => `u${seq % KEYS}` })).keyBy((k) => k).count('counts').sink(discard(), { name: 'out' })
  return t
}
const mode = process.argv[2]
for (let i = 0; i < 2; i++) {
  const dir = mkdtempSync(join(tmpdir(), 'cpb-'))
  const r = await runEmbedded(countJob(), mode === 'cp' ? { state: { dir, checkpointInterval: '1s' }, log: memoryLogger() } : {}).done
  console.log(mode, (RECORDS / runningTime(r).seconds / 1e6).toFixed(3), 'M/s', JSON.stringify(r.metrics.checkpoints ?? {}))
  rmSync(dir, { recursive: true, force: true })
}

import { memoryLogger } from '../src/core/logger.ts'
import { Topology } from '../src/core/topology.ts'
import { WatermarkStrategy } from '../src/core/watermark.ts'
import { generator } from '../src/plugins/inputs/generator.ts'
import { discard } from '../src/plugins/outputs/collect.ts'
import { runToEnd } from '../src/runtime/embedded/runner.ts'
import { runningTime } from './harness.ts'
const quiet = memoryLogger()
const N = Number(process.argv[2] ?? 1e6)
const logins: any[] = []; for (let i = 0; i < N; i++) logins.push({ time: i * 3, ip: '1.2.3.' + (i % 50000), user: 'u', success: i % 7 == 0 })
for (const wm of [false, true]) {
  let best = 0
  for (let r = 0; r < 5; r++) {
    const t = new Topology('b')
    t.source('logins', generator({ make: (seq) => logins[seq]!, count: N, time: (_, v) => v.time }), wm ? { watermarks: WatermarkStrategy.forMonotonousTimestamps() } : {}).sink(discard())
    const t0 = performance.now()
    const res = await runToEnd(t, { log: quiet, batchSize: 4096 })
    const s = runningTime(res)
    best = Math.max(best, N / s.seconds)
    if (r === 4) console.log('wall', (performance.now() - t0).toFixed(0), 'ms running', (s.seconds * 1000).toFixed(0))
  }
  console.log('wm', wm, (1e9 / best).toFixed(0), 'ns/rec')
}

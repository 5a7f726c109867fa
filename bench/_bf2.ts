import { memoryLogger } from '../src/core/logger.ts'
import { Topology } from '../src/core/topology.ts'
import { WatermarkStrategy } from '../src/core/watermark.ts'
import { generator } from '../src/plugins/inputs/generator.ts'
import { discard } from '../src/plugins/outputs/collect.ts'
import { runToEnd } from '../src/runtime/embedded/runner.ts'
import { runningTime } from './harness.ts'
import type { AccessEvent, LoginEvent } from '../examples/shared/events.ts'
import { fraudPipeline } from '../examples/shared/jobs.ts'
import { makeTraffic } from '../examples/shared/traffic.ts'
const quiet = memoryLogger()
const traffic = makeTraffic({ seed: 1, duration: '2h', visitors: 100_000, pages: 5_000, accessRate: 100, loginRate: 140 })
const logins: LoginEvent[] = []
for (let i = 0; i < 1_000_000; i++) logins.push(traffic.login(i))
const variants: Record<string, (l: any) => any> = {
  sink: (l) => l,

  filterSink: (l) => l.filter(() => true),
  keyNoop: (l) => l.keyBy((e: LoginEvent) => e.ip).process('p', () => ({ process() {} })),
  keyGet: (l) => l.keyBy((e: LoginEvent) => e.ip).process('p', () => { let s: any; return { open(c: any) { s = c.state.value('x') }, process(r: any) { s.get() } } }),
  full: (l) => { const none = l.filter(() => false).map((): AccessEvent => undefined as never); return fraudPipeline(l, none) },
}
for (const [name, f] of Object.entries(variants)) {
  let best = 0
  for (let r = 0; r < 4; r++) {
    const t = new Topology('b')
    const l = t.source('logins', generator({ make: (seq) => logins[seq]!, count: logins.length, time: (_, v) => v.time }), { watermarks: WatermarkStrategy.forMonotonousTimestamps() })
    f(l).sink(discard())
    const s = runningTime(await runToEnd(t, { log: quiet, batchSize: 4096 }))
    best = Math.max(best, 1e6 / s.seconds)
  }
  console.log(name.padEnd(12), (best / 1e6).toFixed(2), 'M/s', (1e9 / best).toFixed(0), 'ns/rec')
}

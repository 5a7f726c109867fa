// Fraud decisions over generated logins and page requests with planted attackers and a crawler, and
// the crawler rules over the Apache access log: `node bin/squall.js run examples/fraud/fraud.ts`.

import type { SourceSpec } from '../../src/core/source.ts'
import { Topology } from '../../src/core/topology.ts'
import { WatermarkStrategy } from '../../src/core/watermark.ts'
import { file } from '../../src/plugins/inputs/file.ts'
import { stdout } from '../../src/plugins/outputs/stdout.ts'
import { createParser } from '../../src/plugins/parsers/index.ts'
import { accessLogPath } from '../shared/data.ts'
import { type AccessEvent, accessFromApache } from '../shared/events.ts'
import { fraudPipeline } from '../shared/jobs.ts'
import { makeTraffic } from '../shared/traffic.ts'

const traffic = makeTraffic({ seed: 11, duration: '1h', visitors: 20_000, pages: 2_000 })
const planted = traffic.planted()
const log = accessLogPath()
const parser = createParser({ type: 'apache2' })

const t = new Topology('fraud')
const logins = t.source('logins', traffic.loginSource(), {
  watermarks: WatermarkStrategy.forMonotonousTimestamps(),
})
const access = t.source('access', traffic.accessSource(), {
  watermarks: WatermarkStrategy.forMonotonousTimestamps(),
})
const show = (d: { time: number; action: string; key: string; reason: string }) =>
  `${new Date(d.time).toISOString()}  ${d.action.padEnd(8)} ${d.key.padEnd(15)} ${d.reason}`

fraudPipeline(logins, access).sink(stdout({ format: show }), { name: 'generated-decisions' })

// The same crawler rules over a real access log (its brute-force half has no logins to read).
const real = t
  .source('access-log', file({ path: log, format: 'lines' }) as SourceSpec<string>, {
    onError: 'skip',
    watermarks: WatermarkStrategy.forBoundedOutOfOrderness<string>('1m').withTimestamp(
      (line) => parser.parse(line)?.time,
    ),
  })
  .flatMap((line): AccessEvent[] => {
    const parsed = parser.parse(line)
    const event = parsed === undefined ? undefined : accessFromApache(parsed)
    return event === undefined ? [] : [event]
  })
const noLogins = real.filter(() => false).map((): never => undefined as never)
fraudPipeline(noLogins, real, { name: 'log' }).sink(stdout({ format: (d) => `log: ${show(d)}` }), {
  name: 'log-decisions',
})

console.error(
  `planted: attackers ${planted.attackers.map((a) => a.ip).join(', ')}; crawler ${planted.crawlers.map((c) => c.ip).join(', ')}; decoys ${planted.decoys.map((d) => d.ip).join(', ')}`,
)

export default t

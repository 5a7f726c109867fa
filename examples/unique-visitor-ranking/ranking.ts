// Pages ranked by unique visitors over the last 60 minutes, every 15 minutes, from an Apache access
// log: `node bin/squall.js run examples/unique-visitor-ranking/ranking.ts` (LOG=path for another log).

import { fileURLToPath } from 'node:url'
import type { SourceSpec } from '../../src/core/source.ts'
import { Topology } from '../../src/core/topology.ts'
import { WatermarkStrategy } from '../../src/core/watermark.ts'
import { file } from '../../src/plugins/inputs/file.ts'
import { stdout } from '../../src/plugins/outputs/stdout.ts'
import { createParser } from '../../src/plugins/parsers/index.ts'
import { type AccessEvent, accessFromApache } from '../shared/events.ts'
import { rankingPipeline } from '../shared/jobs.ts'

const log = process.env['LOG'] ?? fileURLToPath(new URL('../data/apache_access_5000.log', import.meta.url))
const parser = createParser({ type: 'apache2' })

const t = new Topology('unique-visitor-ranking')
const access = t
  .source('access-log', file({ path: log, format: 'lines' }) as SourceSpec<string>, {
    onError: 'skip',
    // Event time is the request's time; the log is in order up to a minute.
    watermarks: WatermarkStrategy.forBoundedOutOfOrderness<string>('1m').withTimestamp(
      (line) => parser.parse(line)?.time,
    ),
  })
  .flatMap((line): AccessEvent[] => {
    const parsed = parser.parse(line)
    const event = parsed === undefined ? undefined : accessFromApache(parsed)
    return event === undefined ? [] : [event]
  })

rankingPipeline(access, { size: '60m', slide: '15m', top: 5 }).sink(
  stdout({
    format: (r) =>
      `${new Date(r.windowStart).toISOString()} .. ${new Date(r.windowEnd).toISOString().slice(11)}  ` +
      r.pages.map((p) => `${p.path} ${p.visitors}`).join(' | '),
  }),
)

export default t

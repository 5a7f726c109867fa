// The top 10 pages by unique visitors over the last 60 minutes, every minute, following an Apache
// access log: `node bin/squall.js run examples/unique-visitor-ranking/ranking.ts [--duration 5s]`.

import { Topology } from '../../src/core/topology.ts'
import { WatermarkStrategy } from '../../src/core/watermark.ts'
import { tail } from '../../src/plugins/inputs/tail.ts'
import { stdout } from '../../src/plugins/outputs/stdout.ts'
import { createParser } from '../../src/plugins/parsers/index.ts'
import { accessLogPath } from '../shared/data.ts'
import { type AccessEvent, type Ranking, accessFromApache } from '../shared/events.ts'
import { rankingPipeline } from '../shared/jobs.ts'

const log = accessLogPath()

/** `2015-05-17 10:06  /path 12 | /other 9 | …`: the window's end (UTC), then its pages, best first. */
export function formatRanking(r: Ranking): string {
  const end = new Date(r.windowEnd).toISOString()
  return `${end.slice(0, 10)} ${end.slice(11, 16)}  ${r.pages.map((p) => `${p.path} ${p.visitors}`).join(' | ')}`
}

const t = new Topology('unique-visitor-ranking')
// Reads the log from its first line, then follows it as it grows (tail -F).
const access = t
  .source('access-log', tail({ path: log, readFromHead: true, parser: createParser({ type: 'apache2' }) }), {
    onError: 'skip',
    // Event time is the request's time (the parser's); the log is in order up to a minute.
    watermarks: WatermarkStrategy.forBoundedOutOfOrderness('1m'),
  })
  .flatMap((fields, record): AccessEvent[] => {
    const event = accessFromApache({ value: fields, time: record.time })
    return event === undefined ? [] : [event]
  })

rankingPipeline(access, { size: '60m', slide: '1m', top: 10 }).sink(stdout({ format: formatRanking }))

export default t

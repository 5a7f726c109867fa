// Trending hashtags over two hours of generated posts with three planted bursts: prints every slide
// in which some tag trends. Run: `node bin/squall.js run examples/trending-hashtags/trends.ts`.

import { Topology } from '../../src/core/topology.ts'
import { WatermarkStrategy } from '../../src/core/watermark.ts'
import { stdout } from '../../src/plugins/outputs/stdout.ts'
import { trendPipeline } from '../shared/jobs.ts'
import { makeTraffic } from '../shared/traffic.ts'

const traffic = makeTraffic({ seed: 7, duration: '2h', postRate: 20 })
const planted = traffic.planted()

const t = new Topology('trending-hashtags')
const posts = t.source('posts', traffic.postSource(), {
  watermarks: WatermarkStrategy.forMonotonousTimestamps(),
})

trendPipeline(posts, { since: traffic.start })
  .filter((tr) => tr.tags.length > 0)
  .sink(
    stdout({
      format: (tr) =>
        `${new Date(tr.time + 1).toISOString().slice(11, 19)}  ` +
        tr.tags
          .map((x) => `${x.tag} z=${x.score.toFixed(1)} (${x.recent} vs ${x.baseline} before)`)
          .join(' | '),
    }),
  )

console.error(
  `planted bursts: ${planted.bursts.map((b) => `${b.tag} ${new Date(b.from).toISOString().slice(11, 19)}–${new Date(b.to).toISOString().slice(11, 19)}`).join(', ')}`,
)

export default t

// hashtags.ts — run with: npx squall run hashtags.ts --threads 2
import { Topology, generator, stdout } from 'squall'

const TAGS = ['#node', '#rust', '#flink', '#kafka', '#squall', '#ts']

const t = new Topology('hashtags')
t.source(
  'posts',
  generator({
    rate: 50_000,
    seed: 1,
    make: (seq, r) => ({ text: `${r.pick(TAGS)} ${r.pick(TAGS)} post ${seq}` }),
  }),
)
  .flatMap((post) => post.text.split(' ').filter((w) => w.startsWith('#')))
  .keyBy((tag) => tag)
  .count('tag-counts') // keyed state, named: it is what checkpoints keep
  .filter((c) => c.count % 10_000 === 0)
  .sink(stdout())

export default t

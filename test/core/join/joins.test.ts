import { describe, expect, it } from 'vitest'
import type { Stream } from '../../../src/core/stream.ts'
import { Topology } from '../../../src/core/topology.ts'
import { WatermarkStrategy } from '../../../src/core/watermark.ts'
import { TumblingWindows } from '../../../src/core/window/assigners.ts'
import { collect } from '../../../src/plugins/outputs/collect.ts'
import { TestDriver } from '../../../src/runtime/test-driver.ts'
import { pushed, sorted } from '../window/support.ts'

interface Ev {
  id: string
  user: string
  at: number
}

function joinTopology(
  join: (orders: Stream<Ev>, payments: Stream<Ev>) => [Stream<unknown>, Stream<unknown>],
): Topology {
  const t = new Topology('joins')
  const wm = () => WatermarkStrategy.forBoundedOutOfOrderness<Ev>(0).withTimestamp('at')
  const orders = t.source('orders', pushed as never, { parallelism: 1, watermarks: wm() })
  const payments = t.source('payments', pushed as never, { parallelism: 1, watermarks: wm() })
  const [out, late] = join(orders as Stream<Ev>, payments as Stream<Ev>)
  out.sink(collect(), { name: 'out' })
  late.sink(collect(), { name: 'late' })
  return t
}

const ev = (id: string, user: string, seconds: number) => ({ value: { id, user, at: seconds * 1000 } })

function both(build: () => Topology, scenario: (d: TestDriver) => void): TestDriver {
  const one = new TestDriver(build(), { parallelism: 1 })
  scenario(one)
  const three = new TestDriver(build(), { parallelism: 3 })
  scenario(three)
  expect(sorted(three.values('out'))).toEqual(sorted(one.values('out')))
  expect(sorted(three.values('late'))).toEqual(sorted(one.values('late')))
  return one
}

describe('interval join', () => {
  const build = () =>
    joinTopology((orders, payments) => {
      const joined = orders
        .keyBy((o) => o.user)
        .intervalJoin(payments.keyBy((p) => p.user))
        .between('-5s', '+10s')
        .map('paid', (o, p) => `${o.id}+${p.id}`)
      return [joined, joined.lateData()]
    })

  it('pairs each left record with right records of the same key from 5 s before to 10 s after it', () => {
    const d = both(build, (d) => {
      d.pushRecords('orders', [ev('o1', 'a', 10), ev('o2', 'b', 10)])
      d.pushRecords('payments', [
        ev('p1', 'a', 4),
        ev('p2', 'a', 5),
        ev('p3', 'a', 20),
        ev('p4', 'a', 21),
        ev('p5', 'b', 12),
      ])
      d.pushRecords('orders', [ev('o3', 'a', 15)])
      d.end()
    })
    expect(sorted(d.values('out'))).toEqual(['o1+p2', 'o1+p3', 'o2+p5', 'o3+p3', 'o3+p4'].sort())
    expect(d.output('out').find((r) => r.value === 'o1+p3')?.time).toBe(20_000)
  })

  it('frees the buffers once the watermark passes the bounds, and sends records behind the watermark to the late output', () => {
    const d = both(build, (d) => {
      d.pushRecords('orders', [ev('o1', 'a', 10)])
      d.pushRecords('payments', [ev('p1', 'a', 12)])
      d.pushRecords('orders', [ev('o2', 'a', 60)])
      d.pushRecords('payments', [ev('p2', 'a', 61)])
      d.pushRecords('orders', [ev('o3', 'a', 30)])
    })
    expect(sorted(d.values('out'))).toEqual(['o1+p1', 'o2+p2'])
    expect(d.values('late')).toEqual([{ id: 'o3', user: 'a', at: 30_000 }])
    expect(d.metrics().paid?.late).toBe(1)
    d.end()
    expect(d.stateSize('paid')).toBe(0)
    expect(d.timerCount('paid')).toBe(0)
  })

  it('a lower bound above the upper bound is refused', () => {
    expect(() =>
      joinTopology((o, p) => {
        const j = o
          .keyBy((x) => x.user)
          .intervalJoin(p.keyBy((x) => x.user))
          .between('10s', '-5s')
          .map('j', () => 1)
        return [j, j]
      }),
    ).toThrow(/expected lower ≤ upper/)
  })
})

describe('window join', () => {
  it('pairs the records of both sides that share a key and a tumbling window when it fires', () => {
    const build = () =>
      joinTopology((orders, payments) => {
        const joined = orders
          .keyBy((o) => o.user)
          .windowJoin(
            payments.keyBy((p) => p.user),
            TumblingWindows.of('1m'),
          )
          .apply('matched', (o, p, w) => `${o.id}+${p.id}@${w.start / 1000}`)
        return [joined, joined.lateData()]
      })
    const d = both(build, (d) => {
      d.pushRecords('orders', [ev('o1', 'a', 10), ev('o2', 'a', 50), ev('o3', 'b', 20), ev('o4', 'a', 70)])
      d.pushRecords('payments', [ev('p1', 'a', 30), ev('p2', 'b', 65), ev('p3', 'a', 80)])
      d.end()
    })
    expect(sorted(d.values('out'))).toEqual(['o1+p1@0', 'o2+p1@0', 'o4+p3@60'])
    expect(d.output('out').map((r) => r.time)).toContain(59_999)
    expect(d.stateSize('matched')).toBe(0)
  })
})

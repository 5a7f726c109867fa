import { describe, expect, it } from 'vitest'
import { Topology, TopologyError, collect, generator } from '../../src/index.ts'

const gen = () => generator({ count: 10, make: (seq) => ({ seq }) })

describe('topology validation', () => {
  it('refuses two nodes with one name, naming the node', () => {
    const t = new Topology('dup')
    t.source('events', gen())
      .map((v) => v, { name: 'step' })
      .map((v) => v, { name: 'x' })
    expect(() => t.source('events', gen())).toThrowError(/two nodes are named "events"/)
    try {
      t.source('step', gen())
    } catch (e) {
      expect(e).toBeInstanceOf(TopologyError)
      expect((e as TopologyError).code).toBe('ERR_TOPOLOGY_DUPLICATE_NAME')
      expect((e as TopologyError).where.node).toBe('step')
    }
  })

  it('refuses an input that names no node of the topology', () => {
    const t = new Topology('unknown')
    t.addSource('a', gen()).addSink('out', collect(), [{ from: 'nope' }])
    expect(() => t.validate()).toThrowError(
      /node "out" reads from "nope", which is not a node of this topology/,
    )
  })

  it('refuses a cycle, naming the nodes on it', () => {
    const t = new Topology('cycle')
    const pass = () => ({ process: () => {} })
    t.addSource('src', gen())
      .addProcessor('a', pass, [{ from: 'src' }, { from: 'b' }])
      .addProcessor('b', pass, [{ from: 'a' }])
      .addSink('out', collect(), [{ from: 'b' }])
    expect(() => t.validate()).toThrowError(/nodes "a", "b" form a cycle/)
  })

  it('refuses a keyed operator whose input is not keyed', () => {
    const t = new Topology('nokey')
    t.addSource('src', gen())
      .addProcessor('counter', () => ({ process: () => {} }), [{ from: 'src' }], { keyed: true })
      .addSink('out', collect(), [{ from: 'counter' }])
    expect(() => t.validate()).toThrowError(
      /node "counter" keeps keyed state but its input is not keyed; add .keyBy/,
    )
  })

  it('refuses a topology without a sink', () => {
    const t = new Topology('nosink')
    t.source('src', gen()).map((v) => v)
    expect(() => t.validate()).toThrowError(/no sink/)
  })

  it('generates names for stateless nodes and keeps the chosen names of stateful ones', () => {
    const t = new Topology('names')
    t.source('src', gen())
      .map((v) => v.seq)
      .filter((n) => n > 2)
      .keyBy((n) => n % 2)
      .count('parity')
      .sink(collect(), { name: 'out' })
    expect(t.nodes.map((n) => n.name)).toEqual(['src', 'map-1', 'filter-1', 'parity', 'out'])
    expect(t.describe()).toContain('operator parity ← filter-1 (key)')
  })
})

describe('key groups', () => {
  it('spread integer and string keys evenly over the key groups and keep them stable', async () => {
    const { hashKey, keyGroupOf } = await import('../../src/index.ts')
    for (const keys of [
      Array.from({ length: 12_800 }, (_, i) => i),
      Array.from({ length: 12_800 }, (_, i) => `user-${i}`),
    ]) {
      const groups = new Array(128).fill(0)
      for (const k of keys) groups[keyGroupOf(k, 128)]++
      expect(Math.min(...groups)).toBeGreaterThan(60)
      expect(Math.max(...groups)).toBeLessThan(140)
    }
    // These values are part of the checkpoint format: changing them moves state between tasks.
    expect([hashKey(0), hashKey(1), hashKey(-7), hashKey('a'), hashKey(1.5), hashKey(true)]).toEqual([
      3826419536, 583749521, 4178796248, 444641715, 327582077, 1715307617,
    ])
  })
})

import { describe, expect, it } from 'vitest'
import type { Record } from '../../src/core/record.ts'
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads'
import { BatchingPort, type WireMessage, decodeBatch, encodeBatch } from '../../src/runtime/wire.ts'

describe('batches crossing threads', () => {
  it('decode what was encoded: values, keys, times and tags', () => {
    const batch: Record[] = [
      { value: { path: '/a', n: 1 }, key: '/a', time: 1_700_000_000_123, tag: 'web.access' },
      { value: { path: '/b', n: 2 }, key: 7, time: 1_700_000_000_124.5, tag: 'web.error' },
      { value: 'plain', key: undefined, time: -1, tag: '' },
    ]
    expect(decodeBatch(encodeBatch(batch))).toEqual(batch)
  })

  it('keys equal to their values and one shared tag are written once and come back whole', () => {
    const words = ['alpha', 'beta', 'alpha', 'gamma']
    const batch: Record[] = words.map((w, i) => ({ value: w, key: w, time: i, tag: 'words' }))
    const bytes = encodeBatch(batch)
    expect(decodeBatch(bytes)).toEqual(batch)
    const distinct: Record[] = words.map((w, i) => ({ value: w, key: `${w}!`, time: i, tag: 'words' }))
    expect(bytes.byteLength).toBeLessThan(encodeBatch(distinct).byteLength - 20)
  })

  it('keeps nested structures, numbers and a transferable buffer of its own', () => {
    const batch: Record[] = [{ value: { tags: ['#a', '#b'], m: { x: 1.5 } }, key: true, time: 5, tag: 't' }]
    const bytes = encodeBatch(batch)
    expect(bytes.byteOffset).toBe(0)
    expect(bytes.buffer.byteLength).toBe(bytes.byteLength)
    expect(decodeBatch(bytes)).toEqual(batch)
  })

  it('string values that repeat travel as a dictionary and come back in order', () => {
    const words = Array.from({ length: 2000 }, (_, i) => `w${(i * 7919) % 37}`)
    const batch: Record[] = words.map((w, i) => ({ value: w, key: i % 5, time: i, tag: '' }))
    const bytes = encodeBatch(batch)
    expect(decodeBatch(bytes)).toEqual(batch)
    // Each repeated string is written once: far fewer bytes than the same batch of distinct strings.
    const distinct: Record[] = words.map((_w, i) => ({
      value: `w${i % 10}${i}`.slice(0, 4),
      key: i % 5,
      time: i,
      tag: '',
    }))
    expect(bytes.byteLength).toBeLessThan(encodeBatch(distinct).byteLength - 3000)
  })
})

describe('messages between threads', () => {
  it('go out as one message per flush, in order, with every buffer transferred', () => {
    const { port1, port2 } = new MessageChannel()
    const port = new BatchingPort(port1)
    const batch: Record[] = [{ value: 'x', key: 'x', time: 1, tag: '' }]
    const b1 = encodeBatch(batch)
    const b2 = encodeBatch(batch)
    port.post({ k: 'r', t: 3, c: 0, b: b1 }, [b1.buffer as ArrayBuffer])
    port.post({ k: 'w', t: 3, c: 0, time: 10 })
    port.post({ k: 'r', t: 4, c: 1, b: b2 }, [b2.buffer as ArrayBuffer])
    expect(receiveMessageOnPort(port2)).toBeUndefined()
    port.flush()
    // Transferred: the sender's views are detached.
    expect(b1.byteLength).toBe(0)
    expect(b2.byteLength).toBe(0)
    const m = receiveMessageOnPort(port2)?.message as WireMessage
    expect(m.k).toBe('m')
    const list = (m as { list: WireMessage[] }).list
    expect(list.map((x) => [x.k, 't' in x ? x.t : -1])).toEqual([
      ['r', 3],
      ['w', 3],
      ['r', 4],
    ])
    expect(decodeBatch((list[0] as { b: Uint8Array }).b)).toEqual(batch)
    expect(receiveMessageOnPort(port2)).toBeUndefined()
    // A flush with nothing held sends nothing; a single message goes out as it is.
    port.flush()
    port.post({ k: 'credit', n: 2 })
    port.flush()
    expect(receiveMessageOnPort(port2)?.message).toEqual({ k: 'credit', n: 2 })
    port1.close()
  })

  it('leave without a flush once the current task of the event loop ends', async () => {
    const { port1, port2 } = new MessageChannel()
    const port = new BatchingPort(port1)
    port.post({ k: 'e', t: 1, c: 0 })
    port.post({ k: 'credit', n: 1 })
    expect(receiveMessageOnPort(port2)).toBeUndefined()
    await Promise.resolve()
    const m = receiveMessageOnPort(port2)?.message
    expect(m).toEqual({ k: 'm', list: [{ k: 'e', t: 1, c: 0 }, { k: 'credit', n: 1 }] })
    port1.close()
  })
})

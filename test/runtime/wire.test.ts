import { describe, expect, it } from 'vitest'
import type { Record } from '../../src/core/record.ts'
import { decodeBatch, encodeBatch } from '../../src/runtime/wire.ts'

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

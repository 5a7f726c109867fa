import { describe, expect, it } from 'vitest'
import type { Record } from '../../src/core/record.ts'
import {
  BatchDecoder,
  BatchEncoder,
  DICTIONARY_BACKOFF,
  DICTIONARY_LIMIT,
  MAX_DICTIONARY_STRING,
} from '../../src/runtime/batch-codec.ts'

/** An encoder and its decoder, as the two ends of one channel between threads. */
function channel() {
  const encoder = new BatchEncoder()
  const decoder = new BatchDecoder()
  return {
    encoder,
    decoder,
    /** Encodes and decodes one batch; returns what arrived and the size on the wire. */
    cross(batch: Record[]): { arrived: Record[]; bytes: number } {
      const b = encoder.encode(batch)
      return { bytes: b.byteLength, arrived: decoder.decode(b) }
    },
  }
}

describe('batches crossing threads', () => {
  it('decode what was encoded: values, keys, times and tags', () => {
    const batch: Record[] = [
      { value: { path: '/a', n: 1 }, key: '/a', time: 1_700_000_000_123, tag: 'web.access' },
      { value: { path: '/b', n: 2 }, key: 7, time: 1_700_000_000_124.5, tag: 'web.error' },
      { value: 'plain', key: undefined, time: -1, tag: '' },
    ]
    expect(channel().cross(batch).arrived).toEqual(batch)
  })

  it('keys equal to their values and one shared tag are written once and come back whole', () => {
    const words = ['alpha', 'beta', 'alpha', 'gamma']
    const batch: Record[] = words.map((w, i) => ({ value: w, key: w, time: i, tag: 'words' }))
    const once = channel().cross(batch)
    expect(once.arrived).toEqual(batch)
    const distinct: Record[] = words.map((w, i) => ({ value: w, key: `${w}!`, time: i, tag: 'words' }))
    expect(once.bytes).toBeLessThan(channel().cross(distinct).bytes - 10)
  })

  it('keeps nested structures, numbers and a transferable buffer of its own', () => {
    const batch: Record[] = [{ value: { tags: ['#a', '#b'], m: { x: 1.5 } }, key: true, time: 5, tag: 't' }]
    const bytes = new BatchEncoder().encode(batch)
    expect(bytes.byteOffset).toBe(0)
    expect(bytes.buffer.byteLength).toBe(bytes.byteLength)
    expect(new BatchDecoder().decode(bytes)).toEqual(batch)
  })

  it('numbers come back exactly, including -0, NaN and infinities', () => {
    const values = [0, -0, 1.5, -3, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, 1e-300]
    const batch: Record[] = values.map((v, i) => ({ value: v, key: i * 1.25, time: i, tag: '' }))
    const arrived = channel().cross(batch).arrived
    expect(arrived).toEqual(batch)
    expect(Object.is(arrived[1]!.value, -0)).toBe(true)
  })

  it('sends a string once per channel: later batches carry its number', () => {
    const c = channel()
    const paths = Array.from({ length: 150 }, (_, i) => `/section${i % 12}/page-${i}.html`)
    const batch = (from: number): Record[] =>
      Array.from({ length: 512 }, (_, i) => {
        const p = paths[(from + i * 7) % paths.length]!
        return { value: p, key: p, time: from + i, tag: 'access' }
      })
    const first = c.cross(batch(0))
    const second = c.cross(batch(1))
    expect(first.arrived).toEqual(batch(0))
    expect(second.arrived).toEqual(batch(1))
    // The first batch carries the 150 paths; the second only their numbers and the times.
    expect(first.bytes - second.bytes).toBeGreaterThan(150 * 20)
    expect(second.bytes).toBeLessThan(512 * 11 + 64)
    // Another channel has its own dictionary: the same batch there costs what the first did.
    expect(channel().cross(batch(1)).bytes).toBeGreaterThan(first.bytes - 64)
  })

  it('keys other than their values travel in full, batch after batch', () => {
    // Keys are mostly ids and addresses of many distinct values: a dictionary would not pay.
    const c = channel()
    const batch: Record[] = Array.from({ length: 256 }, (_, i) => ({
      value: { n: i },
      key: `client-${i % 16}.example.com`,
      time: i,
      tag: '',
    }))
    const first = c.cross(batch)
    const second = c.cross(batch)
    expect(second.arrived).toEqual(batch)
    // Only the value's shape (its field names) is not written again.
    expect(second.bytes).toBeGreaterThan(first.bytes - 8)
  })

  it("sends an object shape's field names once per channel, through shape after shape", () => {
    const c = channel()
    const event = (i: number) => ({ time: i, ip: `10.0.0.${i % 200}`, method: 'GET', path: '/', status: 200 })
    const batch = (from: number): Record[] =>
      Array.from({ length: 64 }, (_, i) => ({
        value: event(from + i),
        key: undefined,
        time: from + i,
        tag: '',
      }))
    const first = c.cross(batch(0))
    const second = c.cross(batch(0))
    expect(second.arrived).toEqual(batch(0))
    expect(first.bytes - second.bytes).toBeGreaterThanOrEqual('timeipmethodpathstatus'.length)
    // More shapes than msgpackr numbers at once (64): numbers are reused, and both ends follow.
    for (let round = 0; round < 3; round++) {
      for (let shape = 0; shape < 100; shape++) {
        const value = { [`field${shape}`]: shape, round, nested: { [`inner${shape % 7}`]: [shape] } }
        const records: Record[] = [
          { value, key: undefined, time: shape, tag: '' },
          { value: event(shape), key: undefined, time: shape, tag: '' },
        ]
        expect(c.cross(records).arrived).toEqual(records)
      }
    }
    // A channel's shapes are its own: a new decoder cannot read what another one was taught.
    const other = new BatchDecoder()
    const later = c.encoder.encode(batch(5))
    expect(() => other.decode(later)).toThrow()
  })

  it('starts the dictionary over past its limit, on both ends at once', () => {
    const c = channel()
    const per = 4096
    // Each batch adds per / 2 strings: enough batches to pass the limit, and some after.
    const rounds = Math.ceil(DICTIONARY_LIMIT / (per / 2)) + 3
    for (let r = 0; r < rounds; r++) {
      // Half new strings each batch (so the column keeps its dictionary), half seen just before.
      const batch: Record[] = Array.from({ length: per }, (_, i) => {
        const s = i % 2 === 0 ? `k${r}-${i}` : `k${Math.max(0, r - 1)}-${i - 1}`
        return { value: s, key: s, time: i, tag: '' }
      })
      expect(c.cross(batch).arrived).toEqual(batch)
    }
  })

  it('writes unique strings in full for a while, and keeps both ends in step', () => {
    const c = channel()
    const repeated = (n: number): Record[] =>
      Array.from({ length: 64 }, (_, i) => ({
        value: `/section/page-${i % 8}.html`,
        key: i % 3,
        time: n,
        tag: '',
      }))
    const unique = (n: number): Record[] =>
      Array.from({ length: 64 }, (_, i) => ({ value: `id-${n}-${i}`, key: i % 3, time: n, tag: '' }))
    c.cross(repeated(0))
    // A batch of new strings: the column is written in full for the next DICTIONARY_BACKOFF batches,
    // unique or not.
    expect(c.cross(unique(1)).arrived).toEqual(unique(1))
    let inFull = 0
    for (let n = 2; n <= DICTIONARY_BACKOFF + 1; n++) {
      const b = n === DICTIONARY_BACKOFF ? unique(n) : repeated(n)
      const crossed = c.cross(b)
      expect(crossed.arrived).toEqual(b)
      if (n === 2) inFull = crossed.bytes
    }
    // Past the back-off the repeated strings travel by number again.
    const after = c.cross(repeated(1000))
    expect(after.arrived).toEqual(repeated(1000))
    expect(after.bytes).toBeLessThan(inFull - 64 * 16)
  })

  it('long strings, mixed columns and per-record tags come back as they were', () => {
    const long = 'x'.repeat(MAX_DICTIONARY_STRING + 1)
    const batch: Record[] = [
      { value: long, key: 'a', time: 1, tag: 't1' },
      { value: 'short', key: 2, time: 2, tag: 't2' },
      { value: 3, key: undefined, time: 3, tag: 't1' },
      { value: null, key: 'a', time: 4, tag: '' },
    ]
    const c = channel()
    expect(c.cross(batch).arrived).toEqual(batch)
    expect(c.cross(batch).arrived).toEqual(batch)
    expect(c.cross([]).arrived).toEqual([])
  })
})

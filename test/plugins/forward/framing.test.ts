import { describe, expect, it } from 'vitest'
import { EventTime, packr, unpackr } from '../../../src/plugins/forward/event-time.ts'
import { FrameReader, INCOMPLETE, MALFORMED, valueEnd } from '../../../src/plugins/forward/framing.ts'

const values: unknown[] = [
  null,
  true,
  7,
  -3,
  300,
  -40000,
  2 ** 40,
  1.5,
  'short',
  'x'.repeat(300),
  'y'.repeat(70000),
  Buffer.alloc(10, 1),
  Buffer.alloc(70000, 2),
  [1, [2, [3, { a: [4] }]]],
  { k: 'v', nested: { list: Array.from({ length: 20 }, (_, i) => i) } },
  Array.from({ length: 70000 }, (_, i) => i % 3),
  new EventTime(1441588984, 5),
  ['tag', [[new EventTime(1, 2), { a: 'b' }]], { chunk: 'c' }],
]

describe('forward framing', () => {
  it('valueEnd finds the exact end of every MessagePack type and INCOMPLETE on any cut', () => {
    for (const v of values) {
      const b = packr.pack(v)
      expect(valueEnd(b, 0, b.length)).toBe(b.length)
      for (const cut of [0, 1, 2, Math.floor(b.length / 2), b.length - 1]) {
        if (cut < b.length) expect(valueEnd(b, 0, cut)).toBe(INCOMPLETE)
      }
    }
  })

  it('valueEnd reports the reserved byte 0xc1 as MALFORMED', () => {
    expect(valueEnd(Buffer.from([0x92, 0x01, 0xc1]), 0, 3)).toBe(MALFORMED)
  })

  it('a stream cut into pieces of every size gives back the same values in order', () => {
    const encoded = values.map((v) => Buffer.from(packr.pack(v)))
    const stream = Buffer.concat(encoded)
    for (const piece of [1, 3, 64, 1000, 65536]) {
      const reader = new FrameReader(1 << 20)
      const frames: Buffer[] = []
      for (let i = 0; i < stream.length; i += piece) {
        reader.push(stream.subarray(i, i + piece))
        let f: Buffer | null
        while ((f = reader.next()) !== null) frames.push(f)
      }
      expect(frames.map((f, i) => f.equals(encoded[i]!))).toEqual(encoded.map(() => true))
      expect(reader.buffered).toBe(0)
    }
    expect(unpackr.unpack(encoded[17]!)).toEqual(values[17])
  })

  it('a value larger than the limit is refused from its header, before its bytes arrive', () => {
    const reader = new FrameReader(1000)
    const big = packr.pack(['t', Buffer.alloc(5000)])
    reader.push(big.subarray(0, 10))
    expect(() => reader.next()).toThrow(expect.objectContaining({ code: 'ERR_FORWARD_CHUNK_TOO_LARGE' }))
  })

  it('bytes that are not MessagePack are a protocol error', () => {
    const reader = new FrameReader(1000)
    reader.push(Buffer.from([0xc1]))
    expect(() => reader.next()).toThrow(expect.objectContaining({ code: 'ERR_FORWARD_PROTOCOL' }))
  })
})

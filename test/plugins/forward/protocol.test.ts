import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { EventTime, packr, unpackr } from '../../../src/plugins/forward/event-time.ts'
import {
  decodeRequest,
  encodeAck,
  encodePackedForward,
  readRequestHead,
} from '../../../src/plugins/forward/protocol.ts'

// Hand-written MessagePack, byte by byte, from the spec's examples.
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')
const str = (s: string): string => {
  const b = Buffer.from(s)
  return (
    (b.length < 32 ? (0xa0 | b.length).toString(16) : `d9${b.length.toString(16).padStart(2, '0')}`) +
    b.toString('hex')
  )
}
const u32 = (n: number): string => n.toString(16).padStart(8, '0')
const fixext8 = (s: number, ns: number): string => `d700${u32(s)}${u32(ns)}`
const ext8 = (s: number, ns: number): string => `c70800${u32(s)}${u32(ns)}`
const entry = (time: string, word: string): string => `92${time}81${str('message')}${str(word)}`
const T = 1441588984

const threeEntries = (time: (i: number) => string): string =>
  entry(time(0), 'foo') + entry(time(1), 'bar') + entry(time(2), 'baz')
const expectThree = (nanos: number) => [
  { time: T * 1000 + Math.floor(nanos / 1e6), nanos, record: { message: 'foo' } },
  { time: (T + 1) * 1000 + Math.floor(nanos / 1e6), nanos, record: { message: 'bar' } },
  { time: (T + 2) * 1000 + Math.floor(nanos / 1e6), nanos, record: { message: 'baz' } },
]

describe('forward protocol decoding', () => {
  it('Message mode with an integer time gives one event in milliseconds', () => {
    const msg = decodeRequest(hex(`93 ${str('tag.name')} ce${u32(T)} 81 ${str('message')} ${str('bar')}`))
    expect(msg).toEqual({
      tag: 'tag.name',
      entries: [{ time: T * 1000, nanos: 0, record: { message: 'bar' } }],
      mode: 'message',
      chunk: undefined,
      size: undefined,
      skipped: 0,
    })
  })

  it('Message mode with an EventTime keeps the nanoseconds and reads the chunk option', () => {
    const chunk = 'p8n9gmxTQVC8/nh2wlKKeQ=='
    const bytes = hex(
      `94 ${str('tag.name')} ${fixext8(T, 123456789)} 81${str('a')}01 81${str('chunk')}${str(chunk)}`,
    )
    const msg = decodeRequest(bytes)!
    expect(msg.entries).toEqual([{ time: T * 1000 + 123, nanos: 123456789, record: { a: 1 } }])
    expect(msg.chunk).toBe(chunk)
    expect(encodeAck(chunk)).toEqual(hex(`81 ${str('ack')} b8${Buffer.from(chunk).toString('hex')}`))
  })

  it('an EventTime is read from both its fixext8 and its ext8 encodings', () => {
    expect(unpackr.unpack(hex(fixext8(T, 123456789)))).toEqual(new EventTime(T, 123456789))
    expect(unpackr.unpack(hex(ext8(T, 123456789)))).toEqual(new EventTime(T, 123456789))
    expect(packr.pack(new EventTime(T, 123456789))).toEqual(hex(fixext8(T, 123456789)))
  })

  it('Forward mode gives the three events in order', () => {
    const msg = decodeRequest(hex(`92 ${str('tag.name')} 93 ${threeEntries((i) => `ce${u32(T + i)}`)}`))!
    expect(msg.mode).toBe('forward')
    expect(msg.entries).toEqual(expectThree(0))
  })

  it('PackedForward accepts the entries as bin and as legacy str, even when they are not UTF-8', () => {
    const entries = threeEntries((i) => fixext8(T + i, 5))
    const len = (entries.length / 2).toString(16).padStart(2, '0')
    const asBin = decodeRequest(hex(`92 ${str('tag.name')} c4${len}${entries}`))!
    const asStr = decodeRequest(hex(`93 ${str('tag.name')} d9${len}${entries} 81${str('size')}03`))!
    expect(asBin.mode).toBe('packed')
    expect(asBin.entries).toEqual(expectThree(5))
    expect(asStr.entries).toEqual(expectThree(5))
    expect(asStr.size).toBe(3)
  })

  it('CompressedPackedForward inflates several concatenated gzip members', () => {
    const a = gzipSync(hex(entry(fixext8(T, 7), 'foo')))
    const b = gzipSync(hex(entry(fixext8(T + 1, 7), 'bar') + entry(fixext8(T + 2, 7), 'baz')))
    const payload = Buffer.concat([a, b])
    const bytes = packr.pack(['tag.name', payload, { compressed: 'gzip', size: 3 }])
    const msg = decodeRequest(bytes)!
    expect(msg.mode).toBe('compressed')
    expect(msg.entries).toEqual(expectThree(7))
  })

  it('a nil heartbeat and a request that is not an array carry no events', () => {
    expect(decodeRequest(hex('c0'))).toBeNull()
    expect(decodeRequest(hex(`81 ${str('a')} 01`))).toBeNull()
  })

  it('events with a bad time or a record that is not a map are skipped and counted', () => {
    const bytes = packr.pack([
      't',
      [
        [1, { ok: 1 }],
        ['soon', { bad: 1 }],
        [2, 'not a map'],
        [3, { ok: 2 }],
      ],
    ])
    const msg = decodeRequest(bytes)!
    expect(msg.entries.map((e) => e.record)).toEqual([{ ok: 1 }, { ok: 2 }])
    expect(msg.skipped).toBe(2)
  })

  it('a Message-mode time of 0 becomes the current time', () => {
    const msg = decodeRequest(packr.pack(['t', 0, { a: 1 }]), {
      maxDecompressedBytes: 1e6,
      now: () => 1_700_000_000_123,
    })!
    expect(msg.entries[0]!.time).toBe(1_700_000_000_123)
  })

  it('an array of no known mode, a bad tag or a broken payload is a protocol error', () => {
    expect(() => decodeRequest(packr.pack(['t', true]))).toThrow(/second element/)
    expect(() => decodeRequest(packr.pack([42, 1, {}]))).toThrow(/tag must be a string/)
    expect(() => decodeRequest(packr.pack(['t']))).toThrow(/2 to 4 elements/)
    expect(() => decodeRequest(packr.pack(['t', Buffer.from([0x92, 0x01])]))).toThrow(/PackedForward payload/)
    expect(() => decodeRequest(packr.pack(['t', Buffer.from('nope'), { compressed: 'gzip' }]))).toThrow(
      /inflate/,
    )
    try {
      decodeRequest(packr.pack(['t', true]))
    } catch (error) {
      expect((error as { code: string }).code).toBe('ERR_FORWARD_PROTOCOL')
    }
  })

  it('encodePackedForward round-trips through decodeRequest with nanoseconds and the chunk', () => {
    const entries = [
      { time: 1_700_000_000_123, nanos: 123_456_789, record: { path: '/a', n: 1 } },
      { time: 1_700_000_001_000, nanos: 0, record: { path: '/b', nested: { x: [1, 2] } } },
    ]
    const msg = decodeRequest(encodePackedForward('web.access', entries, 'abc'))!
    expect(msg).toEqual({ tag: 'web.access', entries, mode: 'packed', chunk: 'abc', size: 2, skipped: 0 })
  })

  it('readRequestHead reads the tag, mode, chunk and size of every mode as decodeRequest does, without the events', () => {
    const entries = [{ time: 1_700_000_000_123, nanos: 123_000_000, record: { n: 1 } }]
    const packed = encodePackedForward('p', entries, 'c1')
    const requests = [
      packr.pack(['m', T, { n: 1 }, { chunk: 'c0' }]),
      packr.pack(['m0', new EventTime(T, 5), { n: 1 }]),
      packr.pack([
        'f',
        [
          [T, { n: 1 }],
          ['bad', { n: 2 }],
        ],
        { chunk: 'c2', size: 2 },
      ]),
      packed,
      packr.pack(['z', gzipSync(hex(threeEntries(() => `ce${u32(T)}`))), { compressed: 'gzip', size: 3 }]),
    ]
    for (const r of requests) {
      const { tag, mode, chunk, size } = decodeRequest(r)!
      expect(readRequestHead(r)).toEqual({ tag, mode, chunk, size })
    }
    expect(readRequestHead(Buffer.from([0xc0]))).toBeNull()
    expect(() => readRequestHead(packr.pack(['t', true]))).toThrow(/second element/)
    expect(() => readRequestHead(packr.pack([42, 1, {}]))).toThrow(/tag must be a string/)
    expect(() => readRequestHead(packr.pack(['t']))).toThrow(/2 to 4 elements/)
    expect(() => readRequestHead(packr.pack(['t', 1]))).toThrow(/Message-mode/)
    expect(() => readRequestHead(packr.pack(['t', [], 'opt']))).toThrow(/option must be a map/)
    expect(() => readRequestHead(packr.pack(['t', Buffer.from([0x92, 0x01])]))).toThrow(
      /PackedForward payload/,
    )
    // Only decoding finds a gzip payload that does not inflate.
    const gz = packr.pack(['t', Buffer.from('nope'), { compressed: 'gzip', chunk: 'g' }])
    expect(readRequestHead(gz)).toEqual({ tag: 't', mode: 'compressed', chunk: 'g', size: undefined })
  })

  it('msgpackr keeps reading its own undefined (fixext1 type 0) as undefined', () => {
    expect(unpackr.unpack(packr.pack({ a: undefined, b: 1 }))).toEqual({ a: undefined, b: 1 })
  })
})

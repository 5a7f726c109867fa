import { describe, expect, it } from 'vitest'
import { EventTime, packr, unpackr } from '../../../src/plugins/forward/event-time.ts'
import {
  decodeRequest,
  decodeRequestAs,
  type ForwardEntry,
  packEntries,
} from '../../../src/plugins/forward/protocol.ts'

// The entry decoder reads the common shapes itself and hands the rest to msgpackr: every case here
// is checked against msgpackr's own decoding of the same bytes, with the skip rule of the protocol.

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')
const T = 1_700_000_000

/** What the entries of a PackedForward payload are, by msgpackr and the skip rule. */
function reference(payload: Uint8Array): { entries: ForwardEntry[]; skipped: number } {
  const entries: ForwardEntry[] = []
  let skipped = 0
  const values = payload.length === 0 ? [] : (unpackr.unpackMultiple(payload) as unknown[])
  for (const e of values) {
    const [time, record] = Array.isArray(e) ? e : []
    const valid =
      Array.isArray(e) &&
      e.length >= 2 &&
      typeof record === 'object' &&
      record !== null &&
      !Array.isArray(record) &&
      !(record instanceof Uint8Array)
    if (valid && time instanceof EventTime)
      entries.push({ time: time.toMillis(), nanos: time.nanoseconds, record })
    else if (valid && typeof time === 'number' && Number.isFinite(time)) {
      const ms = Math.floor(time * 1000)
      entries.push({ time: ms, nanos: (ms - Math.floor(ms / 1000) * 1000) * 1_000_000, record })
    } else skipped++
  }
  return { entries, skipped }
}

/** A PackedForward request around `payload`. */
const packed = (payload: Uint8Array): Buffer =>
  Buffer.from(packr.pack(['t', Buffer.from(payload), { size: 1 }]))

/** The entries of a Forward-mode request: the same entries as items of an array. */
function forwardMode(payload: Uint8Array): Buffer {
  const n = payload.length === 0 ? 0 : (unpackr.unpackMultiple(payload) as unknown[]).length
  const header = n < 16 ? Buffer.from([0x90 | n]) : Buffer.from([0xdc, n >> 8, n & 0xff])
  return Buffer.concat([Buffer.from([0x92]), packr.pack('t'), header, payload])
}

function expectAsMsgpackr(payload: Uint8Array): void {
  const want = reference(payload)
  const got = decodeRequest(packed(payload))!
  expect(got.entries).toStrictEqual(want.entries)
  expect(got.skipped).toBe(want.skipped)
  const forward = decodeRequest(forwardMode(payload))!
  expect(forward.mode).toBe('forward')
  expect(forward.entries).toStrictEqual(want.entries)
  expect(forward.skipped).toBe(want.skipped)
}

const entry = (time: string, record: string): string => `92 ${time} ${record}`
const fixext8 = (s: number, ns: number): string =>
  `d7 00 ${s.toString(16).padStart(8, '0')} ${ns.toString(16).padStart(8, '0')}`

describe('forward entries decoding', () => {
  it('records of every MessagePack type decode to exactly what msgpackr gives', () => {
    const protoKey = JSON.parse('{"__proto__": "not a prototype", "ok": 1}')
    const records: unknown[] = [
      {
        path: '/products/1/reviews?page=2',
        status: 200,
        bytes: 1234,
        ip: '192.168.1.7',
        agent: 'curl/8.5.0',
      },
      {
        ascii: 'plain',
        utf8: 'é ü 日本語 😀',
        bom: '\uFEFFleading mark',
        empty: '',
        long: 'x'.repeat(300),
        longer: 'y'.repeat(70_000),
      },
      { zero: 0, fix: 127, neg: -1, neg33: -33, u8: 200, u16: 60_000, u32: 4_000_000_000 },
      {
        i8: -100,
        i16: -30_000,
        i32: -2_000_000_000,
        half: 1.5,
        tiny: 1e-300,
        big: 2 ** 60,
        negBig: -(2 ** 60),
      },
      {
        yes: true,
        no: false,
        nil: null,
        nested: { a: [1, { b: 'c' }, []], empty: {} },
        list: ['a', 2, null],
      },
      { bin: Buffer.from([1, 2, 3]), date: new Date(1_700_000_000_123), time: new EventTime(T, 5) },
      protoKey,
      { ['k'.repeat(40)]: 'a name past the table of names', ключ: 'a non-ASCII name', '': 'an empty name' },
      Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`field${i}`, i])),
    ]
    for (const record of records) {
      const payload = packEntries([
        { time: T * 1000 + 123, nanos: 123_456_789, record: record as ForwardEntry['record'] },
        { time: T * 1000, nanos: 0, record: record as ForwardEntry['record'] },
      ])
      expectAsMsgpackr(payload)
    }
  })

  it('maps written by hand (int and duplicate keys, float32, str16/str32, map16/map32) decode as msgpackr reads them', () => {
    const t = fixext8(T, 0)
    const bodies = [
      '81 01 a1 78', // an integer key becomes the string "1"
      '82 a1 61 01 a1 61 02', // a duplicate key: the last value wins
      '81 a1 66 ca 3f c0 00 00', // float32 1.5
      '81 a1 73 da 00 03 616263', // str16
      '81 a1 73 db 00 00 00 03 616263', // str32 value
      '81 a1 73 d9 03 616263', // str8 value
      '81 d9 03 6b6579 01', // str8 key
      '81 da 00 03 6b6579 01', // str16 key
      'de 00 01 a1 61 01', // map16
      'df 00 00 00 01 a1 61 01', // map32
      '81 a1 61 cf 00 20 00 00 00 00 00 01', // uint64
      '81 a1 61 d3 ff ff ff ff ff ff ff fe', // int64
      '81 a1 61 dc 00 02 01 02', // array16
      '81 a1 61 dd 00 00 00 01 c0', // array32
      '81 a1 61 a2 c3 28', // invalid UTF-8
    ]
    for (const body of bodies) expectAsMsgpackr(hex(entry(t, body)))
  })

  it('times of every form are read, and invalid entries are skipped and counted', () => {
    const r = '81 a1 61 01'
    const payload = hex(
      [
        entry(fixext8(T, 999_999_999), r),
        entry(`c7 08 00 ${fixext8(T, 7).slice(6)}`, r), // EventTime in an ext8
        entry('ce 65 53 f1 00', r), // uint32 seconds
        entry('cb 41 d9 54 fc 40 00 00 00', r), // float seconds
        entry('ff', r), // -1
        entry('d0 9c', r), // int8 -100
        entry('cb 7f f8 00 00 00 00 00 00', r), // NaN: skipped
        entry('cb 7f f0 00 00 00 00 00 00', r), // Infinity: skipped
        entry('a4 736f6f6e', r), // a string time: skipped
        entry('c0', r), // nil time: skipped
        entry(fixext8(T, 0), '93 01 02 03'), // a record that is an array: skipped
        entry(fixext8(T, 0), 'a3 616263'), // a record that is a string: skipped
        entry(fixext8(T, 0), 'c4 01 00'), // a record that is a bin: skipped
        `93 ${fixext8(T, 1)} ${r} a3 657874`, // three elements: the first two count
        `91 ${fixext8(T, 0)}`, // one element: skipped
        `a5 68656c6c6f`, // not an array: skipped
        `d6 00 00 00 00 00`, // ext 0 of 4 bytes is not an EventTime: skipped
        entry(`d6 00 00 00 00 00`, r), // ... nor as a time
      ].join(' '),
    )
    const want = reference(payload)
    expect(want.entries.length).toBe(7)
    expect(want.skipped).toBe(11)
    expectAsMsgpackr(payload)
  })

  it('field names past the size of the table of names all decode to their own string', () => {
    const entries: ForwardEntry[] = []
    for (let i = 0; i < 3000; i++)
      entries.push({ time: T * 1000, nanos: 0, record: { [`n${i}`]: i, [`name-${i % 7}`]: `v${i}` } })
    const payload = packEntries(entries)
    expectAsMsgpackr(payload)
    expect(decodeRequest(packed(payload))!.entries).toStrictEqual(entries)
  })

  it('decodeRequestAs builds each valid event with the given function', () => {
    const payload = packEntries([
      { time: T * 1000 + 5, nanos: 5_000_000, record: { a: 1 } },
      { time: T * 1000 + 6, nanos: 6_000_123, record: { a: 2 } },
    ])
    const msg = decodeRequestAs(
      packed(payload),
      { maxDecompressedBytes: 1e6, now: Date.now },
      (time, nanos, r) => [time, nanos, r.a],
    )!
    expect(msg.entries).toEqual([
      [T * 1000 + 5, 5_000_000, 1],
      [T * 1000 + 6, 6_000_123, 2],
    ])
  })

  it('a payload cut short, an unknown extension or a reserved byte inside a record is a protocol error', () => {
    const t = fixext8(T, 0)
    const broken = [
      hex(`${entry(t, '81 a1 61 01')} ${entry(t, '82 a1 61 01 a1')}`), // cut inside a map
      hex(entry(t, '81 a1 61 a5 6162')), // cut inside a string
      hex(entry(t, '81 a1 61 d4 05 00')), // extension type 5 is not known
      hex(entry(t, '81 a1 61 c1')), // 0xc1 is never MessagePack
    ]
    for (const payload of broken) {
      let error: unknown
      try {
        decodeRequest(packed(payload))
      } catch (e) {
        error = e
      }
      expect((error as { code?: string }).code).toBe('ERR_FORWARD_PROTOCOL')
      expect((error as Error).message).toMatch(/PackedForward payload/)
    }
  })
})

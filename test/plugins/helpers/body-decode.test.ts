// Tests of HTTP body decoding: JSON, NDJSON and MessagePack bodies, and errors that name the place.

import { pack } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { SquallError } from '../../../src/core/errors.ts'
import { decodeBody } from '../../../src/plugins/helpers/body-decode.ts'

function fails(contentType: string | undefined, body: Buffer): SquallError {
  try {
    decodeBody(contentType, body)
  } catch (error) {
    expect(error).toBeInstanceOf(SquallError)
    expect((error as SquallError).code).toBe('ERR_BAD_BODY')
    return error as SquallError
  }
  throw new Error('expected decodeBody to throw')
}

describe('decodeBody', () => {
  it('body: a JSON object or an array of objects becomes records; parameters of the type are ignored', () => {
    expect(decodeBody('application/json', Buffer.from('{"a":1}'))).toEqual([{ a: 1 }])
    expect(decodeBody('Application/JSON; charset=utf-8', Buffer.from('[{"a":1},{"b":"é"}]'))).toEqual([
      { a: 1 },
      { b: 'é' },
    ])
    expect(decodeBody('application/json', Buffer.from('\ufeff{"bom":true}'))).toEqual([{ bom: true }])
  })

  it('body: invalid JSON names the line, column and byte offset', () => {
    const e = fails('application/json', Buffer.from('{\n  "é": 1,\n  "b" 2\n}'))
    expect(e.message).toMatch(/^application\/json: invalid JSON at line 3 column 7 \(byte offset 19\)/)
    const cut = fails('application/json', Buffer.from('[{"a":1},\n{"b":'))
    expect(cut.message).toMatch(/invalid JSON at line 2 column 6 \(byte offset 15\)/)
  })

  it('body: JSON that is not an object or array of objects is refused, naming the element', () => {
    expect(fails('application/json', Buffer.from('42')).message).toMatch(
      /the body is a number, expected an object/,
    )
    expect(fails('application/json', Buffer.from('[{"a":1}, "x"]')).message).toMatch(
      /element \[1\] of the array is a string/,
    )
  })

  it('body: NDJSON gives one record per non-blank line and a bad line is reported by number and offset', () => {
    const body = Buffer.from('{"n":1}\r\n\n{"n":2}\n{"n":3}')
    expect(decodeBody('application/x-ndjson', body)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }])
    expect(decodeBody('application/x-ndjson', Buffer.alloc(0))).toEqual([])
    const e = fails('application/x-ndjson', Buffer.from('{"n":1}\n{"n":2}\n{"n":\n'))
    expect(e.message).toMatch(/^application\/x-ndjson: line 3 \(byte offset 16\) is not valid JSON/)
    expect(e.where.line).toBe(3)
    expect(fails('application/x-ndjson', Buffer.from('{"n":1}\n[1]\n')).message).toMatch(
      /line 2 \(byte offset 8\) is an array, expected an object/,
    )
  })

  it('body: MessagePack as a map, an array of maps, or a sequence of maps', () => {
    expect(decodeBody('application/msgpack', pack({ a: 1 }))).toEqual([{ a: 1 }])
    expect(decodeBody('application/x-msgpack', pack([{ a: 1 }, { b: [1, 2] }]))).toEqual([
      { a: 1 },
      { b: [1, 2] },
    ])
    const seq = Buffer.concat([pack({ n: 1 }), pack({ n: 2 })])
    expect(decodeBody('application/msgpack', seq)).toEqual([{ n: 1 }, { n: 2 }])
  })

  it('body: truncated or wrongly shaped MessagePack names how far decoding got', () => {
    const first = pack({ n: 1 })
    const cut = Buffer.concat([first, pack({ n: 2, s: 'long enough' }).subarray(0, 5)])
    expect(fails('application/msgpack', cut).message).toMatch(/invalid MessagePack after 1 complete value/)
    const wrong = Buffer.concat([first, pack('text')])
    expect(fails('application/msgpack', wrong).message).toMatch(
      new RegExp(`value 2 \\(byte offset ${first.length}\\) is a string, expected a map`),
    )
    expect(fails('application/msgpack', pack([{ a: 1 }, 7])).message).toMatch(
      /element \[1\] of the array is a number/,
    )
    expect(fails('application/msgpack', Buffer.concat([first, Buffer.from([0xc1])])).message).toMatch(
      new RegExp(`value 2 \\(byte offset ${first.length}\\) is the byte 0xc1, which MessagePack never uses`),
    )
    expect(fails('application/msgpack', Buffer.from([0x92, 0x80, 0xc1])).message).toMatch(
      /element \[1\] of the array is the byte 0xc1/,
    )
  })

  it('body: an unsupported content type is refused with the accepted ones listed', () => {
    const e = fails('text/plain', Buffer.from('hi'))
    expect(e.message).toMatch(/content type "text\/plain" is not supported; send one of "application\/json"/)
    expect(fails(undefined, Buffer.from('{}')).message).toMatch(/content type ""/)
  })
})

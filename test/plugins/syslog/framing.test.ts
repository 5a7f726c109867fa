// Tests of syslog framing: octet counting and newline framing split at every possible byte, auto
// detection, oversized frames, malformed headers, and UDP datagrams.

import { describe, expect, it } from 'vitest'
import { FrameDecoder, splitDatagram } from '../../../src/plugins/syslog/framing.ts'

function octet(msg: string): string {
  return `${Buffer.byteLength(msg)} ${msg}`
}

/** Feeds `input` cut at `cut` into a fresh decoder and returns the messages. */
function decode(framing: 'auto' | 'octet-counting' | 'newline', input: Buffer, cuts: number[], max = 1000) {
  const d = new FrameDecoder(framing, max)
  const out: string[] = []
  let prev = 0
  for (const c of [...cuts, input.length]) {
    expect(d.push(input.subarray(prev, c), out)).toBe(true)
    prev = c
  }
  return { out, d }
}

const MESSAGES = [
  '<34>1 2003-10-11T22:14:15.003Z host app - ID47 - hello',
  '<13>Oct 11 22:14:15 host: é ünïcode',
  'x',
]

describe('syslog framing', () => {
  it('syslog framing: octet counting yields the same messages wherever the stream is cut', () => {
    const input = Buffer.from(MESSAGES.map(octet).join(''))
    for (let cut = 0; cut <= input.length; cut++) {
      const { out, d } = decode('octet-counting', input, [cut])
      expect(out).toEqual(MESSAGES)
      expect(d.pendingBytes()).toBe(0)
    }
  })

  it('syslog framing: a message may hold newlines under octet counting', () => {
    const { out } = decode('auto', Buffer.from(octet('line one\nline two')), [])
    expect(out).toEqual(['line one\nline two'])
  })

  it('syslog framing: newline framing yields the same messages wherever the stream is cut, CRLF included', () => {
    const input = Buffer.from(`${MESSAGES[0]}\r\n${MESSAGES[1]}\n\n${MESSAGES[2]}\n`)
    for (let cut = 0; cut <= input.length; cut++) {
      const { out, d } = decode('newline', input, [cut])
      expect(out).toEqual(MESSAGES)
      expect(d.pendingBytes()).toBe(0)
    }
  })

  it('syslog framing: auto picks octet counting for a leading digit and newline framing otherwise', () => {
    const a = decode('auto', Buffer.from(octet('<1>a') + octet('<2>b')), [])
    expect(a.out).toEqual(['<1>a', '<2>b'])
    expect(a.d.framing()).toBe('octet-counting')
    const b = decode('auto', Buffer.from('<1>a\n<2>b\n'), [])
    expect(b.out).toEqual(['<1>a', '<2>b'])
    expect(b.d.framing()).toBe('newline')
  })

  it('syslog framing: an incomplete last frame is reported as pending bytes, not delivered', () => {
    const { out, d } = decode('octet-counting', Buffer.from(`${octet('<1>whole')}20 <1>cut`), [])
    expect(out).toEqual(['<1>whole'])
    expect(d.pendingBytes()).toBeGreaterThan(0)
    const n = decode('newline', Buffer.from('<1>whole\n<1>no newline'), [])
    expect(n.out).toEqual(['<1>whole'])
    expect(n.d.pendingBytes()).toBe('<1>no newline'.length)
  })

  it('syslog framing: oversized frames are skipped and counted, later frames still come', () => {
    const big = 'y'.repeat(50)
    const input = Buffer.from(octet('<1>a') + octet(big) + octet('<1>b'))
    for (let cut = 0; cut <= input.length; cut += 7) {
      const { out, d } = decode('octet-counting', input, [cut], 20)
      expect(out).toEqual(['<1>a', '<1>b'])
      expect(d.oversized).toBe(1)
    }
    const lines = Buffer.from(`<1>a\n${big}\n<1>b\n`)
    for (let cut = 0; cut <= lines.length; cut += 5) {
      const { out, d } = decode('newline', lines, [cut], 20)
      expect(out).toEqual(['<1>a', '<1>b'])
      expect(d.oversized).toBe(1)
    }
  })

  it('syslog framing: a malformed octet count is a framing error naming what was received', () => {
    const d = new FrameDecoder('octet-counting', 1000)
    const out: string[] = []
    expect(d.push(Buffer.from('5 <1>a12x <1>b'), out)).toBe(false)
    expect(out).toEqual(['<1>a1'])
    expect(d.error).toMatch(/octet counting: expected "LEN SP MSG".*"2x <1>b"/)
    expect(new FrameDecoder('octet-counting', 1000).push(Buffer.from('05 hello'), [])).toBe(false)
  })

  it('syslog framing: a datagram holds one message or several separated by newlines', () => {
    const out: string[] = []
    expect(splitDatagram(Buffer.from('<1>only one'), 100, out)).toBe(true)
    expect(splitDatagram(Buffer.from('<1>a\n<2>b\r\n\n'), 100, out)).toBe(true)
    expect(splitDatagram(Buffer.alloc(101, 65), 100, out)).toBe(false)
    expect(out).toEqual(['<1>only one', '<1>a', '<2>b'])
  })
})

import { unpack } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { ConfigError, SquallError } from '../../../src/core/errors.ts'
import { record } from '../../../src/core/record.ts'
import {
  createFormatter,
  FORMATTER_TYPES,
  type FormatterConfig,
} from '../../../src/plugins/formatters/index.ts'
import { createParser } from '../../../src/plugins/parsers/index.ts'

const T = Date.parse('2013-02-28T03:00:00.250Z')
const rec = record({ host: '192.168.0.1', code: 200, agent: 'a\tb', user: null }, T, 'web.access')

describe('json formatter', () => {
  it('writes the value as one JSON line', () => {
    expect(createFormatter({ type: 'json' }).format(rec)).toBe(
      '{"host":"192.168.0.1","code":200,"agent":"a\\tb","user":null}\n',
    )
  })

  it('adds the time and tag when asked, in the chosen time format, without touching the record', () => {
    const f = createFormatter({ type: 'json', includeTimeKey: true, includeTagKey: true, addNewline: false })
    expect(JSON.parse(f.format(rec) as string)).toEqual({ ...rec.value, tag: 'web.access', time: T / 1000 })
    expect(rec.value).not.toHaveProperty('tag')
    const iso = createFormatter({ type: 'json', includeTimeKey: true, timeKey: '@t', timeFormat: 'iso8601' })
    expect(JSON.parse(iso.format(rec) as string)['@t']).toBe('2013-02-28T03:00:00.250Z')
    const local = createFormatter({
      type: 'json',
      includeTimeKey: true,
      timeFormat: '%d/%b/%Y:%H:%M:%S %z',
      timezone: '+09:00',
    })
    expect(JSON.parse(local.format(rec) as string).time).toBe('28/Feb/2013:12:00:00 +0900')
  })

  it('puts a non-object value under "message" when fields are added', () => {
    const f = createFormatter({ type: 'json', includeTagKey: true })
    expect(f.format(record('hello', 0, 'x'))).toBe('{"message":"hello","tag":"x"}\n')
  })

  it('throws ERR_FORMAT for a value JSON cannot write', () => {
    const cyclic: { [k: string]: unknown } = {}
    cyclic.self = cyclic
    expect(() => createFormatter({ type: 'json' }).format(record(cyclic))).toThrowError(SquallError)
    expect(() => createFormatter({ type: 'json' }).format(record(10n))).toThrowError(/formatter json/)
  })
})

describe('ltsv formatter', () => {
  it('writes label:value pairs separated by tabs, replacing tabs inside values', () => {
    expect(createFormatter({ type: 'ltsv' }).format(rec)).toBe(
      'host:192.168.0.1\tcode:200\tagent:a b\tuser:\n',
    )
  })

  it('is read back by the ltsv parser', () => {
    const f = createFormatter({
      type: 'ltsv',
      includeTimeKey: true,
      timeFormat: 'iso8601',
      addNewline: false,
    })
    const parsed = createParser({ type: 'ltsv' }).parse(f.format(rec) as string)
    expect(parsed).toEqual({ value: { host: '192.168.0.1', code: '200', agent: 'a b', user: '' }, time: T })
  })

  it('throws ERR_FORMAT for a value that is not an object', () => {
    expect(() => createFormatter({ type: 'ltsv' }).format(record([1, 2]))).toThrowError(
      /formatter ltsv: expected an object value, got \[1,2\]/,
    )
  })
})

describe('csv formatter', () => {
  it('writes the listed fields, all quoted by default, quotes doubled', () => {
    const f = createFormatter({ type: 'csv', fields: ['host', 'code', 'missing', 'q'] })
    expect(f.format(record({ host: 'h', code: 1, q: 'say "hi"' }))).toBe('"h","1","","say ""hi"""\n')
  })

  it('quotes only when needed with forceQuotes false, and is read back by the csv parser', () => {
    const f = createFormatter({ type: 'csv', fields: 'a,b,c', forceQuotes: false, addNewline: false })
    const line = f.format(record({ a: 'x,y', b: 'plain', c: 'q"q' })) as string
    expect(line).toBe('"x,y",plain,"q""q"')
    expect(createParser({ type: 'csv', keys: 'a,b,c' }).parse(line)?.value).toEqual({
      a: 'x,y',
      b: 'plain',
      c: 'q"q',
    })
  })

  it('refuses a config without fields', () => {
    expect(() => createFormatter({ type: 'csv', fields: '' })).toThrowError(ConfigError)
  })
})

describe('msgpack formatter', () => {
  it('writes bytes any MessagePack decoder reads back', () => {
    const bytes = createFormatter({ type: 'msgpack', includeTagKey: true }).format(rec)
    expect(bytes).toBeInstanceOf(Uint8Array)
    expect(unpack(bytes as Uint8Array)).toEqual({ ...rec.value, tag: 'web.access' })
  })
})

describe('single_value formatter', () => {
  it('writes the message field, or messageKey, or a string value as it is', () => {
    expect(createFormatter({ type: 'single_value' }).format(record({ message: 'hello', x: 1 }))).toBe(
      'hello\n',
    )
    expect(createFormatter({ type: 'single_value', messageKey: 'host', addNewline: false }).format(rec)).toBe(
      '192.168.0.1',
    )
    expect(createFormatter({ type: 'single_value' }).format(record('raw line'))).toBe('raw line\n')
    expect(createFormatter({ type: 'single_value' }).format(record({ other: 1 }))).toBe('\n')
  })
})

describe('createFormatter', () => {
  it('creates every listed type', () => {
    for (const type of FORMATTER_TYPES) {
      const config = (type === 'csv' ? { type, fields: 'a' } : { type }) as FormatterConfig
      expect(createFormatter(config).type).toBe(type)
    }
  })

  it('refuses an unknown type with a suggestion', () => {
    expect(() => createFormatter({ type: 'jsn' } as unknown as FormatterConfig)).toThrowError(
      /formatter.type: expected one of .*, got "jsn"; did you mean "json"\?/,
    )
  })
})

import { describe, expect, it } from 'vitest'
import { SquallError } from '../../src/core/errors.ts'
import {
  compileTime,
  compileTimeFormatter,
  parseIso8601,
  parseTime,
  timeExtractor,
} from '../../src/core/time.ts'

const at = (iso: string) => Date.parse(iso)
const thisYear = new Date().getUTCFullYear()

describe('parseTime with strftime formats', () => {
  it("reads Apache's access-log time with its zone", () => {
    expect(parseTime('10/Oct/2000:13:55:36 -0700', '%d/%b/%Y:%H:%M:%S %z')).toBe(
      at('2000-10-10T13:55:36-07:00'),
    )
    expect(parseTime('28/Feb/2013:12:00:00 +0900', '%d/%b/%Y:%H:%M:%S %z')).toBe(1362020400 * 1000)
  })

  it('reads a syslog time without a year as the current year, and pads days with a space', () => {
    expect(parseTime('Feb 28 12:00:00', '%b %d %H:%M:%S')).toBe(Date.UTC(thisYear, 1, 28, 12))
    expect(parseTime('Feb  5 17:32:18', '%b %d %H:%M:%S')).toBe(Date.UTC(thisYear, 1, 5, 17, 32, 18))
  })

  it('reads fractions with %N and %L, keeping whole milliseconds', () => {
    expect(parseTime('2013-02-28T12:00:00.123456789+09:00', '%Y-%m-%dT%H:%M:%S.%N%z')).toBe(
      at('2013-02-28T12:00:00.123+09:00'),
    )
    expect(parseTime('2013-02-28T12:00:00.003Z', '%Y-%m-%dT%H:%M:%S.%L%z')).toBe(
      at('2013-02-28T12:00:00.003Z'),
    )
  })

  it('reads full month and weekday names, 12-hour clocks and composite directives', () => {
    expect(parseTime('Wednesday, 11 October 2000 02:32:52 PM', '%A, %d %B %Y %I:%M:%S %p')).toBe(
      at('2000-10-11T14:32:52Z'),
    )
    expect(parseTime('2000-10-11 14:32:52', '%F %T')).toBe(at('2000-10-11T14:32:52Z'))
    expect(parseTime('12/31/99', '%D')).toBe(at('1999-12-31T00:00:00Z'))
  })

  it('reads epoch directives %s and %Q', () => {
    expect(parseTime('1362020400', '%s')).toBe(1362020400000)
    expect(parseTime('1362020400123', '%Q')).toBe(1362020400123)
  })

  it('applies the timezone option to times written without a zone', () => {
    expect(parseTime('Wed Oct 11 14:32:52 2000', '%a %b %d %H:%M:%S %Y', '+09:00')).toBe(971242372 * 1000)
    expect(parseTime('2013-07-01 12:00:00', '%Y-%m-%d %H:%M:%S', 'Europe/Paris')).toBe(
      at('2013-07-01T12:00:00+02:00'),
    )
    expect(parseTime('2013-01-01 12:00:00', '%Y-%m-%d %H:%M:%S', 'Europe/Paris')).toBe(
      at('2013-01-01T12:00:00+01:00'),
    )
  })

  it('gives undefined for text that does not fit the format or is out of range', () => {
    const f = '%d/%b/%Y:%H:%M:%S %z'
    expect(parseTime('10/Foo/2000:13:55:36 -0700', f)).toBeUndefined()
    expect(parseTime('31/Feb/2000:13:55:36 -0700', f)).toBeUndefined()
    expect(parseTime('10/Oct/2000:25:55:36 -0700', f)).toBeUndefined()
    expect(parseTime('10/Oct/2000:13:55:36 -0700 trailing', f)).toBeUndefined()
    expect(parseTime('', f)).toBeUndefined()
  })

  it('returns the same result for a repeated text (the cached path) and for a different one after it', () => {
    const convert = compileTime({ format: '%Y-%m-%d %H:%M:%S' })
    expect(convert('2020-01-01 00:00:01')).toBe(at('2020-01-01T00:00:01Z'))
    expect(convert('2020-01-01 00:00:01')).toBe(at('2020-01-01T00:00:01Z'))
    expect(convert('2020-01-01 00:00:02')).toBe(at('2020-01-01T00:00:02Z'))
  })

  it('refuses an unknown directive or zone with ERR_ARGUMENT naming it', () => {
    expect(() => parseTime('x', '%Y-%q')).toThrowError(/unknown directive "%q"/)
    expect(() => compileTime({ format: '%Y', timezone: 'Mars/Base' })).toThrowError(SquallError)
  })

  it('tries a list of formats in order', () => {
    const formats = ['%Y-%m-%d %H:%M:%S', 'unix']
    expect(parseTime('2020-01-01 00:00:00', formats)).toBe(at('2020-01-01T00:00:00Z'))
    expect(parseTime('1577836800', formats)).toBe(at('2020-01-01T00:00:00Z'))
  })
})

describe('ISO-8601 and epoch values', () => {
  it('reads ISO-8601 with and without a zone (without one, UTC)', () => {
    expect(parseTime('2013-02-28T12:00:00Z')).toBe(at('2013-02-28T12:00:00Z'))
    expect(parseTime('2013-02-28T12:00:00+09:00')).toBe(at('2013-02-28T03:00:00Z'))
    expect(parseTime('2013-02-28T12:00:00.5')).toBe(at('2013-02-28T12:00:00.500Z'))
    expect(parseTime('2013-02-28 12:00:00 +0900')).toBe(at('2013-02-28T03:00:00Z'))
    expect(parseTime('2013/02/28 12:00:00')).toBe(at('2013-02-28T12:00:00Z'))
    expect(parseTime('2013-02-28')).toBe(at('2013-02-28T00:00:00Z'))
    expect(parseIso8601('2013-02-30T00:00:00Z')).toBeUndefined()
    expect(parseTime('yesterday')).toBeUndefined()
  })

  it('reads numbers as ms by default, seconds with unix/float, whole seconds with unixtime', () => {
    expect(parseTime(1362020400123)).toBe(1362020400123)
    expect(parseTime('1362020400123')).toBe(1362020400123)
    expect(parseTime(1362020400.5, 'unix')).toBe(1362020400500)
    expect(parseTime('1362020400.5', 'float')).toBe(1362020400500)
    expect(parseTime(1362020400.9, 'unixtime')).toBe(1362020400000)
    expect(parseTime('1362020400123', 'unix_ms')).toBe(1362020400123)
    expect(parseTime('12abc', 'unix')).toBeUndefined()
  })
})

describe('timeExtractor', () => {
  it('reads a top-level field and a dotted path', () => {
    expect(timeExtractor({ field: 'time' })({ time: '2020-01-01T00:00:00Z' })).toBe(
      at('2020-01-01T00:00:00Z'),
    )
    expect(timeExtractor({ field: 'req.at', format: 'unix' })({ req: { at: 1577836800 } })).toBe(
      at('2020-01-01T00:00:00Z'),
    )
  })

  it('gives undefined for a missing field, a missing parent, null or an unparsable value', () => {
    const get = timeExtractor({ field: 'a.b', format: '%d/%b/%Y:%H:%M:%S %z' })
    expect(get({})).toBeUndefined()
    expect(get({ a: 5 })).toBeUndefined()
    expect(get({ a: { b: null } })).toBeUndefined()
    expect(get({ a: { b: 'not a time' } })).toBeUndefined()
    expect(get('a string value')).toBeUndefined()
  })

  it('accepts Date objects', () => {
    expect(timeExtractor({ field: 't' })({ t: new Date(42) })).toBe(42)
  })

  it('refuses an empty field name', () => {
    expect(() => timeExtractor({ field: '' })).toThrowError(/field: expected/)
  })
})

describe('compileTimeFormatter', () => {
  it('writes strftime formats in UTC or in a zone', () => {
    const ms = at('2013-02-28T03:00:00.003Z')
    expect(compileTimeFormatter('%Y-%m-%dT%H:%M:%S.%L%z')(ms)).toBe('2013-02-28T03:00:00.003+0000')
    expect(compileTimeFormatter('%d/%b/%Y:%H:%M:%S %:z %a %j', '+09:00')(ms)).toBe(
      '28/Feb/2013:12:00:00 +09:00 Thu 059',
    )
    expect(compileTimeFormatter('iso8601')(ms)).toBe(new Date(ms).toISOString())
  })

  it('round-trips through the parser of the same format', () => {
    const format = '%d/%b/%Y:%H:%M:%S.%L %z'
    const write = compileTimeFormatter(format, 'America/New_York')
    for (const ms of [0, 971242372123, 1362020400000, 1688212800999])
      expect(parseTime(write(ms), format)).toBe(ms)
  })
})

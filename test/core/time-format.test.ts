// strftime-style formats compiled by src/core/time-format.ts, checked against Date.parse and Date.UTC.

import { describe, expect, it } from 'vitest'
import {
  compileLooseTime,
  compileTimeFormat,
  daysFromCivil,
  daysInMonth,
  localToUtc,
  readZone,
  zoneEndIndex,
  zoneOffset,
} from '../../src/core/time-format.ts'
import { timeExtractor } from '../../src/core/time.ts'

describe('calendar arithmetic', () => {
  it('daysFromCivil agrees with Date.UTC on every first and last day of month from 1600 to 2400', () => {
    for (let year = 1600; year <= 2400; year += 7) {
      for (let month = 1; month <= 12; month++) {
        const last = daysInMonth(year, month)
        expect(daysFromCivil(year, month, 1) * 86_400_000).toBe(Date.UTC(year, month - 1, 1))
        expect(daysFromCivil(year, month, last) * 86_400_000).toBe(Date.UTC(year, month - 1, last))
        expect(new Date(Date.UTC(year, month - 1, last + 1)).getUTCDate()).toBe(1)
      }
    }
  })
})

describe('zones', () => {
  it('readZone reads Z, names, ±HH, ±HHMM and ±HH:MM and says where the zone ends', () => {
    const cases: [string, number, number][] = [
      ['Z', 0, 1],
      ['UTC rest', 0, 3],
      ['+09:00', 540, 6],
      ['-0730x', -450, 5],
      ['+05', 300, 3],
      ['PST', -480, 3],
    ]
    for (const [text, minutes, end] of cases) {
      expect(readZone(text, 0)).toBe(minutes)
      expect(zoneEndIndex()).toBe(end)
    }
    expect(readZone('+9:00', 0)).toBeNaN()
    expect(readZone('+09:7', 0)).toBeNaN()
    expect(readZone('Mars', 0)).toBeNaN()
  })

  it('zoneOffset takes offsets and IANA names, and refuses anything else with ERR_ARGUMENT', () => {
    expect(zoneOffset('+09:00')).toBe(540)
    expect(zoneOffset('UTC')).toBe(0)
    expect(typeof zoneOffset('Europe/Paris')).toBe('object')
    expect(() => zoneOffset('Mars/Olympus')).toThrow(expect.objectContaining({ code: 'ERR_ARGUMENT' }))
  })

  it('localToUtc follows daylight saving time in an IANA zone, including skipped and repeated hours', () => {
    const paris = zoneOffset('Europe/Paris')
    expect(localToUtc(Date.UTC(2021, 0, 15, 12), paris)).toBe(Date.parse('2021-01-15T12:00:00+01:00'))
    expect(localToUtc(Date.UTC(2021, 6, 15, 12), paris)).toBe(Date.parse('2021-07-15T12:00:00+02:00'))
    expect(localToUtc(Date.UTC(2021, 9, 31, 1, 30), paris)).toBe(Date.parse('2021-10-31T01:30:00+02:00'))
    expect(localToUtc(Date.UTC(2021, 9, 31, 4), paris)).toBe(Date.parse('2021-10-31T04:00:00+01:00'))
    expect(localToUtc(Date.UTC(2021, 9, 31, 2, 30), paris)).toBe(Date.parse('2021-10-31T02:30:00+01:00'))
    expect(localToUtc(Date.UTC(2021, 2, 28, 2, 30), paris)).toBe(Date.parse('2021-03-28T02:30:00+01:00'))
    const newYork = zoneOffset('America/New_York')
    expect(localToUtc(Date.UTC(2021, 2, 14, 12), newYork)).toBe(Date.parse('2021-03-14T12:00:00-04:00'))
  })
})

describe('compileTimeFormat', () => {
  it('reads formats used by common logs the same way Date.parse reads the equivalent ISO text', () => {
    const cases: [string, string, string][] = [
      ['%d/%b/%Y:%H:%M:%S %z', '10/Oct/2000:13:55:36 -0700', '2000-10-10T13:55:36-07:00'],
      ['%Y-%m-%dT%H:%M:%S.%N%z', '2013-02-28T12:00:00.123456789+09:00', '2013-02-28T12:00:00.123+09:00'],
      ['%Y-%m-%dT%H:%M:%S%:z', '2013-02-28T12:00:00+09:00', '2013-02-28T12:00:00+09:00'],
      ['%a %b %e %H:%M:%S %Y', 'Wed Oct 11 14:32:52 2000', '2000-10-11T14:32:52Z'],
      ['%A, %B %d, %Y %I:%M %p', 'Sunday, March 1, 2020 12:05 AM', '2020-03-01T00:05:00Z'],
      ['%A, %B %d, %Y %I:%M %p', 'Sunday, March 1, 2020 12:05 pm', '2020-03-01T12:05:00Z'],
      ['%m/%d/%y %T', '02/29/24 23:59:60', '2024-03-01T00:00:00Z'],
      ['%F %R %Z', '1999-12-31 23:59 GMT', '1999-12-31T23:59:00Z'],
      ['%Y%m%d%H%M%S', '20240102030405', '2024-01-02T03:04:05Z'],
      ['%Y-%j', '2024-366', '2024-12-31T00:00:00Z'],
      ['%d.%m.%Y %H:%M:%S,%L', '05.06.2007 08:09:10,5', '2007-06-05T08:09:10.500Z'],
    ]
    for (const [format, text, iso] of cases) {
      expect(compileTimeFormat(format)(text), `${format} on ${text}`).toBe(Date.parse(iso))
    }
  })

  it('matches any run of whitespace for a space in the format, and a padded %d', () => {
    const parse = compileTimeFormat('%b %d %Y %H:%M:%S')
    const expected = Date.UTC(2020, 1, 3, 4, 5, 6)
    expect(parse('Feb  3 2020 04:05:06')).toBe(expected)
    expect(parse('Feb 03\t2020  04:05:06')).toBe(expected)
    expect(parse('Feb 3 2020 4:5:6')).toBe(expected)
  })

  it('uses the timezone option only when the text has no zone of its own', () => {
    const parse = compileTimeFormat('%Y-%m-%d %H:%M:%S %z', 'Asia/Tokyo')
    expect(parse('2020-01-01 09:00:00 +0000')).toBe(Date.UTC(2020, 0, 1, 9))
    const local = compileTimeFormat('%Y-%m-%d %H:%M:%S', 'Asia/Tokyo')
    expect(local('2020-01-01 09:00:00')).toBe(Date.UTC(2020, 0, 1, 0))
  })

  it('gives undefined for leftovers, impossible dates and texts cut short', () => {
    const parse = compileTimeFormat('%Y-%m-%d %H:%M:%S')
    expect(parse('2021-02-29 00:00:00')).toBeUndefined()
    expect(parse('2021-13-01 00:00:00')).toBeUndefined()
    expect(parse('2021-01-01 00:61:00')).toBeUndefined()
    expect(parse('2021-01-01 00:00')).toBeUndefined()
    expect(parse('2021-01-01 00:00:00 junk')).toBeUndefined()
    expect(parse('2021-01-01 00:00:00  ')).toBe(Date.UTC(2021, 0, 1))
    expect(compileTimeFormat('%I:%M %p %F')('13:00 PM 2021-01-01')).toBeUndefined()
  })

  it('answers a repeated text from its cache with the same value as a fresh parser', () => {
    const parse = compileTimeFormat('%d/%b/%Y:%H:%M:%S %z')
    const texts = [
      '01/Jan/2020:00:00:00 +0000',
      '01/Jan/2020:00:00:00 +0000',
      'bad',
      'bad',
      '02/Jan/2020:00:00:00 +0100',
    ]
    for (const text of texts) expect(parse(text)).toBe(compileTimeFormat('%d/%b/%Y:%H:%M:%S %z')(text))
  })

  it('refuses an unknown directive and an unknown timezone with ERR_ARGUMENT', () => {
    expect(() => compileTimeFormat('%Y-%q')).toThrow(/unknown directive "%q"/)
    expect(() => compileTimeFormat('%Y', 'Nowhere/City')).toThrow(
      expect.objectContaining({ code: 'ERR_ARGUMENT' }),
    )
  })
})

describe('compileLooseTime', () => {
  it('reads the common layouts that Ruby Time.parse accepts, with or without a zone', () => {
    const parse = compileLooseTime()
    const cases: [string, string][] = [
      ['2013-3-3 14:27:33', '2013-03-03T14:27:33Z'],
      ['2013/02/28 12:00:00.5 +09:00', '2013-02-28T12:00:00.500+09:00'],
      ['[28/Feb/2013:12:00:00 +0900]', '2013-02-28T12:00:00+09:00'],
      ['Thu, 28 Feb 2013 12:00:00 +0900', '2013-02-28T12:00:00+09:00'],
      ['Wed Oct 11 14:32:52 2000', '2000-10-11T14:32:52Z'],
      ['Thu Feb 28 12:00:00 JST 2013', '2013-02-28T12:00:00+09:00'],
      ['2013-02-28', '2013-02-28T00:00:00Z'],
    ]
    for (const [text, iso] of cases) expect(parse(text), text).toBe(Date.parse(iso))
    expect(parse(`Feb  3 12:00:01`)).toBe(Date.UTC(new Date().getUTCFullYear(), 1, 3, 12, 0, 1))
  })

  it('reads zoneless layouts in the given timezone and gives undefined for anything else', () => {
    expect(compileLooseTime('+09:00')('2013-3-3 09:00:00')).toBe(Date.UTC(2013, 2, 3))
    for (const text of ['', 'yesterday', '2013-02-30 00:00:00', '12:00', '[2013-02-28']) {
      expect(compileLooseTime()(text), text).toBeUndefined()
    }
  })
})

describe('timeExtractor without a format', () => {
  it("falls back to the common layouts, so fluentd's multiline example time is read", () => {
    const timeOf = timeExtractor({ field: 'time' })
    expect(timeOf({ time: '2013-3-03 14:27:33' })).toBe(Date.UTC(2013, 2, 3, 14, 27, 33))
    expect(timeOf({ time: '[05/Feb/2013:15:34:47 +0000]' })).toBe(Date.UTC(2013, 1, 5, 15, 34, 47))
    expect(timeOf({ time: 'not a time' })).toBeUndefined()
  })
})

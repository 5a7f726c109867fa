import { describe, expect, it } from 'vitest'
import { createParser, csvParser, tsvParser } from '../../../src/plugins/parsers/index.ts'

describe('csv parser', () => {
  it("gives fluentd's documented record and time for its example line", () => {
    const p = createParser({
      type: 'csv',
      keys: 'time,host,req_id,user',
      timeKey: 'time',
      timezone: '+09:00',
    })
    expect(p.parse('2013/02/28 12:00:00,192.168.0.1,111,-')).toEqual({
      value: { host: '192.168.0.1', req_id: '111', user: '-' },
      time: 1362020400 * 1000,
    })
  })

  it('reads the quoting patterns fluentd documents', () => {
    const p = csvParser({ keys: ['a', 'b', 'c', 'd', 'e'] })
    expect(p.parse('"value1","val,ue2","va,lu,e3","val ue4",""')?.value).toEqual({
      a: 'value1',
      b: 'val,ue2',
      c: 'va,lu,e3',
      d: 'val ue4',
      e: '',
    })
    expect(p.parse('"message","mes""sage","""message""",,""""""')?.value).toEqual({
      a: 'message',
      b: 'mes"sage',
      c: '"message"',
      d: null,
      e: '""',
    })
    expect(p.parse('message,"mes,sage","me,ssa,ge",mess age,""')?.value).toEqual({
      a: 'message',
      b: 'mes,sage',
      c: 'me,ssa,ge',
      d: 'mess age',
      e: '',
    })
  })

  it('fills missing values with null, drops extra ones, and honours the delimiter', () => {
    expect(csvParser({ keys: 'a,b,c' }).parse('1,2')?.value).toEqual({ a: '1', b: '2', c: null })
    expect(csvParser({ keys: 'a', delimiter: ';' }).parse('1;2')?.value).toEqual({ a: '1' })
  })

  it('gives undefined for broken quoting', () => {
    const p = csvParser({ keys: 'a,b' })
    expect(p.parse('"open,b')).toBeUndefined()
    expect(p.parse('"a"x,b')).toBeUndefined()
    expect(p.parse('a"b,c')).toBeUndefined()
  })

  it('refuses a config without keys', () => {
    expect(() => createParser({ type: 'csv', keys: [] })).toThrowError(/parser.keys: expected field names/)
  })
})

describe('tsv parser', () => {
  it('names tab-separated values by keys and reads the time key', () => {
    const p = tsvParser({
      keys: ['time', 'host', 'req_id', 'user'],
      timeKey: 'time',
      timeFormat: '%Y/%m/%d %H:%M:%S',
    })
    expect(p.parse('2013/02/28 12:00:00\t192.168.0.1\t111\t-')).toEqual({
      value: { host: '192.168.0.1', req_id: '111', user: '-' },
      time: Date.UTC(2013, 1, 28, 12),
    })
  })
})

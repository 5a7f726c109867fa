import { describe, expect, it } from 'vitest'
import { createParser, jsonParser } from '../../../src/plugins/parsers/index.ts'

describe('json parser', () => {
  it('takes the event time from "time" as seconds and removes it from the record', () => {
    expect(jsonParser().parse('{"time":1362020400,"host":"192.168.0.1","size":777}')).toEqual({
      value: { host: '192.168.0.1', size: 777 },
      time: 1362020400 * 1000,
    })
    expect(jsonParser().parse('{"time":1362020400.5,"a":1}')?.time).toBe(1362020400500)
  })

  it('reads string times with timeFormat or as ISO-8601, and keeps the key with keepTimeKey', () => {
    const p = createParser({
      type: 'json',
      timeKey: 'at',
      timeFormat: '%d/%b/%Y:%H:%M:%S %z',
      keepTimeKey: true,
    })
    expect(p.parse('{"at":"28/Feb/2013:12:00:00 +0900","n":{"x":1}}')).toEqual({
      value: { at: '28/Feb/2013:12:00:00 +0900', n: { x: 1 } },
      time: 1362020400 * 1000,
    })
    expect(jsonParser().parse('{"time":"2013-02-28T03:00:00Z"}')?.time).toBe(1362020400 * 1000)
  })

  it('has no time when the record has no time field', () => {
    expect(jsonParser().parse('{"a":[1,2]}')).toEqual({ value: { a: [1, 2] } })
  })

  it('gives undefined for invalid JSON, non-objects and unparsable times', () => {
    const p = jsonParser()
    for (const line of ['{"a":', 'null', '42', '"s"', '[{"a":1}]', '{"time":"soon"}'])
      expect(p.parse(line)).toBeUndefined()
  })

  it('applies types to string fields', () => {
    const p = jsonParser({ types: 'n:integer' })
    expect(p.parse('{"n":"42","m":"7"}')?.value).toEqual({ n: 42, m: '7' })
  })
})

import { describe, expect, it } from 'vitest'
import { createParser, ltsvParser } from '../../../src/plugins/parsers/index.ts'

describe('ltsv parser', () => {
  it("gives fluentd's documented record and time for its example line", () => {
    const p = ltsvParser({ timezone: '+09:00' })
    expect(p.parse('time:2013/02/28 12:00:00\thost:192.168.0.1\treq_id:111\tuser:-')).toEqual({
      value: { host: '192.168.0.1', req_id: '111', user: '-' },
      time: 1362020400 * 1000,
    })
  })

  it('turns "-" into null with nullValuePattern, as the fluentd docs describe', () => {
    const p = ltsvParser({ nullValuePattern: '-' })
    expect(p.parse('host:192.168.0.1\tuser:-')?.value).toEqual({ host: '192.168.0.1', user: null })
  })

  it('splits on a delimiter pattern and a label delimiter, keeping later delimiters in the value', () => {
    const p = createParser({ type: 'ltsv', delimiter: /\s+/, labelDelimiter: '=' })
    expect(p.parse('timestamp=1362020400 host=192.168.0.1  req_id=111 user=- url=/a?b=c')).toEqual({
      value: { host: '192.168.0.1', req_id: '111', user: '-', url: '/a?b=c', timestamp: '1362020400' },
    })
  })

  it('skips pairs without a label and keeps values with colons', () => {
    expect(ltsvParser().parse('junk\turl:http://x:80/\tempty:')?.value).toEqual({
      url: 'http://x:80/',
      empty: '',
    })
  })
})

import { describe, expect, it } from 'vitest'
import { createParser, syslogParser } from '../../../src/plugins/parsers/index.ts'

const thisYear = new Date().getUTCFullYear()
const RFC5424 =
  '<16>1 2013-02-28T12:00:00.003Z 192.168.0.1 fluentd 11111 ID24224 [exampleSDID@20224 iut="3" eventSource="Application" eventID="11211"] Hi, from Fluentd!'

describe('syslog parser, RFC 3164', () => {
  it("gives fluentd's documented record for its example line (PRI read when present)", () => {
    const parsed = syslogParser({ timezone: '+09:00' }).parse(
      '<6>Feb 28 12:00:00 192.168.0.1 fluentd[11111]: [error] Syslog test',
    )
    expect(parsed).toEqual({
      value: { pri: 6, host: '192.168.0.1', ident: 'fluentd', pid: '11111', message: '[error] Syslog test' },
      time: Date.UTC(thisYear, 1, 28, 3),
    })
  })

  it('reads lines without PRI, without pid, and with a one-digit day', () => {
    const p = syslogParser()
    expect(p.parse('Feb  5 17:32:18 myhost sshd: Accepted publickey for root')).toEqual({
      value: { host: 'myhost', ident: 'sshd', message: 'Accepted publickey for root' },
      time: Date.UTC(thisYear, 1, 5, 17, 32, 18),
    })
  })

  it('requires or refuses the PRI with withPriority', () => {
    const line = 'Feb 28 12:00:00 host app[1]: hi'
    expect(syslogParser({ withPriority: true }).parse(line)).toBeUndefined()
    expect(syslogParser({ withPriority: true }).parse(`<13>${line}`)?.value.pri).toBe(13)
    expect(syslogParser({ withPriority: false }).parse(`<13>${line}`)).toBeUndefined()
    expect(syslogParser({ withPriority: false }).parse(line)?.value.ident).toBe('app')
  })

  it('keeps the time text with keepTimeKey and reads a custom timeFormat', () => {
    const p = createParser({ type: 'syslog', keepTimeKey: true, timeFormat: '%b %d %H:%M:%S.%N' })
    const parsed = p.parse('Feb 28 12:00:00.250 host app: hi')
    expect(parsed?.value.time).toBe('Feb 28 12:00:00.250')
    expect(parsed?.time).toBe(Date.UTC(thisYear, 1, 28, 12, 0, 0, 250))
  })

  it('gives undefined for a line whose time does not parse', () => {
    expect(syslogParser().parse('Foo 28 12:00:00 host app: hi')).toBeUndefined()
  })
})

describe('syslog parser, RFC 5424', () => {
  it("gives fluentd's documented record and time for its example line", () => {
    expect(syslogParser({ messageFormat: 'rfc5424' }).parse(RFC5424)).toEqual({
      value: {
        pri: 16,
        host: '192.168.0.1',
        ident: 'fluentd',
        pid: '11111',
        msgid: 'ID24224',
        extradata: '[exampleSDID@20224 iut="3" eventSource="Application" eventID="11211"]',
        message: 'Hi, from Fluentd!',
      },
      time: Date.parse('2013-02-28T12:00:00.003Z'),
    })
  })

  it('reads a time without fraction, "-" structured data and a message with brackets', () => {
    const parsed = syslogParser({ messageFormat: 'rfc5424' }).parse(
      '<165>1 2003-10-11T22:14:15+02:00 mymachine evntslog - ID47 - [x] boom',
    )
    expect(parsed).toEqual({
      value: {
        pri: 165,
        host: 'mymachine',
        ident: 'evntslog',
        pid: '-',
        msgid: 'ID47',
        extradata: '-',
        message: '[x] boom',
      },
      time: Date.parse('2003-10-11T22:14:15+02:00'),
    })
  })

  it('reads microsecond fractions and a line without message', () => {
    const parsed = syslogParser({ messageFormat: 'rfc5424' }).parse(
      '<34>1 2003-10-11T22:14:15.003000Z host app 1 - -',
    )
    expect(parsed).toEqual({
      value: { pri: 34, host: 'host', ident: 'app', pid: '1', msgid: '-', extradata: '-' },
      time: Date.parse('2003-10-11T22:14:15.003Z'),
    })
  })
})

describe('syslog parser, auto', () => {
  it('chooses the format per line from its prefix', () => {
    const p = createParser({ type: 'syslog', messageFormat: 'auto' })
    expect(p.parse(RFC5424)?.value.msgid).toBe('ID24224')
    expect(p.parse('<6>Feb 28 12:00:00 192.168.0.1 fluentd[11111]: [error] Syslog test')?.value).toEqual({
      pri: 6,
      host: '192.168.0.1',
      ident: 'fluentd',
      pid: '11111',
      message: '[error] Syslog test',
    })
  })

  it('refuses an unknown messageFormat', () => {
    expect(() => createParser({ type: 'syslog', messageFormat: 'rfc9999' as 'auto' })).toThrowError(
      /parser.messageFormat: expected one of/,
    )
  })
})

import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  apache2Parser,
  apacheErrorParser,
  createParser,
  nginxParser,
  regexpParser,
} from '../../../src/plugins/parsers/index.ts'
import { SHARED_ACCESS_LOG } from '../../../examples/shared/data.ts'

const LOG = SHARED_ACCESS_LOG
const at = (iso: string) => Date.parse(iso)

describe('apache2 parser', () => {
  it("gives fluentd's documented record and time for its example line", () => {
    const parsed = apache2Parser().parse(
      '192.168.0.1 - - [28/Feb/2013:12:00:00 +0900] "GET / HTTP/1.1" 200 777 "-" "Opera/12.0"',
    )
    expect(parsed).toEqual({
      value: {
        host: '192.168.0.1',
        user: null,
        method: 'GET',
        path: '/',
        code: 200,
        size: 777,
        referer: null,
        agent: 'Opera/12.0',
      },
      time: 1362020400 * 1000,
    })
  })

  it('reads the common log format (no referer and agent) and a "-" size as null', () => {
    const parsed = apache2Parser().parse(
      '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 -',
    )
    expect(parsed?.value).toEqual({
      host: '127.0.0.1',
      user: 'frank',
      method: 'GET',
      path: '/apache_pb.gif',
      code: 200,
      size: null,
      referer: null,
      agent: null,
    })
    expect(parsed?.time).toBe(at('2000-10-10T13:55:36-07:00'))
  })

  it('accepts a path with spaces, no protocol, and escaped quotes in the agent', () => {
    const p = apache2Parser()
    expect(
      p.parse('1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET /a b c HTTP/1.1" 404 0 "-" "x"')?.value.path,
    ).toBe('/a b c')
    expect(p.parse('1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET /only" 200 5')?.value.path).toBe('/only')
    expect(
      p.parse('1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "say \\"hi\\""')?.value
        .agent,
    ).toBe('say \\"hi\\"')
  })

  it('keeps the time text with keepTimeKey', () => {
    const p = createParser({ type: 'apache2', keepTimeKey: true })
    expect(p.parse('1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 5')?.value.time).toBe(
      '10/Oct/2000:13:55:36 +0000',
    )
  })

  it('gives undefined for lines that are not access-log lines or whose time is invalid', () => {
    const p = apache2Parser()
    expect(p.parse('')).toBeUndefined()
    expect(p.parse('hello world')).toBeUndefined()
    expect(p.parse('1.2.3.4 - - [99/Foo/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 5')).toBeUndefined()
  })

  it('parses every line of a real 5000-line access log', () => {
    const lines = readFileSync(LOG, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
    expect(lines).toHaveLength(5000)
    const p = apache2Parser()
    const parsed = lines.map((l) => p.parse(l))
    const failed = lines.filter((_, i) => parsed[i] === undefined)
    expect(failed).toEqual([])
    const outOfRange = parsed.filter(
      (r) =>
        typeof r!.value.code !== 'number' ||
        !(r!.time! >= at('2015-05-17T00:00:00Z') && r!.time! < at('2015-05-21T00:00:00Z')),
    )
    expect(outOfRange).toEqual([])
    const nullSizes = parsed.filter((r) => r!.value.size === null).length
    expect(nullSizes).toBe(lines.filter((l) => / - "/.test(l) || / -$/.test(l)).length)
    expect(parsed.filter((r) => r!.value.method === 'HEAD')).toHaveLength(20)

    expect(parsed[0]).toEqual({
      value: {
        host: '83.149.9.216',
        user: null,
        method: 'GET',
        path: '/presentations/logstash-monitorama-2013/images/kibana-search.png',
        code: 200,
        size: 203023,
        referer: 'http://semicomplete.com/presentations/logstash-monitorama-2013/',
        agent:
          'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36',
      },
      time: at('2015-05-17T10:05:03Z'),
    })
    expect(parsed[76]!.value).toMatchObject({
      host: '218.30.103.62',
      path: '/robots.txt',
      code: 200,
      size: null,
      referer: null,
    })
    expect(parsed[2498]!.value).toMatchObject({
      path: '/files/?C=S;O=A',
      size: 13281,
      agent: 'Mozilla/5.0 (compatible; Ezooms/1.0; help@moz.com)',
    })
    expect(parsed[4999]).toMatchObject({
      value: { host: '95.82.59.254', path: '/favicon.ico', size: 3638 },
      time: at('2015-05-19T03:05:14Z'),
    })
  })
  it("agrees on every line with a regexp parser built from fluentd's documented apache2 expression", () => {
    const documented = regexpParser({
      expression:
        '/^(?<host>[^ ]*) [^ ]* (?<user>[^ ]*) \\[(?<time>[^\\]]*)\\] "(?<method>\\S+)(?: +(?<path>(?:[^\\"]|\\\\.)*?)(?: +\\S*)?)?" (?<code>[^ ]*) (?<size>[^ ]*)(?: "(?<referer>(?:[^\\"]|\\\\.)*)" "(?<agent>(?:[^\\"]|\\\\.)*)")?$/',
      timeFormat: '%d/%b/%Y:%H:%M:%S %z',
    })
    const fluentd = (line: string) => {
      const r = documented.parse(line)
      if (r === undefined) return undefined
      const v = r.value as { [k: string]: string | undefined }
      const dash = (s: string | undefined) => (s === undefined || s === '-' ? null : s)
      const code = Number.parseInt(v.code!, 10) || 0
      const value = {
        host: dash(v.host),
        user: dash(v.user),
        method: v.method,
        path: v.path ?? null,
        code: code === 0 ? null : code,
        size: v.size === '-' ? null : Number.parseInt(v.size!, 10) || 0,
        referer: dash(v.referer),
        agent: dash(v.agent),
      }
      return { value, time: r.time }
    }
    const extra = [
      '1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET /a b c HTTP/1.1" 404 0 "-" "x"',
      '1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "say \\"hi\\""',
      '1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "-" 408 -',
    ]
    const lines = [
      ...readFileSync(LOG, 'utf8')
        .split('\n')
        .filter((l) => l !== ''),
      ...extra,
    ]
    const p = apache2Parser()
    const differing = lines.filter((l) => JSON.stringify(p.parse(l)) !== JSON.stringify(fluentd(l)))
    expect(differing).toEqual([])
  })
})

describe('apache_error parser', () => {
  it("gives fluentd's documented record and time for its example line", () => {
    const p = apacheErrorParser({ timezone: '+09:00' })
    expect(
      p.parse('[Wed Oct 11 14:32:52 2000] [error] [client 127.0.0.1] client denied by server configuration'),
    ).toEqual({
      value: { level: 'error', client: '127.0.0.1', message: 'client denied by server configuration' },
      time: 971242372 * 1000,
    })
  })

  it('reads the pid and Apache 2.4 microseconds', () => {
    const p = createParser({ type: 'apache_error' })
    const parsed = p.parse(
      '[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 35708:tid 4328636416] [client 72.15.99.187:58512] File does not exist',
    )
    expect(parsed).toEqual({
      value: {
        level: 'core:error',
        pid: '35708:tid 4328636416',
        client: '72.15.99.187:58512',
        message: 'File does not exist',
      },
      time: at('2000-10-11T14:32:52.123Z'),
    })
  })
})

describe('nginx parser', () => {
  it("gives fluentd's documented record and time for its example line", () => {
    const p = nginxParser()
    expect(
      p.parse(
        '127.0.0.1 192.168.0.1 - [28/Feb/2013:12:00:00 +0900] "GET / HTTP/1.1" 200 777 "-" "Opera/12.0" -',
      ),
    ).toEqual({
      value: {
        remote: '127.0.0.1',
        host: '192.168.0.1',
        user: '-',
        method: 'GET',
        path: '/',
        code: '200',
        size: '777',
        referer: '-',
        agent: 'Opera/12.0',
        http_x_forwarded_for: '-',
      },
      time: 1362020400 * 1000,
    })
  })

  it('converts fields with types and nullValuePattern when asked', () => {
    const p = createParser({ type: 'nginx', types: 'code:integer,size:integer', nullValuePattern: '-' })
    const parsed = p.parse(
      '127.0.0.1 192.168.0.1 - [28/Feb/2013:12:00:00 +0900] "GET /x HTTP/1.1" 404 12 "-" "curl/8.0"',
    )
    expect(parsed?.value).toEqual({
      remote: '127.0.0.1',
      host: '192.168.0.1',
      user: null,
      method: 'GET',
      path: '/x',
      code: 404,
      size: 12,
      referer: null,
      agent: 'curl/8.0',
    })
  })
})

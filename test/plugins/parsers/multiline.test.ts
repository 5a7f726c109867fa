import { describe, expect, it } from 'vitest'
import { SquallError } from '../../../src/core/errors.ts'
import { createParser, multilineParser, type ParsedRecord } from '../../../src/plugins/parsers/index.ts'

const JAVA = [
  '2013-3-03 14:27:33 [main] INFO  Main - Start',
  '2013-3-03 14:27:33 [main] ERROR Main - Exception',
  'javax.management.RuntimeErrorException: null',
  '    at Main.main(Main.java:16) ~[bin/:na]',
  '2013-3-03 14:27:33 [main] INFO  Main - End',
]

function feedAll(lines: string[], p = javaParser()): ParsedRecord[] {
  const out: ParsedRecord[] = []
  for (const line of lines) {
    const r = p.feed(line)
    if (r) out.push(r)
  }
  const last = p.flush()
  if (last) out.push(last)
  return out
}

function javaParser() {
  return createParser({
    type: 'multiline',
    formatFirstline: '/\\d{4}-\\d{1,2}-\\d{1,2}/',
    format:
      '/^(?<time>\\d{4}-\\d{1,2}-\\d{1,2} \\d{1,2}:\\d{1,2}:\\d{1,2}) \\[(?<thread>.*)\\] (?<level>[^\\s]+)(?<message>.*)/',
    timeFormat: '%Y-%m-%d %H:%M:%S',
    timezone: '+09:00',
  })
}

describe('multiline parser', () => {
  it("joins the Java stack trace of fluentd's docs into the documented records", () => {
    const time = Date.parse('2013-03-03T14:27:33+09:00')
    expect(feedAll(JAVA)).toEqual([
      { value: { thread: 'main', level: 'INFO', message: '  Main - Start' }, time },
      {
        value: {
          thread: 'main',
          level: 'ERROR',
          message:
            ' Main - Exception\njavax.management.RuntimeErrorException: null\n    at Main.main(Main.java:16) ~[bin/:na]',
        },
        time,
      },
      { value: { thread: 'main', level: 'INFO', message: '  Main - End' }, time },
    ])
  })

  it("reads the Rails log of fluentd's docs with five joined formats", () => {
    const p = multilineParser({
      formatFirstline: '/^Started/',
      format: [
        '/Started (?<method>[^ ]+) "(?<path>[^"]+)" for (?<host>[^ ]+) at (?<time>[^ ]+ [^ ]+ [^ ]+)\\n/',
        '/Processing by (?<controller>[^\\u0023]+)\\u0023(?<controller_method>[^ ]+) as (?<format>[^ ]+?)\\n/',
        '/(  Parameters: (?<parameters>[^ ]+)\\n)?/',
        '/  Rendered (?<template>[^ ]+) within (?<layout>.+) \\([\\d\\.]+ms\\)\\n/',
        '/Completed (?<code>[^ ]+) [^ ]+ in (?<runtime>[\\d\\.]+)ms \\(Views: (?<view_runtime>[\\d\\.]+)ms \\| ActiveRecord: (?<ar_runtime>[\\d\\.]+)ms\\)/',
      ],
    })
    const records = feedAll(
      [
        'Started GET "/users/123/" for 127.0.0.1 at 2013-06-14 12:00:11 +0900',
        'Processing by UsersController#show as HTML',
        '  Parameters: {"user_id"=>"123"}',
        '  Rendered users/show.html.erb within layouts/application (0.3ms)',
        'Completed 200 OK in 4ms (Views: 3.2ms | ActiveRecord: 0.0ms)',
      ],
      p,
    )
    expect(records).toEqual([
      {
        value: {
          method: 'GET',
          path: '/users/123/',
          host: '127.0.0.1',
          controller: 'UsersController',
          controller_method: 'show',
          format: 'HTML',
          parameters: '{"user_id"=>"123"}',
          template: 'users/show.html.erb',
          layout: 'layouts/application',
          code: '200',
          runtime: '4',
          view_runtime: '3.2',
          ar_runtime: '0.0',
        },
        time: 1371178811 * 1000,
      },
    ])
  })

  it('throws ERR_PARSE for a line before any first line, then goes on', () => {
    const p = javaParser()
    expect(() => p.feed('orphan continuation')).toThrowError(SquallError)
    expect(p.feed(JAVA[0]!)).toBeUndefined()
    expect(p.flush()?.value.level).toBe('INFO')
    expect(p.flush()).toBeUndefined()
  })

  it('throws ERR_PARSE naming the parser when a joined record does not match', () => {
    const p = javaParser()
    p.feed('2013-3-03 garbage without thread')
    let error: unknown
    try {
      p.feed(JAVA[0]!)
    } catch (e) {
      error = e
    }
    expect((error as SquallError).code).toBe('ERR_PARSE')
    expect((error as SquallError).message).toContain('parser multiline')
    expect(p.flush()?.value.message).toBe('  Main - Start')
  })

  it('without formatFirstline, emits as soon as the buffered lines match', () => {
    const p = multilineParser({ format: '/^begin\\n(?<body>.*)\\nend$/' })
    expect(p.feed('begin')).toBeUndefined()
    expect(p.feed('x')).toBeUndefined()
    expect(p.feed('end')).toEqual({ value: { body: 'x' } })
  })

  it('parses already joined text with parse', () => {
    expect(javaParser().parse(`${JAVA[1]}\n${JAVA[2]}`)?.value.message).toBe(
      ' Main - Exception\njavax.management.RuntimeErrorException: null',
    )
  })
})

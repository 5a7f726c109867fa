// Web server log parsers with fluentd's fields and types: apache2 (combined/common access log),
// apache_error and nginx (access log).

import { compileTimeFormat } from '../../core/time-format.ts'
import { type ParsedRecord, type ParseOptions, type Parser, toInteger } from './parser.ts'
import { regexpParser } from './regexp.ts'

/** The access-log time format shared by Apache and nginx: `10/Oct/2000:13:55:36 -0700`. */
export const ACCESS_LOG_TIME_FORMAT = '%d/%b/%Y:%H:%M:%S %z'

// fluentd's apache2 expression with its named groups numbered:
// host, user, time, method, path, code, size, referer, agent.
const APACHE2 =
  /^([^ ]*) [^ ]* ([^ ]*) \[([^\]]*)\] "(\S+)(?: +((?:[^"]|\\.)*?)(?: +\S*)?)?" ([^ ]*) ([^ ]*)(?: "((?:[^"]|\\.)*)" "((?:[^"]|\\.)*)")?$/

// The same groups for the common shape (no spaces, quotes or backslashes inside the request,
// referer and agent): it gives the same result as APACHE2 whenever it matches, several times faster.
const APACHE2_PLAIN =
  /^([^ ]*) [^ ]* ([^ ]*) \[([^\]]*)\] "([^ "]+) ([^ "\\]*) [^ "\\]*" ([^ ]*) ([^ ]*)(?: "([^"\\]*)" "([^"\\]*)")?$/

export interface Apache2ParserOptions {
  /** Keep the original time text in the record as `time`. Default false. */
  keepTimeKey?: boolean | undefined
}

/**
 * A parser of access-log times that reuses the last minute: `17/May/2015:10:05:03 +0000` and
 * `17/May/2015:10:05:47 +0000` share everything but the seconds, so only those are read again.
 * Other layouts go to the general parser.
 */
function accessLogTime(): (text: string) => number | undefined {
  const general = compileTimeFormat(ACCESS_LOG_TIME_FORMAT)
  let minute = ''
  let zone = ''
  let minuteMs = 0
  return (text) => {
    if (text.length === 26 && text.charCodeAt(17) === 58 && text.charCodeAt(20) === 32) {
      const s1 = text.charCodeAt(18) - 48
      const s2 = text.charCodeAt(19) - 48
      if (s1 >= 0 && s1 <= 5 && s2 >= 0 && s2 <= 9) {
        if (text.startsWith(minute) && text.endsWith(zone) && minute !== '')
          return minuteMs + (s1 * 10 + s2) * 1000
        const t = general(text)
        if (t !== undefined) {
          minute = text.slice(0, 18)
          zone = text.slice(20)
          minuteMs = t - (s1 * 10 + s2) * 1000
        }
        return t
      }
    }
    return general(text)
  }
}

/** The fields of an apache2 record with their SQL types (`time`, when kept, is text). */
const APACHE2_COLUMNS = Object.freeze({
  host: 'STRING',
  user: 'STRING',
  method: 'STRING',
  path: 'STRING',
  code: 'BIGINT',
  size: 'BIGINT',
  referer: 'STRING',
  agent: 'STRING',
})

const dashToNull = (v: string | undefined): string | null => (v === undefined || v === '-' ? null : v)

/**
 * Parses Apache access logs (combined or common format) exactly as fluentd's `apache2`: fields
 * `host`, `user`, `method`, `path`, `code` (integer), `size` (integer), `referer`, `agent`; `-`
 * becomes `null` (and a code of 0); the time (`[10/Oct/2000:13:55:36 -0700]`) is the event time.
 * One compiled expression and one time parser serve every line; lines that do not match, or whose
 * time does not parse, give `undefined`.
 */
export function apache2Parser(options: Apache2ParserOptions = {}): Parser {
  const parseTime = accessLogTime()
  const keep = options.keepTimeKey === true
  return {
    type: 'apache2',
    columns: APACHE2_COLUMNS,
    parse(line: string): ParsedRecord | undefined {
      const m = APACHE2_PLAIN.exec(line) ?? APACHE2.exec(line)
      if (m === null) return undefined
      const timeText = m[3]!
      const time = parseTime(timeText)
      if (time === undefined) return undefined
      const code = toInteger(m[6]!)
      const size = m[7]!
      const value = {
        host: dashToNull(m[1]),
        user: dashToNull(m[2]),
        method: m[4]!,
        path: m[5] ?? null,
        code: code === 0 ? null : code,
        size: size === '-' ? null : toInteger(size),
        referer: dashToNull(m[8]),
        agent: dashToNull(m[9]),
      }
      if (keep) (value as { time?: string }).time = timeText
      return { value, time }
    },
  }
}

/** fluentd's apache_error expression. */
const APACHE_ERROR =
  /^\[[^ ]* (?<time>[^\]]*)\] \[(?<level>[^\]]*)\](?: \[pid (?<pid>[^\]]*)\])? \[client (?<client>[^\]]*)\] (?<message>.*)$/

/**
 * Parses Apache error logs as fluentd's `apache_error`: `[Wed Oct 11 14:32:52 2000] [error]
 * [pid 123] [client 127.0.0.1] message` gives `level`, `pid` (when present), `client` and `message`,
 * all strings. The time has no zone, so `timezone` applies (default UTC); Apache 2.4's microseconds
 * (`14:32:52.123456`) are accepted. Throws ConfigError for invalid options.
 */
export function apacheErrorParser(options: ParseOptions = {}, path = 'parser'): Parser {
  return regexpParser(
    {
      ...options,
      expression: APACHE_ERROR,
      timeFormat: options.timeFormat ?? ['%b %d %H:%M:%S %Y', '%b %d %H:%M:%S.%N %Y'],
    },
    path,
    'apache_error',
  )
}

/** fluentd's nginx expression (with the optional `http_x_forwarded_for` after the agent). */
const NGINX =
  /^(?<remote>[^ ]*) (?<host>[^ ]*) (?<user>[^ ]*) \[(?<time>[^\]]*)\] "(?<method>\S+)(?: +(?<path>[^"]*?)(?: +\S*)?)?" (?<code>[^ ]*) (?<size>[^ ]*)(?: "(?<referer>[^"]*)" "(?<agent>[^"]*)"(?:\s+(?<http_x_forwarded_for>[^ ]+))?)?$/

/**
 * Parses nginx access logs as fluentd's `nginx`: `remote`, `host`, `user`, `method`, `path`,
 * `code`, `size`, `referer`, `agent` and `http_x_forwarded_for`, all kept as strings (`-` too);
 * use `types` (`code:integer,size:integer`) and `nullValuePattern` (`-`) to convert them.
 */
export function nginxParser(options: ParseOptions = {}, path = 'parser'): Parser {
  return regexpParser(
    { ...options, expression: NGINX, timeFormat: options.timeFormat ?? ACCESS_LOG_TIME_FORMAT },
    path,
    'nginx',
  )
}

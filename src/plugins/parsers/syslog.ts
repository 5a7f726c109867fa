// The syslog parser: RFC 3164 (BSD) and RFC 5424 lines, with or without the `<PRI>` prefix, giving
// the same fields as fluentd's `syslog` parser.

import { compileTime, type TimeConverter } from '../../core/time.ts'
import { type Fields, type Issues, type ParsedRecord, type Parser, throwIfIssues } from './parser.ts'
import { compileRubyRegExp, type NamedRegExp } from './regexp.ts'

export interface SyslogParserOptions {
  /** `rfc3164` (default, as fluentd), `rfc5424`, or `auto` (RFC 5424 when the line starts `<PRI>VERSION `). */
  messageFormat?: 'rfc3164' | 'rfc5424' | 'auto' | undefined
  /** `true`: the `<PRI>` prefix is required; `false`: it must be absent; default: read when present. */
  withPriority?: boolean | undefined
  /** Time format of RFC 3164 lines. Default `%b %d %H:%M:%S` (the current year is assumed). */
  timeFormat?: string | undefined
  /** Time format of RFC 5424 lines. Default `%Y-%m-%dT%H:%M:%S.%L%z`, and the same without fraction. */
  rfc5424TimeFormat?: string | undefined
  /** Zone of times written without one (RFC 3164): `UTC` (default), `+09:00` or an IANA name. */
  timezone?: string | undefined
  /** Keep the time text in the record as `time`. Default false. */
  keepTimeKey?: boolean | undefined
}

const PRI_3164 = { required: '<(?<pri>[0-9]+)>', optional: '(?:<(?<pri>[0-9]+)>)?', none: '' }
const BODY_3164 =
  '(?<time>[^ ]*\\s*[^ ]* [^ ]*) (?<host>[^ ]*) (?<ident>[^ :\\[]*)(?:\\[(?<pid>[0-9]+)\\])?(?:[^\\:]*\\:)? *(?<message>.*)$'
const PRI_5424 = {
  required: '<(?<pri>[0-9]{1,3})>[1-9]\\d{0,2} ',
  optional: '(?:<(?<pri>[0-9]{1,3})>[1-9]\\d{0,2} )?',
  none: '',
}
const BODY_5424 =
  '(?<time>[^ ]+) (?<host>[!-~]{1,255}) (?<ident>[!-~]{1,48}) (?<pid>[!-~]{1,128}) (?<msgid>[!-~]{1,32}) (?<extradata>(?:\\-|(?:\\[.*?(?<!\\\\)\\])+))(?: (?<message>.+))?\\z'
const DETECT_5424 = /^<[0-9]{1,3}>[1-9]\d{0,2} /

function chomp(s: string): string {
  if (s.endsWith('\r\n')) return s.slice(0, -2)
  if (s.endsWith('\n') || s.endsWith('\r')) return s.slice(0, -1)
  return s
}

function variant(
  compiled: NamedRegExp,
  time: TimeConverter,
  keep: boolean,
): (line: string) => ParsedRecord | undefined {
  const { re, names } = compiled
  return (line) => {
    const m = re.exec(line)
    if (m === null) return undefined
    const value: Fields = {}
    let t: number | undefined
    for (let g = 0; g < names.length; g++) {
      const name = names[g]!
      const v = m[g + 1]
      if (name === '' || v === undefined) continue
      if (name === 'pri') value.pri = Number.parseInt(v, 10)
      else if (name === 'time') {
        t = time(v)
        if (t === undefined) return undefined
        if (keep) value.time = v
      } else if (name === 'message') value.message = chomp(v)
      else value[name] = v
    }
    return t === undefined ? { value } : { value, time: t }
  }
}

/**
 * Parses syslog lines into `pri` (integer), `host`, `ident`, `pid`, `message` (RFC 3164) plus
 * `msgid` and `extradata` (RFC 5424); parts absent from a line are absent from the record, as in
 * fluentd. The time becomes the event time. Lines that do not match, or whose time does not parse,
 * give `undefined`. Throws ConfigError for invalid options.
 */
export function syslogParser(options: SyslogParserOptions = {}, path = 'parser'): Parser {
  const issues: Issues = []
  const format = options.messageFormat ?? 'rfc3164'
  if (format !== 'rfc3164' && format !== 'rfc5424' && format !== 'auto') {
    issues.push({
      path: `${path}.messageFormat`,
      message: `expected one of "rfc3164", "rfc5424", "auto", got ${JSON.stringify(format)}`,
    })
  }
  const pri =
    options.withPriority === true ? 'required' : options.withPriority === false ? 'none' : 'optional'
  const keep = options.keepTimeKey === true
  let time3164: TimeConverter = () => undefined
  let time5424: TimeConverter = () => undefined
  try {
    time3164 = compileTime({ format: options.timeFormat ?? '%b %d %H:%M:%S', timezone: options.timezone })
  } catch (e) {
    issues.push({ path: `${path}.timeFormat`, message: (e as Error).message })
  }
  try {
    const f = options.rfc5424TimeFormat
    time5424 = compileTime({
      format: f === undefined ? ['%Y-%m-%dT%H:%M:%S.%L%z', '%Y-%m-%dT%H:%M:%S%z'] : f,
      timezone: options.timezone,
    })
  } catch (e) {
    issues.push({ path: `${path}.rfc5424TimeFormat`, message: (e as Error).message })
  }
  throwIfIssues(issues)
  const rfc3164 = variant(compileRubyRegExp(`^${PRI_3164[pri]}${BODY_3164}`), time3164, keep)
  const rfc5424 = variant(compileRubyRegExp(`\\A${PRI_5424[pri]}${BODY_5424}`, 's'), time5424, keep)
  const parse =
    format === 'rfc3164'
      ? rfc3164
      : format === 'rfc5424'
        ? rfc5424
        : (line: string) => (DETECT_5424.test(line) ? rfc5424(line) : rfc3164(line))
  return { type: 'syslog', parse }
}

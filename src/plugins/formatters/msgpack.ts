// The msgpack formatter: each record value as MessagePack bytes, as fluentd's `msgpack` formatter.

import { Packr } from 'msgpackr'
import type { ConfigIssue } from '../../core/errors.ts'
import { ConfigError } from '../../core/errors.ts'
import { type Formatter, fieldsOf, formatError, type InjectOptions } from './formatter.ts'

export interface MsgpackFormatterOptions extends InjectOptions {}

/**
 * Writes the record value (with the time and tag added when asked) as one MessagePack object,
 * readable by any MessagePack decoder (no msgpackr extensions or shared structures). The returned
 * bytes are a fresh buffer the caller owns. Throws ERR_FORMAT for values that cannot be encoded.
 */
export function msgpackFormatter(options: MsgpackFormatterOptions = {}, path = 'formatter'): Formatter {
  const issues: ConfigIssue[] = []
  const fields = fieldsOf(options, path, issues)
  if (issues.length > 0) throw new ConfigError(issues)
  const packr = new Packr({ useRecords: false, variableMapSize: true })
  return {
    type: 'msgpack',
    format(record) {
      const value = fields(record)
      try {
        return packr.pack(value)
      } catch (e) {
        throw formatError('msgpack', `the value cannot be encoded (${(e as Error).message})`, String(value))
      }
    },
  }
}

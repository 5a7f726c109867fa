// Argument parsing shared by the commands, with usage errors that name the bad option.

import { type ParseArgsConfig, parseArgs } from 'node:util'
import { toMillis } from '../core/duration.ts'
import { SquallError } from '../core/errors.ts'

/** Parses `args` with node's parseArgs; unknown options and missing values become ERR_CLI_USAGE. */
export function parse(command: string, args: string[], options: NonNullable<ParseArgsConfig['options']>) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true })
  } catch (e) {
    throw new SquallError('ERR_CLI_USAGE', `${(e as Error).message}. Run "squall ${command} --help".`)
  }
}

/** Reads a positive integer option, or throws ERR_CLI_USAGE naming it. */
export function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  if (value === 'auto') return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1)
    throw new SquallError('ERR_CLI_USAGE', `--${name}: expected a positive integer, got "${value}"`)
  return n
}

/**
 * Reads a `--duration`-like option in ms: a duration with units (`30s`, `500ms`, `1m30s`), or a
 * bare number of seconds, as fluentd reads its time parameters. Throws ERR_CLI_USAGE naming it.
 */
export function durationFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  let ms = Number.NaN
  try {
    ms = /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) * 1000 : toMillis(value, `--${name}`)
  } catch {}
  if (ms > 0) return ms
  throw new SquallError(
    'ERR_CLI_USAGE',
    `--${name}: expected a duration like "30s" or "500ms" (a bare number is seconds), got "${value}"`,
  )
}

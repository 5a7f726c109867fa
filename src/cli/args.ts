// Argument parsing shared by the commands, with usage errors that name the bad option.

import { type ParseArgsConfig, parseArgs } from 'node:util'
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

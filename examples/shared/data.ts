// Where the examples find the Apache access log they read: the LOG environment variable, else the
// log kept beside the repository, in ../shared/data/ from its root, whatever the working directory.

import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ConfigError } from '../../src/core/errors.ts'

/** The real Apache access log of the examples: 5 000 lines of May 2015 (license beside it). */
export const SHARED_ACCESS_LOG = fileURLToPath(
  new URL('../../../shared/data/apache_access_5000.log', import.meta.url),
)

/**
 * The access log an example reads: `env.LOG` (relative to the working directory) when set, else
 * `SHARED_ACCESS_LOG`. Throws ERR_CONFIG naming the path and the way to give another one when the
 * file does not exist.
 */
export function accessLogPath(env: { readonly [name: string]: string | undefined } = process.env): string {
  const given = env['LOG']
  const path = given === undefined || given === '' ? SHARED_ACCESS_LOG : resolve(given)
  if (!existsSync(path)) {
    const where = given
      ? `(LOG=${given})`
      : '(the shared log, expected in ../shared/data/ from the repository root)'
    throw new ConfigError([
      {
        path: 'LOG',
        message: `no Apache access log at ${path} ${where}; set LOG to the path of an access log in the combined format`,
      },
    ])
  }
  return path
}

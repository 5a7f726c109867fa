// Loads a user module whose default (or named) export is a Topology, or a function returning one.

import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { SquallError } from '../core/errors.ts'
import { type Topology, isTopology } from '../core/topology.ts'

/** A file path or a `file:` URL to a URL string that `import()` accepts. */
export function moduleUrl(pathOrUrl: string): string {
  if (/^[a-z]+:/i.test(pathOrUrl) && !/^[a-z]:[\\/]/i.test(pathOrUrl)) return pathOrUrl
  const abs = resolve(pathOrUrl)
  if (!existsSync(abs)) throw new SquallError('ERR_MODULE_LOAD', `module "${pathOrUrl}" does not exist (looked at ${abs})`)
  return pathToFileURL(abs).href
}

/**
 * Imports the module and returns its topology: the export `exportName` (default `default`), which
 * is a Topology or a (possibly async) function returning one. Throws ERR_MODULE_LOAD naming the
 * module and what it exports instead.
 */
export async function loadTopology(pathOrUrl: string, exportName = 'default'): Promise<Topology> {
  const url = moduleUrl(pathOrUrl)
  let mod: { [name: string]: unknown }
  try {
    mod = (await import(url)) as { [name: string]: unknown }
  } catch (e) {
    throw new SquallError('ERR_MODULE_LOAD', `could not load module "${pathOrUrl}": ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
    })
  }
  let value = mod[exportName]
  if (typeof value === 'function' && !isTopology(value)) value = await (value as () => unknown)()
  if (!isTopology(value)) {
    const names = Object.keys(mod).join(', ') || 'nothing'
    throw new SquallError(
      'ERR_MODULE_LOAD',
      `module "${pathOrUrl}": export "${exportName}" is not a Topology (nor a function returning one); the module exports ${names}`,
    )
  }
  return value
}

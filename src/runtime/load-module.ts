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
  if (!existsSync(abs))
    throw new SquallError('ERR_MODULE_LOAD', `module "${pathOrUrl}" does not exist (looked at ${abs})`)
  return pathToFileURL(abs).href
}

/**
 * Imports a module. A `.ts` file outside an ESM package (no `"type": "module"` above it) is
 * ambiguous to Node; it is then loaded through tsx's scoped loader, which compiles it as ESM.
 */
export async function importModule(url: string): Promise<{ [name: string]: unknown }> {
  try {
    return (await import(url)) as { [name: string]: unknown }
  } catch (e) {
    const code = (e as { code?: string }).code
    if (
      code !== 'ERR_REQUIRE_CYCLE_MODULE' &&
      code !== 'ERR_REQUIRE_ESM' &&
      code !== 'ERR_UNKNOWN_FILE_EXTENSION'
    )
      throw e
    const { tsImport } = await import('tsx/esm/api')
    return (await tsImport(url, import.meta.url)) as { [name: string]: unknown }
  }
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
    mod = await importModule(url)
  } catch (e) {
    throw new SquallError(
      'ERR_MODULE_LOAD',
      `could not load module "${pathOrUrl}": ${e instanceof Error ? e.message : String(e)}`,
      {
        cause: e,
      },
    )
  }
  let value = mod[exportName]
  // A module compiled as CommonJS shows its exports as the namespace's `default`.
  if (
    value === undefined ||
    (!isTopology(value) && typeof value === 'object' && value !== null && exportName in value)
  ) {
    const inner = mod.default as { [name: string]: unknown } | undefined
    if (inner && typeof inner === 'object' && exportName in inner) {
      value = inner[exportName]
      mod = inner
    }
  }
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

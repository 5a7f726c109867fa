// Custom operators of a pipeline: a TypeScript or JavaScript module that adds nodes to the topology.

import type { Stream } from '../core/stream.ts'
import type { Topology } from '../core/topology.ts'
import { SquallError } from '../core/errors.ts'
import { moduleUrl } from '../runtime/load-module.ts'

/**
 * A custom operator module's function: it receives the source streams by name and the topology,
 * adds operators, and returns the streams the outputs should read (one, a list, or an object of
 * them); returning nothing leaves the outputs reading the sources.
 */
export type OperatorsFunction = (
  streams: { readonly [source: string]: Stream<unknown> },
  topology: Topology,
) => Stream<unknown> | Stream<unknown>[] | { [name: string]: Stream<unknown> } | undefined

function isStream(v: unknown): v is Stream<unknown> {
  return (
    v !== null &&
    typeof v === 'object' &&
    typeof (v as Stream<unknown>).nodeName === 'string' &&
    'topology' in v
  )
}

/** The export `exportName`, or without one the default export, else every exported function. */
function functionsOf(mod: { [name: string]: unknown }, exportName: string | undefined): OperatorsFunction[] {
  const chosen = mod[exportName ?? 'default']
  if (typeof chosen === 'function') return [chosen as OperatorsFunction]
  if (exportName !== undefined) return []
  return Object.values(mod).filter((v): v is OperatorsFunction => typeof v === 'function')
}

/**
 * Imports the module and applies its `exportName` (default `default`) function; without a default
 * export, every exported function is applied in order of export, each receiving the streams the
 * previous one returned. Returns the streams for the outputs, or `undefined`. Throws ERR_MODULE_LOAD
 * for a missing module or one without a function.
 */
export async function loadOperators(
  path: string,
  exportName: string | undefined,
  streams: { [source: string]: Stream<unknown> },
  topology: Topology,
): Promise<Stream<unknown>[] | undefined> {
  const url = moduleUrl(path)
  let mod: { [name: string]: unknown }
  try {
    mod = (await import(url)) as { [name: string]: unknown }
  } catch (e) {
    try {
      const { tsImport } = await import('tsx/esm/api')
      mod = (await tsImport(url, import.meta.url)) as { [name: string]: unknown }
    } catch {
      throw new SquallError(
        'ERR_MODULE_LOAD',
        `could not load operators module "${path}": ${(e as Error).message}`,
        { cause: e },
      )
    }
  }
  let fns = functionsOf(mod, exportName)
  // tsx compiles a .ts file outside an ESM package (no `"type": "module"` above it) as CommonJS;
  // the module's own exports are then the namespace's `default`.
  const inner = mod.default
  if (fns.length === 0 && inner !== null && typeof inner === 'object')
    fns = functionsOf(inner as { [name: string]: unknown }, exportName)
  if (fns.length === 0) {
    throw new SquallError(
      'ERR_MODULE_LOAD',
      `operators module "${path}" exports no function${exportName ? ` named "${exportName}"` : ''}; export default (streams, topology) => { ... }`,
    )
  }
  let current: { [name: string]: Stream<unknown> } = streams
  let result: Stream<unknown>[] | undefined
  for (const fn of fns) {
    const out = fn(current, topology)
    if (out === undefined || out === null) continue
    if (isStream(out)) result = [out]
    else if (Array.isArray(out)) result = out
    else result = Object.values(out)
    current = Object.fromEntries(result.map((s) => [s.nodeName, s]))
  }
  return result
}

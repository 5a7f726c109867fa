// The built-in plugins, registered in the default registry that pipelines and `squall describe` use.

import { formatterPlugins, parserPlugins } from './builtin-formats.ts'
import type { Plugin } from './define.ts'
import { fileInput, generatorInput, stdinInput } from './inputs/builtin.ts'
import forwardInput from './inputs/forward.ts'
import httpInput from './inputs/http.ts'
import natsInput from './inputs/nats.ts'
import syslogInput from './inputs/syslog.ts'
import tailInput from './inputs/tail.ts'
import { stdoutOutput } from './outputs/builtin.ts'
import fileOutput from './outputs/file.ts'
import forwardOutput from './outputs/forward.ts'
import httpOutput from './outputs/http.ts'
import natsOutput from './outputs/nats.ts'
import postgresOutput from './outputs/postgres.ts'
import redisOutput from './outputs/redis.ts'
import { PluginRegistry } from './registry.ts'

/** Every plugin that ships with Squall. */
export const BUILTIN_PLUGINS: readonly Plugin[] = [
  fileInput,
  stdinInput,
  generatorInput,
  tailInput,
  forwardInput,
  httpInput,
  syslogInput,
  natsInput,
  stdoutOutput,
  fileOutput,
  forwardOutput,
  httpOutput,
  natsOutput,
  redisOutput,
  postgresOutput,
  ...parserPlugins,
  ...formatterPlugins,
] as readonly Plugin[]

/** A new registry holding the built-in plugins (add your own with `register`). */
export function builtinRegistry(): PluginRegistry {
  const registry = new PluginRegistry()
  for (const p of BUILTIN_PLUGINS) registry.register(p)
  return registry
}

/** The registry pipelines use unless given another; `registerPlugin` adds to it. */
export const plugins: PluginRegistry = builtinRegistry()

/** Adds a plugin to the default registry, so pipeline files can name its type. */
export function registerPlugin(plugin: Plugin, options: { replace?: boolean } = {}): void {
  plugins.register(plugin, options)
}

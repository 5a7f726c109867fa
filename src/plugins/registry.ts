// The plugin registry: plugins by kind and type, looked up with "did you mean" on a typo.

import { SquallError } from '../core/errors.ts'
import type {
  FormatterPlugin,
  InputPlugin,
  OutputPlugin,
  ParserPlugin,
  Plugin,
  PluginKind,
} from './define.ts'
import { closestName } from './parsers/parser.ts'

type ByKind = { input: InputPlugin; output: OutputPlugin; parser: ParserPlugin; formatter: FormatterPlugin }

/**
 * Holds plugins by kind and type. Registering a type twice replaces the earlier plugin only with
 * `replace: true`; otherwise it throws ERR_ARGUMENT, so two plugins never silently share a name.
 * Lookups are synchronous and safe to call from any thread that built the registry.
 */
export class PluginRegistry {
  private readonly plugins = new Map<PluginKind, Map<string, Plugin>>()

  /** Adds `plugin`; throws ERR_ARGUMENT when its type is taken (unless `replace`). Returns this. */
  register(plugin: Plugin, options: { replace?: boolean } = {}): this {
    let byType = this.plugins.get(plugin.kind)
    if (!byType) {
      byType = new Map()
      this.plugins.set(plugin.kind, byType)
    }
    if (byType.has(plugin.type) && !options.replace) {
      throw new SquallError(
        'ERR_ARGUMENT',
        `${plugin.kind} plugin "${plugin.type}" is already registered; pass { replace: true } to override it`,
      )
    }
    byType.set(plugin.type, plugin)
    return this
  }

  /** The plugin of `kind` named `type`, or `undefined`. */
  get<K extends PluginKind>(kind: K, type: string): ByKind[K] | undefined {
    return this.plugins.get(kind)?.get(type) as ByKind[K] | undefined
  }

  /** Every plugin of `kind`, sorted by type. */
  list<K extends PluginKind>(kind: K): ByKind[K][] {
    return [...(this.plugins.get(kind)?.values() ?? [])].sort((a, b) =>
      a.type.localeCompare(b.type),
    ) as ByKind[K][]
  }

  /** The registered type names of `kind`, sorted. */
  types(kind: PluginKind): string[] {
    return [...(this.plugins.get(kind)?.keys() ?? [])].sort()
  }

  /**
   * The message for an unknown type of `kind`: `unknown parser "apach2"; did you mean "apache2"?`,
   * or the list of known types when none is close.
   */
  unknownMessage(kind: PluginKind, type: unknown): string {
    const names = this.types(kind)
    const hint = typeof type === 'string' ? closestName(type, names) : undefined
    if (typeof type !== 'string')
      return `expected a ${kind} type (one of ${names.join(', ')}), got ${JSON.stringify(type)}`
    return hint
      ? `unknown ${kind} "${type}"; did you mean "${hint}"?`
      : `unknown ${kind} "${type}"; known ${kind}s: ${names.join(', ')}`
  }
}

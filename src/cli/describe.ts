// `squall describe [kind] [type]`: every plugin and its options, read from the plugin schemas.

import { SquallError } from '../core/errors.ts'
import { plugins } from '../plugins/builtin.ts'
import { describeOptions } from '../plugins/config.ts'
import type { Plugin, PluginKind } from '../plugins/define.ts'
import type { PluginRegistry } from '../plugins/registry.ts'
import { parse } from './args.ts'
import type { Command } from './commands.ts'

const KINDS: PluginKind[] = ['input', 'output', 'parser', 'formatter']

const HELP = `Usage: squall describe [kind] [type]

Lists the plugins a pipeline file can use, and their options.

  squall describe               every plugin, by kind, with its summary
  squall describe input         the inputs
  squall describe input tail    the options of the tail input: type, default, meaning

Kinds: ${KINDS.join(', ')} (plurals work too).`

/** The text `squall describe` prints for one plugin: summary, then one block per option. */
export function describePlugin(plugin: Plugin): string {
  const lines = [`${plugin.kind} ${plugin.type} — ${plugin.summary}`, '', 'Options:']
  const options = describeOptions(plugin.config).filter((o) => o.name !== 'type')
  if (options.length === 0) lines.push('  (none)')
  for (const o of options) {
    const flags = o.required ? 'required' : o.default !== undefined ? `default ${o.default}` : 'optional'
    lines.push(`  ${o.name}  (${o.type}; ${flags})`)
    if (o.description) lines.push(`      ${o.description}`)
  }
  if (plugin.example) lines.push('', 'Example:', ...plugin.example.split('\n').map((l) => `  ${l}`))
  return lines.join('\n')
}

/** The text of `squall describe [kind] [type]`; throws ERR_CLI_USAGE naming a bad kind or type. */
export function describeText(registry: PluginRegistry, kindArg?: string, type?: string): string {
  if (kindArg === undefined) {
    return KINDS.map((k) =>
      [`${k}s:`, ...registry.list(k).map((p) => `  ${p.type.padEnd(14)} ${p.summary}`)].join('\n'),
    ).join('\n\n')
  }
  const kind = kindArg.replace(/s$/, '') as PluginKind
  if (!KINDS.includes(kind))
    throw new SquallError(
      'ERR_CLI_USAGE',
      `describe: unknown kind "${kindArg}"; expected one of ${KINDS.join(', ')}`,
    )
  if (type === undefined)
    return registry
      .list(kind)
      .map((p) => `${p.type.padEnd(14)} ${p.summary}`)
      .join('\n')
  const plugin = registry.get(kind, type)
  if (!plugin) throw new SquallError('ERR_CLI_USAGE', `describe: ${registry.unknownMessage(kind, type)}`)
  return describePlugin(plugin)
}

export const describeCommand: Command = {
  name: 'describe',
  usage: 'describe [kind] [type]',
  summary: 'list plugins and their options',
  help: HELP,
  async run(args) {
    const { positionals } = parse('describe', args, {})
    process.stdout.write(`${describeText(plugins, positionals[0], positionals[1])}\n`)
    return 0
  },
}

// `squall check <pipeline.yaml>`: validates a pipeline file without running it.

import { ConfigError, SquallError } from '../core/errors.ts'
import { loadPipeline } from '../pipeline/load.ts'
import { parse } from './args.ts'
import type { Command } from './commands.ts'

const HELP = `Usage: squall check <pipeline.yaml>

Validates a pipeline file without running it: YAML syntax, environment variables, every source,
parser, query and output with its options. Prints every problem with its path and exits 1, or
prints the topology and exits 0. Nothing is read and no port is bound.`

export const checkCommand: Command = {
  name: 'check',
  usage: 'check <pipeline.yaml>',
  summary: 'validate a pipeline file without running it',
  help: HELP,
  async run(args) {
    const { positionals } = parse('check', args, {})
    const path = positionals[0]
    if (!path)
      throw new SquallError('ERR_CLI_USAGE', 'missing <pipeline.yaml>. Usage: squall check <pipeline.yaml>')
    try {
      const built = await loadPipeline(path, { log: () => {} })
      process.stdout.write(`${path}: ok — job "${built.topology.name}"\n${built.topology.describe()}\n`)
      return 0
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e
      process.stderr.write(`${path}: ${e.issues.length} problem${e.issues.length === 1 ? '' : 's'}\n`)
      for (const i of e.issues) process.stderr.write(`  ${i.path ? `${i.path}: ` : ''}${i.message}\n`)
      return 1
    }
  },
}

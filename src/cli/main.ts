// The `squall` command line: dispatches to one file per command.

import { readFileSync } from 'node:fs'
import { SquallError } from '../core/errors.ts'
import { COMMANDS } from './commands.ts'

const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version

/** The top-level help a newcomer reads first. */
export async function helpText(): Promise<string> {
  const commands = await Promise.all(COMMANDS.map((c) => c.load()))
  const width = Math.max(...commands.map((c) => c.usage.length))
  return [
    `squall ${VERSION} — stateful stream processing for Node.js`,
    '',
    'Usage: squall <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`),
    '',
    'Options for every command:',
    '  -h, --help     show help for the command',
    '  -v, --version  print the version',
    '',
    'Examples:',
    '  squall demo --duration 30s          the embedded demo: rankings, trends and fraud alerts',
    '  squall run examples/hashtags.ts     run a topology module',
    '  squall run job.ts --threads 2       the same job on two worker threads',
    '',
    'Docs: README.md and docs/ (docs/cli.md lists every command and option).',
  ].join('\n')
}

/** Runs the CLI with `argv` (without node and script) and returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  // `squall … | head`: a closed stdout ends the command quietly, as Unix tools do.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0)
    throw e
  })
  const [name, ...rest] = argv
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    if (name === 'help' && rest[0]) return main([rest[0], '--help'])
    process.stdout.write(`${await helpText()}\n`)
    return name === undefined ? 1 : 0
  }
  if (name === '-v' || name === '--version' || name === 'version') {
    process.stdout.write(`${VERSION}\n`)
    return 0
  }
  const entry = COMMANDS.find((c) => c.name === name)
  if (!entry) {
    process.stderr.write(`squall: unknown command "${name}". Run "squall --help" for the list of commands.\n`)
    return 2
  }
  const command = await entry.load()
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.help}\n`)
    return 0
  }
  try {
    return await command.run(rest)
  } catch (e) {
    if (e instanceof SquallError) {
      process.stderr.write(`squall ${name}: ${e.code}: ${e.message}\n`)
      return e.code === 'ERR_CLI_USAGE' ? 2 : 1
    }
    process.stderr.write(`squall ${name}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
    return 1
  }
}

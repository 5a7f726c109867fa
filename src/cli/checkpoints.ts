// `squall checkpoints <state-dir>`: lists the checkpoints of a state directory, newest first.

import { existsSync } from 'node:fs'
import { SquallError } from '../core/errors.ts'
import { listCheckpoints } from '../runtime/checkpoint-storage.ts'
import { parse } from './args.ts'
import type { Command } from './commands.ts'

const HELP = `Usage: squall checkpoints <state-dir> [--json]

Lists the checkpoints under <state-dir> (the --state-dir of "squall run"), newest first: id,
time, size, and whether it is complete. A job restarted on <state-dir> restores the newest
complete one; incomplete ones (being written, or left by a crash) are skipped.

Options:
  --json    one JSON object per line instead of a table`

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1 << 20) return `${(bytes / 1024).toFixed(1)} KiB`
  return `${(bytes / (1 << 20)).toFixed(1)} MiB`
}

export const checkpointsCommand: Command = {
  name: 'checkpoints',
  usage: 'checkpoints <state-dir>',
  summary: 'list the checkpoints of a state directory',
  help: HELP,
  async run(args) {
    const { values, positionals } = parse('checkpoints', args, { json: { type: 'boolean' } })
    const dir = positionals[0]
    if (!dir)
      throw new SquallError('ERR_CLI_USAGE', 'missing <state-dir>. Usage: squall checkpoints <state-dir>')
    if (!existsSync(dir)) throw new SquallError('ERR_CLI_USAGE', `state directory "${dir}" does not exist`)
    const list = listCheckpoints(dir, 'list')
    if (values.json) {
      for (const c of list) process.stdout.write(`${JSON.stringify(c)}\n`)
      return 0
    }
    if (list.length === 0) {
      process.stdout.write(`no checkpoints in ${dir}\n`)
      return 0
    }
    process.stdout.write(`${'id'.padStart(8)}  ${'time'.padEnd(24)}  ${'size'.padStart(10)}  status\n`)
    for (const c of list) {
      const time = c.time === undefined ? '-' : new Date(c.time).toISOString()
      const status = c.complete ? 'complete' : `incomplete: ${c.problem ?? ''}`
      process.stdout.write(
        `${String(c.id).padStart(8)}  ${time.padEnd(24)}  ${size(c.bytes).padStart(10)}  ${status}\n`,
      )
    }
    return 0
  },
}

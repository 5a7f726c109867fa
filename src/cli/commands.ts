// The list of CLI commands; each lives in its own file.

import { queryCommand } from './query.ts'
import { checkCommand } from './check.ts'
import { describeCommand } from './describe.ts'
import { demoCommand } from './demo.ts'
import { runCommand } from './run.ts'
import { checkpointsCommand } from './checkpoints.ts'
import { sqlCommand } from './sql.ts'
import { explainCommand } from './explain.ts'

/** A CLI command: its name, a one-line summary, full help, and what it does. */
export interface Command {
  name: string
  usage: string
  summary: string
  help: string
  run(args: string[]): Promise<number>
}

export const COMMANDS: Command[] = [runCommand, sqlCommand, explainCommand, demoCommand, queryCommand, checkCommand, describeCommand, checkpointsCommand]

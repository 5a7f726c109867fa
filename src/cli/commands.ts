// The list of CLI commands; each lives in its own file.

import { runCommand } from './run.ts'

/** A CLI command: its name, a one-line summary, full help, and what it does. */
export interface Command {
  name: string
  usage: string
  summary: string
  help: string
  run(args: string[]): Promise<number>
}

export const COMMANDS: Command[] = [runCommand]

// The list of CLI commands; each lives in its own file and is loaded only when used, so that
// `squall run` does not pay for loading the SQL engine, the plugins or the demo.

/** A CLI command: its name, a one-line summary, full help, and what it does. */
export interface Command {
  name: string
  usage: string
  summary: string
  help: string
  run(args: string[]): Promise<number>
}

/** A command by name, with how to load it. The order is the order of `squall --help`. */
export const COMMANDS: { name: string; load(): Promise<Command> }[] = [
  { name: 'run', load: async () => (await import('./run.ts')).runCommand },
  { name: 'demo', load: async () => (await import('./demo.ts')).demoCommand },
  { name: 'sql', load: async () => (await import('./sql.ts')).sqlCommand },
  { name: 'explain', load: async () => (await import('./explain.ts')).explainCommand },
  { name: 'query', load: async () => (await import('./query.ts')).queryCommand },
  { name: 'check', load: async () => (await import('./check.ts')).checkCommand },
  { name: 'describe', load: async () => (await import('./describe.ts')).describeCommand },
  { name: 'checkpoints', load: async () => (await import('./checkpoints.ts')).checkpointsCommand },
]

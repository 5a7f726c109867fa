// `squall explain "<query>" --source name=path.jsonl`: prints the plan of a query — its operators,
// their keys and state, and whether its results update — without running it.

import { parse } from './args.ts'
import type { Command } from './commands.ts'
import { planFromFlags, TABLE_OPTIONS } from './sql.ts'

const HELP = `Usage: squall explain "<query>" --source name=path.jsonl [options]

Prints how a query runs: one operator per block (source, filter, projection, window aggregate,
group aggregate, join, top-N), its keys and the state it keeps, whether its output updates
(a changelog of +I/-U/+U/-D) or is append-only, and warnings about state that grows without
bound. The files are only sampled, to infer column types; nothing runs. A script with several
INSERT INTO statements prints one section per INSERT: every operator its rows pass (one shared
with an earlier INSERT is named, not described again) and its result.

Options: the same table options as "squall sql":
  --source NAME=PATH, --event-time NAME=COL, --watermark-delay D, --strict`

export const explainCommand: Command = {
  name: 'explain',
  usage: 'explain "<query>" --source name=path.jsonl [options]',
  summary: 'print the plan of a SQL query: operators, keys, state, updating or append-only',
  help: HELP,
  async run(args) {
    const { values, positionals } = parse('explain', args, TABLE_OPTIONS)
    if (values.help) {
      process.stdout.write(`${HELP}\n`)
      return 0
    }
    const plan = planFromFlags(positionals[0], values, 'explain')
    process.stdout.write(`${plan.explain()}\n`)
    return 0
  },
}

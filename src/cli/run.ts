// `squall run <module>`: runs a topology module until its input ends or a signal drains it.

import { availableParallelism } from 'node:os'
import { SquallError } from '../core/errors.ts'
import { runModule } from '../runtime/embedded/runner.ts'
import type { Job } from '../runtime/job.ts'
import { parse, positiveInt } from './args.ts'
import type { Command } from './commands.ts'

const HELP = `Usage: squall run <module> [options]

Runs a topology. <module> is a .ts or .js file whose default export is a Topology (or a
function returning one); TypeScript runs directly, without a build step.

Options:
  --threads N       worker threads to run on (default 1; "auto" = one per core)
  --parallelism N   default parallelism of nodes (default: the thread count)
  --export NAME     use this export of the module instead of the default one

The job ends by itself when all its sources are bounded and exhausted. SIGINT or SIGTERM
drains it: sources stop, what was read flows through, windows fire, sinks flush. A second
signal stops it at once.`

/** Installs SIGINT/SIGTERM handling: first signal drains, second stops. Returns an uninstaller. */
export function handleSignals(job: Job): () => void {
  let signals = 0
  const onSignal = (signal: NodeJS.Signals) => {
    signals++
    if (signals === 1) {
      process.stderr.write(`squall: ${signal} received, draining (again to stop at once)\n`)
      job.drain()
    } else void job.stop()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return () => {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

export const runCommand: Command = {
  name: 'run',
  usage: 'run <module> [--threads N]',
  summary: 'run a topology module (.ts or .js)',
  help: HELP,
  async run(args) {
    const { values, positionals } = parse('run', args, {
      threads: { type: 'string' },
      parallelism: { type: 'string' },
      export: { type: 'string' },
    })
    const path = positionals[0]
    if (!path) throw new SquallError('ERR_CLI_USAGE', 'missing <module>. Usage: squall run <module> [--threads N]')
    const threads = values.threads === 'auto' ? availableParallelism() : (positiveInt('threads', values.threads) ?? 1)
    const parallelism = positiveInt('parallelism', values.parallelism)
    const job = await runModule(path, {
      threads,
      ...(parallelism ? { parallelism } : {}),
      ...(values.export ? { exportName: values.export } : {}),
    })
    const uninstall = handleSignals(job)
    try {
      const result = await job.done
      const took = (result.durationMs / 1000).toFixed(1)
      process.stderr.write(`squall: job "${job.name}" ${result.status} in ${took}s\n`)
      return result.status === 'failed' ? 1 : 0
    } finally {
      uninstall()
    }
  },
}

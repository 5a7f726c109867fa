// `squall run <module>`: runs a topology module until its input ends or a signal drains it.

import { availableParallelism } from 'node:os'
import { SquallError } from '../core/errors.ts'
import { runModule } from '../runtime/embedded/runner.ts'
import type { JobStateOptions } from '../runtime/checkpoint-recovery.ts'
import { type Duration, toMillis } from '../core/duration.ts'
import type { Job } from '../runtime/job.ts'
import { durationFlag, parse, positiveInt } from './args.ts'
import type { Command } from './commands.ts'

const HELP = `Usage: squall run <module> [options]

Runs a topology. <module> is a .ts or .js file whose default export is a Topology (or a
function returning one); TypeScript runs directly, without a build step. A .yaml, .yml or .json
file is a pipeline file (docs/pipelines.md); its state and server sections apply unless the
flags below say otherwise.

Options:
  --threads N       worker threads to run on (default 1; "auto" = one per core)
  --parallelism N   default parallelism of nodes (default: the thread count)
  --export NAME     use this export of the module instead of the default one
  --state-dir DIR   keep checkpoints in DIR and restore the latest complete one at start
  --checkpoint-interval D   time between checkpoints, e.g. 5s (default), 200ms; 0 = only at the end
  --state-backend B memory (default) or lmdb (keyed state larger than memory)
  --from-checkpoint P   restore from this chk-<n> directory or state directory (savepoint,
                    other parallelism or thread count) instead of the latest under --state-dir
  --http PORT       serve the HTTP API (queries, state, health, metrics, dashboard) on PORT;
                    0 picks a free one. Registered queries and their state persist under --state-dir
  --http-host H     address to bind (default 127.0.0.1; another one needs --token)
  --token T         require "Authorization: Bearer T" on the API (default $SQUALL_TOKEN)
  --duration D      drain the job after D (e.g. 30s; a bare number is seconds), as SIGTERM
                    does: for scripted runs of jobs that never end by themselves (tail, network inputs)

The job ends by itself when all its sources are bounded and exhausted. SIGINT or SIGTERM
drains it: sources stop, what was read flows through, windows fire, sinks flush. A second
signal stops it at once.`

/** The `state` option of the job from the checkpoint flags; usage errors name the flag. */
function stateOption(values: { [flag: string]: string | undefined }): { state?: JobStateOptions } {
  const dir = values['state-dir']
  const from = values['from-checkpoint']
  const interval = values['checkpoint-interval']
  const backend = values['state-backend']
  if (dir === undefined) {
    const stray = [
      interval && '--checkpoint-interval',
      backend && '--state-backend',
      from && '--from-checkpoint',
    ].filter(Boolean)
    if (stray.length > 0)
      throw new SquallError(
        'ERR_CLI_USAGE',
        `${stray.join(', ')} need --state-dir DIR (where checkpoints go)`,
      )
    return {}
  }
  if (backend !== undefined && backend !== 'memory' && backend !== 'lmdb') {
    throw new SquallError('ERR_CLI_USAGE', `--state-backend: expected "memory" or "lmdb", got "${backend}"`)
  }
  let checkpointInterval: string | number | undefined = interval
  if (interval !== undefined) {
    try {
      checkpointInterval = /^\d+$/.test(interval) ? Number(interval) : interval
      toMillis(checkpointInterval, '--checkpoint-interval')
    } catch {
      throw new SquallError(
        'ERR_CLI_USAGE',
        `--checkpoint-interval: expected a duration like "5s" or "200ms", got "${interval}"`,
      )
    }
  }
  return {
    state: {
      dir,
      ...(backend ? { backend: backend as 'memory' | 'lmdb' } : {}),
      ...(checkpointInterval !== undefined ? { checkpointInterval: checkpointInterval as Duration } : {}),
      ...(from ? { fromCheckpoint: from } : {}),
    },
  }
}

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
  usage: 'run <module.ts | pipeline.yaml> [--threads N] [--duration D]',
  summary: 'run a topology module or a pipeline file',
  help: HELP,
  async run(args) {
    const { values: flags, positionals } = parse('run', args, {
      threads: { type: 'string' },
      'state-dir': { type: 'string' },
      'checkpoint-interval': { type: 'string' },
      'state-backend': { type: 'string' },
      'from-checkpoint': { type: 'string' },
      parallelism: { type: 'string' },
      export: { type: 'string' },
      http: { type: 'string' },
      'http-host': { type: 'string' },
      token: { type: 'string' },
      duration: { type: 'string' },
    })
    const values = flags as { [flag: string]: string | undefined }
    const path = positionals[0]
    if (!path)
      throw new SquallError('ERR_CLI_USAGE', 'missing <module>. Usage: squall run <module> [--threads N]')
    const threads =
      values.threads === 'auto' ? availableParallelism() : (positiveInt('threads', values.threads) ?? 1)
    const parallelism = positiveInt('parallelism', values.parallelism)
    const durationMs = durationFlag('duration', values.duration)
    const runOptions = {
      threads,
      ...(parallelism ? { parallelism } : {}),
      ...(values.export ? { exportName: values.export } : {}),
      ...stateOption(values),
    }
    const httpPort = values.http === undefined ? undefined : Number(values.http)
    if (httpPort !== undefined && !(Number.isInteger(httpPort) && httpPort >= 0 && httpPort < 65536)) {
      throw new SquallError(
        'ERR_CLI_USAGE',
        `--http: expected a port number in 0..65535, got "${values.http}"`,
      )
    }
    const token = values.token ?? process.env.SQUALL_TOKEN
    // The pipeline engine and the HTTP server load only when used.
    const pipeline = /\.(ya?ml|json)$/i.test(path)
      ? await (await import('../pipeline/run.ts')).startPipeline(path, runOptions, {
          ...(httpPort === undefined ? {} : { port: httpPort }),
          ...(values['http-host'] ? { host: values['http-host'] } : {}),
          ...(token ? { token } : {}),
        })
      : undefined
    const served =
      pipeline !== undefined || httpPort === undefined
        ? undefined
        : await (await import('../server/job-server.ts')).serveModule(path, runOptions, {
            port: httpPort,
            ...(values['http-host'] ? { host: values['http-host'] } : {}),
            ...(token ? { token } : {}),
            ...(values['state-dir'] ? { stateDir: values['state-dir'] } : {}),
          })
    const job = pipeline?.job ?? served?.job ?? (await runModule(path, runOptions))
    const uninstall = handleSignals(job)
    const timer =
      durationMs === undefined
        ? undefined
        : setTimeout(() => {
            process.stderr.write(`squall: --duration ${values.duration} is over, draining\n`)
            job.drain()
          }, durationMs)
    try {
      const result = await job.done
      const took = (result.durationMs / 1000).toFixed(1)
      process.stderr.write(`squall: job "${job.name}" ${result.status} in ${took}s\n`)
      return result.status === 'failed' ? 1 : 0
    } finally {
      clearTimeout(timer)
      uninstall()
      await served?.close()
      await pipeline?.close()
    }
  },
}

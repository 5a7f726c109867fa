// Running pipeline files in-process for tests: write the YAML, start the job, learn the ports.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { memoryLogger } from '../../src/core/logger.ts'
import { startPipeline } from '../../src/pipeline/run.ts'
import type { Job } from '../../src/runtime/job.ts'

export interface RunningPipeline {
  dir: string
  job: Job
  log: ReturnType<typeof memoryLogger>
  /** The URL of the job's HTTP API, when the pipeline has a `server` section. */
  url: string | undefined
  /** The port each network input bound, by source name. */
  port(source: string): Promise<number>
  close(): Promise<void>
}

/** Writes `yaml` (with `$DIR` replaced by a fresh temp dir) as pipeline.yaml there and starts it. */
export async function runPipelineYaml(
  yaml: string,
  dir = mkdtempSync(join(tmpdir(), 'squall-pipeline-')),
): Promise<RunningPipeline> {
  const path = join(dir, 'pipeline.yaml')
  writeFileSync(path, yaml.replaceAll('$DIR', dir))
  const ports = new Map<string, number>()
  const waiters = new Map<string, (port: number) => void>()
  const log = memoryLogger()
  const started = await startPipeline(path, {
    log,
    onReport(channel, data) {
      if (!channel.startsWith('listening:')) return
      const name = channel.slice('listening:'.length)
      const port = (data as { port: number }).port
      ports.set(name, port)
      waiters.get(name)?.(port)
    },
  })
  return {
    dir,
    job: started.job,
    log,
    url: started.url,
    port: (source) =>
      ports.has(source)
        ? Promise.resolve(ports.get(source)!)
        : new Promise((resolve) => waiters.set(source, resolve)),
    async close() {
      started.job.drain()
      await started.job.done.catch(() => {})
      await started.close()
    },
  }
}

/** The JSON lines of a file (empty when it does not exist yet). */
export function jsonLines(path: string): { [k: string]: unknown }[] {
  if (!existsSync(path)) return []
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as { [k: string]: unknown })
}

/** Polls `check` until it returns true or `ms` pass; throws with `what` on timeout. */
export async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

const BIN = join(import.meta.dirname, '../../bin/squall.js')

/**
 * Starts `squall run <pipeline file>` as a process and resolves with it and the port its input
 * logs once listening (`listening` matches that log line, with the port as its first group).
 */
export function startSquall(path: string, listening: RegExp): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'run', path], { stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString()
      const m = listening.exec(err)
      if (m) resolve({ child, port: Number(m[1]) })
    })
    child.on('exit', (code) => reject(new Error(`squall exited with ${code}: ${err}`)))
  })
}

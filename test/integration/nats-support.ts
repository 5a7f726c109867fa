// A nats-server of its own for each test file: JetStream on, 127.0.0.1, a free port, a temp store
// directory; stopped by its pid. Under CI=true a missing binary is a failure, elsewhere a skip.
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** The nats-server binary (Debian's, else one on PATH), or undefined. */
export const NATS_SERVER = [
  '/usr/sbin/nats-server',
  '/usr/bin/nats-server',
  '/usr/local/bin/nats-server',
].find((p) => existsSync(p))

/** Whether nats tests run: with a binary, or under CI=true (where they then fail). */
export const RUN_NATS = NATS_SERVER !== undefined || process.env.CI === 'true'
if (!RUN_NATS) console.warn('skipping the NATS tests: no nats-server binary (apt-get install nats-server)')

export interface NatsServer {
  readonly url: string
  readonly port: number
  stop(): Promise<void>
}

/** Starts nats-server with JetStream on a free 127.0.0.1 port; resolves once it accepts clients. */
export function startNatsServer(): Promise<NatsServer> {
  if (NATS_SERVER === undefined)
    return Promise.reject(new Error('nats-server is not installed (CI=true needs it)'))
  const dir = mkdtempSync(join(tmpdir(), 'squall-nats-'))
  const child: ChildProcess = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', '-1', '-js', '-sd', dir], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  const stop = async () => {
    if (child.exitCode === null && child.pid !== undefined) {
      const exited = new Promise((r) => child.once('exit', r))
      process.kill(child.pid, 'SIGTERM')
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  }
  return new Promise((resolve, reject) => {
    let log = ''
    const timer = setTimeout(() => {
      void stop()
      reject(new Error(`nats-server did not start in 10 s:\n${log}`))
    }, 10_000)
    child.once('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.stderr!.on('data', (b: Buffer) => {
      log += b.toString()
      const m = /Listening for client connections on 127\.0\.0\.1:(\d+)/.exec(log)
      if (m && log.includes('Server is ready')) {
        clearTimeout(timer)
        child.stderr!.removeAllListeners('data')
        child.stderr!.resume()
        const port = Number(m[1])
        resolve({ url: `nats://127.0.0.1:${port}`, port, stop })
      }
    })
  })
}

// Tail positions in checkpoints, with `squall run pipeline.yaml` stopped (SIGTERM) or killed
// (SIGKILL) and restarted while lines keep coming: the exactly-once file output has every line once.
import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { until } from './pipeline-support.ts'

const BIN = join(import.meta.dirname, '../../bin/squall.js')

const started: ChildProcess[] = []
const dirs: string[] = []
afterEach(() => {
  for (const child of started.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** `squall run` of the pipeline file; `stderr()` is what it logged so far. */
function run(path: string): { child: ChildProcess; stderr: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, 'run', path], { stdio: ['ignore', 'ignore', 'pipe'] })
  started.push(child)
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { child, stderr: () => stderr, exit }
}

/** The `n` of every record in the published files of the exactly-once output, in file order. */
function published(dir: string): number[] {
  if (!existsSync(dir)) return []
  const out: number[] = []
  for (const name of readdirSync(dir).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))) {
    if (!name.startsWith('part-')) continue
    for (const line of readFileSync(join(dir, name), 'utf8').split('\n'))
      if (line !== '') out.push((JSON.parse(line) as { n: number }).n)
  }
  return out
}

const lines = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `{"n":${from + i},"msg":"line ${from + i}"}\n`).join('')

const range = (to: number) => Array.from({ length: to }, (_, i) => i)

function setup(): { dir: string; path: string; log: string; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'squall-tail-restart-'))
  dirs.push(dir)
  const path = join(dir, 'pipeline.yaml')
  writeFileSync(
    path,
    `name: tailrestart
state: { dir: ./state, checkpointInterval: 100ms }
sources:
  - name: app
    type: tail
    path: ./app.log
    readFromHead: true
    pollInterval: 20ms
    tag: app
    parser: { type: json }
outputs:
  - type: file
    path: ./out
    exactlyOnce: true
`,
  )
  return { dir, path, log: join(dir, 'app.log'), out: join(dir, 'out') }
}

describe('tail positions across restarts of squall run', () => {
  it('stopped with SIGTERM after a checkpoint, with lines appended while it is down: after a restart every line is published exactly once, in order', async () => {
    const { path, log, out } = setup()
    writeFileSync(log, lines(0, 100))
    const first = run(path)
    await until(() => published(out).length === 100, 'the first 100 lines, published by a checkpoint')
    appendFileSync(log, lines(100, 250))
    await until(() => published(out).length === 250, 'the lines appended while running')
    first.child.kill('SIGTERM')
    expect(await first.exit).toBe(0)
    expect(published(out)).toEqual(range(250))

    appendFileSync(log, lines(250, 400))
    const second = run(path)
    await until(() => published(out).length >= 400, 'the lines appended while the job was down')
    appendFileSync(log, lines(400, 450))
    await until(() => published(out).length >= 450, 'lines appended after the restart')
    second.child.kill('SIGTERM')
    expect(await second.exit).toBe(0)
    expect(second.stderr()).toMatch(/restoring checkpoint \d+/)
    expect(published(out)).toEqual(range(450))
  }, 30_000)

  it('killed with SIGKILL while lines stream in: after a restart no line is lost or published twice', async () => {
    const { path, log, out } = setup()
    writeFileSync(log, lines(0, 200))
    const first = run(path)
    await until(() => published(out).length >= 200, 'the first lines, published')
    // Lines arrive in small appends until the kill, which comes between checkpoints or during one.
    let n = 200
    const writer = setInterval(() => {
      appendFileSync(log, lines(n, n + 20))
      n += 20
    }, 5)
    await until(() => published(out).length >= 600, 'lines published while appending')
    first.child.kill('SIGKILL')
    await first.exit
    clearInterval(writer)
    const atKill = published(out).length
    expect(atKill).toBeLessThan(n)
    appendFileSync(log, lines(n, n + 100))
    n += 100
    const second = run(path)
    await until(() => published(out).length >= n, `all ${n} lines after the restart`, 15_000)
    second.child.kill('SIGTERM')
    expect(await second.exit).toBe(0)
    expect(published(out)).toEqual(range(n))
  }, 30_000)
})

// `squall checkpoints` and `squall run --state-dir` as processes, on state directories written by real
// runs of the CLI: the listing, a state directory of another format version, and the lock.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const BIN = join(import.meta.dirname, '../../bin/squall.js')
const ENDLESS = join(import.meta.dirname, '../fixtures/endless-count.ts')

const root = mkdtempSync(join(tmpdir(), 'squall-checkpoints-cli-'))
const started: ChildProcess[] = []
afterAll(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  rmSync(root, { recursive: true, force: true })
})

function squall(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 })
}

/** A `squall run` of the endless fixture on `stateDir`, with its debug log collected. */
interface Running {
  child: ChildProcess
  stderr(): string
  /** Resolves once the log matches `pattern`; rejects when the process exits first or after 15 s. */
  waitFor(pattern: RegExp): Promise<void>
  /** The ids of the checkpoints completed so far. */
  completed(): number[]
  exit: Promise<number | null>
}

function startJob(stateDir: string): Running {
  const child = spawn(
    process.execPath,
    [BIN, 'run', ENDLESS, '--state-dir', stateDir, '--checkpoint-interval', '50ms'],
    { env: { ...process.env, SQUALL_LOG: 'debug' }, stdio: ['ignore', 'ignore', 'pipe'] },
  )
  started.push(child)
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return {
    child,
    stderr: () => stderr,
    completed: () => [...stderr.matchAll(/checkpoint (\d+) complete/g)].map((m) => Number(m[1])),
    exit,
    waitFor: (pattern) =>
      new Promise((resolve, reject) => {
        const end = Date.now() + 15_000
        const check = () => {
          if (pattern.test(stderr)) resolve()
          else if (child.exitCode !== null || Date.now() > end)
            reject(new Error(`no ${pattern} in the log of squall run:\n${stderr}`))
          else setTimeout(check, 20)
        }
        check()
      }),
  }
}

/** Every file under `dir` with its size and a hash of its bytes, by relative path. */
function tree(dir: string): { [path: string]: string } {
  const out: { [path: string]: string } = {}
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name)
      if (statSync(p).isDirectory()) {
        out[`${relative(dir, p)}/`] = 'dir'
        walk(p)
      } else {
        const bytes = readFileSync(p)
        out[relative(dir, p)] = `${bytes.length} ${createHash('sha256').update(bytes).digest('hex')}`
      }
    }
  }
  walk(dir)
  return out
}

/** The state directory of a real run: four checkpoints or more taken, then drained by SIGTERM. */
let stateDir: string
let complete: { id: number; time: number; bytes: number }[]

beforeAll(async () => {
  stateDir = join(root, 'state')
  const job = startJob(stateDir)
  await job.waitFor(/checkpoint 4 complete/)
  process.kill(job.child.pid!, 'SIGTERM')
  expect(await job.exit, job.stderr()).toBe(0)
  const dirs = readdirSync(join(stateDir, 'checkpoints'))
  complete = dirs
    .map((name) => {
      const dir = join(stateDir, 'checkpoints', name)
      const manifest = JSON.parse(readFileSync(join(dir, 'MANIFEST.json'), 'utf8')) as {
        id: number
        time: number
      }
      const bytes = readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0)
      return { id: manifest.id, time: manifest.time, bytes }
    })
    .sort((a, b) => b.id - a.id)
}, 30_000)

const CUT_MANIFEST = '{"formatVersion": 1, "id": '

describe('squall checkpoints', () => {
  /** A copy of the real state directory plus the leftovers of failed or interrupted checkpoints. */
  function damagedCopy(name: string): { dir: string; newest: number } {
    const dir = join(root, name)
    cpSync(stateDir, dir, { recursive: true })
    const checkpoints = join(dir, 'checkpoints')
    const newest = complete[0]!.id
    // A checkpoint directory whose manifest was never written.
    mkdirSync(join(checkpoints, `chk-${newest + 1}`))
    writeFileSync(join(checkpoints, `chk-${newest + 1}`, 'counts-0.state'), 'x'.repeat(100))
    // One whose manifest is cut short.
    mkdirSync(join(checkpoints, `chk-${newest + 2}`))
    writeFileSync(join(checkpoints, `chk-${newest + 2}`, 'MANIFEST.json'), CUT_MANIFEST)
    // One still in its temporary directory, as a crash leaves it.
    mkdirSync(join(checkpoints, `chk-${newest + 3}.tmp-4242`))
    return { dir, newest }
  }

  it('the state directory of a real run holds its three newest complete checkpoints', () => {
    // Ids need not be consecutive: a checkpoint pending when SIGTERM came is abandoned.
    expect(complete).toHaveLength(3)
    expect(complete[0]!.id).toBeGreaterThanOrEqual(5)
    expect(complete[0]!.id).toBeGreaterThan(complete[1]!.id)
    expect(complete[1]!.id).toBeGreaterThan(complete[2]!.id)
  })

  it('lists every checkpoint newest first with its time, size and status; incomplete ones say why', () => {
    const { dir, newest } = damagedCopy('listed')
    const r = squall(['checkpoints', dir])
    expect(r.status, r.stderr).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^\s+id\s+time\s+size\s+status$/)
    const rows = lines.slice(1).map((l) => /^\s*(\d+)\s+(\S+)\s+(\d+(?:\.\d)? (?:B|KiB|MiB))\s+(.*)$/.exec(l))
    expect(
      rows.every((m) => m !== null),
      r.stdout,
    ).toBe(true)
    expect(rows.map((m) => [Number(m![1]), m![4]])).toEqual([
      [newest + 3, 'incomplete: being written, or abandoned by a crash'],
      [newest + 2, expect.stringMatching(/^incomplete: MANIFEST\.json is not valid JSON/)],
      [newest + 1, 'incomplete: no MANIFEST.json (incomplete)'],
      ...complete.map((c) => [c.id, 'complete']),
    ])
    for (const [i, c] of complete.entries()) {
      const m = rows[3 + i]!
      expect(m[2]).toBe(new Date(c.time).toISOString())
      expect(m[3]).toBe(c.bytes < 1024 ? `${c.bytes} B` : `${(c.bytes / 1024).toFixed(1)} KiB`)
    }
    expect(rows.slice(0, 3).map((m) => m![2])).toEqual(['-', '-', '-'])
    expect(rows[2]![3]).toBe('100 B')
  })

  it('--json prints one object per checkpoint with the same facts', () => {
    const { dir, newest } = damagedCopy('json')
    const r = squall(['checkpoints', dir, '--json'])
    expect(r.status, r.stderr).toBe(0)
    const list = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { [k: string]: unknown })
    expect(list).toEqual([
      {
        id: newest + 3,
        dir: join(dir, 'checkpoints', `chk-${newest + 3}.tmp-4242`),
        complete: false,
        bytes: 0,
        problem: 'being written, or abandoned by a crash',
      },
      {
        id: newest + 2,
        dir: join(dir, 'checkpoints', `chk-${newest + 2}`),
        complete: false,
        bytes: CUT_MANIFEST.length,
        problem: expect.stringMatching(/^MANIFEST\.json is not valid JSON/),
      },
      {
        id: newest + 1,
        dir: join(dir, 'checkpoints', `chk-${newest + 1}`),
        complete: false,
        bytes: 100,
        problem: 'no MANIFEST.json (incomplete)',
      },
      ...complete.map((c) => ({
        id: c.id,
        dir: join(dir, 'checkpoints', `chk-${c.id}`),
        complete: true,
        time: c.time,
        bytes: c.bytes,
      })),
    ])
  })

  it('a checkpoint of another format version is listed as not usable, with the reason, beside the others', () => {
    const dir = join(root, 'list-other-version')
    cpSync(stateDir, dir, { recursive: true })
    const newest = complete[0]!
    const path = join(dir, 'checkpoints', `chk-${newest.id}`, 'MANIFEST.json')
    const manifest = JSON.parse(readFileSync(path, 'utf8')) as { formatVersion: number }
    writeFileSync(path, JSON.stringify({ ...manifest, formatVersion: 2 }))
    const r = squall(['checkpoints', dir, '--json'])
    expect(r.status, r.stderr).toBe(0)
    const rows = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: number; complete: boolean; problem?: string })
    expect(rows.map((c) => [c.id, c.complete])).toEqual(complete.map((c) => [c.id, c.id !== newest.id]))
    expect(rows[0]!.problem).toMatch(/has format version 2; this Squall reads version 1/)
  })

  it('a state directory without checkpoints says so', () => {
    const dir = join(root, 'empty')
    mkdirSync(join(dir, 'checkpoints'), { recursive: true })
    const r = squall(['checkpoints', dir])
    expect(r.status).toBe(0)
    expect(r.stdout).toBe(`no checkpoints in ${dir}\n`)
    expect(squall(['checkpoints', dir, '--json']).stdout).toBe('')
  })

  it('a directory that does not exist is a usage error naming it, with exit code 2', () => {
    const missing = join(root, 'no-such-dir')
    const r = squall(['checkpoints', missing])
    expect(r.status).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toBe(`squall checkpoints: ERR_CLI_USAGE: state directory "${missing}" does not exist\n`)
    const none = squall(['checkpoints'])
    expect(none.status).toBe(2)
    expect(none.stderr).toMatch(/ERR_CLI_USAGE: missing <state-dir>/)
  })
})

describe('squall run on a state directory of another format version', () => {
  it('a directory marked with another version is refused with ERR_STATE_FORMAT, exit 1, and left as it was', () => {
    const dir = join(root, 'other-version')
    cpSync(stateDir, dir, { recursive: true })
    writeFileSync(join(dir, 'squall-state.json'), '{"formatVersion":2,"job":"endless-count"}\n')
    const before = tree(dir)
    const r = squall(['run', ENDLESS, '--state-dir', dir, '--checkpoint-interval', '50ms'])
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(
      /squall run: ERR_STATE_FORMAT: state directory ".*other-version" has format version 2; this Squall reads version 1/,
    )
    expect(tree(dir)).toEqual(before)
  })

  it('a directory holding only the marker of another version gets nothing created in it', () => {
    const dir = join(root, 'marker-only')
    mkdirSync(dir)
    writeFileSync(join(dir, 'squall-state.json'), '{"formatVersion":99}\n')
    const r = squall(['run', ENDLESS, '--state-dir', dir])
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/ERR_STATE_FORMAT: .*format version 99/)
    expect(readdirSync(dir)).toEqual(['squall-state.json'])
  })

  it('a checkpoint whose manifest has another version is refused, not skipped, and the directory is left as it was', () => {
    const dir = join(root, 'other-manifest')
    cpSync(stateDir, dir, { recursive: true })
    const newest = join(dir, 'checkpoints', `chk-${complete[0]!.id}`, 'MANIFEST.json')
    const manifest = JSON.parse(readFileSync(newest, 'utf8')) as { formatVersion: number }
    writeFileSync(newest, JSON.stringify({ ...manifest, formatVersion: 2 }))
    const before = tree(dir)
    const r = squall(['run', ENDLESS, '--state-dir', dir, '--checkpoint-interval', '50ms'])
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(
      new RegExp(`ERR_STATE_FORMAT: checkpoint ".*chk-${complete[0]!.id}" has format version 2`),
    )
    expect(r.stderr).not.toMatch(/restoring checkpoint/)
    expect(tree(dir)).toEqual(before)
  })
})

describe('squall run on a state directory in use', () => {
  it('a second process on the same state directory exits 1 with ERR_STATE_LOCKED while the first keeps running', async () => {
    const dir = join(root, 'locked')
    const first = startJob(dir)
    await first.waitFor(/checkpoint 1 complete/)
    const pid = first.child.pid!
    const second = squall(['run', ENDLESS, '--state-dir', dir, '--checkpoint-interval', '50ms'])
    expect(second.status).toBe(1)
    expect(second.stderr).toMatch(
      new RegExp(`squall run: ERR_STATE_LOCKED: state directory ".*locked" is in use by process ${pid}`),
    )
    expect(readFileSync(join(dir, 'LOCK'), 'utf8').trim()).toBe(String(pid))
    // The first goes on checkpointing after the second gave up.
    const last = Math.max(...first.completed())
    const end = Date.now() + 15_000
    while (Math.max(...first.completed()) < last + 2 && Date.now() < end)
      await new Promise((r) => setTimeout(r, 20))
    expect(Math.max(...first.completed())).toBeGreaterThanOrEqual(last + 2)
    expect([first.child.exitCode, first.child.signalCode]).toEqual([null, null])
    process.kill(pid, 'SIGTERM')
    expect(await first.exit, first.stderr()).toBe(0)
    expect(first.stderr()).toMatch(/job "endless-count" finished/)
  }, 30_000)
})

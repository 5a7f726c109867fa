// `squall run` in a pipe: a job reading stdin prints as lines come, ends by itself at end of input,
// applies its error policy to bad JSON lines, and does not wait for a writer that keeps stdin open.
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'

const BIN = join(import.meta.dirname, '../../bin/squall.js')
const FIXTURE = join(import.meta.dirname, '../fixtures/stdin-echo.ts')

const children: ChildProcessWithoutNullStreams[] = []
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
})

/** Starts `squall run` on the fixture with stdin, stdout and stderr as pipes. */
function start(args: string[] = []) {
  const child = spawn(process.execPath, [BIN, 'run', FIXTURE, ...args], { stdio: 'pipe' })
  children.push(child)
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (err += d))
  // The exit code, or a failure naming the hang when the process does not end within 15 s.
  const exit = new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('squall did not exit within 15 s')), 15_000)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve(code)
    })
  })
  return {
    child,
    exit,
    get out() {
      return out
    },
    get err() {
      return err
    },
  }
}

async function until(condition: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** The fields of every `skipped a record` log line on stderr. */
function skipped(stderr: string): { message: string; fields: { [field: string]: unknown } }[] {
  return [...stderr.matchAll(/^\[squall\] warn node "events" skipped a record: (.*?) (\{.*\})$/gm)].map(
    (m) => ({
      message: m[1]!,
      fields: JSON.parse(m[2]!) as { [field: string]: unknown },
    }),
  )
}

describe('squall run reading stdin', () => {
  it('prints lines as they come, and ends by itself with exit 0 at the end of its input', async () => {
    const job = start()
    job.child.stdin.write('alpha\nbeta\n')
    await until(() => job.out.includes('BETA\n'), 'the first lines on stdout')
    // The input is still open: the job waits for more instead of ending.
    await new Promise((r) => setTimeout(r, 300))
    expect(job.child.exitCode).toBe(null)
    // CRLF is a line end, empty lines are no records, and a last line without a newline counts.
    job.child.stdin.end('gamma\r\n\ndelta')
    expect(await job.exit).toBe(0)
    expect(job.out).toBe('ALPHA\nBETA\nGAMMA\nDELTA\n')
    expect(job.err).toMatch(/job "stdin-lines" finished in/)
  })

  it('JSON lines: a bad line is skipped with a log line naming stdin and its line number, and counted', () => {
    const input = [
      '{"user":"a","n":1}',
      '{"user":"b","n":2}',
      'not json',
      '{"user":"c","n":3}',
      '{"user":',
      '{"user":"d","n":4}',
    ].join('\n')
    const r = spawnSync(process.execPath, [BIN, 'run', FIXTURE, '--export', 'jsonl'], {
      encoding: 'utf8',
      timeout: 30_000,
      input,
    })
    expect(r.status, r.stderr).toBe(0)
    expect(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([
      { user: 'a', n: 2 },
      { user: 'b', n: 4 },
      { user: 'c', n: 6 },
      { user: 'd', n: 8 },
    ])
    const logged = skipped(r.stderr)
    expect(logged.map((l) => l.message)).toEqual([
      expect.stringMatching(/^stdin: line 3 is not valid JSON: /),
      expect.stringMatching(/^stdin: line 5 is not valid JSON: /),
    ])
    expect(logged.map((l) => l.fields)).toEqual([
      expect.objectContaining({ node: 'events', file: 'stdin', line: 3, skipped: 1 }),
      expect.objectContaining({ node: 'events', file: 'stdin', line: 5, skipped: 2 }),
    ])
    expect(r.stderr).toMatch(/job "stdin-jsonl" finished in/)
  })

  it('JSON lines under the default fail policy: a bad line fails the job with exit 1 while stdin is still open', async () => {
    const job = start(['--export', 'jsonlStrict'])
    // The writer never closes stdin: the failed job must end regardless.
    job.child.stdin.write('{"user":"a","n":1}\nnot json\n{"user":"b","n":2}\n')
    expect(await job.exit).toBe(1)
    expect(job.err).toMatch(
      /ERR_OPERATOR_FAILED: node "events" \(task 0\) failed on a record .*stdin: line 2 is not valid JSON/,
    )
    expect(job.out).not.toMatch(/"user":"b"/)
  })

  it('SIGTERM drains the job and it exits 0 while the writer keeps stdin open', async () => {
    const job = start()
    job.child.stdin.write('one\ntwo\n')
    await until(() => job.out.includes('TWO\n'), 'the lines on stdout')
    job.child.kill('SIGTERM')
    expect(await job.exit).toBe(0)
    expect(job.out).toBe('ONE\nTWO\n')
    expect(job.err).toMatch(/SIGTERM received, draining/)
    expect(job.err).toMatch(/job "stdin-lines" finished in/)
  })
})

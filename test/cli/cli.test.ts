import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const BIN = join(import.meta.dirname, '../../bin/squall.js')

function squall(args: string[], input?: string) {
  return spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    ...(input ? { input } : {}),
  })
}

describe('squall CLI', () => {
  it('--help lists the commands and --version prints the package version', () => {
    const help = squall(['--help'])
    expect(help.status).toBe(0)
    expect(help.stdout).toMatch(/Usage: squall <command>/)
    expect(help.stdout).toMatch(/run <module.ts \| pipeline.yaml>/)
    expect(help.stdout).toMatch(/demo \[--duration 30s\]/)
    const version = squall(['--version'])
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
  })

  it('an unknown command or option is a usage error with exit code 2', () => {
    const r = squall(['frobnicate'])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/unknown command "frobnicate"/)
    const o = squall(['run', 'x.ts', '--threds', '2'])
    expect(o.status).toBe(2)
    expect(o.stderr).toMatch(/ERR_CLI_USAGE.*threds/)
  })

  it('runs a TypeScript module to the end of its bounded input and exits 0', () => {
    const dir = mkdtempSync(join(tmpdir(), 'squall-cli-'))
    const input = join(dir, 'events.jsonl')
    writeFileSync(input, ['{"user":"a"}', '{"user":"b"}', 'not json', '{"user":"a"}'].join('\n'))
    const job = join(dir, 'job.ts')
    writeFileSync(
      job,
      `import { Topology, file, stdout } from '${join(import.meta.dirname, '../../src/index.ts')}'
const t = new Topology('users')
t.source('events', file({ path: ${JSON.stringify(input)}, format: 'jsonl' }), { onError: 'skip' })
  .map((v: any) => v.user as string)
  .keyBy((u) => u)
  .count('per-user')
  .sink(stdout())
export default t
`,
    )
    const r = squall(['run', job])
    expect(r.status).toBe(0)
    expect(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([
      { key: 'a', count: 1 },
      { key: 'b', count: 1 },
      { key: 'a', count: 2 },
    ])
    expect(r.stderr).toMatch(/events\.jsonl: line 3 \(byte 26\) is not valid JSON/)
    expect(r.stderr).toMatch(/job "users" finished/)
  })

  it('a module that does not export a topology fails with a clear message', () => {
    const dir = mkdtempSync(join(tmpdir(), 'squall-cli-'))
    const job = join(dir, 'nothing.ts')
    writeFileSync(job, 'export const answer = 42\n')
    const r = squall(['run', job])
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(
      /ERR_MODULE_LOAD: module ".*nothing.ts": export "default" is not a Topology .* exports answer/,
    )
  })

  it('SIGTERM drains an endless job: it flushes and exits 0', async () => {
    const child = spawn(process.execPath, [BIN, 'run', join(import.meta.dirname, '../fixtures/endless.ts')], {
      stdio: 'pipe',
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    await new Promise<void>((resolve) => {
      const check = () => (out.includes('"seq":2000') ? resolve() : setTimeout(check, 50))
      check()
    })
    child.kill('SIGTERM')
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
    expect(code).toBe(0)
    expect(err).toMatch(/SIGTERM received, draining/)
    expect(err).toMatch(/job "endless" finished/)
    const seqs = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).seq as number)
    expect(seqs.slice(0, 3)).toEqual([0, 1000, 2000])
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
  })

  it('--duration drains an endless job after that long and exits 0; a bad duration is a usage error', () => {
    const started = Date.now()
    const r = squall(['run', join(import.meta.dirname, '../fixtures/endless.ts'), '--duration', '1500ms'])
    expect(r.status, r.stderr).toBe(0)
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500)
    expect(r.stderr).toMatch(/--duration 1500ms is over, draining/)
    expect(r.stderr).toMatch(/job "endless" finished in \d+\.\ds/)
    // 2000 records/s for 1.5 s: every 1000th, in order, and nothing after the drain.
    const seqs = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).seq as number)
    expect(seqs.slice(0, 2)).toEqual([0, 1000])
    expect(seqs.length).toBeLessThanOrEqual(4)
    const bad = squall(['run', 'x.ts', '--duration', 'soon'])
    expect(bad.status).toBe(2)
    expect(bad.stderr).toMatch(/ERR_CLI_USAGE: --duration: expected a duration like "30s".*got "soon"/)
  })

  it('--duration takes a bare number as seconds, as fluentd reads its time parameters', () => {
    const started = Date.now()
    const r = squall(['run', join(import.meta.dirname, '../fixtures/endless.ts'), '--duration', '1'])
    expect(r.status, r.stderr).toBe(0)
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000)
    expect(r.stderr).toMatch(/--duration 1 is over, draining/)
    const zero = squall(['run', 'x.ts', '--duration', '0'])
    expect(zero.status).toBe(2)
    expect(zero.stderr).toMatch(
      /--duration: expected a duration like "30s" or "500ms" \(a bare number is seconds\)/,
    )
  })

  it('runs a module on worker threads with --threads, every line the threads print reaching stdout', async () => {
    // Three runs at once share the CPU: a worker's last lines travel to the main thread apart from
    // its "done", and a process that ended on "done" alone lost them now and then.
    const run = () =>
      new Promise<{ status: number | null; stdout: string }>((resolve) => {
        const child = spawn(process.execPath, [
          BIN,
          'run',
          join(import.meta.dirname, '../fixtures/endless-bounded.ts'),
          '--threads',
          '2',
        ])
        let stdout = ''
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString()
        })
        child.on('close', (status) => resolve({ status, stdout }))
      })
    for (const r of await Promise.all([run(), run(), run()])) {
      expect(r.status).toBe(0)
      const lines = r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { key: number; count: number })
      expect(lines).toHaveLength(1000)
      const finals = new Map<number, number>()
      for (const l of lines) finals.set(l.key, Math.max(finals.get(l.key) ?? 0, l.count))
      expect([...finals.entries()].sort((a, b) => a[0] - b[0])).toEqual([
        [0, 334],
        [1, 333],
        [2, 333],
      ])
    }
  }, 60_000)
})

describe('squall CLI in a pipe', () => {
  it('ends quietly when the reader of its output goes away (squall run … | head)', () => {
    const r = spawnSync(
      'bash',
      [
        '-c',
        `"${process.execPath}" "${BIN}" run "${join(import.meta.dirname, '../fixtures/endless.ts')}" | head -1`,
      ],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    )
    expect(r.stdout.trim()).toBe('{"seq":0}')
    expect(r.stderr).not.toMatch(/EPIPE/)
  })
})

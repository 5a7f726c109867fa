// `squall check` and `squall describe` as processes: what they print, their exit codes, and that
// checking a pipeline file neither reads its inputs nor binds its ports.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { describeOptions } from '../../src/plugins/config.ts'
import { TailInputConfig } from '../../src/plugins/inputs/tail.ts'

const BIN = join(import.meta.dirname, '../../bin/squall.js')

function squall(args: string[], env: { [k: string]: string } = {}) {
  return spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, ...env },
  })
}

let dir = ''
let busy: Server
let busyPort = 0
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'squall-check-cli-'))
  // A port someone else holds: `squall check` must not try to bind it.
  busy = createServer()
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
  busyPort = (busy.address() as { port: number }).port
})
afterAll(async () => {
  await new Promise((resolve) => busy.close(resolve))
  rmSync(dir, { recursive: true, force: true })
})

describe('squall check', () => {
  it('a valid file exits 0 and prints the job and its topology, without creating state, reading inputs or binding ports', () => {
    const path = join(dir, 'good.yaml')
    writeFileSync(
      path,
      `name: web
state:
  dir: ./state
  checkpointInterval: 5s
sources:
  - name: access
    type: tail
    path: ./logs/access.log
    tag: web.access
    parser: { type: apache2 }
  - name: api
    type: http
    port: \${API_PORT}
    bind: 127.0.0.1
queries:
  - { name: top_pages, sql: "SELECT path, COUNT(*) AS hits FROM access GROUP BY path" }
outputs:
  - type: file
    match: "web.**"
    path: ./out
    exactlyOnce: true
`,
    )
    const r = squall(['check', path], { API_PORT: String(busyPort) })
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines[0]).toBe(`${path}: ok — job "web"`)
    expect(lines).toContain('source   access')
    expect(lines).toContain('source   api')
    expect(lines.filter((l) => l.startsWith('operator top_pages.')).length).toBeGreaterThan(0)
    expect(lines.at(-1)).toMatch(/^sink\s+file ← access \(forward\), api \(forward\), top_pages\.results/)
    // Nothing ran: no state directory, no output, no journal.
    expect(existsSync(join(dir, 'state'))).toBe(false)
    expect(existsSync(join(dir, 'out'))).toBe(false)
  })

  it('a file with many problems exits 1 and lists every one with its path in the file', () => {
    const path = join(dir, 'bad.yaml')
    writeFileSync(
      path,
      `name: web
sources:
  - { name: api, type: http, port: 70000 }
  - { name: access, type: tail, path: ./a.log, parser: { type: apach2 } }
  - { type: forwrd }
  - { type: syslog, protocol: sctp }
outputs:
  - { type: file, path: ./out, prot: 1 }
  - { type: stdout, retry: { maxInterval: soon } }
  - type: file
    path: \${SQUALL_CHECK_UNSET_DIR}/out
`,
    )
    const r = squall(['check', path])
    expect(r.stdout).toBe('')
    expect(r.status).toBe(1)
    const [head, ...problems] = r.stderr.trimEnd().split('\n')
    expect(head).toBe(`${path}: ${problems.length} problems`)
    expect(problems.map((l) => l.trim()).sort()).toEqual(
      [
        'sources[0].port: expected a value ≤ 65535, got 70000',
        'sources[1].parser.type: unknown parser "apach2"; did you mean "apache2"?',
        'sources[2].type: unknown input "forwrd"; did you mean "forward"?',
        'sources[3].protocol: expected one of "udp", "tcp", got "sctp"; did you mean "tcp"?',
        'outputs[0].prot: unknown option (options: path, timezone, maxFileSize, format, exactlyOnce)',
        'outputs[1].retry.maxInterval: expected a duration like "30s", "5m" or a number of milliseconds, got "soon"',
        'outputs[2].path: environment variable SQUALL_CHECK_UNSET_DIR is not set; set it or write ${SQUALL_CHECK_UNSET_DIR:-default}',
      ].sort(),
    )
  })

  it('an updating query routed to a file output exits 1 with the problem at queries[i], naming the output and the fix', () => {
    const path = join(dir, 'updating.yaml')
    writeFileSync(
      path,
      `name: web
sources:
  - { name: access, type: tail, path: ./logs/access.log, tag: web.access, parser: { type: apache2 } }
queries:
  - { name: top_pages, sql: "SELECT path, COUNT(*) AS hits FROM access GROUP BY path" }
outputs:
  - { type: stdout, match: "query.**" }
  - { type: file, match: "query.top_pages", path: ./out.log }
`,
    )
    const r = squall(['check', path])
    expect(r.stdout).toBe('')
    expect(r.status).toBe(1)
    const [head, ...problems] = r.stderr.trimEnd().split('\n')
    expect(head).toBe(`${path}: 1 problem`)
    expect(problems.map((l) => l.trim())).toEqual([
      'queries[0]: query "top_pages" has updating results: a GROUP BY without a window (node top_pages.group-aggregate-1) updates rows it emitted earlier (changelog), but outputs[1] (file) matches its tag "query.top_pages" and takes only inserts, so retracted and replaced rows (-U, -D) would stay there as if they were still true; window the query (TUMBLE, HOP, CUMULATE or SESSION) so every row is final, or route "query.top_pages" only to outputs that take a changelog (stdout, http, nats, or redis with mode publish, xadd or lpush)',
    ])
  })

  it('without a file it is a usage error (exit 2); an unreadable file is a problem (exit 1)', () => {
    const none = squall(['check'])
    expect(none.status).toBe(2)
    expect(none.stderr).toMatch(/ERR_CLI_USAGE: missing <pipeline\.yaml>/)
    const missing = squall(['check', join(dir, 'nowhere.yaml')])
    expect(missing.status).toBe(1)
    expect(missing.stderr).toContain(`cannot read pipeline file "${join(dir, 'nowhere.yaml')}"`)
  })
})

describe('squall describe', () => {
  it('describe input tail prints the summary, every option of the schema with its type and default, and an example', () => {
    const r = squall(['describe', 'input', 'tail'])
    expect(r.status).toBe(0)
    const out = r.stdout
    expect(out.split('\n')[0]).toMatch(/^input tail — Follows files/)
    expect(out).toContain('  path  (string or list of string; required)')
    expect(out).toContain('  readFromHead  (boolean; default false)')
    expect(out).toContain('  pollInterval  (duration; default "250ms")')
    expect(out).toContain('  maxLineSize  (size; default "4MiB")')
    for (const option of describeOptions(TailInputConfig)) {
      expect(out).toContain(`  ${option.name}  (`)
      expect(out).toContain(`      ${option.description}`)
    }
    expect(out).toMatch(/Example:\n {2}sources:\n {4}- name: access\n {6}type: tail/)
  })

  it('describe alone lists every kind and plugin; describe input lists the inputs; a misspelt type is a usage error with a suggestion', () => {
    const all = squall(['describe'])
    expect(all.status).toBe(0)
    for (const heading of ['inputs:', 'outputs:', 'parsers:', 'formatters:'])
      expect(all.stdout.split('\n')).toContain(heading)
    for (const type of ['tail', 'forward', 'http', 'syslog', 'apache2', 'ltsv', 'msgpack'])
      expect(all.stdout).toMatch(new RegExp(`^ {2}${type} +\\S`, 'm'))
    const inputs = squall(['describe', 'inputs'])
    expect(inputs.status).toBe(0)
    expect(inputs.stdout.split('\n').map((l) => l.split(' ')[0])).toEqual(
      expect.arrayContaining(['file', 'forward', 'generator', 'http', 'nats', 'stdin', 'syslog', 'tail']),
    )
    expect(inputs.stdout).not.toMatch(/^apache2 /m)
    const typo = squall(['describe', 'input', 'tial'])
    expect(typo.status).toBe(2)
    expect(typo.stderr).toContain('unknown input "tial"; did you mean "tail"?')
    const kind = squall(['describe', 'widgets'])
    expect(kind.status).toBe(2)
    expect(kind.stderr).toContain('unknown kind "widgets"')
  })
})

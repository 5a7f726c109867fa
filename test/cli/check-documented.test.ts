// `squall check` as a process on pipelines as the documentation writes them: every YAML block of
// docs/pipelines.md, and a whole pipeline in flow style (`${…}` unquoted inside `{ … }`,
// `format: json`); and how it reports a file that is not valid YAML.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const BIN = join(import.meta.dirname, '../../bin/squall.js')
const DOC = join(import.meta.dirname, '../../docs/pipelines.md')

/** The variables the documented pipelines use; anything else of the environment is left out. */
const ENV = { SQUALL_TOKEN: 's3cret, with: {yaml} in it', FLUENT_KEY: 'k' }

function check(path: string, env: { [k: string]: string } = ENV) {
  return spawnSync(process.execPath, [BIN, 'check', path], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
  })
}

/** The fenced YAML blocks of a Markdown text, as written. */
function yamlBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map((m) => m[1]!)
}

// The pipeline shown for `squall run pipeline.yaml`, with a real query where it shows "SELECT ...".
const SPEC_PIPELINE = `name: web
state: { dir: ./state, checkpointInterval: 5s }
server: { port: 8080, token: \${SQUALL_TOKEN} }      # the job's HTTP API
sources:
  - { name: access, type: tail, path: ./logs/access.log, tag: web.access,
      parser: { type: apache2 }, eventTime: { field: time, maxOutOfOrderness: 10s } }
queries:                                             # continuous SQL
  - { name: top_pages, sql: "SELECT path, COUNT(*) AS hits FROM access GROUP BY path" }
outputs:
  - { type: file, match: "web.**", path: ./out, format: json }
`

let dir = ''
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'squall-check-docs-'))
  // The operators module docs/pipelines.md names, in a directory that is not an ESM package.
  writeFileSync(
    join(dir, 'custom.ts'),
    `export default (streams: { [name: string]: { filter(fn: (v: unknown) => boolean, o: { name: string }): unknown } }) =>
  streams.access!.filter((v) => v !== null, { name: 'non-null' })
`,
  )
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('squall check on the documented pipelines', () => {
  it('docs/pipelines.md: every YAML block checks with exit 0 (a fragment with a stdout output added)', () => {
    const blocks = yamlBlocks(readFileSync(DOC, 'utf8'))
    expect(blocks.length).toBeGreaterThanOrEqual(2)
    // The unquoted reference inside a flow mapping, as the documentation writes it.
    expect(blocks[0]).toContain('server: { port: 8080, token: ${SQUALL_TOKEN} }')
    blocks.forEach((block, i) => {
      const path = join(dir, `doc-${i}.yaml`)
      const complete = block.includes('\nsources:') || block.startsWith('sources:')
      writeFileSync(
        path,
        `${block}${complete ? '' : 'sources: [{ type: stdin }]\n'}${/^outputs:/m.test(block) ? '' : 'outputs: [{ type: stdout }]\n'}`,
      )
      const r = check(path)
      expect(r.stderr, `block ${i}`).toBe('')
      expect(r.status, `block ${i}`).toBe(0)
      expect(r.stdout.split('\n')[0]).toMatch(/: ok — job "/)
    })
    // The first block's operators module was loaded and applied: its node reads the access source.
    const first = check(join(dir, 'doc-0.yaml'))
    expect(first.stdout).toContain('operator non-null ← access (forward)')
    expect(first.stdout).toMatch(/^operator top_pages\.results/m)
  })

  it('the pipeline with server, tail, a query and `format: json` checks with exit 0', () => {
    const path = join(dir, 'spec.yaml')
    writeFileSync(path, SPEC_PIPELINE)
    const r = check(path)
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(r.stdout.trimEnd().split('\n')).toEqual([
      `${path}: ok — job "web"`,
      'source   access',
      'operator top_pages.table-access-1 ← access (forward)',
      'operator top_pages.group-aggregate-1 ← top_pages.table-access-1 (key)',
      'operator top_pages.project-1 ← top_pages.group-aggregate-1 (forward)',
      'operator top_pages.results ← top_pages.project-1 (forward)',
      'sink     file ← access (forward), top_pages.results (forward)',
    ])
  })

  it('an unset variable inside a flow mapping is a problem at its path (exit 1)', () => {
    const path = join(dir, 'unset.yaml')
    writeFileSync(path, SPEC_PIPELINE)
    const r = check(path, {})
    expect(r.status).toBe(1)
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      `${path}: 1 problem`,
      '  server.token: environment variable SQUALL_TOKEN is not set; set it or write ${SQUALL_TOKEN:-default}',
    ])
  })

  it('a YAML syntax error is one problem naming file:line:column, counted where the user wrote it', () => {
    const path = join(dir, 'broken.yaml')
    const text = `name: web
server: { port: 8080, token: \${SQUALL_TOKEN} }
sources:
  - { name: access, type: tail, path: \${SQUALL_TOKEN}/a.log, tag: [web.access }
outputs:
  - { type: stdout }
`
    writeFileSync(path, text)
    const r = check(path)
    expect(r.status).toBe(1)
    // The `}` where the unclosed `[` should have ended, columns counted over the references.
    const column = text.split('\n')[3]!.indexOf(' }') + 2
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      `${path}: 1 problem`,
      `  ${path}:4:${column}: Flow sequence in block collection must be sufficiently indented and end with a ] (and 1 more YAML error after it, often caused by it)`,
    ])
  })
})

import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/core/errors.ts'
import { substituteEnv } from '../../src/pipeline/env.ts'
import { loadPipeline } from '../../src/pipeline/load.ts'
import { registerQueryPlanner } from '../../src/pipeline/queries.ts'
import { describeText } from '../../src/cli/describe.ts'
import { plugins } from '../../src/plugins/builtin.ts'

function write(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'squall-load-'))
  const path = join(dir, 'pipeline.yaml')
  writeFileSync(path, yaml)
  return path
}

async function problems(yaml: string, env: { [k: string]: string } = {}): Promise<string[]> {
  try {
    await loadPipeline(write(yaml), { env, log: () => {} })
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i) => `${i.path}: ${i.message}`)
    throw e
  }
  return []
}

describe('pipeline files', () => {
  it('lower-case ${…} are record placeholders of outputs and are left as written', () => {
    const issues: { path: string; message: string }[] = []
    const out = substituteEnv(
      { key: 'page:${path}:${user.id}', subject: 'squall.${tag}.${ENV}' },
      { ENV: 'prod', path: '/x' },
      issues,
    )
    expect(out).toEqual({ key: 'page:${path}:${user.id}', subject: 'squall.${tag}.prod' })
    expect(issues).toEqual([])
  })

  it('environment variables are substituted, with defaults, keeping numbers numbers', () => {
    const issues: { path: string; message: string }[] = []
    const out = substituteEnv(
      { port: '${PORT:-24224}', key: 'k-${KEY}', lit: '$${HOME}', list: ['${MISSING}'] },
      { KEY: 'abc' },
      issues,
    )
    expect(out).toEqual({ port: 24224, key: 'k-abc', lit: '${HOME}', list: [''] })
    expect(issues).toEqual([
      {
        path: 'list[0]',
        message: 'environment variable MISSING is not set; set it or write ${MISSING:-default}',
      },
    ])
  })

  it('every problem of a file is reported together, each with its path and a suggestion', async () => {
    const found = await problems(`
name: bad
sources:
  - type: tail
    path: /var/log/x.log
    readFromHed: true
    parser: { type: apach2 }
  - type: forwrd
  - type: forward
    parser: { type: json }
queries:
  - { name: q, sql: "SELECT 1" }
outputs:
  - type: stdout
    retry: { maxInterval: soon }
  - type: http
    endpoint: \${HOOK}
`)
    expect(found).toEqual(
      expect.arrayContaining([
        'sources[0].parser.type: unknown parser "apach2"; did you mean "apache2"?',
        'sources[0].readFromHed: unknown option; did you mean "readFromHead"?',
        'sources[1].type: unknown input "forwrd"; did you mean "forward"?',
        expect.stringMatching(/^sources\[2\]\.parser: the forward input produces records/),
        expect.stringMatching(/^outputs\[0\]\.retry\.maxInterval: expected a duration like "30s".*"soon"/),
        'outputs[1].endpoint: environment variable HOOK is not set; set it or write ${HOOK:-default}',
      ]),
    )
  })

  it('a valid file builds a topology with one sink per output reading every source', async () => {
    const built = await loadPipeline(
      write(`
name: ok
state: { dir: ./state, checkpointInterval: 2s }
sources:
  - { name: a, type: generator, shape: counter, count: 3, tag: x }
  - { name: b, type: stdin, tag: y }
outputs:
  - { type: stdout, match: "x" }
  - { name: errors, type: stdout, match: "y.**" }
`),
      { log: () => {} },
    )
    expect(built.topology.describe().split('\n')).toEqual([
      'source   a',
      'source   b',
      'sink     stdout ← a (forward), b (forward)',
      'sink     errors ← a (forward), b (forward)',
    ])
    expect(built.state?.checkpointInterval).toBe(2000)
    expect(built.state?.dir.endsWith('/state')).toBe(true)
  })

  it('queries go through the registered planner', async () => {
    const seen: string[] = []
    registerQueryPlanner((q) => {
      seen.push(`${q.name}: ${q.sql}`)
      return undefined
    })
    try {
      const found = await problems(`
sources: [{ type: generator, shape: counter, count: 1 }]
queries: [{ name: top, sql: "SELECT count(*) FROM generator" }]
outputs: [{ type: stdout }]
`)
      expect(found).toEqual([])
      expect(seen).toEqual(['top: SELECT count(*) FROM generator'])
    } finally {
      registerQueryPlanner(undefined)
    }
  })

  it('squall describe lists every plugin kind and the options of one plugin', () => {
    const all = describeText(plugins)
    for (const t of ['tail', 'forward', 'http', 'syslog', 'nats', 'apache2', 'ltsv']) expect(all).toContain(t)
    const tail = describeText(plugins, 'input', 'tail')
    expect(tail).toContain('rotateWait  (duration; default "5s")')
    expect(() => describeText(plugins, 'input', 'tial')).toThrow('did you mean "tail"?')
  })
})

// Reading pipeline files: `${…}` references wherever YAML allows a value (flow mappings included),
// YAML syntax errors with their line and column, every independent problem reported in one pass,
// and the type-only shorthand of parsers and formatters.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/core/errors.ts'
import { loadPipeline, parsePipeline } from '../../src/pipeline/load.ts'
import { runToEnd } from '../../src/runtime/embedded/runner.ts'

function write(files: { [name: string]: string }): string {
  const dir = mkdtempSync(join(tmpdir(), 'squall-parse-'))
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  return dir
}

async function problems(yaml: string, env: { [k: string]: string } = {}): Promise<string[]> {
  const dir = write({ 'pipeline.yaml': yaml })
  try {
    await loadPipeline(join(dir, 'pipeline.yaml'), { env, log: () => {} })
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i) => `${i.path}: ${i.message}`)
    throw e
  }
  return []
}

function syntaxError(text: string): string[] {
  try {
    parsePipeline(text, 'p.yaml', {})
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i) => `${i.path}|${i.message}`)
    throw e
  }
  throw new Error('expected a syntax error')
}

describe('pipeline files: environment variables', () => {
  it('unquoted ${…} in flow mappings and sequences are values, substituted after the YAML is read', () => {
    const { file, issues } = parsePipeline(
      `name: web
server: { port: \${PORT:-8080}, token: \${SQUALL_TOKEN}, bind: "\${BIND:-127.0.0.1}" }
sources: [{ type: stdin, tag: \${TAG} }]
outputs:
  - { type: stdout, match: \${MATCH:-web.**}, labels: [\${A:-x, y}, $\${LIT}, \${tag}, k-\${TAG}] }
`,
      'p.yaml',
      { SQUALL_TOKEN: 't0k', TAG: 'web.access' },
    )
    expect(issues).toEqual([])
    expect(file.server).toEqual({ port: 8080, token: 't0k', bind: '127.0.0.1' })
    expect(file.sources[0]?.tag).toBe('web.access')
    expect(file.outputs[0]?.match).toBe('web.**')
    // A default may hold a comma; `$${` is a literal `${`; lower-case names are record placeholders.
    expect(file.outputs[0]?.labels).toEqual(['x, y', '${LIT}', '${tag}', 'k-web.access'])
  })

  it('a value is never read as YAML: braces, commas and colons in it stay part of the string', () => {
    const token = 'x }, admin: true, y: { #'
    const { file, issues } = parsePipeline(
      'server: { port: 1, token: ${T} }\nsources: [{ type: stdin }]\noutputs: [{ type: stdout }]\n',
      'p.yaml',
      { T: token },
    )
    expect(issues).toEqual([])
    expect(file.server).toEqual({ port: 1, token })
  })

  it('an unset variable without a default is a problem at the path where it is used', () => {
    const { issues } = parsePipeline(
      'server: { port: ${PORT:-1}, token: ${NOPE} }\nsources: [{ type: stdin }]\noutputs: [{ type: stdout }]\n',
      'p.yaml',
      {},
    )
    expect(issues).toEqual([
      {
        path: 'server.token',
        message: 'environment variable NOPE is not set; set it or write ${NOPE:-default}',
      },
    ])
  })

  it('text that already holds a private-use character is read as written', () => {
    const { file, issues } = parsePipeline(
      'sources: [{ type: stdin, tag: "\uE000.${X}" }]\noutputs:\n  - type: stdout\n    match: ${X}\n',
      'p.yaml',
      { X: 'web' },
    )
    expect(issues).toEqual([])
    expect(file.sources[0]?.tag).toBe('\uE000.web')
    expect(file.outputs[0]?.match).toBe('web')
  })
})

describe('pipeline files: YAML syntax errors', () => {
  it('name the file, line and column and what is wrong, once', () => {
    expect(
      syntaxError('name: web\nsources: [{ type: stdin }]\noutputs: [{ type: stdout }]\nbad: "x\n'),
    ).toEqual(['|p.yaml:5:1: Missing closing "quote'])
    expect(
      syntaxError('name: web\nsources: [{ type: stdin }]\noutputs:\n  - type: stdout\n  type: file\n'),
    ).toEqual(['|p.yaml:5:1: All mapping items must start at the same column'])
  })

  it('count columns as written, also after a reference on the same line, and count the errors that follow', () => {
    const line = '  - { type: stdin, tag: ${TAG:-a}, path: ${P}, x: [1 }'
    expect(syntaxError(`name: web\nsources:\n${line}\noutputs: [{ type: stdout }]\n`)).toEqual([
      `|p.yaml:3:${line.indexOf(' }') + 2}: Flow sequence in block collection must be sufficiently indented and end with a ] (and 1 more YAML error after it, often caused by it)`,
    ])
  })
})

describe('pipeline files: every independent problem in one pass', () => {
  it("an output whose own keys are invalid still has its plugin's options checked", async () => {
    const found = await problems(`
sources: [{ type: stdin }]
outputs:
  - { type: http, retry: { maxInterval: soon }, buffer: { type: disk }, timeot: 5s }
`)
    expect(found.sort()).toEqual(
      [
        'outputs[0].retry.maxInterval: expected a duration like "30s", "5m" or a number of milliseconds, got "soon"',
        'outputs[0].buffer.type: expected one of "memory", "file", got "disk"',
        'outputs[0].endpoint: is required (string)',
        'outputs[0].timeot: unknown option; did you mean "timeout"?',
      ].sort(),
    )
  })

  it("a source whose own keys are invalid still has its plugin's and parser's options checked", async () => {
    const found = await problems(`
sources:
  - type: tail
    path: ./a.log
    eventTime: { maxOutOfOrderness: later }
    readFromHed: true
    parser: { type: regexp }
outputs: [{ type: stdout }]
`)
    expect(found.sort()).toEqual(
      [
        'sources[0].eventTime.maxOutOfOrderness: expected a duration like "30s", "5m" or a number of milliseconds, got "later"',
        'sources[0].readFromHed: unknown option; did you mean "readFromHead"?',
        'sources[0].parser.expression: is required (string)',
      ].sort(),
    )
  })

  it('queries are checked despite problems elsewhere; a query problem that follows from a broken source is left out', async () => {
    const found = await problems(`
server: { port: nope }
sources:
  - { name: access, type: tail, path: ./a.log, parser: apache2, readFromHed: true }
  - { name: other, type: tail, path: ./b.log, parser: { type: apach2 } }
  - { name: third, type: forwrd }
queries:
  - { name: top, sql: "SELECT path, COUNT(*) AS hits FROM acces GROUP BY path" }
  - { name: broken, sql: "SELECT x FROM other" }
  - { name: unknown, sql: "SELECT x FROM third" }
  - { name: fine, sql: "SELECT path FROM access WHERE code >= 500" }
outputs: [{ type: stdout }]
`)
    expect(found.sort()).toEqual(
      [
        'server.port: expected number, got "nope"',
        'sources[0].readFromHed: unknown option; did you mean "readFromHead"?',
        'sources[1].parser.type: unknown parser "apach2"; did you mean "apache2"?',
        'sources[2].type: unknown input "forwrd"; did you mean "forward"?',
        'queries[0]: unknown table "acces"; did you mean "access"?',
      ].sort(),
    )
  })

  it('a query reading a source whose columns are unknown is still a problem when that source is sound', async () => {
    const found = await problems(`
sources: [{ name: raw, type: stdin, tag: x }, { name: bad, type: stdin, nope: 1 }]
queries: [{ name: q, sql: "SELECT a FROM raw" }]
outputs: [{ type: stdout }]
`)
    expect(found).toEqual([
      expect.stringMatching(/^sources\[1\]\.nope: unknown option/),
      expect.stringMatching(
        /^queries\[0\]: table "raw": the columns of its records are unknown.*sources\[0\]\.columns/,
      ),
    ])
  })
})

describe('pipeline files: parser and formatter by type alone', () => {
  it('`parser: json` and `format: ltsv` read as `{ type: … }`, and the job writes LTSV', async () => {
    const dir = write({
      'in.log': '{"user":"ann","n":1}\n{"user":"bob","n":2}\n',
      'pipeline.yaml': `
name: shorthand
sources: [{ type: file, path: ./in.log, parser: json, tag: t }]
outputs:
  - { type: file, path: ./out.log, format: ltsv }
  - { type: stdout, match: nothing, format: single_value }
`,
    })
    const built = await loadPipeline(join(dir, 'pipeline.yaml'), { env: {}, log: () => {} })
    await runToEnd(built.topology, { log: () => {} })
    expect(readFileSync(join(dir, 'out.log'), 'utf8')).toBe('user:ann\tn:1\nuser:bob\tn:2\n')
  })

  it('a misspelt formatter type or an option the formatter does not take is a problem at its path', async () => {
    const found = await problems(`
sources: [{ type: stdin, parser: apach2 }]
outputs:
  - { type: file, path: ./out, format: ltsvv }
  - { type: stdout, format: { type: ltsv, delimitr: "," } }
  - { type: stdout, format: 5 }
`)
    expect(found.sort()).toEqual(
      [
        'sources[0].parser.type: unknown parser "apach2"; did you mean "apache2"?',
        'outputs[0].format.type: expected one of "json", "ltsv", "csv", "msgpack", "single_value", got "ltsvv"; did you mean "ltsv"?',
        'outputs[1].format.delimitr: unknown option; did you mean "delimiter"?',
        'outputs[2].format: expected object, got 5',
      ].sort(),
    )
  })
})

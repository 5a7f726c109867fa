// A parser set on a source whose config reads something other than text lines (file and stdin with
// `format: jsonl`, nats with `format: json`, a generator of records) is a config error at load,
// at `sources[i].parser`; a parser that does apply loads.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/core/errors.ts'
import { loadPipeline } from '../../src/pipeline/load.ts'

function write(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'squall-parser-conflict-'))
  const path = join(dir, 'pipeline.yaml')
  writeFileSync(path, yaml)
  return path
}

async function problems(yaml: string): Promise<string[]> {
  try {
    await loadPipeline(write(yaml), { log: () => {} })
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i) => `${i.path}: ${i.message}`)
    throw e
  }
  return []
}

const JSONL =
  'the parser applies to lines; with format "jsonl" each line is parsed as JSON — use format "lines" with this parser, or drop the parser'

describe('a parser that cannot apply', () => {
  it('is reported at sources[i].parser for file and stdin with format jsonl, nats with format json and generators of records, all together', async () => {
    const found = await problems(`
name: conflicts
sources:
  - { name: f, type: file, path: ./in.jsonl, format: jsonl, parser: { type: regexp, expression: '/^(?<a>.*)$/' } }
  - { name: s, type: stdin, format: jsonl, parser: json }
  - { name: n, type: nats, subject: in, format: json, parser: { type: ltsv } }
  - { name: g, type: generator, shape: counter, count: 1, parser: json }
  - { name: r, type: generator, record: { a: 1 }, count: 1, parser: json }
outputs:
  - { type: stdout }
`)
    expect(found).toEqual([
      `sources[0].parser: ${JSONL}`,
      `sources[1].parser: ${JSONL}`,
      'sources[2].parser: the parser applies to each message as text; with format "json" each message is parsed as JSON — use format "text" (or leave it out) with this parser, or drop the parser',
      'sources[3].parser: the parser applies to lines; shape "counter" makes records, not lines — use a text shape (access-log-line) or a string `record` with this parser, or drop the parser',
      'sources[4].parser: the parser applies to lines; `record` is not a string — give a string `record` with this parser, or drop the parser',
    ])
  })

  it('is reported next to the problems of the parser config itself', async () => {
    const found = await problems(`
sources:
  - { type: file, path: ./in.jsonl, format: jsonl, parser: { type: apach2 } }
outputs:
  - { type: stdout }
`)
    expect(found).toEqual([
      'sources[0].parser.type: unknown parser "apach2"; did you mean "apache2"?',
      `sources[0].parser: ${JSONL}`,
    ])
  })
})

describe('a parser that applies', () => {
  it('loads with format lines, the default formats, nats format text, text shapes and string records', async () => {
    const found = await problems(`
sources:
  - { name: f, type: file, path: ./in.log, format: lines, parser: json }
  - { name: fj, type: file, path: ./in.jsonl, format: jsonl }
  - { name: s, type: stdin, parser: json }
  - { name: n, type: nats, subject: in, parser: json }
  - { name: nt, type: nats, subject: in, format: text, parser: json }
  - { name: nj, type: nats, subject: in, format: json }
  - { name: y, type: syslog, port: 0, bind: 127.0.0.1 }
  - { name: g, type: generator, shape: access-log-line, count: 1, parser: apache2 }
  - { name: r, type: generator, record: '{"a":1}', count: 1, parser: json }
  - { name: c, type: generator, shape: counter, count: 1 }
outputs:
  - { type: stdout }
`)
    expect(found).toEqual([])
  })
})

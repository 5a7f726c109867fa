// `squall check` and `squall run` as processes on a file source that sets both `format: jsonl` and
// a parser: a config error at its path, and nothing read or written; with `format: lines` the
// same parser reads every line.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const BIN = join(import.meta.dirname, '../../bin/squall.js')

function squall(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 })
}

const MESSAGE =
  'sources[0].parser: the parser applies to lines; with format "jsonl" each line is parsed as JSON — use format "lines" with this parser, or drop the parser'

/** A pipeline reading ./in.log with a regexp parser, read as `format`, into the file ./out. */
const pipeline = (format: string) => `name: kv
sources:
  - name: logs
    type: file
    path: ./in.log
    format: ${format}
    parser: { type: regexp, expression: '/^(?<k>[a-z]+)=(?<v>[0-9]+)$/' }
outputs:
  - { type: file, path: ./out }
`

let dir = ''
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'squall-parser-conflict-cli-'))
  writeFileSync(join(dir, 'in.log'), 'a=1\nb=2\n')
  writeFileSync(join(dir, 'jsonl.yaml'), pipeline('jsonl'))
  writeFileSync(join(dir, 'lines.yaml'), pipeline('lines'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('a parser with format jsonl', () => {
  it('squall check exits 1 and names the parser of the source, with the fix', () => {
    const path = join(dir, 'jsonl.yaml')
    const r = squall(['check', path])
    expect(r.stdout).toBe('')
    expect(r.status).toBe(1)
    expect(r.stderr.trimEnd().split('\n')).toEqual([`${path}: 1 problem`, `  ${MESSAGE}`])
  })

  it('squall run refuses to start with the same error and writes no output', () => {
    const r = squall(['run', join(dir, 'jsonl.yaml')])
    expect(r.status).toBe(1)
    expect(r.stderr).toContain(`ERR_CONFIG: ${MESSAGE}`)
    expect(existsSync(join(dir, 'out'))).toBe(false)
  })

  it('with format lines the same parser reads every line', () => {
    const path = join(dir, 'lines.yaml')
    expect(squall(['check', path]).status).toBe(0)
    const r = squall(['run', path])
    expect(r.status).toBe(0)
    const out = readFileSync(join(dir, 'out'), 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(out).toEqual([
      { k: 'a', v: '1' },
      { k: 'b', v: '2' },
    ])
  })
})

// Lines of a JSON-lines file that are not JSON go to the source's error policy: `fail` (the default)
// stops the job naming the file and line; `skip` logs each with file:line and counts it exactly.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { Topology, collect, file, memoryLogger, runToEnd } from '../../../src/index.ts'

const root = mkdtempSync(join(tmpdir(), 'squall-file-bad-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

/** Writes `lines` (joined by newlines) and returns the path and each line's byte offset. */
function jsonl(name: string, lines: string[]): { path: string; offsets: number[] } {
  const path = join(root, name)
  const text = `${lines.join('\n')}\n`
  writeFileSync(path, text)
  const offsets: number[] = []
  let at = 0
  for (const l of lines) {
    offsets.push(at)
    at += Buffer.byteLength(l) + 1
  }
  return { path, offsets }
}

function topology(path: string, onError?: 'skip') {
  const out = collect<{ n: number }>()
  const t = new Topology('bad-lines')
  t.source('src', file({ path, format: 'jsonl' }), onError ? { onError } : {}).sink(out, { name: 'out' })
  return { t, out }
}

const SMALL = [
  '{"n":1}',
  'oops',
  '{"n":2}',
  '',
  '{"n":3',
  '{"n":4}',
  '{"n":5}',
  '{"n":6}',
  'null,',
  '{"n":7}',
]

describe('file source: lines that are not JSON', () => {
  it('under the default fail policy fail the job with an error naming the file and the line', async () => {
    const { path, offsets } = jsonl('fail.jsonl', SMALL)
    const { t } = topology(path)
    const error = await runToEnd(t, { log: memoryLogger() }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toMatchObject({
      code: 'ERR_OPERATOR_FAILED',
      message: expect.stringContaining(`${path}: line 2 (byte ${offsets[1]}) is not valid JSON`),
      cause: { code: 'ERR_BAD_RECORD', where: { node: 'src', file: path, line: 2 } },
    })
    expect((error as Error).message).toMatch(/^node "src" \(task 0\) failed on a record/)
  })

  it('under skip are logged with file and line, counted exactly, and the job finishes with the rest', async () => {
    // Lines 2, 5 and 9 are bad; the empty line 4 is no record and no error.
    const { path, offsets } = jsonl('skip.jsonl', SMALL)
    const { t, out } = topology(path, 'skip')
    const log = memoryLogger()
    const result = await runToEnd(t, { log })
    expect(result.status).toBe('finished')
    expect(out.values).toEqual([1, 2, 4, 5, 6, 7].map((n) => ({ n })))
    expect(result.metrics.src!.skipped).toBe(3)
    const warnings = log.entries.filter((e) => e.message.startsWith('node "src" skipped a record'))
    expect(warnings.map((w) => w.fields)).toEqual(
      [2, 5, 9].map((line, i) => expect.objectContaining({ node: 'src', file: path, line, skipped: i + 1 })),
    )
    expect(warnings.map((w) => w.message)).toEqual(
      [2, 5, 9].map((line) =>
        expect.stringContaining(`${path}: line ${line} (byte ${offsets[line - 1]}) is not valid JSON`),
      ),
    )
  })

  it('under skip at parallelism 3, over many small splits, each bad line is logged once with its line in the file', async () => {
    // Empty lines and multi-byte characters keep line numbers and byte offsets from lining up.
    const lines: string[] = []
    const bad: number[] = []
    for (let i = 0; i < 3000; i++) {
      if (i % 350 === 175 || i === 2999) {
        bad.push(i)
        lines.push(`{"n":${i},`)
      } else if (i % 7 === 3) lines.push('')
      else lines.push(JSON.stringify({ n: i, s: 'é'.repeat(i % 5) }))
    }
    const { path, offsets } = jsonl('split.jsonl', lines)
    // The expected numbers come from the file as written: one more than the newlines before it.
    const text = readFileSync(path)
    const lineAt = (offset: number) => {
      let n = 1
      for (let i = text.indexOf(0x0a); i >= 0 && i < offset; i = text.indexOf(0x0a, i + 1)) n++
      return n
    }
    const expected = bad.map((i) => ({ line: lineAt(offsets[i]!), byte: offsets[i]! }))
    expect(expected.map((e) => e.line)).toEqual(bad.map((i) => i + 1))
    const out = collect<{ n: number }>()
    const t = new Topology('bad-lines-split')
    t.source('src', file({ path, format: 'jsonl', splitBytes: 4096, chunkBytes: 1000 }), {
      onError: 'skip',
    }).sink(out, { name: 'out' })
    const log = memoryLogger()
    const result = await runToEnd(t, { log, parallelism: 3 })
    expect(result.metrics.src!.skipped).toBe(bad.length)
    expect(out.values.map((v) => v.n).sort((a, b) => a - b)).toEqual(
      [...lines.keys()].filter((i) => !bad.includes(i) && lines[i] !== ''),
    )
    const warnings = log.entries.filter((e) => e.message.startsWith('node "src" skipped a record'))
    expect(warnings).toHaveLength(bad.length)
    for (const { line, byte } of expected) {
      const hits = warnings.filter((w) =>
        w.message.includes(`${path}: line ${line} (byte ${byte}) is not valid JSON`),
      )
      expect(hits).toHaveLength(1)
      expect(hits[0]!.fields).toMatchObject({ node: 'src', file: path, line })
    }
  })
})

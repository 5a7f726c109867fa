import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'

const BIN = join(import.meta.dirname, '../../bin/squall.js')
const dir = mkdtempSync(join(tmpdir(), 'squall-sql-'))
const logs = join(dir, 'logs.jsonl')
writeFileSync(
  logs,
  [
    { url: '/a', bytes: 10, ts: '2024-01-01 00:00:01' },
    { url: '/b', bytes: 20, ts: '2024-01-01 00:00:03' },
    { url: '/a', bytes: 5, ts: '2024-01-01 00:01:05' },
  ]
    .map((r) => JSON.stringify(r))
    .join('\n'),
)

function squall(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 })
  const lines = r.stdout.split('\n').filter((l) => l !== '')
  return {
    code: r.status,
    get rows() {
      return lines.map((l) => JSON.parse(l) as object)
    },
    stdout: r.stdout,
    stderr: r.stderr,
  }
}

describe('squall sql and squall explain', () => {
  test('squall sql prints the final table of an updating query, and warns about its state on stderr', () => {
    const r = squall(
      'sql',
      'SELECT url, COUNT(*) AS n, SUM(bytes) AS b FROM logs GROUP BY url',
      '--source',
      `logs=${logs}`,
    )
    expect(r.code).toBe(0)
    expect(r.rows).toEqual(
      expect.arrayContaining([
        { url: '/a', n: 2, b: 15 },
        { url: '/b', n: 1, b: 20 },
      ]),
    )
    expect(r.rows).toHaveLength(2)
    expect(r.stderr).toMatch(/warning: GROUP BY url/)
  })

  test('--emit changelog prints every change with its op', () => {
    const r = squall(
      'sql',
      'SELECT url, COUNT(*) AS n FROM logs GROUP BY url',
      '--source',
      `logs=${logs}`,
      '--emit',
      'changelog',
    )
    expect(r.rows).toEqual([
      { op: '+I', url: '/a', n: 1 },
      { op: '+I', url: '/b', n: 1 },
      { op: '-U', url: '/a', n: 1 },
      { op: '+U', url: '/a', n: 2 },
    ])
  })

  test('windows fire at the end of input because the watermark goes to +infinity', () => {
    const sql =
      "SELECT window_start, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE logs, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end"
    const r = squall(
      'sql',
      sql,
      '--source',
      `logs=${logs}`,
      '--event-time',
      'logs=ts',
      '--watermark-delay',
      '4s',
    )
    expect(r.rows).toEqual([
      { window_start: '2024-01-01 00:00:00.000', n: 2 },
      { window_start: '2024-01-01 00:01:00.000', n: 1 },
    ])
  })

  test('a syntax error shows line, column and caret on stderr and exits 1', () => {
    const r = squall('sql', 'SELECT url FROM logs WHERE', '--source', `logs=${logs}`)
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/ERR_SQL_SYNTAX: line 1, column 27/)
    expect(r.stderr).toMatch(/\^/)
  })

  test('an unknown column suggests the closest one', () => {
    const r = squall('sql', 'SELECT urll FROM logs', '--source', `logs=${logs}`)
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/unknown column "urll".*did you mean "url"/)
  })

  test('squall explain prints operators, state and whether results update', () => {
    const r = squall(
      'explain',
      'SELECT url, COUNT(*) AS n FROM logs GROUP BY url',
      '--source',
      `logs=${logs}`,
    )
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/GroupAggregate\s+group-aggregate-1\s+\[updating\]/)
    expect(r.stdout).toMatch(/state: one accumulator per group/)
    expect(r.stdout).toMatch(/updating: a changelog/)
  })
})

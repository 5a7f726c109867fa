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

const orders = join(dir, 'orders.jsonl')
writeFileSync(
  orders,
  [
    { id: 1, item: 'pen', ts: '2024-01-01 00:00:03' },
    { id: 2, item: 'ink', ts: '2024-01-01 00:00:01' },
    { id: 3, item: 'cap', ts: '2024-01-01 00:00:02' },
  ]
    .map((r) => JSON.stringify(r))
    .join('\n'),
)
const shipments = join(dir, 'shipments.jsonl')
writeFileSync(
  shipments,
  [
    { order_id: 2, ts: '2024-01-02 00:00:00' },
    { order_id: 3, ts: '2024-01-03 00:00:00' },
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

  test('ORDER BY the time attribute prints out-of-order rows in event-time order', () => {
    const r = squall(
      'sql',
      'SELECT id, item, ts FROM orders ORDER BY ts',
      '--source',
      `orders=${orders}`,
      '--event-time',
      'orders=ts',
      '--watermark-delay',
      '5s',
    )
    expect(r.code).toBe(0)
    expect(r.rows).toEqual([
      { id: 2, item: 'ink', ts: '2024-01-01 00:00:01.000' },
      { id: 3, item: 'cap', ts: '2024-01-01 00:00:02.000' },
      { id: 1, item: 'pen', ts: '2024-01-01 00:00:03.000' },
    ])
  })

  test('ORDER BY the time attribute with LIMIT prints the first rows in event-time order', () => {
    const r = squall(
      'sql',
      'SELECT id, item, ts FROM orders ORDER BY ts LIMIT 2',
      '--source',
      `orders=${orders}`,
      '--event-time',
      'orders=ts',
      '--watermark-delay',
      '5s',
    )
    expect(r.code).toBe(0)
    expect(r.rows).toEqual([
      { id: 2, item: 'ink', ts: '2024-01-01 00:00:01.000' },
      { id: 3, item: 'cap', ts: '2024-01-01 00:00:02.000' },
    ])
  })

  test('ORDER BY a column other than the time attribute with LIMIT is refused with exit code 1 and the Top-N pattern to use instead', () => {
    const r = squall('sql', 'SELECT * FROM orders ORDER BY id LIMIT 2', '--source', `orders=${orders}`)
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(
      /ERR_SQL_PLAN: ORDER BY id LIMIT 2: an unbounded stream can only be sorted by its time attribute/,
    )
    expect(r.stderr).toMatch(/ROW_NUMBER\(\) OVER/)
  })

  const JOIN = 'SELECT o.id, o.item FROM orders o JOIN shipments s ON o.id = s.order_id'

  test('a regular join runs with a warning on stderr naming the state that grows', () => {
    const r = squall('sql', JOIN, '--source', `orders=${orders}`, '--source', `shipments=${shipments}`)
    expect(r.code).toBe(0)
    expect(r.rows).toEqual(
      expect.arrayContaining([
        { id: 2, item: 'ink' },
        { id: 3, item: 'cap' },
      ]),
    )
    expect(r.rows).toHaveLength(2)
    expect(r.stderr).toMatch(
      /warning: the regular join on o\.id = s\.order_id keeps every row of both inputs for ever/,
    )
  })

  test('--strict refuses the regular join with ERR_SQL_UNBOUNDED_STATE, exit code 1 and no rows', () => {
    const r = squall(
      'sql',
      JOIN,
      '--source',
      `orders=${orders}`,
      '--source',
      `shipments=${shipments}`,
      '--strict',
    )
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(
      /ERR_SQL_UNBOUNDED_STATE: the regular join on o\.id = s\.order_id keeps every row of both inputs for ever.*refused because the query is planned with strict: true/,
    )
    expect(r.stderr).not.toMatch(/warning:/)
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

  const script = join(dir, 'two-tables.sql')
  writeFileSync(
    script,
    `CREATE TABLE big (url STRING, bytes BIGINT) WITH ('connector' = 'blackhole');
CREATE TABLE per_url (url STRING, n BIGINT, total BIGINT) WITH ('connector' = 'blackhole');
EXECUTE STATEMENT SET
BEGIN
  INSERT INTO big SELECT url, bytes FROM logs WHERE bytes >= 10;
  INSERT INTO per_url SELECT url, COUNT(*), SUM(bytes) FROM logs GROUP BY url;
END;
`,
  )

  test('a statement set of two INSERTs runs as one job and prints each row with the table it goes to', () => {
    const r = squall('sql', script, '--source', `logs=${logs}`)
    expect(r.code).toBe(0)
    const rows = r.rows as { table: string; row: object }[]
    expect(rows.filter((l) => l.table === 'big')).toEqual([
      { table: 'big', row: { url: '/a', bytes: 10 } },
      { table: 'big', row: { url: '/b', bytes: 20 } },
    ])
    expect(
      rows
        .filter((l) => l.table === 'per_url')
        .map((l) => l.row)
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    ).toEqual([
      { url: '/a', n: 2, total: 15 },
      { url: '/b', n: 1, total: 20 },
    ])
    expect(rows.map((l) => l.table)).toEqual(['big', 'big', 'per_url', 'per_url'])
  })

  test('consecutive INSERTs run as one job too; --emit changelog tags each change with its table', () => {
    const r = squall(
      'sql',
      `CREATE TABLE small (url STRING) WITH ('connector' = 'blackhole');
       CREATE TABLE hits (url STRING, n BIGINT) WITH ('connector' = 'blackhole');
       INSERT INTO small SELECT url FROM logs WHERE bytes < 10;
       INSERT INTO hits SELECT url, COUNT(*) FROM logs GROUP BY url`,
      '--source',
      `logs=${logs}`,
      '--emit',
      'changelog',
    )
    expect(r.code).toBe(0)
    expect(r.rows).toEqual([
      { table: 'small', op: '+I', row: { url: '/a' } },
      { table: 'hits', op: '+I', row: { url: '/a', n: 1 } },
      { table: 'hits', op: '+I', row: { url: '/b', n: 1 } },
      { table: 'hits', op: '-U', row: { url: '/a', n: 1 } },
      { table: 'hits', op: '+U', row: { url: '/a', n: 2 } },
    ])
  })

  test('an INSERT into an undeclared table exits 1 naming its line and column', () => {
    const r = squall(
      'sql',
      `CREATE TABLE big (url STRING) WITH ('connector' = 'blackhole');
INSERT INTO big SELECT url FROM logs;
INSERT INTO bigger SELECT url FROM logs;`,
      '--source',
      `logs=${logs}`,
    )
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/ERR_SQL_PLAN: line 3, column 13: unknown table "bigger" in INSERT INTO/)
  })

  test('squall explain prints the plan of every INSERT, the shared source once', () => {
    const r = squall('explain', script, '--source', `logs=${logs}`)
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^INSERT INTO big \(line 5\)\nSource +logs\n +table logs \(/)
    expect(r.stdout).toMatch(
      /\n\nINSERT INTO per_url \(line 6\)\nSource +logs\n +shared: described under INSERT INTO big/,
    )
    expect(r.stdout).toMatch(/Result: \(url, bytes\)\n +append-only/)
    expect(r.stdout).toMatch(/Result: \(url, n, total\)\n +updating/)
  })
})

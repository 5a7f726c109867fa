// The PostgreSQL output: each chunk is one multi-row INSERT, an upsert by a key (ON CONFLICT … DO
// UPDATE) when `key` is set, so a chunk sent again leaves the table as it was: idempotent delivery.
// A column may hold the record's idempotency key, a key for records that have no natural one.

import type pg from 'pg'
import { z } from 'zod'
import { SquallError } from '../../core/errors.ts'
import type { Record } from '../../core/record.ts'
import { duration } from '../config.ts'
import { type ChunkKeys, defineOutput } from '../define.ts'
import { fieldAt } from './template.ts'

export const PostgresOutputConfig = z.strictObject({
  connection: z
    .string()
    .default('postgres://postgres@127.0.0.1:5432/postgres')
    .describe('Connection URL `postgres://user:password@host:port/database` (libpq URL parameters allowed).'),
  table: z.string().min(1).describe('Target table, optionally with its schema (`public.page_hits`).'),
  columns: z
    .union([z.array(z.string().min(1)).min(1), z.record(z.string(), z.string().min(1))])
    .describe(
      'Columns to fill: a list of names (each read from the record field of the same name), or a map `column: field` where the field is a dotted path, `@tag` (the tag), `@time` (the event time, a timestamptz) or `@idempotencyKey` (the record\'s idempotency key, text: with that column as `key`, a record replayed after a restore updates its earlier row instead of adding one; see docs/state-and-checkpoints.md, "Idempotency keys").',
    ),
  key: z
    .array(z.string().min(1))
    .optional()
    .describe(
      'Columns of a unique index: rows are upserted on them (INSERT … ON CONFLICT (key) DO UPDATE), so a chunk sent again changes nothing. Without it, rows are only inserted (duplicates possible after a retry).',
    ),
  onConflict: z
    .enum(['update', 'nothing'])
    .default('update')
    .describe(
      'With `key`: `update` the other columns of the existing row, or do `nothing` (keep the first).',
    ),
  statementTimeout: duration('30s').describe('How long one chunk may take before it is sent again.'),
})

type Config = z.output<typeof PostgresOutputConfig>

/** One column: its name and where its value comes from. */
interface Column {
  readonly name: string
  readonly from: 'tag' | 'time' | 'idempotencyKey' | 'field'
  readonly path: readonly string[]
}

/** A double-quoted SQL identifier; a dotted table name quotes each part. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

function quoteTable(name: string): string {
  return name.split('.').map(quoteIdent).join('.')
}

function columnsOf(config: Config): Column[] {
  const entries = Array.isArray(config.columns)
    ? config.columns.map((c): [string, string] => [c, c])
    : Object.entries(config.columns)
  return entries.map(([name, field]) =>
    field === '@tag'
      ? { name, from: 'tag', path: [] }
      : field === '@time'
        ? { name, from: 'time', path: [] }
        : field === '@idempotencyKey'
          ? { name, from: 'idempotencyKey', path: [] }
          : { name, from: 'field', path: field.split('.') },
  )
}

/** PostgreSQL's limit of bind parameters in one statement. */
const MAX_PARAMS = 65535

/** The SQL of one INSERT of `rows` rows (parameters numbered row by row), with its conflict clause. */
export function insertSql(config: Config, columns: readonly Column[], rows: number): string {
  const n = columns.length
  const values: string[] = new Array(rows)
  for (let r = 0; r < rows; r++) {
    const ps: string[] = new Array(n)
    for (let c = 0; c < n; c++) ps[c] = `$${r * n + c + 1}`
    values[r] = `(${ps.join(', ')})`
  }
  let sql = `INSERT INTO ${quoteTable(config.table)} (${columns.map((c) => quoteIdent(c.name)).join(', ')}) VALUES ${values.join(', ')}`
  const key = config.key
  if (key !== undefined) {
    const others = columns.filter((c) => !key.includes(c.name))
    sql += ` ON CONFLICT (${key.map(quoteIdent).join(', ')})`
    sql +=
      config.onConflict === 'nothing' || others.length === 0
        ? ' DO NOTHING'
        : ` DO UPDATE SET ${others.map((c) => `${quoteIdent(c.name)} = EXCLUDED.${quoteIdent(c.name)}`).join(', ')}`
  }
  return sql
}

/**
 * A column value of record `i` of the chunk as a bind parameter: objects and arrays as JSON text,
 * times as Dates; the idempotency key is null when the chunk has no keys (a delivery driven by hand).
 */
function paramOf(col: Column, r: Record, i: number, keys: ChunkKeys | undefined): unknown {
  if (col.from === 'tag') return r.tag
  if (col.from === 'time') return new Date(r.time)
  if (col.from === 'idempotencyKey') return keys === undefined ? null : keys.key(i)
  const v = fieldAt(r.value, col.path)
  if (v === undefined) return null
  return v !== null && typeof v === 'object' ? JSON.stringify(v) : v
}

/**
 * The rows of a chunk. With a key, only the last record of each key is kept: one statement may not
 * update a row twice, and the last write is what sending the records one by one would leave.
 */
function rowsOf(
  config: Config,
  columns: readonly Column[],
  records: Record[],
  keys: ChunkKeys | undefined,
): unknown[][] {
  const rows: unknown[][] = new Array(records.length)
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!
    const row: unknown[] = new Array(columns.length)
    for (let c = 0; c < columns.length; c++) row[c] = paramOf(columns[c]!, r, i, keys)
    rows[i] = row
  }
  if (config.key === undefined) return rows
  const keyIdx = config.key.map((k) => columns.findIndex((c) => c.name === k))
  const byKey = new Map<string, unknown[]>()
  for (const row of rows) byKey.set(JSON.stringify(keyIdx.map((i) => row[i])), row)
  return byKey.size === rows.length ? rows : [...byKey.values()]
}

/** SQLSTATE classes worth another attempt: connection, rollback, resources, shutdown, system. */
const RETRYABLE_CLASSES = new Set(['08', '40', '53', '55', '57', '58', 'XX'])

/**
 * True when a failed chunk may succeed if sent again: network errors and SQLSTATE classes 08
 * (connection), 40 (serialization, deadlock), 53, 55, 57, 58, XX are; constraint (23), data (22)
 * and schema (42) errors are not, and those chunks go to the secondary output.
 */
export function postgresRetryable(error: unknown): boolean {
  if (error instanceof SquallError) return error.retryable
  const code = (error as { code?: unknown })?.code
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return RETRYABLE_CLASSES.has(code.slice(0, 2))
  return true
}

export default defineOutput({
  type: 'postgres',
  summary:
    'Inserts records into a PostgreSQL table, one statement per chunk; upserts by a key so redelivery is idempotent.',
  config: PostgresOutputConfig,
  example:
    'outputs:\n  - type: postgres\n    match: "stats.pages"\n    connection: postgres://squall@127.0.0.1:5432/stats\n    table: page_hits\n    columns: [path, hits]\n    key: [path]',
  create(config, ctx) {
    const columns = columnsOf(config)
    const where = `postgres output "${ctx.name}"`
    const missing = (config.key ?? []).filter((k) => !columns.some((c) => c.name === k))
    if (missing.length > 0)
      throw new SquallError(
        'ERR_ARGUMENT',
        `${ctx.path}.key: ${missing.map((k) => JSON.stringify(k)).join(', ')} must also be in columns; add it to "columns"`,
      )
    return {
      delivery: {
        kind: 'postgres',
        // Rows are inserted or upserted, never deleted: a retracted row (-D) would stay in the table.
        accepts: 'inserts',
        create: () => {
          let pool: pg.Pool | undefined
          return {
            async open() {
              // Loaded on first use: jobs without PostgreSQL do not pay for the client.
              const { default: pg } = await import('pg')
              pool = new pg.Pool({
                connectionString: config.connection,
                max: 1,
                statement_timeout: config.statementTimeout,
                connectionTimeoutMillis: config.statementTimeout,
                application_name: `squall-${ctx.name}`,
              })
              pool.on('error', () => {})
            },
            async deliver(records, keys) {
              try {
                await insert(pool!, config, columns, rowsOf(config, columns, records, keys))
              } catch (e) {
                throw refusal(e, where)
              }
            },
            retryable: postgresRetryable,
            async close() {
              await pool?.end()
            },
          }
        },
      },
    }
  },
})

function refusal(error: unknown, where: string): unknown {
  if (postgresRetryable(error)) return error
  const code = (error as { code?: unknown }).code
  const detail = (error as { detail?: unknown }).detail
  return new SquallError(
    'ERR_OUTPUT_REJECTED',
    `${where}: PostgreSQL refused the chunk${typeof code === 'string' ? ` (SQLSTATE ${code})` : ''}: ${error instanceof Error ? error.message : String(error)}${typeof detail === 'string' ? ` (${detail})` : ''}`,
    { cause: error },
  )
}

/** Runs the rows as one statement, or several in one transaction past the parameter limit. */
async function insert(
  pool: pg.Pool,
  config: Config,
  columns: readonly Column[],
  rows: unknown[][],
): Promise<void> {
  const perStatement = Math.floor(MAX_PARAMS / columns.length)
  if (rows.length <= perStatement) {
    await pool.query(insertSql(config, columns, rows.length), rows.flat())
    return
  }
  const client = await pool.connect()
  let broken: unknown
  try {
    await client.query('BEGIN')
    for (let i = 0; i < rows.length; i += perStatement) {
      const part = rows.slice(i, i + perStatement)
      await client.query(insertSql(config, columns, part.length), part.flat())
    }
    await client.query('COMMIT')
  } catch (e) {
    broken = e
    await client.query('ROLLBACK').catch(() => {})
    throw e
  } finally {
    client.release(broken instanceof Error && postgresRetryable(broken) ? broken : undefined)
  }
}

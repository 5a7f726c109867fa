// The Redis output: one command per record (SET, HSET, XADD, PUBLISH or LPUSH) on a key rendered from
// the record, a whole chunk sent as one pipeline (one round trip); connection errors are retried.

import type { ChainableCommander, Redis } from 'ioredis'
import { z } from 'zod'
import { SquallError } from '../../core/errors.ts'
import type { Record } from '../../core/record.ts'
import { duration } from '../config.ts'
import { defineOutput } from '../define.ts'
import { compileTemplate, fieldAt, type RecordTemplate, textOf } from './template.ts'

export const RedisOutputConfig = z.strictObject({
  url: z
    .string()
    .default('redis://127.0.0.1:6379')
    .describe('Server URL: `redis://[user:password@]host:port[/db]` (`rediss://` for TLS).'),
  mode: z
    .enum(['set', 'hset', 'xadd', 'publish', 'lpush'])
    .default('set')
    .describe(
      '`set`: SET key value; `hset`: HSET key with the record fields; `xadd`: XADD to the stream key with the record fields; `publish`: PUBLISH to the channel key; `lpush`: LPUSH value onto the list key.',
    ),
  key: z
    .string()
    .min(1)
    .describe(
      'Key (channel for `publish`, stream for `xadd`): a template where `${field}`, `${a.b}`, `${tag}` and `${time}` come from the record, e.g. `page:${path}`.',
    ),
  valueField: z
    .string()
    .optional()
    .describe('`set`, `publish`, `lpush`: send this field as the value instead of the whole record as JSON.'),
  ttl: duration()
    .optional()
    .describe('`set`, `hset`, `lpush`: the key expires this long after its last write (PX / PEXPIRE).'),
  maxLength: z
    .number()
    .int()
    .positive()
    .optional()
    .describe(
      '`xadd`: trim the stream to about this many entries (MAXLEN ~); `lpush`: keep this many items (LTRIM).',
    ),
  commandTimeout: duration('10s').describe(
    'How long a chunk may wait for its replies before it is sent again.',
  ),
})

type Config = z.output<typeof RedisOutputConfig>

/** Reply errors that say "not now" rather than "never": the server is loading, busy or failing over. */
const TRANSIENT_REPLY = /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|NOREPLICAS)\b/

/**
 * True when a failed chunk may succeed if sent again: connection and timeout errors are, and so
 * are the reply errors of a server that is loading or failing over; other reply errors (WRONGTYPE,
 * a bad argument) and records the key template cannot render are not.
 */
export function redisRetryable(error: unknown): boolean {
  if (error instanceof SquallError) return error.retryable
  if (isReplyError(error)) return TRANSIENT_REPLY.test(error.message)
  return true
}

function isReplyError(error: unknown): error is Error {
  return error instanceof Error && error.name === 'ReplyError'
}

/** A failed reply as the error of the chunk: reply errors named as refusals, others as they are. */
function replyFailure(error: Error, where: string): Error {
  if (!isReplyError(error)) return error
  const transient = TRANSIENT_REPLY.test(error.message)
  return new SquallError(
    transient ? 'ERR_SINK_FAILED' : 'ERR_OUTPUT_REJECTED',
    `${where}: Redis answered ${error.message}${transient ? '' : '; check the mode, the key template and the type of the existing keys'}`,
    { cause: error },
  )
}

type Fields = (string | number)[]

/** The record's fields as HSET/XADD arguments: scalars as text, nested values as JSON. */
function fieldArgs(value: unknown): Fields {
  const out: Fields = []
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    out.push('value', textOf(value))
    return out
  }
  for (const k in value as object) {
    const v = (value as { [k: string]: unknown })[k]
    if (v === undefined) continue
    out.push(k, v === null ? '' : textOf(v))
  }
  return out
}

/** Queues one command per record on `pipeline`; throws ERR_OUTPUT_REJECTED for an unrenderable record. */
function queue(
  config: Config,
  key: RecordTemplate,
  valuePath: readonly string[] | undefined,
  pipeline: ChainableCommander,
  records: Record[],
  where: string,
): void {
  const ttl = config.ttl
  const max = config.maxLength
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!
    const k = key.render(r)
    if (k === undefined)
      throw new SquallError(
        'ERR_OUTPUT_REJECTED',
        `${where}: record ${i} of the chunk (tag ${r.tag}) lacks a field of the key template ${JSON.stringify(key.source)}; give every record that field or change "key"`,
      )
    switch (config.mode) {
      case 'hset':
        pipeline.hset(k, ...fieldArgs(r.value))
        if (ttl !== undefined) pipeline.pexpire(k, ttl)
        break
      case 'xadd':
        if (max !== undefined) pipeline.xadd(k, 'MAXLEN', '~', max, '*', ...fieldArgs(r.value))
        else pipeline.xadd(k, '*', ...fieldArgs(r.value))
        break
      default: {
        let v: unknown = r.value
        if (valuePath !== undefined) v = fieldAt(v, valuePath)
        const text =
          valuePath === undefined ? JSON.stringify(v) : v === undefined || v === null ? '' : textOf(v)
        if (config.mode === 'set') {
          if (ttl !== undefined) pipeline.set(k, text, 'PX', ttl)
          else pipeline.set(k, text)
        } else if (config.mode === 'publish') pipeline.publish(k, text)
        else {
          pipeline.lpush(k, text)
          if (max !== undefined) pipeline.ltrim(k, 0, max - 1)
          if (ttl !== undefined) pipeline.pexpire(k, ttl)
        }
      }
    }
  }
}

export default defineOutput({
  type: 'redis',
  summary:
    'Writes each record to Redis (SET, HSET, XADD, PUBLISH or LPUSH on a templated key), a chunk per pipeline.',
  config: RedisOutputConfig,
  example:
    'outputs:\n  - type: redis\n    match: "stats.pages"\n    url: redis://127.0.0.1:6379/0\n    mode: hset\n    key: "page:${path}"\n    ttl: 1h',
  create(config, ctx) {
    const key = compileTemplate(config.key, `${ctx.path}.key`)
    const valuePath = config.valueField === undefined ? undefined : config.valueField.split('.')
    const where = `redis output "${ctx.name}"`
    return {
      delivery: {
        kind: 'redis',
        // PUBLISH, XADD and LPUSH of the whole record pass each change on with its op; SET and HSET
        // overwrite a key and never delete it, and a valueField drops the op.
        accepts:
          config.mode === 'xadd' ||
          ((config.mode === 'publish' || config.mode === 'lpush') && config.valueField === undefined)
            ? 'changelog'
            : 'inserts',
        create: () => {
          let client: Redis | undefined
          return {
            async open() {
              // Loaded on first use: jobs without Redis do not pay for the client.
              const { Redis } = await import('ioredis')
              client = new Redis(config.url, {
                lazyConnect: false,
                maxRetriesPerRequest: 1,
                commandTimeout: config.commandTimeout,
                connectionName: `squall-${ctx.name}`,
                retryStrategy: (times) => Math.min(2000, 50 * 2 ** Math.min(times, 6)),
              })
              client.on('error', () => {})
            },
            async deliver(records) {
              const pipeline = client!.pipeline()
              queue(config, key, valuePath, pipeline, records, where)
              const replies = await pipeline.exec()
              if (replies === null)
                throw new SquallError(
                  'ERR_SINK_FAILED',
                  `${where}: the pipeline was discarded; sending again`,
                )
              for (let i = 0; i < replies.length; i++) {
                const e = replies[i]![0]
                if (e) throw replyFailure(e, where)
              }
            },
            retryable: redisRetryable,
            async close() {
              if (client === undefined) return
              await client.quit().catch(() => client?.disconnect())
            },
          }
        },
      },
    }
  },
})

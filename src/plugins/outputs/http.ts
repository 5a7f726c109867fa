// The HTTP output (fluentd's out_http): posts chunks of records to a webhook as a JSON array or NDJSON,
// each request with an idempotency key that a replay after a restore repeats for the same records.

import { createHash } from 'node:crypto'
import { z } from 'zod'
import { SquallError } from '../../core/errors.ts'
import type { Record } from '../../core/record.ts'
import { type ChunkKeys, defineOutput } from '../define.ts'
import { duration } from '../config.ts'

export const HttpOutputConfig = z.strictObject({
  endpoint: z.url().describe('The URL records are sent to.'),
  method: z.enum(['POST', 'PUT', 'PATCH']).default('POST').describe('HTTP method.'),
  headers: z
    .record(z.string(), z.string())
    .default({})
    .describe('Extra request headers (e.g. `Authorization`).'),
  contentType: z
    .enum(['application/json', 'application/x-ndjson'])
    .default('application/json')
    .describe(
      '`application/json`: one JSON array per chunk; `application/x-ndjson`: one JSON object per line.',
    ),
  includeTag: z.boolean().default(false).describe('Add the record tag as `tag` to each object.'),
  includeTime: z.boolean().default(false).describe('Add the event time (ISO-8601) as `time` to each object.'),
  idempotencyHeader: z
    .union([z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/), z.literal(false)])
    .default('Idempotency-Key')
    .describe(
      'Header carrying the request\'s idempotency key, `false` for none. The key is `<first record\'s key>.<records>.<hash of the body>`: the same when a chunk is sent again, and when a replay after a restore sends the same records in the same chunk; different for any other body. See docs/state-and-checkpoints.md, "Idempotency keys".',
    ),
  timeout: duration('30s').describe('How long to wait for an answer.'),
  retryableResponseCodes: z
    .array(z.number().int())
    .default([408, 429, 500, 502, 503, 504])
    .describe(
      'Status codes after which the chunk is sent again; other non-2xx codes go to the secondary output.',
    ),
})

type Config = z.output<typeof HttpOutputConfig>

function bodyOf(config: Config, records: Record[]): string {
  const values = records.map((r) => {
    if (!config.includeTag && !config.includeTime) return r.value
    const base =
      r.value !== null && typeof r.value === 'object' && !Array.isArray(r.value)
        ? r.value
        : { message: r.value }
    return {
      ...base,
      ...(config.includeTag ? { tag: r.tag } : {}),
      ...(config.includeTime ? { time: new Date(r.time).toISOString() } : {}),
    }
  })
  if (config.contentType === 'application/json') return JSON.stringify(values)
  let out = ''
  for (const v of values) out += `${JSON.stringify(v)}\n`
  return out
}

/**
 * The idempotency key of one request: the key of its first record, how many records it carries,
 * and 128 bits of the body's SHA-256. The key alone names a position in the task's sequence; the
 * count and the hash make a chunk cut otherwise, or filled otherwise by a replay whose order is not
 * deterministic, a different request, sent again rather than taken for one the endpoint has.
 */
export function requestKey(keys: ChunkKeys, count: number, body: string): string {
  const hash = createHash('sha256').update(body).digest('base64url').slice(0, 22)
  return `${keys.key(0)}.${count}.${hash}`
}

/** An HTTP answer that is not 2xx; `retryable` per `retryableResponseCodes`. */
class HttpStatusError extends SquallError {
  constructor(
    readonly status: number,
    message: string,
    readonly canRetry: boolean,
  ) {
    super('ERR_SINK_FAILED', message)
  }
}

export default defineOutput({
  type: 'http',
  summary:
    'Posts chunks of records to an HTTP endpoint (webhook) as a JSON array or NDJSON, each with an Idempotency-Key header.',
  config: HttpOutputConfig,
  example:
    'outputs:\n  - type: http\n    match: "alerts.**"\n    endpoint: https://hooks.example.com/squall\n    headers: { Authorization: "Bearer ${HOOK_TOKEN}" }',
  create(config) {
    return {
      delivery: {
        kind: 'http',
        // Each record is posted whole: a change arrives with its op for the receiver to apply.
        accepts: 'changelog',
        create: () => ({
          async deliver(records, keys) {
            const body = bodyOf(config, records)
            const headers: { [name: string]: string } = {
              'content-type': config.contentType,
              ...config.headers,
            }
            if (config.idempotencyHeader !== false && keys !== undefined)
              headers[config.idempotencyHeader] = requestKey(keys, records.length, body)
            const res = await fetch(config.endpoint, {
              method: config.method,
              headers,
              body,
              signal: AbortSignal.timeout(config.timeout),
            })
            const text = await res.text().catch(() => '')
            if (res.status >= 200 && res.status < 300) return
            throw new HttpStatusError(
              res.status,
              `http output: ${config.method} ${config.endpoint} answered ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`,
              config.retryableResponseCodes.includes(res.status),
            )
          },
          retryable(error) {
            if (error instanceof HttpStatusError) return error.canRetry
            return true
          },
        }),
      },
    }
  },
})

// The NATS output: publishes each record as JSON to a subject; with `jetstream`, waits for the
// stream's acks and sets `Nats-Msg-Id`, so a chunk sent again, or a record replayed after a restore,
// is stored once (within the stream's duplicate window).

import { createHash } from 'node:crypto'
import type { NatsConnection, headers as natsHeaders } from 'nats'
import { z } from 'zod'
import type { Record } from '../../core/record.ts'
import { defineOutput } from '../define.ts'

export const NatsOutputConfig = z.strictObject({
  servers: z
    .union([z.string(), z.array(z.string())])
    .default('nats://127.0.0.1:4222')
    .describe('NATS server URLs.'),
  subject: z.string().min(1).describe('Subject to publish to; `${tag}` is replaced by the record tag.'),
  jetstream: z
    .boolean()
    .default(true)
    .describe('Publish with JetStream acks and `Nats-Msg-Id` dedup (the subject must belong to a stream).'),
  msgIdField: z
    .string()
    .optional()
    .describe(
      'Field whose value is the message id; default: a hash of the record\'s idempotency key, tag, time and value, which a replay after a restore repeats for the same record (see docs/state-and-checkpoints.md, "Idempotency keys").',
    ),
  user: z.string().optional().describe('User name.'),
  pass: z.string().optional().describe('Password.'),
  token: z.string().optional().describe('Authentication token.'),
})

type Config = z.output<typeof NatsOutputConfig>

const encoder = new TextEncoder()

/**
 * The deterministic id of a record: its `msgIdField`, or else a hash of its idempotency key `key`
 * (when the chunk has keys), tag, time and value. With the key, records that are alike but distinct
 * get distinct ids while a replayed record gets its earlier one; the content in the hash makes a
 * replay whose order is not deterministic publish a record again rather than take it for another.
 * Without a key (a delivery driven by hand), identical records share an id.
 */
export function messageId(config: Pick<Config, 'msgIdField'>, r: Record, json: string, key?: string): string {
  if (config.msgIdField !== undefined) {
    const v = (r.value as { [k: string]: unknown } | null)?.[config.msgIdField]
    if (v !== undefined && v !== null) return String(v)
  }
  const hash = createHash('sha1')
  if (key !== undefined) hash.update(key).update('\0')
  return hash.update(r.tag).update('\0').update(String(r.time)).update('\0').update(json).digest('base64url')
}

export default defineOutput({
  type: 'nats',
  summary: 'Publishes records as JSON to NATS; with JetStream, acked and deduplicated by Nats-Msg-Id.',
  config: NatsOutputConfig,
  example:
    'outputs:\n  - type: nats\n    match: "alerts.**"\n    servers: nats://127.0.0.1:4222\n    subject: squall.${tag}',
  create(config) {
    const perTag = config.subject.includes('${tag}')
    return {
      delivery: {
        kind: 'nats',
        // Each record is published whole: a change arrives with its op for the subscriber to apply.
        accepts: 'changelog',
        create: () => {
          let nc: NatsConnection | undefined
          let headers!: typeof natsHeaders
          return {
            async open() {
              // Loaded on first use: jobs without NATS do not pay for the client.
              const nats = await import('nats')
              headers = nats.headers
              nc = await nats.connect({
                servers: config.servers,
                ...(config.user === undefined ? {} : { user: config.user }),
                ...(config.pass === undefined ? {} : { pass: config.pass }),
                ...(config.token === undefined ? {} : { token: config.token }),
              })
            },
            async deliver(records, keys) {
              const conn = nc!
              if (!config.jetstream) {
                for (const r of records)
                  conn.publish(
                    perTag ? config.subject.replaceAll('${tag}', r.tag) : config.subject,
                    encoder.encode(JSON.stringify(r.value)),
                  )
                await conn.flush()
                return
              }
              const js = conn.jetstream()
              const acks: Promise<unknown>[] = new Array(records.length)
              for (let i = 0; i < records.length; i++) {
                const r = records[i]!
                const json = JSON.stringify(r.value)
                const h = headers()
                h.set('Nats-Msg-Id', messageId(config, r, json, keys?.key(i)))
                acks[i] = js.publish(
                  perTag ? config.subject.replaceAll('${tag}', r.tag) : config.subject,
                  encoder.encode(json),
                  { headers: h },
                )
              }
              await Promise.all(acks)
            },
            retryable: () => true,
            close: () => nc?.close(),
          }
        },
      },
    }
  },
})

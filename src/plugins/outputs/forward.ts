// The forward output (fluentd's out_forward): sends records to fluentd, fluent-bit or another Squall
// over the forward protocol, with acks and round-robin load balancing over several servers. Chunk
// ids derive from the records' idempotency keys, so a replay after a restore repeats them.

import { z } from 'zod'
import { ForwardClient } from '../forward/client.ts'
import type { ForwardEntry } from '../forward/protocol.ts'
import { defineOutput } from '../define.ts'
import { duration } from '../config.ts'

export const ForwardOutputConfig = z.strictObject({
  servers: z
    .array(
      z.strictObject({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(1).max(65535).default(24224),
      }),
    )
    .min(1)
    .describe(
      'Servers to send to, used round robin; a failed one is skipped until it answers again (fluentd `<server>`).',
    ),
  sharedKey: z
    .string()
    .optional()
    .describe('Authenticate with this shared key (fluentd `<security> shared_key`).'),
  selfHostname: z.string().optional().describe('Our name in the handshake; default the machine name.'),
  username: z.string().optional().describe('User name, for servers that require users.'),
  password: z.string().optional().describe('Password, for servers that require users.'),
  tls: z.boolean().default(false).describe('Connect with TLS (system CAs).'),
  requireAckResponse: z
    .boolean()
    .default(true)
    .describe(
      'Wait for the server to acknowledge each chunk (at-least-once). Each chunk then carries an id derived from its first record\'s idempotency key, its tag and its entries, which a replay after a restore repeats for the same records (see docs/state-and-checkpoints.md, "Idempotency keys").',
    ),
  ackResponseTimeout: duration('60s').describe('How long to wait for an ack before trying the next server.'),
  connectTimeout: duration('5s').describe('How long to wait for a connection and its handshake.'),
  recoverWait: duration('1s').describe('How often a failed server is tried again in the background.'),
})

export default defineOutput({
  type: 'forward',
  summary: 'Sends records over the fluentd forward protocol with acks, load-balanced over several servers.',
  config: ForwardOutputConfig,
  example:
    'outputs:\n  - type: forward\n    match: "**"\n    servers:\n      - { host: 10.0.0.5, port: 24224 }\n      - { host: 10.0.0.6, port: 24224 }',
  create(config) {
    return {
      delivery: {
        kind: 'forward',
        // fluentd stores forwarded records as events; a change's op would be just another field.
        accepts: 'inserts',
        create: () => {
          let client: ForwardClient | undefined
          return {
            open() {
              client = new ForwardClient({
                servers: config.servers,
                ...(config.sharedKey === undefined ? {} : { sharedKey: config.sharedKey }),
                ...(config.selfHostname === undefined ? {} : { selfHostname: config.selfHostname }),
                ...(config.username === undefined ? {} : { username: config.username }),
                ...(config.password === undefined ? {} : { password: config.password }),
                tls: config.tls,
                requireAck: config.requireAckResponse,
                timeout: config.ackResponseTimeout,
                connectTimeout: config.connectTimeout,
                recoverInterval: config.recoverWait,
                retries: config.servers.length - 1,
              })
            },
            async deliver(records, keys) {
              const byTag = new Map<string, ForwardEntry[]>()
              /** Per tag, the index in the chunk of its first record: its key seeds the chunk id. */
              const firsts = new Map<string, number>()
              for (let i = 0; i < records.length; i++) {
                const r = records[i]!
                const v = r.value
                const record =
                  v !== null && typeof v === 'object' && !Array.isArray(v)
                    ? (v as { [k: string]: unknown })
                    : { message: v }
                const entry: ForwardEntry = { time: r.time, nanos: (r.time % 1000) * 1e6, record }
                const list = byTag.get(r.tag)
                if (list) list.push(entry)
                else {
                  byTag.set(r.tag, [entry])
                  firsts.set(r.tag, i)
                }
              }
              await Promise.all(
                [...byTag].map(([tag, entries]) =>
                  client!.send(tag || 'squall', entries, keys?.key(firsts.get(tag)!)),
                ),
              )
            },
            close: () => client?.close(),
          }
        },
      },
    }
  },
})

// The forward input: fluentd's in_forward. Fluentd, fluent-bit and fluent-logger clients send to it;
// every accepted chunk is journaled before its ack, so an acknowledged event is never lost.

import { z } from 'zod'
import { ForwardServer } from '../forward/server.ts'
import { defineInput } from '../define.ts'
import { port } from '../config.ts'
import { journaledSource } from './journaled.ts'
import { journalDirOf, journalOptions } from './network.ts'

export const ForwardInputConfig = z.strictObject({
  port: port(24224).describe('TCP port (and UDP heartbeat port); 0 picks a free one, logged at start.'),
  bind: z.string().default('0.0.0.0').describe('Address to listen on.'),
  sharedKey: z
    .string()
    .optional()
    .describe('Require the shared-key handshake with this key (fluentd `<security> shared_key`).'),
  selfHostname: z.string().optional().describe('Our host name in the handshake; default the machine name.'),
  users: z
    .array(z.strictObject({ username: z.string(), password: z.string() }))
    .optional()
    .describe('With sharedKey: the users allowed in (fluentd `<user>`).'),
  addTagPrefix: z
    .string()
    .optional()
    .describe('Prefix added to every received tag, with a dot (`prefix.tag`).'),
  maxChunkBytes: z
    .number()
    .int()
    .positive()
    .optional()
    .describe('Largest request accepted in bytes (fluentd `chunk_size_limit`); default 8 MiB.'),
  ...journalOptions,
})

export default defineInput({
  type: 'forward',
  summary: 'Receives events over the fluentd forward protocol; journals every chunk before acknowledging it.',
  config: ForwardInputConfig,
  produces: 'records',
  example: 'sources:\n  - name: fluent\n    type: forward\n    port: 24224\n    sharedKey: ${FLUENT_KEY}',
  create(config, ctx) {
    const prefix = config.addTagPrefix ? `${config.addTagPrefix}.` : ''
    return journaledSource({
      kind: 'forward',
      dir: journalDirOf(config.journalDir, ctx),
      fsync: config.fsync,
      maxLagBytes: config.maxLagBytes,
      async start(intake, io) {
        const server = await ForwardServer.listen({
          port: config.port,
          bind: config.bind,
          ...(config.sharedKey === undefined ? {} : { sharedKey: config.sharedKey }),
          ...(config.selfHostname === undefined ? {} : { selfHostname: config.selfHostname }),
          ...(config.users === undefined ? {} : { users: config.users }),
          ...(config.maxChunkBytes === undefined ? {} : { maxChunkBytes: config.maxChunkBytes }),
          log: (level, message, fields) => {
            if (level === 'warn' || level === 'error') io.count('protocol_errors')
            io.log(level, `forward input "${io.nodeName}": ${message}`, { node: io.nodeName, ...fields })
          },
          async onEvents(tag, entries) {
            if (intake.busy()) {
              io.count('busy')
              await intake.room()
            }
            const events: [string, number, unknown][] = new Array(entries.length)
            const t = prefix + tag
            for (let i = 0; i < entries.length; i++) events[i] = [t, entries[i]!.time, entries[i]!.record]
            await intake.append(events)
          },
        })
        io.log('info', `forward input "${io.nodeName}" listening on ${config.bind}:${server.port}`, {
          node: io.nodeName,
          port: server.port,
        })
        io.report(`listening:${io.nodeName}`, { port: server.port })
        return { close: () => server.close(1000) }
      },
    })
  },
})

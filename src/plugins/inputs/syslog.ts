// The syslog input: RFC 3164 / 5424 messages over UDP or TCP (fluentd's in_syslog), journaled on
// arrival and parsed by the source's parser (`syslog` unless another is set).

import { z } from 'zod'
import { SyslogServer } from '../syslog/server.ts'
import { defineInput } from '../define.ts'
import { port } from '../config.ts'
import { journaledSource } from './journaled.ts'
import { multilineFlushOption } from './lines.ts'
import { journalDirOf, journalOptions } from './network.ts'

export const SyslogInputConfig = z.strictObject({
  port: port(5140).describe('Port to listen on; 0 picks a free one, logged at start.'),
  bind: z.string().default('0.0.0.0').describe('Address to listen on.'),
  protocol: z.enum(['udp', 'tcp']).default('udp').describe('Transport: `udp` (default) or `tcp`.'),
  framing: z
    .enum(['auto', 'octet-counting', 'newline'])
    .default('auto')
    .describe(
      'TCP message framing (fluentd `frame_type`); `auto` detects octet counting by a leading digit.',
    ),
  maxMessageBytes: z
    .number()
    .int()
    .positive()
    .default(65536)
    .describe('Longer messages are dropped and counted.'),
  multilineFlushInterval: multilineFlushOption,
  ...journalOptions,
})

export default defineInput({
  type: 'syslog',
  summary: 'Receives syslog messages over UDP or TCP; parsed with the syslog parser unless another is set.',
  config: SyslogInputConfig,
  produces: 'lines',
  defaultParser: 'syslog',
  example: 'sources:\n  - name: syslog\n    type: syslog\n    tag: system\n    protocol: tcp\n    port: 5140',
  create(config, ctx) {
    return journaledSource({
      kind: 'syslog',
      dir: journalDirOf(config.journalDir, ctx),
      fsync: config.fsync,
      maxLagBytes: config.maxLagBytes,
      parser: ctx.parser,
      multilineFlushMs: config.multilineFlushInterval,
      async start(intake, io) {
        const tag = ctx.tag
        const server = new SyslogServer({
          port: config.port,
          bind: config.bind,
          protocol: config.protocol,
          framing: config.framing,
          maxMessageBytes: config.maxMessageBytes,
          log: io.log,
          async onMessages(messages) {
            if (intake.busy()) {
              io.count('busy')
              await intake.room()
            }
            const now = io.clock.now()
            await intake.append(messages.map((m) => [tag, now, m]))
          },
        })
        const address = await server.listen()
        io.log(
          'info',
          `syslog input "${io.nodeName}" listening on ${config.protocol}://${config.bind}:${address.port}`,
          {
            node: io.nodeName,
            port: address.port,
          },
        )
        io.report(`listening:${io.nodeName}`, { port: address.port })
        return {
          close: async () => {
            const s = server.stats()
            if (s.truncated + s.oversized + s.framingErrors > 0) {
              io.count('truncated', s.truncated)
              io.count('oversized', s.oversized)
              io.count('framing_errors', s.framingErrors)
            }
            await server.close()
          },
        }
      },
    })
  },
})

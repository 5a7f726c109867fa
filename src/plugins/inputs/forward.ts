// The forward input: fluentd's in_forward. Fluentd, fluent-bit and fluent-logger clients send to it;
// every accepted chunk is journaled as received before its ack, so an acknowledged event is never
// lost, and decoded into events when the job reads it.

import { z } from 'zod'
import { SquallError } from '../../core/errors.ts'
import type { Record } from '../../core/record.ts'
import type { IoContext } from '../../core/source.ts'
import {
  decodeJournaledRequest,
  encodeJournaledRequest,
  readJournaledRequest,
} from '../forward/journal-entry.ts'
import { ForwardServer } from '../forward/server.ts'
import { defineInput } from '../define.ts'
import { port } from '../config.ts'
import { journaledRequestSource } from './journaled.ts'
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
    return journaledRequestSource({
      kind: 'forward',
      dir: journalDirOf(config.journalDir, ctx),
      fsync: config.fsync,
      maxLagBytes: config.maxLagBytes,
      unpack: unpackRequest,
      async start(intake, io) {
        const server = await ForwardServer.listen({
          port: config.port,
          bind: config.bind,
          ...(config.sharedKey === undefined ? {} : { sharedKey: config.sharedKey }),
          ...(config.selfHostname === undefined ? {} : { selfHostname: config.selfHostname }),
          ...(config.users === undefined ? {} : { users: config.users }),
          ...(config.maxChunkBytes === undefined ? {} : { maxChunkBytes: config.maxChunkBytes }),
          maxInFlight: MAX_IN_FLIGHT,
          log: (level, message, fields) => {
            if (level === 'warn' || level === 'error') io.count('protocol_errors')
            io.log(level, `forward input "${io.nodeName}": ${message}`, { node: io.nodeName, ...fields })
          },
          async onRequest(request) {
            // Waiting whenever busy keeps the journal in arrival order (see Backpressure.busy).
            if (intake.busy()) {
              io.count('busy')
              await intake.room()
            }
            await intake.append(encodeJournaledRequest(request, prefix + request.tag, Date.now()))
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

/**
 * Requests one connection may have unacknowledged: a sender that sends several chunks before their
 * acks come back (fluentd's out_forward with require_ack_response) has them journaled together, so
 * they share an fdatasync instead of waiting for one each.
 */
const MAX_IN_FLIGHT = 16

/**
 * Decodes one journaled request into records. Invalid events are skipped (fluentd's
 * skip_invalid_event) and a request that cannot be decoded at all is dropped, each counted
 * (`skipped_events`, `bad_requests`) and logged with the sender, tag and chunk id.
 */
function unpackRequest(entry: Buffer, io: IoContext): Record<unknown>[] {
  let header: ReturnType<typeof readJournaledRequest>['header'] | undefined
  try {
    const read = readJournaledRequest(entry)
    header = read.header
    const message = decodeJournaledRequest(header, read.bytes)
    const { tag } = header
    const entries = message.entries
    const out: Record<unknown>[] = new Array(entries.length)
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!
      out[i] = { value: e.record, key: undefined, time: e.time, tag }
    }
    if (message.skipped > 0) {
      io.count('skipped_events', message.skipped)
      io.log(
        'warn',
        `forward input "${io.nodeName}": skipped ${message.skipped} invalid events ${whence(header)}`,
        {
          node: io.nodeName,
          remote: header.remote,
          tag,
          chunk: header.chunk,
          skipped: message.skipped,
        },
      )
    }
    return out
  } catch (error) {
    if (!(error instanceof SquallError)) throw error
    io.count('bad_requests')
    io.log(
      'error',
      `forward input "${io.nodeName}": dropped a journaled request ${header ? whence(header) : 'of unknown origin'}: ${error.message}`,
      { node: io.nodeName, code: error.code, ...(header ?? {}) },
    )
    return []
  }
}

function whence(header: { remote: string; tag: string; chunk: string | undefined }): string {
  const chunk = header.chunk === undefined ? '' : ` in chunk ${header.chunk}`
  return `of tag "${header.tag}"${chunk} from ${header.remote}`
}

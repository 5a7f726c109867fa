// The forward input: fluentd's in_forward. Fluentd, fluent-bit and fluent-logger clients send to it,
// over TCP or TLS; every accepted chunk is journaled as received before its ack, so an acknowledged
// event is never lost, and decoded into events when the job reads it.

import { accessSync, constants, readFileSync, statSync } from 'node:fs'
import { resolve } from 'node:path'
import { createSecureContext } from 'node:tls'
import { z } from 'zod'
import { type ConfigIssue, ConfigError, SquallError } from '../../core/errors.ts'
import type { Record } from '../../core/record.ts'
import type { IoContext } from '../../core/source.ts'
import {
  decodeJournaledRequestAs,
  encodeJournaledRequest,
  readJournaledRequest,
} from '../forward/journal-entry.ts'
import { ForwardServer, type ForwardServerTls } from '../forward/server.ts'
import { defineInput } from '../define.ts'
import { port } from '../config.ts'
import { journaledRequestSource } from './journaled.ts'
import { journalDirOf, journalOptions } from './network.ts'

/** The `tls` option: fluentd's `<transport tls>` section, its keys in camelCase. */
export const ForwardTlsConfig = z
  .strictObject({
    certPath: z
      .string()
      .min(1)
      .describe('PEM file of the server certificate, chain included (fluentd `cert_path`).'),
    privateKeyPath: z
      .string()
      .min(1)
      .describe('PEM file of the private key of the certificate (fluentd `private_key_path`).'),
    caPath: z
      .string()
      .min(1)
      .optional()
      .describe(
        'PEM file of the CA certificates that client certificates must chain to (fluentd `ca_path`).',
      ),
    clientCertAuth: z
      .boolean()
      .default(false)
      .describe('Accept only clients with a certificate signed by `caPath` (fluentd `client_cert_auth`).'),
  })
  .superRefine((tls, ctx) => {
    if (tls.clientCertAuth && tls.caPath === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['caPath'],
        message: 'is required with clientCertAuth: true (the CA that client certificates must chain to)',
      })
  })

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
  tls: ForwardTlsConfig.optional().describe(
    'Serve TLS instead of plain TCP (fluentd `<transport tls>`); plain-TCP senders are then refused. `certPath` and `privateKeyPath` (required): PEM files of the certificate and its key; `caPath`: PEM file of the CAs client certificates must chain to; `clientCertAuth` (default false): accept only clients with such a certificate. Paths are relative to the pipeline file; each must name a readable file.',
  ),
  ...journalOptions,
})

type TlsConfig = z.output<typeof ForwardTlsConfig>

/** The TLS files of `tls`, resolved against `baseDir`; `undefined` without TLS. */
interface TlsFiles {
  readonly cert: string
  readonly key: string
  readonly ca: string | undefined
  readonly clientCertAuth: boolean
}

/**
 * Resolves the TLS file paths and checks that each names a readable file, so that `squall check`
 * reports a missing one with its path; the files are read only when the source opens. Throws
 * ConfigError with every problem, at `<path>.tls.<key>`.
 */
function tlsFiles(tls: TlsConfig | undefined, baseDir: string, path: string): TlsFiles | undefined {
  if (tls === undefined) return undefined
  const issues: ConfigIssue[] = []
  const file = (key: 'certPath' | 'privateKeyPath' | 'caPath', value: string): string => {
    const abs = resolve(baseDir, value)
    let problem: string | undefined
    try {
      if (!statSync(abs).isFile()) problem = 'is not a file'
      else accessSync(abs, constants.R_OK)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      problem =
        code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'not readable' : (error as Error).message
    }
    if (problem !== undefined)
      issues.push({ path: `${path}.tls.${key}`, message: `cannot use ${JSON.stringify(abs)}: ${problem}` })
    return abs
  }
  const cert = file('certPath', tls.certPath)
  const key = file('privateKeyPath', tls.privateKeyPath)
  const ca = tls.caPath === undefined ? undefined : file('caPath', tls.caPath)
  if (issues.length > 0) throw new ConfigError(issues)
  return { cert, key, ca, clientCertAuth: tls.clientCertAuth }
}

/**
 * Reads the TLS files when the source opens. Throws ERR_SOURCE_FAILED naming a file that cannot be
 * read, or the files when they do not make a usable certificate and key (not PEM, a key that does
 * not match the certificate).
 */
function readTls(files: TlsFiles, node: string): ForwardServerTls {
  const read = (key: string, path: string): Buffer => {
    try {
      return readFileSync(path)
    } catch (error) {
      throw new SquallError(
        'ERR_SOURCE_FAILED',
        `forward input "${node}": cannot read tls.${key} ${JSON.stringify(path)}: ${(error as Error).message}`,
        { cause: error },
      )
    }
  }
  const tls: ForwardServerTls = {
    cert: read('certPath', files.cert),
    key: read('privateKeyPath', files.key),
    ...(files.ca === undefined ? {} : { ca: read('caPath', files.ca) }),
    requireClientCert: files.clientCertAuth,
  }
  try {
    createSecureContext({ cert: tls.cert, key: tls.key, ...(tls.ca === undefined ? {} : { ca: tls.ca }) })
  } catch (error) {
    const named = [files.cert, files.key, ...(files.ca === undefined ? [] : [files.ca])]
    throw new SquallError(
      'ERR_SOURCE_FAILED',
      `forward input "${node}": the tls files ${named.map((f) => JSON.stringify(f)).join(', ')} are not a usable PEM certificate and key: ${(error as Error).message}`,
      { cause: error },
    )
  }
  return tls
}

export default defineInput({
  type: 'forward',
  summary: 'Receives events over the fluentd forward protocol; journals every chunk before acknowledging it.',
  config: ForwardInputConfig,
  produces: 'records',
  example:
    'sources:\n  - name: fluent\n    type: forward\n    port: 24224\n    sharedKey: ${FLUENT_KEY}\n    tls: { certPath: ./tls/server.crt, privateKeyPath: ./tls/server.key }',
  create(config, ctx) {
    const prefix = config.addTagPrefix ? `${config.addTagPrefix}.` : ''
    const tlsAt = tlsFiles(config.tls, ctx.baseDir, ctx.path)
    return journaledRequestSource({
      kind: 'forward',
      dir: journalDirOf(config.journalDir, ctx),
      fsync: config.fsync,
      maxLagBytes: config.maxLagBytes,
      unpack: unpackRequest,
      async start(intake, io) {
        const tls = tlsAt === undefined ? undefined : readTls(tlsAt, io.nodeName)
        const server = await ForwardServer.listen({
          port: config.port,
          bind: config.bind,
          ...(tls === undefined ? {} : { tls }),
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
        io.log(
          'info',
          `forward input "${io.nodeName}" listening on ${config.bind}:${server.port}${tls ? ' (TLS)' : ''}`,
          { node: io.nodeName, port: server.port, tls: tls !== undefined },
        )
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
    const { tag } = header
    const message = decodeJournaledRequestAs(
      header,
      read.bytes,
      (time, _nanos, value): Record<unknown> => ({ value, key: undefined, time, tag }),
    )
    const out = message.entries
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

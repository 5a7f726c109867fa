// The HTTP input: `POST /api/ingest/{tag}` with JSON, NDJSON or MessagePack bodies (fluentd's
// in_http); answers only once the records are journaled, and 503 while the job cannot keep up.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { z } from 'zod'
import { SquallError } from '../../core/errors.ts'
import type { IoContext } from '../../core/source.ts'
import { decodeBody } from '../helpers/body-decode.ts'
import { defineInput } from '../define.ts'
import { port, size } from '../config.ts'
import { type JournalIntake, journaledSource } from './journaled.ts'
import { journalDirOf, journalOptions } from './network.ts'

export const HttpInputConfig = z.strictObject({
  port: port(9880).describe('TCP port; 0 picks a free one, logged at start.'),
  bind: z.string().default('0.0.0.0').describe('Address to listen on.'),
  bodySizeLimit: size('32MiB').describe(
    'Largest request body accepted (fluentd `body_size_limit`); larger bodies get 413.',
  ),
  token: z.string().optional().describe('When set, requests must send `Authorization: Bearer <token>`.'),
  addTagPrefix: z.string().optional().describe('Prefix added to every tag taken from the URL, with a dot.'),
  ...journalOptions,
})

type Config = z.output<typeof HttpInputConfig>

const PREFIX = '/api/ingest/'
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/

function answer(
  res: ServerResponse,
  status: number,
  body: object,
  headers: { [h: string]: string } = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(`${JSON.stringify(body)}\n`)
}

function handler(config: Config, intake: JournalIntake, io: IoContext) {
  const prefix = config.addTagPrefix ? `${config.addTagPrefix}.` : ''
  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (!url.pathname.startsWith(PREFIX)) {
      answer(res, 404, { error: `no such path; POST to ${PREFIX}{tag}` })
      return
    }
    if (req.method !== 'POST') {
      answer(res, 405, { error: 'use POST' }, { allow: 'POST' })
      return
    }
    if (config.token !== undefined && req.headers.authorization !== `Bearer ${config.token}`) {
      io.count('unauthorized')
      answer(res, 401, { error: 'missing or wrong bearer token' })
      return
    }
    const tag = decodeURIComponent(url.pathname.slice(PREFIX.length))
    if (!TAG.test(tag)) {
      answer(res, 400, { error: `bad tag ${JSON.stringify(tag)}: use letters, digits, _ . : -` })
      return
    }
    if (intake.busy()) {
      io.count('busy')
      req.resume()
      answer(res, 503, { error: 'the job is behind; retry later' }, { 'retry-after': '1' })
      return
    }
    const chunks: Buffer[] = []
    let length = 0
    let tooLarge = false
    req.on('data', (c: Buffer) => {
      length += c.length
      if (length > config.bodySizeLimit) tooLarge = true
      else chunks.push(c)
    })
    req.on('end', () => {
      if (tooLarge) {
        answer(res, 413, { error: `body larger than bodySizeLimit (${config.bodySizeLimit} bytes)` })
        return
      }
      let records: { [f: string]: unknown }[]
      try {
        records = decodeBody(req.headers['content-type'], Buffer.concat(chunks, length))
      } catch (e) {
        io.count('bad_requests')
        const message = e instanceof Error ? e.message : String(e)
        io.log('warn', `http input "${io.nodeName}": ${message}`, {
          node: io.nodeName,
          tag,
          remote: req.socket.remoteAddress,
        })
        answer(res, 400, { error: message })
        return
      }
      const now = io.clock.now()
      const t = prefix + tag
      const events: [string, number, unknown][] = records.map((r) => [t, now, r])
      intake.append(events).then(
        () => answer(res, 200, { accepted: events.length }),
        (e: Error) => {
          io.log('error', `http input "${io.nodeName}": could not journal a request: ${e.message}`, {
            node: io.nodeName,
          })
          answer(res, 503, { error: 'could not store the records; retry later' }, { 'retry-after': '1' })
        },
      )
    })
  }
}

export default defineInput({
  type: 'http',
  summary:
    'Accepts records with POST /api/ingest/{tag} (JSON, NDJSON, MessagePack); answers after journaling them.',
  config: HttpInputConfig,
  produces: 'records',
  example: 'sources:\n  - name: api\n    type: http\n    port: 9880',
  create(config, ctx) {
    return journaledSource({
      kind: 'http',
      dir: journalDirOf(config.journalDir, ctx),
      fsync: config.fsync,
      maxLagBytes: config.maxLagBytes,
      async start(intake, io) {
        const server = createServer(handler(config, intake, io))
        await new Promise<void>((resolve, reject) => {
          server.once('error', (e) =>
            reject(
              new SquallError(
                'ERR_SOURCE_FAILED',
                `http input "${io.nodeName}": cannot listen on ${config.bind}:${config.port}: ${e.message}`,
                { cause: e },
              ),
            ),
          )
          server.listen(config.port, config.bind, () => resolve())
        })
        const bound = (server.address() as AddressInfo).port
        io.log('info', `http input "${io.nodeName}" listening on ${config.bind}:${bound}`, {
          node: io.nodeName,
          port: bound,
        })
        io.report(`listening:${io.nodeName}`, { port: bound })
        return {
          close: () =>
            new Promise<void>((resolve) => {
              server.close(() => resolve())
              server.closeAllConnections()
            }),
        }
      },
    })
  },
})

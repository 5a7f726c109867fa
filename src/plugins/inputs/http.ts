// The HTTP input: `POST /api/ingest/{tag}` with JSON, NDJSON or MessagePack bodies (fluentd's
// in_http); answers only once the records are journaled, and 429 while the job cannot keep up. Without
// a port, it accepts on the job's own HTTP server instead (see http-ingest.ts).

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { z } from 'zod'
import { SquallError } from '../../core/errors.ts'
import { defineInput } from '../define.ts'
import { size } from '../config.ts'
import { type IngestTarget, ingestBody } from './http-ingest.ts'
import { type IntakeServer, journaledSource } from './journaled.ts'
import { journalDirOf, journalOptions } from './network.ts'

export const HttpInputConfig = z.strictObject({
  port: z
    .number()
    .int()
    .min(0)
    .max(65535)
    .optional()
    .describe(
      "TCP port of the input's own server; 0 picks a free one, logged at start. Omit it to accept on the job's HTTP server (`server.port`, `squall run --http`), or on 9880 when the job has none.",
    ),
  bind: z.string().default('0.0.0.0').describe('Address to listen on (own server only).'),
  bodySizeLimit: size('32MiB').describe(
    'Largest request body accepted (fluentd `body_size_limit`); larger bodies get 413. On the job server, its own limit applies (16 MiB).',
  ),
  token: z
    .string()
    .optional()
    .describe(
      "When set, requests must send `Authorization: Bearer <token>` (own server; on the job server, the job's token applies).",
    ),
  addTagPrefix: z.string().optional().describe('Prefix added to every tag taken from the URL, with a dot.'),
  ...journalOptions,
})

type Config = z.output<typeof HttpInputConfig>

/** The port an http source listens on when it has no `port` and the job has no HTTP server (fluentd's). */
export const DEFAULT_HTTP_PORT = 9880

const PREFIX = '/api/ingest/'

function answer(
  res: ServerResponse,
  status: number,
  body: object,
  headers: { [h: string]: string } = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(`${JSON.stringify(body)}\n`)
}

function handler(config: Config, target: IngestTarget) {
  const { intake, io } = target
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
    if (intake.busy()) {
      io.count('busy')
      req.resume()
      answer(res, 429, { error: 'the job is behind; retry later' }, { 'retry-after': '1' })
      return
    }
    let tag: string
    try {
      tag = decodeURIComponent(url.pathname.slice(PREFIX.length))
    } catch {
      tag = ''
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
      ingestBody(target, tag, req.headers['content-type'], Buffer.concat(chunks, length)).then(
        (result) => {
          if ('accepted' in result) answer(res, 200, { accepted: result.accepted })
          else
            answer(
              res,
              result.status,
              { error: 'the job cannot take more records now; retry later' },
              { 'retry-after': String(result.retryAfter) },
            )
        },
        (e: unknown) => answer(res, 400, { error: e instanceof Error ? e.message : String(e) }),
      )
    })
  }
}

/** Starts the input's own server on `port` and resolves once it listens. */
async function listen(config: Config, target: IngestTarget, port: number): Promise<IntakeServer> {
  const io = target.io
  const server = createServer(handler(config, target))
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) =>
      reject(
        new SquallError(
          'ERR_SOURCE_FAILED',
          `http input "${io.nodeName}": cannot listen on ${config.bind}:${port}: ${e.message}`,
          { cause: e },
        ),
      ),
    )
    server.listen(port, config.bind, () => resolve())
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
}

export default defineInput({
  type: 'http',
  summary:
    'Accepts records with POST /api/ingest/{tag} (JSON, NDJSON, MessagePack); answers after journaling them.',
  config: HttpInputConfig,
  produces: 'records',
  example: 'sources:\n  - name: api\n    type: http\n    port: 9880',
  create(config, ctx) {
    const endpoint = config.port === undefined ? ctx.ingest : undefined
    if (endpoint !== undefined && !endpoint.claim(ctx.name))
      throw new SquallError(
        'ERR_ARGUMENT',
        `${ctx.path}.port: the job's HTTP server already feeds the http source "${endpoint.owner}"; give this one its own port`,
      )
    return journaledSource({
      kind: 'http',
      dir: journalDirOf(config.journalDir, ctx),
      fsync: config.fsync,
      maxLagBytes: config.maxLagBytes,
      async start(intake, io) {
        const target: IngestTarget = {
          intake,
          io,
          tagPrefix: config.addTagPrefix ? `${config.addTagPrefix}.` : '',
        }
        if (endpoint?.served) {
          const detach = endpoint.attach(target)
          io.log(
            'info',
            `http input "${io.nodeName}" accepts POST /api/ingest/{tag} on the job's HTTP server`,
            {
              node: io.nodeName,
            },
          )
          return { close: async () => detach() }
        }
        return listen(config, target, config.port ?? DEFAULT_HTTP_PORT)
      },
    })
  },
})

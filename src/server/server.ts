// The HTTP API of a running job: queries (register, list, drop, stream results, read state),
// ingest, health, Prometheus metrics and the dashboard, on node:http.

import { readFile } from 'node:fs/promises'
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { SquallError, check } from '../core/errors.ts'
import { type Logger, consoleLogger } from '../core/logger.ts'
import type { QueryManager } from '../query/manager.ts'
import type { Job } from '../runtime/job.ts'
import { RequestError, bearerCheck, intParam, readBody, readJson, sendError, sendJson } from './http-util.ts'
import { renderMetrics } from './metrics.ts'
import { streamResults } from './sse.ts'

/** What an ingest handler answers: records accepted, or "busy, retry after N seconds". */
export type IngestResult = { accepted: number } | { status: 429 | 503; retryAfter: number }

/**
 * Takes the body of `POST /api/ingest/{tag}` (the http input plugin provides one). Resolves once
 * the records are durably accepted (journaled) or refused as busy; a SquallError for a body that
 * does not decode becomes a 400 with its code.
 */
export type IngestHandler = (tag: string, contentType: string, body: Buffer) => Promise<IngestResult>

/** Options of `startServer`. */
export interface ServerOptions {
  /** TCP port; 0 (default) picks a free one (see `SquallServer.port`). */
  port?: number
  /** Address to bind (default 127.0.0.1). Any other than loopback requires `token`. */
  host?: string
  /** When set, every call but `GET /health` and the dashboard page needs `Authorization: Bearer <token>`. */
  token?: string
  manager?: QueryManager
  job?: Job
  ingest?: IngestHandler
  log?: Logger
  /** SSE heartbeat interval in ms (default 15 000). */
  heartbeatMs?: number
  /** Largest JSON request body (default 1 MiB) and ingest body (default 16 MiB), in bytes. */
  maxBodyBytes?: number
  maxIngestBytes?: number
}

/** A started server. `close()` ends open streams and stops listening. */
export interface SquallServer {
  readonly url: string
  readonly port: number
  readonly host: string
  close(): Promise<void>
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])
const HEALTHY = new Set(['starting', 'running', 'draining'])
const DASHBOARD = new URL('./assets/dashboard.html', import.meta.url)

/**
 * Starts the HTTP API of a job and resolves once it listens. Without `token` it only binds a
 * loopback address (ERR_ARGUMENT otherwise), so an unprotected API is never reachable from
 * other machines; an address it cannot listen on (a port in use) is ERR_ARGUMENT naming it.
 * Requests are handled concurrently; every error is answered as
 * `{ "error": { "code", "message" } }` with a status from its code. See docs/http-api.md.
 */
export async function startServer(options: ServerOptions = {}): Promise<SquallServer> {
  const host = options.host ?? '127.0.0.1'
  const port = options.port ?? 0
  check(Number.isInteger(port) && port >= 0 && port < 65536, 'port', 'an integer in 0..65535', options.port)
  check(
    options.token === undefined || (typeof options.token === 'string' && options.token.length > 0),
    'token',
    'a non-empty string',
    options.token,
  )
  check(
    options.token !== undefined || LOOPBACK.has(host),
    'host',
    'a loopback address (127.0.0.1, ::1) unless a token is set',
    host,
  )
  const log = options.log ?? consoleLogger()
  const dashboard = await readFile(DASHBOARD)
  const handler = new ApiHandler(options, dashboard)
  const open = new Set<ServerResponse>()
  const server: Server = createServer((req, res) => {
    open.add(res)
    res.on('close', () => open.delete(res))
    handler.handle(req, res).catch((e: unknown) => {
      if (!(e instanceof SquallError))
        log(
          'warn',
          `http ${req.method} ${req.url}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
        )
      sendError(res, e)
    })
  })
  server.keepAliveTimeout = 5000
  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => reject(listenError(e, host, port))
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return {
    url: `http://${shown}:${address.port}`,
    port: address.port,
    host: address.address,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of open)
          if (String(res.getHeader('content-type')).startsWith('text/event-stream')) res.end()
        server.close(() => resolve())
        server.closeIdleConnections()
      }),
  }
}

/** Why the server cannot listen on `host:port`, as an ERR_ARGUMENT naming the address and the fix. */
function listenError(e: NodeJS.ErrnoException, host: string, port: number): SquallError {
  const hint =
    e.code === 'EADDRINUSE'
      ? 'the port is in use by another process; stop it or choose another port (0 picks a free one)'
      : e.code === 'EACCES'
        ? 'permission denied; ports below 1024 need privileges, choose another port'
        : e.code === 'EADDRNOTAVAIL'
          ? 'no network interface of this machine has that address'
          : e.message
  return new SquallError('ERR_ARGUMENT', `HTTP API: cannot listen on ${host}:${port}: ${hint}`, { cause: e })
}

class ApiHandler {
  private readonly authorize: (req: IncomingMessage) => void
  private readonly maxBody: number
  private readonly maxIngest: number

  constructor(
    private readonly options: ServerOptions,
    private readonly dashboard: Buffer,
  ) {
    this.authorize = bearerCheck(options.token)
    this.maxBody = options.maxBodyBytes ?? 1 << 20
    this.maxIngest = options.maxIngestBytes ?? 16 << 20
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://squall')
    const parts = url.pathname
      .split('/')
      .filter((p) => p !== '')
      .map((p) => pathSegment(p, url.pathname))
    const method = req.method ?? 'GET'
    if (parts.length === 0) {
      allow(method, ['GET'], url.pathname)
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-length': this.dashboard.length,
        'cache-control': 'no-cache',
      })
      res.end(this.dashboard)
      return
    }
    if (parts.length === 1 && parts[0] === 'health') {
      allow(method, ['GET'], url.pathname)
      return this.health(res)
    }
    this.authorize(req)
    if (parts.length === 1 && parts[0] === 'metrics') {
      allow(method, ['GET'], url.pathname)
      const text = renderMetrics(this.options.job, this.options.manager)
      res.writeHead(200, {
        'content-type': 'text/plain; version=0.0.4; charset=utf-8',
        'cache-control': 'no-store',
      })
      res.end(text)
      return
    }
    if (parts[0] === 'api' && parts[1] === 'queries')
      return this.queries(req, res, method, parts.slice(2), url)
    if (parts[0] === 'api' && parts[1] === 'ingest' && parts.length === 3) {
      allow(method, ['POST'], url.pathname)
      return this.ingest(req, res, parts[2]!)
    }
    throw new RequestError(404, `no route ${method} ${url.pathname}; see docs/http-api.md for the endpoints`)
  }

  private health(res: ServerResponse): void {
    const job = this.options.job
    const status = job?.status() ?? 'running'
    const queries = this.options.manager?.list() ?? []
    const body = {
      status,
      ...(job ? { job: job.name } : {}),
      uptimeSeconds: Math.round(process.uptime()),
      queries: {
        total: queries.length,
        running: queries.filter((q) => q.status === 'running').length,
        failed: queries.filter((q) => q.status === 'failed').length,
      },
    }
    sendJson(res, HEALTHY.has(status) ? 200 : 503, body)
  }

  private manager(): QueryManager {
    const m = this.options.manager
    if (m === undefined)
      throw new RequestError(404, 'this job serves no queries (it was started without a query manager)')
    return m
  }

  private async queries(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    rest: string[],
    url: URL,
  ): Promise<void> {
    const m = this.manager()
    if (rest.length === 0) {
      allow(method, ['GET', 'POST'], url.pathname)
      if (method === 'GET') return sendJson(res, 200, { queries: m.list() })
      const body = await readJson(req, this.maxBody)
      const info = await m.register({ name: body.name as string, sql: body.sql as string })
      return sendJson(res, 201, info, { location: `/api/queries/${encodeURIComponent(info.name)}` })
    }
    const name = rest[0]!
    if (rest.length === 1) {
      allow(method, ['GET', 'DELETE'], url.pathname)
      if (method === 'GET') return sendJson(res, 200, m.get(name).info())
      await m.drop(name)
      res.writeHead(204)
      res.end()
      return
    }
    if (rest.length === 2 && rest[1] === 'results') {
      allow(method, ['GET'], url.pathname)
      const query = m.get(name)
      return streamResults(req, res, query, {
        heartbeatMs: this.options.heartbeatMs ?? 15_000,
        maxBufferedBytes: 8 << 20,
        from: intParam(url.searchParams, 'from', 0, query.results.capacity),
      })
    }
    if (rest.length === 2 && rest[1] === 'state') {
      allow(method, ['GET'], url.pathname)
      return this.state(res, m, name, url.searchParams)
    }
    throw new RequestError(404, `no route ${method} ${url.pathname}; see docs/http-api.md for the endpoints`)
  }

  private state(res: ServerResponse, m: QueryManager, name: string, params: URLSearchParams): void {
    const query = m.get(name)
    const results = query.results
    const key = params.getAll('key')
    if (key.length > 0) {
      if (results.key.length === 0) {
        throw new RequestError(
          400,
          `?key: the rows of query "${name}" have no unique key (its current result is a multiset of rows); read its table without ?key, in pages`,
        )
      }
      if (key.length > results.key.length) {
        throw new RequestError(
          400,
          `?key: query "${name}" is keyed by ${results.key.length} column(s) (${results.key.join(', ')}); give at most one ?key= per column, in that order, got ${key.length}`,
        )
      }
      sendJson(res, 200, {
        query: name,
        status: query.status,
        key: results.key,
        rows: results.lookup(key),
      })
      return
    }
    const limit = intParam(params, 'limit', 100, 10_000)
    const offset = intParam(params, 'offset', 0, Number.MAX_SAFE_INTEGER)
    sendJson(res, 200, {
      query: name,
      status: query.status,
      key: results.key,
      total: results.rowCount,
      offset,
      limit,
      rows: results.rows(offset, limit),
    })
  }

  private async ingest(req: IncomingMessage, res: ServerResponse, tag: string): Promise<void> {
    const ingest = this.options.ingest
    if (ingest === undefined)
      throw new RequestError(404, 'this job has no http input; add one to accept POST /api/ingest/{tag}')
    const body = await readBody(req, this.maxIngest)
    const result = await ingest(tag, req.headers['content-type'] ?? 'application/octet-stream', body)
    if ('accepted' in result) return sendJson(res, 200, { accepted: result.accepted })
    sendJson(
      res,
      result.status,
      { error: { code: 'ERR_HTTP_BUSY', message: `the job is busy; retry after ${result.retryAfter} s` } },
      { 'retry-after': String(Math.max(0, Math.ceil(result.retryAfter))) },
    )
  }
}

function allow(method: string, methods: string[], path: string): void {
  if (!methods.includes(method))
    throw new RequestError(405, `${method} ${path}: expected ${methods.join(' or ')}`, {
      allow: methods.join(', '),
    })
}

/** One decoded segment of a request path; a 400 RequestError for a malformed percent-encoding. */
function pathSegment(segment: string, path: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    throw new RequestError(400, `${path}: malformed percent-encoding in "${segment}"`)
  }
}

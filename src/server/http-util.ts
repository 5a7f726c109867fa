// Request and response plumbing of the HTTP API: bodies with a size limit, JSON replies, errors
// as `{ error: { code, message } }` with the status their code implies, and bearer-token checks.

import { timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { type ErrorCode, SquallError } from '../core/errors.ts'

/**
 * A request the API refuses, with its HTTP status (400, 404, 405, 413) and the headers its answer
 * needs (`Allow` with a 405). Code ERR_HTTP_REQUEST.
 */
export class RequestError extends SquallError {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: { readonly [name: string]: string } = {},
  ) {
    super('ERR_HTTP_REQUEST', message)
    this.name = 'RequestError'
  }
}

const STATUS_OF: { [code in ErrorCode]?: number } = {
  ERR_QUERY_EXISTS: 409,
  ERR_QUERY_NOT_FOUND: 404,
  ERR_UNAUTHORIZED: 401,
}

/** The HTTP status for an error: its own, its code's, 400 for user errors, 503 external, 500 else. */
export function statusOf(error: unknown): number {
  if (error instanceof RequestError) return error.status
  if (error instanceof SquallError) {
    return STATUS_OF[error.code] ?? (error.domain === 'user' ? 400 : error.domain === 'external' ? 503 : 500)
  }
  return 500
}

/** Sends `body` as JSON with `status`. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: { [name: string]: string } = {},
): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  })
  res.end(text)
}

/** Sends an error as `{ error: { code, message } }` with the status its code implies. */
export function sendError(res: ServerResponse, error: unknown): void {
  const status = statusOf(error)
  const code: ErrorCode = error instanceof SquallError ? error.code : 'ERR_HTTP_INTERNAL'
  const message = error instanceof Error ? error.message : String(error)
  if (res.headersSent) {
    res.destroy()
    return
  }
  sendJson(
    res,
    status,
    { error: { code, message } },
    {
      ...(error instanceof RequestError ? error.headers : {}),
      ...(status === 401 ? { 'www-authenticate': 'Bearer realm="squall"' } : {}),
    },
  )
}

/**
 * Reads a request body of at most `limit` bytes. Rejects with a 413 RequestError as soon as it is
 * exceeded (the rest of the upload is not read) and with the stream's error if the client aborts.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > limit) {
    return Promise.reject(
      new RequestError(413, `request body: ${declared} bytes, above the limit of ${limit}`),
    )
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        req.removeAllListeners('data')
        req.resume()
        reject(new RequestError(413, `request body: more than the limit of ${limit} bytes`))
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks, size)))
    req.on('error', reject)
  })
}

/** Reads a JSON object body. Rejects with a 400 RequestError naming what is wrong. */
export async function readJson(req: IncomingMessage, limit: number): Promise<{ [field: string]: unknown }> {
  const body = await readBody(req, limit)
  let value: unknown
  try {
    value = JSON.parse(body.toString('utf8'))
  } catch (e) {
    throw new RequestError(400, `request body: expected JSON, got a parse error: ${(e as Error).message}`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new RequestError(400, 'request body: expected a JSON object such as {"name": "...", "sql": "..."}')
  }
  return value as { [field: string]: unknown }
}

/**
 * Returns a check of `Authorization: Bearer <token>` headers, comparing in constant time.
 * Without a token every request passes.
 */
export function bearerCheck(token: string | undefined): (req: IncomingMessage) => void {
  if (token === undefined) return () => {}
  const expected = Buffer.from(token, 'utf8')
  return (req) => {
    const header = req.headers.authorization ?? ''
    const m = /^Bearer\s+(.+)$/i.exec(header)
    const given = Buffer.from(m?.[1]?.trim() ?? '', 'utf8')
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new SquallError(
        'ERR_UNAUTHORIZED',
        header === ''
          ? 'this API needs a token: send the header "Authorization: Bearer <token>"'
          : m === null
            ? `expected the header "Authorization: Bearer <token>", got an Authorization of scheme "${header.split(/\s/)[0]}"`
            : 'the bearer token does not match the one the job was started with',
      )
    }
  }
}

/** A non-negative integer query parameter, or `fallback`; a 400 RequestError names a bad one. */
export function intParam(params: URLSearchParams, name: string, fallback: number, max: number): number {
  const raw = params.get(name)
  if (raw === null || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 0)
    throw new RequestError(400, `?${name}: expected a non-negative integer, got ${JSON.stringify(raw)}`)
  return Math.min(n, max)
}

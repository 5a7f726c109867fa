// `squall query add|list|drop|tail|get`: the query endpoints of a running job's HTTP API, from
// the terminal.

import { readFileSync } from 'node:fs'
import { SquallError } from '../core/errors.ts'
import { parse } from './args.ts'
import type { Command } from './commands.ts'

const HELP = `Usage: squall query <add|list|drop|tail|get> [args] --server URL [--token T]

Registers, lists and drops continuous queries on a running job (started with
"squall run ... --http PORT"), streams their results and reads their state.

  squall query add NAME "SQL"      register a query (--file F reads the SQL from a file)
  squall query list                 the queries with status and metrics
  squall query drop NAME            stop a query and forget it
  squall query tail NAME [--from N] print result changes as JSON lines until interrupted
  squall query get NAME [--key K]... [--limit N] [--offset N]
                                    print the current result rows (for a key, or a page)

Options:
  --server URL   the job's HTTP API (default $SQUALL_SERVER or http://127.0.0.1:8080)
  --token T      bearer token (default $SQUALL_TOKEN)

Exit codes: 0 success, 1 the API refused the call (the error is printed), 2 usage error.`

type Out = (line: string) => void

/** The base URL of `--server`; ERR_CLI_USAGE when it is not an http(s) URL. */
function serverUrl(server: string): URL {
  let url: URL | undefined
  try {
    url = new URL(server)
  } catch {}
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:'))
    throw new SquallError(
      'ERR_CLI_USAGE',
      `--server: expected the URL of a job's HTTP API like http://127.0.0.1:8080, got ${JSON.stringify(server)}`,
    )
  return url
}

/** Sends one request; ERR_SERVER_UNREACHABLE with the reason (connection refused, ...) when it cannot. */
async function send(server: string, path: string, init: RequestInit): Promise<Response> {
  const url = new URL(path, serverUrl(server))
  try {
    return await fetch(url, init)
  } catch (e) {
    const cause = (e as Error).cause
    const reason = cause instanceof Error ? cause.message : String(cause ?? (e as Error).message)
    throw new SquallError('ERR_SERVER_UNREACHABLE', `cannot reach ${server}: ${reason}`, { cause: e })
  }
}

/**
 * The error an answer that is not 2xx stands for: the API's `{ error: { code, message } }`, or,
 * for a body that is not one (a proxy, another service at `--server`), the status and what came.
 */
async function remoteError(server: string, res: Response): Promise<RemoteError> {
  const text = await res.text().catch(() => '')
  let error: { code?: unknown; message?: unknown } | undefined
  try {
    error = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error
  } catch {}
  if (typeof error?.code === 'string' && typeof error.message === 'string')
    return new RemoteError(error.code, `${error.code}: ${error.message}`)
  return new RemoteError(
    'ERR_HTTP_REQUEST',
    `${res.status} ${res.statusText} from ${server}, not an answer of a Squall job's HTTP API${
      text.trim() === '' ? '' : `: ${JSON.stringify(text.trim().slice(0, 80))}`
    }; check --server`,
  )
}

async function call(
  server: string,
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  const res = await send(server, path, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  if (!res.ok) throw await remoteError(server, res)
  if (res.status === 204) return null
  const text = await res.text()
  try {
    return JSON.parse(text) as unknown
  } catch {
    throw new RemoteError(
      'ERR_HTTP_REQUEST',
      `${res.status} from ${server} is not JSON, not an answer of a Squall job's HTTP API; check --server`,
    )
  }
}

/** An error the API answered; printed as is. */
class RemoteError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

async function tail(
  server: string,
  token: string | undefined,
  name: string,
  from: string | undefined,
  out: Out,
): Promise<number> {
  const path = `/api/queries/${encodeURIComponent(name)}/results${from ? `?from=${encodeURIComponent(from)}` : ''}`
  const res = await send(server, path, {
    headers: { accept: 'text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) },
  })
  if (!res.ok) throw await remoteError(server, res)
  if (res.body === null || !String(res.headers.get('content-type')).startsWith('text/event-stream'))
    throw new RemoteError(
      'ERR_HTTP_REQUEST',
      `${res.status} from ${server} is not an event stream, not an answer of a Squall job's HTTP API; check --server`,
    )
  const decoder = new TextDecoder()
  let buffer = ''
  for await (const chunk of res.body) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true })
    for (let cut = buffer.indexOf('\n\n'); cut >= 0; cut = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, cut)
      buffer = buffer.slice(cut + 2)
      const event = /^event: (.*)$/m.exec(block)?.[1]
      const data = /^data: (.*)$/m.exec(block)?.[1]
      if (event === 'result' && data !== undefined) out(data)
      else if (event !== undefined && data !== undefined) {
        process.stderr.write(
          `squall query tail: ${event}: ${(JSON.parse(data) as { reason: string }).reason}\n`,
        )
        return event === 'end' ? 0 : 1
      }
    }
  }
  return 0
}

/** The SQL of `--file F`; ERR_CLI_USAGE naming the file when it cannot be read. */
function readSqlFile(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (e) {
    throw new SquallError('ERR_CLI_USAGE', `--file: cannot read ${file}: ${(e as Error).message}`, {
      cause: e,
    })
  }
}

/** Runs `squall query ...` with `args`, printing results through `out`. Returns the exit code. */
export async function runQueryCommand(
  args: string[],
  out: Out = (line) => process.stdout.write(`${line}\n`),
): Promise<number> {
  const { values, positionals } = parse('query', args, {
    server: { type: 'string' },
    token: { type: 'string' },
    file: { type: 'string' },
    from: { type: 'string' },
    key: { type: 'string', multiple: true },
    limit: { type: 'string' },
    offset: { type: 'string' },
  })
  const server = (values.server as string | undefined) ?? process.env.SQUALL_SERVER ?? 'http://127.0.0.1:8080'
  const token = (values.token as string | undefined) ?? process.env.SQUALL_TOKEN
  const [action, name, sqlArg] = positionals
  const needName = () => {
    if (!name)
      throw new SquallError(
        'ERR_CLI_USAGE',
        `squall query ${action}: missing NAME. Run "squall query --help".`,
      )
    return encodeURIComponent(name)
  }
  try {
    switch (action) {
      case 'add': {
        const sql = values.file ? readSqlFile(values.file as string) : sqlArg
        needName()
        if (!sql)
          throw new SquallError(
            'ERR_CLI_USAGE',
            'squall query add: missing "SQL" (or --file F). Run "squall query --help".',
          )
        const info = (await call(server, token, 'POST', '/api/queries', { name, sql })) as {
          name: string
          warnings: string[]
        }
        out(JSON.stringify(info))
        for (const w of info.warnings ?? []) process.stderr.write(`squall query add: warning: ${w}\n`)
        return 0
      }
      case 'list': {
        const { queries } = (await call(server, token, 'GET', '/api/queries')) as { queries: unknown[] }
        for (const q of queries) out(JSON.stringify(q))
        return 0
      }
      case 'drop':
        await call(server, token, 'DELETE', `/api/queries/${needName()}`)
        return 0
      case 'tail':
        needName()
        return await tail(server, token, name!, values.from as string | undefined, out)
      case 'get': {
        const params = new URLSearchParams()
        for (const k of (values.key as string[] | undefined) ?? []) params.append('key', k)
        if (values.limit) params.set('limit', values.limit as string)
        if (values.offset) params.set('offset', values.offset as string)
        const data = (await call(server, token, 'GET', `/api/queries/${needName()}/state?${params}`)) as {
          rows: unknown[]
        }
        for (const row of data.rows) out(JSON.stringify(row))
        return 0
      }
      default:
        throw new SquallError(
          'ERR_CLI_USAGE',
          `squall query: expected one of add, list, drop, tail, get, got ${JSON.stringify(action ?? '')}. Run "squall query --help".`,
        )
    }
  } catch (e) {
    if (e instanceof RemoteError) {
      process.stderr.write(`squall query ${action}: ${e.message}\n`)
      return 1
    }
    throw e
  }
}

export const queryCommand: Command = {
  name: 'query',
  usage: 'query <add|list|drop|tail|get> --server URL',
  summary: 'register, list, drop and read continuous queries of a running job',
  help: HELP,
  run: (args) => runQueryCommand(args),
}

// Server-Sent Events for query results: one `result` event per change, heartbeats as comments,
// resumption from `Last-Event-ID` or `?from=N`, and an `end` event when the query goes away.

import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Change } from '../query/query-job.ts'
import type { QueryJob } from '../query/query-job.ts'

/** Options of a results stream. */
export interface SseOptions {
  /** Interval of `: heartbeat` comments, which keep proxies from closing an idle stream. */
  heartbeatMs: number
  /** Bytes a slow client may leave unread before it is disconnected (it can resume by id). */
  maxBufferedBytes: number
  /** Send this many of the last buffered changes first (`?from=N`). */
  from: number
}

function event(id: number, change: Change): string {
  return `id: ${id}\nevent: result\ndata: ${JSON.stringify(change)}\n\n`
}

/**
 * Streams `query`'s result changes to `res` as `text/event-stream`. Each change is
 * `id: <sequence>`, `event: result`, `data: {"op": "+I", "row": {...}}`; sequence numbers count
 * the query's changes from 1. A client sending `Last-Event-ID` gets the buffered changes after
 * that id (those still in the buffer), otherwise the last `from` changes. When the query is dropped,
 * fails or finishes, an `event: end` with `{"reason": ...}` is sent and the response ends. A client
 * that reads too slowly is sent `event: overflow` and disconnected rather than buffered without
 * bound. Returns when the stream is set up.
 */
export function streamResults(
  req: IncomingMessage,
  res: ServerResponse,
  query: QueryJob,
  options: SseOptions,
): void {
  const results = query.results
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  })
  res.write(`retry: 2000\n: query ${query.name}\n\n`)

  let open = true
  let unsubscribe: (() => void) | undefined
  const heartbeat = setInterval(() => {
    if (open) res.write(': heartbeat\n\n')
  }, options.heartbeatMs)
  heartbeat.unref()
  const finish = () => {
    if (!open) return
    open = false
    clearInterval(heartbeat)
    unsubscribe?.()
  }
  const end = (name: string, reason: string) => {
    if (!open) return
    res.write(`event: ${name}\ndata: ${JSON.stringify({ reason })}\n\n`)
    finish()
    res.end()
  }
  req.on('close', finish)
  res.on('error', finish)

  const write = (firstId: number, changes: readonly Change[]) => {
    if (!open || changes.length === 0) return
    let text = ''
    for (let i = 0; i < changes.length; i++) text += event(firstId + i, changes[i]!)
    res.write(text)
    if (res.writableLength > options.maxBufferedBytes) {
      end(
        'overflow',
        `the client reads more slowly than the query produces; reconnect with Last-Event-ID to resume`,
      )
    }
  }

  const total = results.changeCount
  const lastId = Number(req.headers['last-event-id'])
  const backlog = Number.isInteger(lastId) && lastId >= 0 ? Math.max(0, total - lastId) : options.from
  const earlier = results.recent(backlog)
  write(total - earlier.length + 1, earlier)

  if (query.status !== 'running') {
    end('end', `query "${query.name}" is ${query.status}${query.error ? `: ${query.error}` : ''}`)
    return
  }
  unsubscribe = results.subscribe({
    changes: (changes) => write(results.changeCount - changes.length + 1, changes),
    end: (reason) => end('end', reason),
  })
}

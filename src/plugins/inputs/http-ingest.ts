// Ingest on the job's own HTTP server: an http source without a `port` receives the bodies of
// `POST /api/ingest/{tag}` through an IngestEndpoint, journaled before the sender gets an answer.

import { SquallError } from '../../core/errors.ts'
import type { IoContext } from '../../core/source.ts'
import { decodeBody } from '../helpers/body-decode.ts'
import type { JournalEvent, JournalIntake } from './journaled.ts'

/** What the job's HTTP server answers for one ingest request (the server's `IngestResult`). */
export type IngestAnswer = { accepted: number } | { status: 429 | 503; retryAfter: number }

/** The http input's side of an ingest request: where records go and how they are tagged. */
export interface IngestTarget {
  readonly intake: JournalIntake
  readonly io: IoContext
  /** Prefix added to every tag, with its dot (`''` for none). */
  readonly tagPrefix: string
}

const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/

/**
 * Checks the tag, decodes the body and journals its records under `tagPrefix + tag`, stamped with
 * the arrival time. Resolves `{ accepted }` once they are durable, `{ status: 429 }` without reading
 * the body when the job lags behind its journal, `{ status: 503 }` when journaling fails. Throws
 * ERR_HTTP_REQUEST for a bad tag and ERR_BAD_BODY for a body that does not decode (both 400);
 * nothing of such a request is journaled.
 */
export async function ingestBody(
  target: IngestTarget,
  tag: string,
  contentType: string | undefined,
  body: Uint8Array,
): Promise<IngestAnswer> {
  const { intake, io } = target
  if (!TAG.test(tag))
    throw new SquallError(
      'ERR_HTTP_REQUEST',
      `bad tag ${JSON.stringify(tag)} in /api/ingest/{tag}: use letters, digits, _ . : -`,
    )
  if (intake.busy()) {
    io.count('busy')
    return { status: 429, retryAfter: 1 }
  }
  let records: unknown[]
  try {
    records = decodeBody(contentType, body)
  } catch (e) {
    io.count('bad_requests')
    io.log('warn', `http input "${io.nodeName}": ${e instanceof Error ? e.message : String(e)}`, {
      node: io.nodeName,
      tag,
    })
    throw e
  }
  const now = io.clock.now()
  const t = target.tagPrefix + tag
  const events: JournalEvent[] = new Array(records.length)
  for (let i = 0; i < records.length; i++) events[i] = [t, now, records[i]]
  try {
    await intake.append(events)
  } catch (e) {
    io.log(
      'error',
      `http input "${io.nodeName}": could not journal a request: ${e instanceof Error ? e.message : String(e)}`,
      { node: io.nodeName },
    )
    return { status: 503, retryAfter: 1 }
  }
  return { accepted: events.length }
}

/**
 * The ingest route of a job's HTTP server, bound late: the server is given `handler` before the
 * job runs, and the http source attaches to it once its journal is open. Until then (and after the
 * source closes) requests get 503 with Retry-After. One source at most may claim an endpoint.
 */
export class IngestEndpoint {
  private target: IngestTarget | undefined
  private claimedBy: string | undefined
  /** True once a job server routes its ingest requests here (set before the job starts). */
  served = false

  /** The handler to give the job's HTTP server. */
  readonly handler = (tag: string, contentType: string, body: Buffer): Promise<IngestAnswer> => {
    const target = this.target
    if (target === undefined) return Promise.resolve({ status: 503, retryAfter: 1 })
    return ingestBody(target, tag, contentType, body)
  }

  /** The source that claimed the endpoint, if any. */
  get owner(): string | undefined {
    return this.claimedBy
  }

  /** Reserves the endpoint for the source `name`; false when another source has it. */
  claim(name: string): boolean {
    if (this.claimedBy !== undefined && this.claimedBy !== name) return false
    this.claimedBy = name
    return true
  }

  /** Routes requests to `target` until the returned function is called. */
  attach(target: IngestTarget): () => void {
    this.target = target
    return () => {
      if (this.target === target) this.target = undefined
    }
  }
}

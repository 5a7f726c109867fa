// Forward-protocol ingest throughput: a client process sends PackedForward chunks of ~160-byte
// records with pipelined acks; this process receives them and counts events per `path`.
// Runs Squall's ForwardServer and a plain-Node baseline (net + msgpackr) on the same bytes.
// Run: node --import tsx bench/forward-ingest.ts [events] [batch]

import { fork } from 'node:child_process'
import { createServer } from 'node:net'
import type { AddressInfo, Server } from 'node:net'
import { fileURLToPath } from 'node:url'
import { Packr, Unpackr } from 'msgpackr'
import { ForwardServer } from '../src/plugins/forward/server.ts'
import { type BenchRow, row } from './harness.ts'

export interface ForwardBenchOptions {
  /** Events to send per run (rounded up to whole batches); default 2 000 000. */
  events?: number
  /** Events per PackedForward chunk; default 1000. */
  batch?: number
  /** Chunks in flight; default 8. */
  window?: number
}

export interface ForwardBenchResult {
  /** Events per second through ForwardServer. */
  squall: number
  /** Events per second through the plain net + msgpackr loop. */
  plain: number
}

const CLIENT = fileURLToPath(new URL('./forward-client.ts', import.meta.url))

/** Starts the client process against `port` and resolves when it exits successfully. */
function runClient(port: number, events: number, batch: number, window: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = fork(CLIENT, [String(port), String(events), String(batch), String(window)], {
      execArgv: ['--import', 'tsx'],
      stdio: 'inherit',
    })
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`forward-client exited with ${code}`)),
    )
  })
}

/** Events per second from the first byte received to the last event counted. */
interface Clock {
  first: number
  last: number
}

function rate(events: number, clock: Clock): number {
  return Math.round(events / ((clock.last - clock.first) / 1000))
}

async function runSquall(events: number, batch: number, window: number): Promise<number> {
  const counts = new Map<string, number>()
  const clock: Clock = { first: 0, last: 0 }
  let seen = 0
  const server = await ForwardServer.listen({
    port: 0,
    heartbeat: false,
    onEvents: (_tag, entries) => {
      if (seen === 0) clock.first = performance.now()
      for (let i = 0; i < entries.length; i++) {
        const path = entries[i]!.record.path as string
        counts.set(path, (counts.get(path) ?? 0) + 1)
      }
      seen += entries.length
      clock.last = performance.now()
    },
  })
  await runClient(server.port, events, batch, window)
  await server.close()
  check(counts, seen, events)
  return rate(seen, clock)
}

async function runPlain(events: number, batch: number, window: number): Promise<number> {
  const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true })
  const packr = new Packr({ useRecords: false, mapsAsObjects: true })
  const counts = new Map<string, number>()
  const clock: Clock = { first: 0, last: 0 }
  let seen = 0
  const server: Server = createServer((socket) => {
    let pending: Buffer | null = null
    socket.on('data', (data: Buffer) => {
      if (seen === 0) clock.first = performance.now()
      const buf: Buffer = pending ? Buffer.concat([pending, data]) : data
      pending = null
      let messages: Array<[string, Uint8Array, { chunk: string }]>
      try {
        messages = unpackr.unpackMultiple(buf) as typeof messages
      } catch (error) {
        const e = error as { incomplete?: boolean; lastPosition?: number; values?: typeof messages }
        if (!e.incomplete) throw error
        messages = e.values ?? []
        pending = buf.subarray(e.lastPosition ?? 0)
      }
      for (const message of messages) {
        const entries = unpackr.unpackMultiple(message[1]) as Array<[unknown, { path: string }]>
        for (let i = 0; i < entries.length; i++) {
          const path = entries[i]![1].path
          counts.set(path, (counts.get(path) ?? 0) + 1)
        }
        seen += entries.length
        socket.write(packr.pack({ ack: message[2].chunk }))
      }
      clock.last = performance.now()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  await runClient((server.address() as AddressInfo).port, events, batch, window)
  server.close()
  check(counts, seen, events)
  return rate(seen, clock)
}

function check(counts: Map<string, number>, seen: number, events: number): void {
  let total = 0
  for (const n of counts.values()) total += n
  if (total !== seen || seen < events)
    throw new Error(`counted ${total} of ${seen} events, expected ${events}`)
}

/**
 * Runs the plain baseline, then Squall, on identical traffic; returns events per second of each.
 * Figures include the client's work on the other core; the ratio is what to compare across runs.
 */
export async function runForwardBench(options: ForwardBenchOptions = {}): Promise<ForwardBenchResult> {
  const batch = options.batch ?? 1000
  const events = Math.ceil((options.events ?? 2_000_000) / batch) * batch
  const window = options.window ?? 8
  await runPlain(Math.min(events, 100 * batch), batch, window)
  const plain = await runPlain(events, batch, window)
  const squall = await runSquall(events, batch, window)
  return { squall, plain }
}

/**
 * For `npm run bench`: the better of two runs of each side. What is measured is the forward server
 * (framing, decoding, acks) with a per-path count in its handler — not the journal or a job.
 */
export async function bench(): Promise<BenchRow[]> {
  let squall = 0
  let plain = 0
  for (let i = 0; i < 2; i++) {
    const r = await runForwardBench()
    squall = Math.max(squall, r.squall)
    plain = Math.max(plain, r.plain)
  }
  return [
    row(
      'forward ingest + count vs plain net+msgpackr',
      squall,
      plain,
      0.7,
      'target also ≥ 500k events/s; no journal',
    ),
  ]
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const events = Number(process.argv[2] ?? 2_000_000)
  const batch = Number(process.argv[3] ?? 1000)
  const { squall, plain } = await runForwardBench({ events, batch })
  const ratio = squall / plain
  console.log(
    `forward ingest: squall ${squall.toLocaleString('en')} events/s, plain ${plain.toLocaleString('en')} events/s, ratio ${ratio.toFixed(2)}`,
  )
  console.log(`forward-ingest,${events},${batch},${squall},${plain},${ratio.toFixed(3)}`)
}

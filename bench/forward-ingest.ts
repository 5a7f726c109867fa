// Forward-protocol ingest throughput: a client process sends PackedForward chunks of ~160-byte
// records with pipelined acks. Squall's side is a job — the `forward` input (every chunk journaled
// before its ack) → keyBy(path) → count → a discarding sink — against a plain-Node loop (net +
// msgpackr, count per path in a Map) on the same traffic, in alternating runs.
// Run: node --import tsx bench/forward-ingest.ts [events] [batch] [fsync]   (or: npm run bench -- forward)

import { fork } from 'node:child_process'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { createServer } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { Packr, Unpackr } from 'msgpackr'
import type { Logger } from '../src/core/logger.ts'
import { runEmbedded } from '../src/runtime/embedded/runner.ts'
import type { FsyncPolicy } from '../src/state/journal.ts'
import { type BenchRow, compareRates, row, type Timed } from './harness.ts'
import { forwardCount } from './jobs/forward-count.ts'

export interface ForwardBenchOptions {
  /** Events to send per run (rounded up to whole batches); default 1 000 000. */
  events?: number
  /** Events per PackedForward chunk; default 1000. */
  batch?: number
  /** Chunks in flight; default 8. */
  window?: number
  /** Measured rounds of each side after one warm-up each; default 2. */
  rounds?: number
  /** The forward input's journal fsync policy; default the input's default (`always`). */
  fsync?: FsyncPolicy
}

export interface ForwardBenchResult {
  /** Events per second through the forward count job (best round). */
  squall: number
  /** Events per second through the plain net + msgpackr loop (best round). */
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

/** Times from the first byte received to the last event counted. */
interface Clock {
  first: number
  last: number
}

function seconds(clock: Clock): Timed {
  return { seconds: (clock.last - clock.first) / 1000 }
}

/** Prints errors (a failing run says why); drops the rest, such as the temporary-journal warning. */
const quiet: Logger = (level, message) => {
  if (level === 'error') process.stderr.write(`[forward-ingest] ${level}: ${message}\n`)
}

/**
 * Notes when the first byte reaches any TCP server of this process (the job's forward input is the
 * only one while it runs): `net.server.socket` is published for each accepted socket, and a
 * listener put before the server's own sees the first chunk before it is handled.
 */
function firstByte(clock: Clock): () => void {
  const onSocket = (message: unknown): void => {
    const socket = (message as { socket: Socket }).socket
    socket.prependOnceListener('data', () => {
      if (clock.first === 0) clock.first = performance.now()
    })
  }
  subscribe('net.server.socket', onSocket)
  return () => unsubscribe('net.server.socket', onSocket)
}

async function runSquall(
  events: number,
  batch: number,
  window: number,
  fsync: FsyncPolicy | undefined,
): Promise<Timed> {
  const clock: Clock = { first: 0, last: 0 }
  let port: (p: number) => void = () => {}
  const bound = new Promise<number>((resolve) => {
    port = resolve
  })
  let all: () => void = () => {}
  const counted = new Promise<void>((resolve) => {
    all = resolve
  })
  const { topology, sink } = forwardCount({
    expected: events,
    fsync,
    log: quiet,
    onAll: () => {
      clock.last = performance.now()
      all()
    },
  })
  const job = runEmbedded(topology, {
    log: quiet,
    onReport: (channel, data) => {
      if (channel === 'listening:fluent') port((data as { port: number }).port)
    },
  })
  const failed = job.done.then(() => {
    throw new Error('the forward count job ended before counting every event')
  })
  const stop = firstByte(clock)
  try {
    await Promise.race([
      Promise.all([bound.then((p) => runClient(p, events, batch, window)), counted]),
      failed,
    ])
  } finally {
    stop()
    job.drain()
    await job.done.catch(() => {})
  }
  check(sink.updates, events, events)
  return seconds(clock)
}

async function runPlain(events: number, batch: number, window: number): Promise<Timed> {
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
  let total = 0
  for (const n of counts.values()) total += n
  check(total, seen, events)
  return seconds(clock)
}

function check(total: number, seen: number, events: number): void {
  if (total !== seen || seen < events)
    throw new Error(`counted ${total} of ${seen} events, expected ${events}`)
}

/**
 * Runs the plain baseline and the Squall job alternately on identical traffic (one warm-up each,
 * then `rounds` rounds); returns the best events per second of each. Figures include the client's
 * work on the other core; the ratio is what to compare across runs.
 */
export async function runForwardBench(options: ForwardBenchOptions = {}): Promise<ForwardBenchResult> {
  const batch = options.batch ?? 1000
  const events = Math.ceil((options.events ?? 1_000_000) / batch) * batch
  const window = options.window ?? 8
  const [plain, squall] = await compareRates(events, options.rounds ?? 2, [
    () => runPlain(events, batch, window),
    () => runSquall(events, batch, window, options.fsync),
  ])
  return { squall: Math.round(squall!), plain: Math.round(plain!) }
}

/**
 * For `npm run bench`: the forward input with its default journal settings (fsync `batch`, in a
 * temporary journal directory) → keyBy → count, against the plain loop without a journal.
 */
export async function bench(): Promise<BenchRow[]> {
  const { squall, plain } = await runForwardBench()
  return [
    row(
      'forward input → keyed count vs plain net+msgpackr',
      squall,
      plain,
      0.7,
      `${squall >= 500_000 ? 'meets' : 'misses'} the ≥ 500k events/s target; journal fsync "always" (the input's default: group commit)`,
    ),
  ]
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const events = Number(process.argv[2] ?? 1_000_000)
  const batch = Number(process.argv[3] ?? 1000)
  const fsync = process.argv[4] as FsyncPolicy | undefined
  const { squall, plain } = await runForwardBench({ events, batch, ...(fsync ? { fsync } : {}) })
  const ratio = squall / plain
  console.log(
    `forward ingest: squall ${squall.toLocaleString('en')} events/s, plain ${plain.toLocaleString('en')} events/s, ratio ${ratio.toFixed(2)}`,
  )
  console.log(`forward-ingest,${events},${batch},${squall},${plain},${ratio.toFixed(3)}`)
}

// The sending side of bench/forward-ingest.ts, run as its own process:
//   node --import tsx bench/forward-client.ts <port> <events> <batch> <window>
// Sends PackedForward chunks of `batch` ~160-byte records, keeping `window` chunks in flight and
// sending the next one as each ack arrives; `events` is rounded up to whole chunks. Exits once
// every chunk is acknowledged.

import { connect } from 'node:net'
import { EventTime, packr, unpackr } from '../src/plugins/forward/event-time.ts'
import { FrameReader } from '../src/plugins/forward/framing.ts'

const [port, events, batch, window] = process.argv.slice(2).map(Number) as [number, number, number, number]

const AGENTS = [
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0',
  'curl/8.5.0',
  'Googlebot/2.1',
]

/** One payload per variant: `batch` entries concatenated, as PackedForward carries them. */
function payload(variant: number): Buffer {
  const pairs: unknown[] = []
  for (let i = 0; i < batch; i++) {
    const n = variant * batch + i
    pairs.push([
      new EventTime(1_700_000_000 + (n % 3600), (n % 1000) * 1_000_000),
      {
        path: `/products/${n % 500}/reviews?page=${n % 7}`,
        status: n % 17 === 0 ? 404 : 200,
        bytes: 1000 + (n % 50_000),
        ip: `192.168.${n % 256}.${(n * 7) % 256}`,
        agent: AGENTS[n % AGENTS.length],
      },
    ])
  }
  const packed = packr.pack(pairs)
  const header = packed[0]! <= 0x9f ? 1 : packed[0] === 0xdc ? 3 : 5
  return Buffer.from(packed.subarray(header))
}

const payloads = Array.from({ length: 16 }, (_, v) => payload(v))
const chunks = Math.ceil(events / batch)
let sent = 0
let acked = 0

const socket = connect({ host: '127.0.0.1', port }, () => {
  socket.setNoDelay(true)
  for (let i = 0; i < window && sent < chunks; i++) sendOne()
})
const reader = new FrameReader(1 << 20)
socket.on('data', (d: Buffer) => {
  reader.push(d)
  let f: Buffer | null
  while ((f = reader.next()) !== null) {
    const answer = unpackr.unpack(f) as { ack?: string }
    if (typeof answer.ack !== 'string') continue
    acked++
    if (acked === chunks) {
      socket.end()
      return
    }
    if (sent < chunks) sendOne()
  }
})
socket.on('error', (error) => {
  process.stderr.write(`forward-client: ${error.message}\n`)
  process.exit(1)
})

function sendOne(): void {
  socket.write(
    packr.pack(['bench.access', payloads[sent % payloads.length]!, { size: batch, chunk: `c${sent}` }]),
  )
  sent++
}

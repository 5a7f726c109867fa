import { mkdtempSync, writeFileSync } from 'node:fs'
import { type IncomingHttpHeaders, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { memoryLogger } from '../../src/core/logger.ts'
import { loadPipeline } from '../../src/pipeline/load.ts'
import { runToEnd } from '../../src/runtime/embedded/runner.ts'

const OPERATORS = join(import.meta.dirname, '../fixtures/block-brute-force.ts')

// The pipeline of docs/kit.md ("Decisions to a webhook"), with its paths from the environment.
const PIPELINE = `
name: block-brute-force
sources:
  - name: logins
    type: file
    format: jsonl
    path: \${LOGINS}
    eventTime: { field: time }
operators:
  module: \${OPERATORS}
outputs:
  - type: http
    endpoint: \${BLOCKLIST_URL}
    headers: { Authorization: "Bearer \${BLOCKLIST_TOKEN}" }
    retry: { initialInterval: 50ms }
`

interface Posted {
  status: number
  headers: IncomingHttpHeaders
  body: string
}

/** A blocklist service on 127.0.0.1 that is unavailable (503) for its first `failFirst` requests. */
async function blocklist(failFirst: number) {
  const posted: Posted[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (c: string) => (body += c))
    req.on('end', () => {
      const status = posted.length < failFirst ? 503 : 200
      posted.push({ status, headers: req.headers, body })
      res.writeHead(status).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}/blocks`, posted, close: () => server.close() }
}

/** Logins of a normal morning with two attackers whose guessing works, and two that never get in. */
function logins(): object[] {
  const t0 = Date.UTC(2026, 0, 1, 9)
  const events: { time: number; ip: string; user: string; success: boolean }[] = []
  const login = (s: number, ip: string, user: string, success: boolean) =>
    events.push({ time: t0 + s * 1000, ip, user, success })
  // 40 users log in every 5 minutes from their own address; one in 7 mistypes the password twice.
  for (let round = 0; round < 6; round++) {
    for (let u = 0; u < 40; u++) {
      const s = round * 300 + u * 7
      if ((u + round) % 7 === 0) {
        login(s, `10.0.0.${u}`, `user${u}`, false)
        login(s + 4, `10.0.0.${u}`, `user${u}`, false)
      }
      login(s + 9, `10.0.0.${u}`, `user${u}`, true)
    }
  }
  // 203.0.113.10 guesses admin's password 8 times in 16 s and gets in.
  for (let i = 0; i < 8; i++) login(100 + 2 * i, '203.0.113.10', 'admin', false)
  login(117, '203.0.113.10', 'admin', true)
  // 203.0.113.11 tries 5 accounts once each within a minute, then one of them works.
  for (let i = 0; i < 5; i++) login(600 + 10 * i, '203.0.113.11', `user${i}`, false)
  login(655, '203.0.113.11', 'user3', true)
  // 203.0.113.12 is slow: 6 failures 70 s apart, never 5 within 60 s, then a success.
  for (let i = 0; i < 6; i++) login(900 + 70 * i, '203.0.113.12', 'root', false)
  login(1321, '203.0.113.12', 'root', true)
  // 198.51.100.20 fails 20 times and never gets in: no success, no block.
  for (let i = 0; i < 20; i++) login(1000 + i, '198.51.100.20', 'admin', false)
  return events.sort((a, b) => a.time - b.time)
}

let stop: (() => void) | undefined
afterEach(() => {
  stop?.()
  stop = undefined
})

describe('kit decisions through the http output', () => {
  it('brute-force blocks reach a webhook with the IP and the reason, and a chunk refused with 503 is posted again', async () => {
    const hook = await blocklist(1)
    stop = hook.close
    const dir = mkdtempSync(join(tmpdir(), 'squall-webhook-'))
    const input = join(dir, 'logins.jsonl')
    writeFileSync(
      input,
      `${logins()
        .map((e) => JSON.stringify(e))
        .join('\n')}\n`,
    )
    const pipeline = join(dir, 'block.yaml')
    writeFileSync(pipeline, PIPELINE)
    const built = await loadPipeline(pipeline, {
      env: { LOGINS: input, OPERATORS, BLOCKLIST_URL: hook.url, BLOCKLIST_TOKEN: 'hook-token' },
      log: memoryLogger(),
    })
    const result = await runToEnd(built.topology, { log: memoryLogger() })
    expect(result.status).toBe('finished')

    // The first post was refused (503, retryable) and the same chunk came again.
    expect(hook.posted[0]!.status).toBe(503)
    expect(hook.posted[1]!.body).toBe(hook.posted[0]!.body)
    const delivered = hook.posted.slice(1)
    for (const p of delivered) {
      expect(p.status).toBe(200)
      expect(p.headers['content-type']).toBe('application/json')
      expect(p.headers.authorization).toBe('Bearer hook-token')
    }
    const t0 = Date.UTC(2026, 0, 1, 9)
    // Exactly the two attackers who got in, each once, when they got in; no user, no slow guesser,
    // no one who never succeeded.
    const decisions = delivered.flatMap((p) => JSON.parse(p.body) as { at: number }[])
    expect(decisions.sort((x, y) => x.at - y.at)).toEqual([
      {
        action: 'block',
        ip: '203.0.113.10',
        user: 'admin',
        reason: '8 failed logins within 60s followed by a success',
        at: t0 + 117_000,
      },
      {
        action: 'block',
        ip: '203.0.113.11',
        user: 'user3',
        reason: '5 failed logins within 60s followed by a success',
        at: t0 + 655_000,
      },
    ])
  })
})

import { type Server, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { memoryLogger } from '../../src/core/logger.ts'
import { runQueryCommand } from '../../src/cli/query.ts'
import { type ServedJob, serveModule } from '../../src/server/job-server.ts'
import { toyPlanner } from './toy-planner.ts'

const FIXTURE = new URL('../fixtures/endless.ts', import.meta.url).pathname
const TOKEN = 'cli-token'

let served: ServedJob | undefined
afterEach(async () => {
  vi.restoreAllMocks()
  await served?.close()
  await served?.job.stop()
  served = undefined
})

async function cli(args: string[]): Promise<{ code: number; lines: string[]; stderr: string }> {
  const lines: string[] = []
  let stderr = ''
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk)
    return true
  })
  try {
    const code = await runQueryCommand([...args, '--server', served!.server.url, '--token', TOKEN], (l) =>
      lines.push(l),
    )
    return { code, lines, stderr }
  } finally {
    spy.mockRestore()
  }
}

describe('squall query', () => {
  it('serving a module taps its sources, and add, list, get, tail and drop work from the terminal', async () => {
    served = await serveModule(
      FIXTURE,
      { log: memoryLogger() },
      { port: 0, token: TOKEN, planner: toyPlanner, log: memoryLogger() },
    )
    expect(served.bus.tables()).toEqual(['gen'])
    expect(served.job.status()).not.toBe('failed')

    const add = await cli(['add', 'odd', "SELECT * FROM gen WHERE seq = '7'"])
    expect(add.code).toBe(0)
    expect(JSON.parse(add.lines[0]!)).toMatchObject({ name: 'odd', status: 'running' })
    expect(add.stderr).toContain('warning: SELECT * returns every field')

    await cli(['add', 'all', 'SELECT seq, COUNT(*) AS n FROM gen GROUP BY seq'])
    const list = await cli(['list'])
    expect(list.lines.map((l) => JSON.parse(l).name)).toEqual(['odd', 'all'])

    const tail = cli(['tail', 'odd'])
    await new Promise((r) => setTimeout(r, 100))
    await served.manager.drop('odd')
    const tailed = await tail
    expect(tailed.code).toBe(0)
    expect(tailed.stderr).toContain('end: query "odd" was dropped')

    while (served.manager.get('all').results.rowCount < 5) await new Promise((r) => setTimeout(r, 20))
    const page = await cli(['get', 'all', '--limit', '3', '--offset', '1'])
    expect(page.lines).toHaveLength(3)
    const second = JSON.parse(page.lines[1]!) as { seq: string; n: number }
    expect(second.n).toBe(1)
    const get = await cli(['get', 'all', '--key', second.seq])
    expect(get.lines.map((l) => JSON.parse(l))).toEqual([second])

    const dropped = await cli(['drop', 'all'])
    expect(dropped.code).toBe(0)
    const again = await cli(['drop', 'all'])
    expect(again.code).toBe(1)
    expect(again.stderr).toContain('ERR_QUERY_NOT_FOUND: no query named "all"')
  })

  it('a tail prints each result change as one JSON line', async () => {
    served = await serveModule(
      FIXTURE,
      { log: memoryLogger() },
      { port: 0, token: TOKEN, planner: toyPlanner, log: memoryLogger() },
    )
    const added = await cli(['add', 'each', 'SELECT seq, COUNT(*) AS n FROM gen GROUP BY seq'])
    expect(added.code).toBe(0)
    setTimeout(() => void served!.manager.drop('each'), 300)
    const t = await cli(['tail', 'each'])
    expect(t.stderr).toContain('was dropped')
    expect(t.lines.length).toBeGreaterThan(50)
    const changes = t.lines.map((l) => JSON.parse(l) as { op: string; row: { seq: string; n: number } })
    expect(changes.every((c) => c.op === '+I' && c.row.n === 1)).toBe(true)
    const seqs = changes.map((c) => Number(c.row.seq))
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i))
  })

  it('usage errors name the problem, and an unreachable server is ERR_SERVER_UNREACHABLE', async () => {
    await expect(runQueryCommand(['frobnicate'])).rejects.toMatchObject({
      code: 'ERR_CLI_USAGE',
      message: expect.stringContaining('expected one of add, list, drop, tail, get'),
    })
    await expect(runQueryCommand(['drop'])).rejects.toMatchObject({
      code: 'ERR_CLI_USAGE',
      message: expect.stringContaining('missing NAME'),
    })
    await expect(runQueryCommand(['list', '--server', 'http://127.0.0.1:1'])).rejects.toMatchObject({
      code: 'ERR_SERVER_UNREACHABLE',
    })
  })

  it("an answer that is not the API's, a refused connection and a bad --server or --file are clear errors", async () => {
    const other: Server = createServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'text/html' })
      res.end('<!DOCTYPE html><title>Not here</title>')
    })
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r))
    const otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}`
    let stderr = ''
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      stderr += String(chunk)
      return true
    })
    try {
      expect(await runQueryCommand(['list', '--server', otherUrl], () => {})).toBe(1)
      expect(stderr).toContain(
        `squall query list: 404 Not Found from ${otherUrl}, not an answer of a Squall job's HTTP API`,
      )
      stderr = ''
      expect(await runQueryCommand(['tail', 'q', '--server', otherUrl], () => {})).toBe(1)
      expect(stderr).toContain(`squall query tail: 404 Not Found from ${otherUrl}, not an answer`)
    } finally {
      await new Promise((r) => other.close(r))
    }
    const closed = createServer()
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r))
    const closedUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`
    await new Promise((r) => closed.close(r))
    await expect(runQueryCommand(['tail', 'q', '--server', closedUrl], () => {})).rejects.toMatchObject({
      code: 'ERR_SERVER_UNREACHABLE',
      message: expect.stringContaining('ECONNREFUSED'),
    })
    await expect(runQueryCommand(['list', '--server', 'localhost8080'])).rejects.toMatchObject({
      code: 'ERR_CLI_USAGE',
      message: expect.stringContaining("--server: expected the URL of a job's HTTP API"),
    })
    await expect(
      runQueryCommand(['add', 'q', '--file', '/nonexistent/q.sql', '--server', otherUrl]),
    ).rejects.toMatchObject({
      code: 'ERR_CLI_USAGE',
      message: expect.stringContaining('--file: cannot read /nonexistent/q.sql'),
    })
  })
})

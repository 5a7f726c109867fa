// Tests of the durable journal: append and replay across segments, torn-write recovery, truncation,
// locking, fsync policies, and a real crash of a child process that appends with fsync 'always'.

import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { SquallError } from '../../src/core/errors.ts'
import { memoryLogger } from '../../src/core/logger.ts'
import { Journal, type JournalReader } from '../../src/state/journal.ts'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'squall-journal-'))
})
afterEach(() => {
  rmSync(dir, { recursive: true, force: true })
})

function readAll(reader: JournalReader, max = 1000): unknown[] {
  const out: unknown[] = []
  for (;;) {
    const batch = reader.readBatch(max)
    if (batch.length === 0) return out
    out.push(...batch)
  }
}

function segmentFiles(): string[] {
  return readdirSync(dir).filter((n) => n.endsWith('.seg'))
}

describe('Journal', () => {
  it('journal: appended values are read back in order with the positions append returned', async () => {
    const j = await Journal.open(dir)
    const p1 = await j.append([{ a: 1 }, 'two'])
    const p2 = await j.append([[3, 4], null, 5.5])
    expect(p2).toBeGreaterThan(p1)
    expect(j.end()).toBe(p2)
    const r = j.reader(0)
    expect(r.readBatch(2)).toEqual([{ a: 1 }, 'two'])
    expect(r.position()).toBe(p1)
    expect(r.readBatch(10)).toEqual([[3, 4], null, 5.5])
    expect(r.position()).toBe(p2)
    expect(r.readBatch(10)).toEqual([])
    const fromMiddle = j.reader(p1)
    expect(readAll(fromMiddle)).toEqual([[3, 4], null, 5.5])
    r.close()
    fromMiddle.close()
    await j.close()
  })

  it('journal: entries span many segments and replay identically after reopening', async () => {
    const j = await Journal.open(dir, { segmentBytes: 4096, fsync: 'batch', batchEntries: 50 })
    const values = Array.from({ length: 3000 }, (_, i) => ({ i, text: `entry number ${i}` }))
    const appends: Promise<number>[] = []
    for (let i = 0; i < values.length; i += 100) appends.push(j.append(values.slice(i, i + 100)))
    const positions = await Promise.all(appends)
    expect(positions).toEqual([...positions].sort((a, b) => a - b))
    expect(segmentFiles().length).toBeGreaterThan(5)
    await j.close()

    const again = await Journal.open(dir, { segmentBytes: 4096 })
    expect(again.end()).toBe(positions[positions.length - 1])
    expect(readAll(again.reader(), 333)).toEqual(values)
    const r = again.reader(positions[9])
    expect(readAll(r)).toEqual(values.slice(1000))
    r.close()
    await again.append([{ i: 3000 }])
    expect(readAll(again.reader(positions[positions.length - 1]))).toEqual([{ i: 3000 }])
    await again.close()
  })

  it('journal: objects of many shapes decode through shared record structures, before and after reopening', async () => {
    const shaped = (i: number) => ({ [`field${i % 70}`]: i, common: 'x', nested: { [`n${i % 3}`]: [i] } })
    const j = await Journal.open(dir)
    const early = j.reader()
    const first = Array.from({ length: 140 }, (_, i) => shaped(i))
    for (let i = 0; i < first.length; i += 20) await j.append(first.slice(i, i + 20))
    expect(readAll(early)).toEqual(first)
    await j.close()
    expect(readdirSync(dir)).toContain('STRUCTURES.json')

    const again = await Journal.open(dir)
    const late = again.reader()
    const more = [{ brand: 'new', shape: true }, shaped(3), 'plain string', [1, { a: 1 }]]
    await again.append(more)
    expect(readAll(late)).toEqual([...first, ...more])
    await again.close()
  })

  it('journal: raw payloads round-trip through appendBytes and readBytes', async () => {
    const j = await Journal.open(dir, { fsync: 'never' })
    const payloads = [
      Buffer.from('hello'),
      new Uint8Array([0, 1, 2, 255]),
      Buffer.alloc(0),
      Buffer.alloc(70_000, 7),
    ]
    await j.appendBytes(payloads)
    const got = j.reader().readBytes(10)
    expect(got.map((b) => Buffer.from(b).toString('hex'))).toEqual(
      payloads.map((b) => Buffer.from(b).toString('hex')),
    )
    await j.close()
  })

  it('journal: concurrent appends share syncs and keep call order', async () => {
    const j = await Journal.open(dir, { fsync: 'always' })
    const all = await Promise.all(Array.from({ length: 200 }, (_, i) => j.append([i])))
    for (let i = 1; i < all.length; i++) expect(all[i]).toBeGreaterThan(all[i - 1]!)
    expect(readAll(j.reader())).toEqual(Array.from({ length: 200 }, (_, i) => i))
    await j.close()
  })

  it('journal: a reader sees only acknowledged entries and ready() resolves when more arrive', async () => {
    const j = await Journal.open(dir, { fsync: 'always' })
    const r = j.reader()
    expect(r.readBatch(10)).toEqual([])
    const ready = r.ready()
    const appended = j.append(['x'])
    expect(r.readBatch(10)).toEqual([])
    await ready
    await appended
    expect(r.readBatch(10)).toEqual(['x'])
    await j.close()
  })

  it('journal: a torn last entry is cut off on open and appending continues after the last whole entry', async () => {
    const j = await Journal.open(dir)
    await j.append(['first', 'second'])
    const whole = await j.append(['third'])
    await j.append(['a fourth entry that will be torn in half'])
    await j.close()
    const file = join(dir, segmentFiles()[0]!)
    truncateSync(file, statSync(file).size - 10)

    const log = memoryLogger()
    const again = await Journal.open(dir, { log })
    expect(again.end()).toBe(whole)
    expect(log.entries.some((e) => e.level === 'warn' && e.message.includes('torn'))).toBe(true)
    expect(statSync(file).size).toBe(8 + whole)
    await again.append(['fifth'])
    expect(readAll(again.reader())).toEqual(['first', 'second', 'third', 'fifth'])
    await again.close()
  })

  it('journal: a frame with damaged bytes at the end is cut off by its CRC32', async () => {
    const j = await Journal.open(dir)
    const whole = await j.append(['kept'])
    await j.append(['damaged'])
    await j.close()
    const file = join(dir, segmentFiles()[0]!)
    const { openSync, writeSync, closeSync } = await import('node:fs')
    const fd = openSync(file, 'r+')
    writeSync(fd, Buffer.from('XX'), 0, 2, statSync(file).size - 2)
    closeSync(fd)
    const again = await Journal.open(dir)
    expect(again.end()).toBe(whole)
    expect(readAll(again.reader())).toEqual(['kept'])
    await again.close()
  })

  it('journal: damage inside a closed segment makes the reader throw ERR_JOURNAL_CORRUPT', async () => {
    const j = await Journal.open(dir, { segmentBytes: 100 })
    for (let i = 0; i < 10; i++) await j.append([`value ${i} with some padding`])
    const first = join(dir, segmentFiles()[0]!)
    const { openSync, writeSync, closeSync } = await import('node:fs')
    const fd = openSync(first, 'r+')
    writeSync(fd, Buffer.from('zz'), 0, 2, 20)
    closeSync(fd)
    expect(() => readAll(j.reader())).toThrow(expect.objectContaining({ code: 'ERR_JOURNAL_CORRUPT' }))
    await j.close()
  })

  it('journal: truncateBefore deletes whole older segments and keeps the one holding the position', async () => {
    const j = await Journal.open(dir, { segmentBytes: 200 })
    const positions: number[] = []
    for (let i = 0; i < 40; i++) positions.push(await j.append([{ i, pad: 'abcdefghijklmnopqrstuvwxyz' }]))
    const before = segmentFiles().length
    const cut = positions[24]!
    const deleted = await j.truncateBefore(cut)
    expect(deleted).toBeGreaterThan(0)
    expect(segmentFiles().length).toBe(before - deleted)
    expect(j.start()).toBeLessThanOrEqual(cut)
    expect(readAll(j.reader(cut)).map((v) => (v as { i: number }).i)).toEqual(
      Array.from({ length: 15 }, (_, k) => 25 + k),
    )
    expect(() => j.reader(0)).toThrow(SquallError)
    await j.truncateBefore(Number.MAX_SAFE_INTEGER)
    expect(segmentFiles().length).toBe(1)
    await j.close()
    const again = await Journal.open(dir)
    expect(again.start()).toBeGreaterThan(0)
    expect(again.end()).toBe(positions[39])
    await again.close()
  })

  it('journal: a reader inside a segment deleted by truncation finishes it and moves on', async () => {
    const j = await Journal.open(dir, { segmentBytes: 100 })
    for (let i = 0; i < 30; i++) await j.append([{ i, pad: 'abcdefghijklmnopqrstuvwxyz' }])
    const r = j.reader()
    expect(r.readBatch(1)).toEqual([{ i: 0, pad: 'abcdefghijklmnopqrstuvwxyz' }])
    const before = segmentFiles().length
    expect(await j.truncateBefore(j.segmentList()[1]!.base)).toBe(1)
    expect(segmentFiles().length).toBe(before - 1)
    expect(readAll(r).map((v) => (v as { i: number }).i)).toEqual(Array.from({ length: 29 }, (_, k) => k + 1))
    r.close()
    const lagging = j.reader(j.start())
    await j.truncateBefore(j.end())
    expect(() => readAll(lagging)).toThrow(/before the oldest position held/)
    await j.close()
  })

  it('journal: a second open of a locked directory fails with ERR_JOURNAL_LOCKED; a stale lock is taken over', async () => {
    const j = await Journal.open(dir)
    await expect(Journal.open(dir)).rejects.toMatchObject({ code: 'ERR_JOURNAL_LOCKED' })
    await j.close()
    writeFileSync(join(dir, 'LOCK'), '999999999')
    const again = await Journal.open(dir)
    await again.close()
  })

  it('journal: interval and never policies resolve after the write and keep data across reopen', async () => {
    for (const fsync of ['interval', 'never'] as const) {
      const sub = join(dir, fsync)
      const j = await Journal.open(sub, { fsync, fsyncIntervalMs: 20 })
      await j.append(['a', 'b'])
      await new Promise((r) => setTimeout(r, 50))
      await j.close()
      const again = await Journal.open(sub)
      expect(readAll(again.reader())).toEqual(['a', 'b'])
      await again.close()
    }
  })

  it('journal: appending after close rejects with ERR_JOURNAL_FAILED', async () => {
    const j = await Journal.open(dir)
    await j.close()
    await expect(j.append(['late'])).rejects.toMatchObject({ code: 'ERR_JOURNAL_FAILED' })
  })

  it('journal: bad options are refused with the parameter named', async () => {
    await expect(Journal.open(dir, { fsync: 'sometimes' as 'always' })).rejects.toThrow(
      /fsync: expected one of/,
    )
    await expect(Journal.open(dir, { segmentBytes: 0 })).rejects.toThrow(/segmentBytes/)
  })

  it('journal: every entry acknowledged before a SIGKILL is present after reopening', async () => {
    const child = join(dir, 'child.mts')
    const journalModule = resolve(import.meta.dirname, '../../src/state/journal.ts')
    writeFileSync(
      child,
      `import { Journal } from ${JSON.stringify(journalModule)}
const j = await Journal.open(process.argv[2], { fsync: 'always', segmentBytes: 16384 })
let i = 0
for (;;) {
  const batch = []
  for (let k = 0; k < 1 + (i % 7); k++) batch.push({ i: i++, pad: 'x'.repeat(i % 50) })
  const pos = await j.append(batch)
  process.stdout.write(pos + ' ' + (i - 1) + '\\n')
}
`,
    )
    const data = join(dir, 'data')
    const proc = spawn(process.execPath, ['--import', 'tsx', child, data], {
      cwd: resolve(import.meta.dirname, '../..'),
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let lastAcked = -1
    let lastPos = 0
    let acks = 0
    let text = ''
    await new Promise<void>((done, fail) => {
      proc.on('error', fail)
      proc.on('exit', () => done())
      proc.stdout.on('data', (chunk: Buffer) => {
        text += chunk.toString()
        let nl = text.indexOf('\n')
        while (nl >= 0) {
          const [pos, last] = text.slice(0, nl).split(' ').map(Number)
          lastPos = pos!
          lastAcked = last!
          acks++
          text = text.slice(nl + 1)
          nl = text.indexOf('\n')
        }
        if (acks >= 300) proc.kill('SIGKILL')
      })
    })
    expect(proc.signalCode).toBe('SIGKILL')
    expect(lastAcked).toBeGreaterThan(300)
    const j = await Journal.open(data)
    expect(j.end()).toBeGreaterThanOrEqual(lastPos)
    const got = readAll(j.reader(), 10_000) as Array<{ i: number }>
    expect(got.length).toBeGreaterThan(lastAcked)
    for (let k = 0; k <= lastAcked; k++) expect(got[k]!.i).toBe(k)
    await j.close()
  })
})

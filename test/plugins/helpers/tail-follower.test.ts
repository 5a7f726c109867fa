// Tests of the tail follower on real files in a temp directory: head/end start, partial lines,
// rotation by rename and by copy-truncate, truncation, new and deleted files, and snapshot/restore.

import {
  appendFileSync,
  closeSync,
  copyFileSync,
  mkdtempSync,
  openSync,
  renameSync,
  rmSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { memoryLogger } from '../../../src/core/logger.ts'
import { TailFollower, type TailLine, type TailOptions } from '../../../src/plugins/helpers/tail-follower.ts'

let dir: string
const followers: TailFollower[] = []
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'squall-tail-'))
})
afterEach(async () => {
  for (const f of followers.splice(0)) await f.close()
  rmSync(dir, { recursive: true, force: true })
})

async function follow(options: Partial<TailOptions> & { path: TailOptions['path'] }): Promise<TailFollower> {
  const f = new TailFollower({ pollIntervalMs: 20, rotateWaitMs: 150, refreshIntervalMs: 100, ...options })
  followers.push(f)
  await f.start()
  return f
}

/** Reads until `n` lines have come (or `ms` pass), then checks that nothing more comes for a moment. */
async function take(f: TailFollower, n: number, ms = 5000): Promise<TailLine[]> {
  const out: TailLine[] = []
  const deadline = Date.now() + ms
  while (out.length < n && Date.now() < deadline) {
    const batch = f.readBatch(n - out.length)
    if (batch.length > 0) out.push(...batch)
    else await Promise.race([f.ready(), sleep(20)])
  }
  return out
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

function lines(from: number, to: number, prefix = 'line'): string {
  let s = ''
  for (let i = from; i < to; i++) s += `${prefix} ${i}\n`
  return s
}

function texts(got: TailLine[]): string[] {
  return got.map((l) => l.line)
}

function expected(from: number, to: number, prefix = 'line'): string[] {
  return Array.from({ length: to - from }, (_, k) => `${prefix} ${from + k}`)
}

describe('TailFollower', () => {
  it('tail: readFromHead reads existing lines with line numbers; lines appended later follow', async () => {
    const file = join(dir, 'a.log')
    writeFileSync(file, lines(0, 100))
    const f = await follow({ path: file, readFromHead: true })
    const got = await take(f, 100)
    expect(texts(got)).toEqual(expected(0, 100))
    expect(got[0]).toEqual({ file, line: 'line 0', lineNo: 1 })
    expect(got[99]!.lineNo).toBe(100)
    appendFileSync(file, lines(100, 150))
    expect(texts(await take(f, 50))).toEqual(expected(100, 150))
  })

  it('tail: without readFromHead a file found at start is read from its end', async () => {
    const file = join(dir, 'a.log')
    writeFileSync(file, lines(0, 10))
    const f = await follow({ path: file })
    await sleep(60)
    expect(f.readBatch(100)).toEqual([])
    appendFileSync(file, lines(10, 13))
    const got = await take(f, 3)
    expect(texts(got)).toEqual(expected(10, 13))
    expect(got[0]!.lineNo).toBeUndefined()
  })

  it('tail: a partial last line is held until its newline arrives, and CRLF endings lose the CR', async () => {
    const file = join(dir, 'a.log')
    writeFileSync(file, 'first\r\nsec')
    const f = await follow({ path: file, readFromHead: true })
    expect(texts(await take(f, 1))).toEqual(['first'])
    await sleep(80)
    expect(f.readBatch(10)).toEqual([])
    expect(f.snapshot()[0]!.offset).toBe(7)
    appendFileSync(file, 'ond\nthird\n')
    expect(texts(await take(f, 2))).toEqual(['second', 'third'])
    expect(f.snapshot()[0]!.offset).toBe(20)
  })

  it('tail: rotation by rename while writing loses and duplicates nothing', async () => {
    const file = join(dir, 'app.log')
    writeFileSync(file, '')
    const f = await follow({ path: file, rotateWaitMs: 200 })
    const fd = openSync(file, 'a')
    writeSync(fd, lines(0, 500))
    const first = await take(f, 200)
    renameSync(file, `${file}.1`)
    writeSync(fd, lines(500, 520))
    writeFileSync(file, lines(520, 700))
    await sleep(50)
    writeSync(fd, lines(700, 710, 'late'))
    closeSync(fd)
    appendFileSync(file, lines(710, 800))
    const rest = await take(f, 800 - 200)
    const all = texts([...first, ...rest])
    expect(all).toEqual([
      ...expected(0, 520),
      ...expected(700, 710, 'late'),
      ...expected(520, 700),
      ...expected(710, 800),
    ])
    expect(f.stats().rotations).toBe(1)
    await sleep(60)
    expect(f.readBatch(10)).toEqual([])
  })

  it('tail: copy-truncate restarts at offset 0 and reads only the new lines', async () => {
    const file = join(dir, 'app.log')
    writeFileSync(file, lines(0, 100))
    const f = await follow({ path: file, readFromHead: true })
    expect(texts(await take(f, 100))).toEqual(expected(0, 100))
    copyFileSync(file, `${file}.1`)
    truncateSync(file, 0)
    await sleep(60)
    appendFileSync(file, lines(0, 30, 'new'))
    expect(texts(await take(f, 30))).toEqual(expected(0, 30, 'new'))
    expect(f.stats().truncations).toBe(1)
    await sleep(60)
    expect(f.readBatch(10)).toEqual([])
  })

  it('tail: truncation while lines are held hands out the complete ones and then the new content', async () => {
    const file = join(dir, 'app.log')
    writeFileSync(file, `${lines(0, 5)}partial`)
    const f = await follow({ path: file, readFromHead: true })
    await sleep(80)
    truncateSync(file, 0)
    await sleep(80)
    appendFileSync(file, 'fresh 1\n')
    const got = texts(await take(f, 6))
    expect(got).toEqual([...expected(0, 5), 'fresh 1'])
  })

  it('tail: files matching the glob that appear after start are read from their head; excluded ones are not', async () => {
    writeFileSync(join(dir, 'a.log'), lines(0, 3, 'a'))
    const f = await follow({ path: join(dir, '*.log'), excludePath: join(dir, 'skip*.log') })
    writeFileSync(join(dir, 'b.log'), lines(0, 4, 'b'))
    writeFileSync(join(dir, 'skip.log'), lines(0, 4, 'skip'))
    writeFileSync(join(dir, 'c.txt'), lines(0, 4, 'c'))
    const got = await take(f, 4)
    expect(texts(got)).toEqual(expected(0, 4, 'b'))
    expect(got[0]!.file).toBe(join(dir, 'b.log'))
    await sleep(150)
    expect(f.readBatch(10)).toEqual([])
  })

  it('tail: a path that matches no file at start is warned about once, and followed from its head when it appears', async () => {
    const log = memoryLogger()
    const file = join(dir, 'later.log')
    const f = await follow({ path: file, log })
    expect(log.entries).toEqual([
      {
        level: 'warn',
        message: `tail: no file matches ${file}; it is followed once it appears (looked for every 100 ms)`,
      },
    ])
    writeFileSync(file, lines(0, 3))
    expect(texts(await take(f, 3))).toEqual(expected(0, 3))
    expect(log.entries).toHaveLength(1)
  })

  it('tail: a deleted file is read to its end and then dropped; a new file at the path is read from head', async () => {
    const file = join(dir, 'a.log')
    writeFileSync(file, '')
    const f = await follow({ path: file, rotateWaitMs: 50 })
    appendFileSync(file, lines(0, 10))
    expect(texts(await take(f, 10))).toEqual(expected(0, 10))
    unlinkSync(file)
    await sleep(200)
    expect(f.stats().files).toBe(0)
    writeFileSync(file, lines(0, 2, 'again'))
    expect(texts(await take(f, 2))).toEqual(expected(0, 2, 'again'))
  })

  it('tail: many files are all followed', async () => {
    for (let k = 0; k < 40; k++) writeFileSync(join(dir, `f${k}.log`), lines(0, 50, `f${k}`))
    const f = await follow({ path: join(dir, '*.log'), readFromHead: true })
    const got = await take(f, 2000)
    expect(got.length).toBe(2000)
    for (let k = 0; k < 40; k++) {
      expect(got.filter((l) => l.file === join(dir, `f${k}.log`)).map((l) => l.line)).toEqual(
        expected(0, 50, `f${k}`),
      )
    }
  })

  it('tail: a line longer than maxLineBytes is dropped and counted, the next ones still come', async () => {
    const file = join(dir, 'a.log')
    writeFileSync(file, `short 1\n${'x'.repeat(5000)}\nshort 2\n`)
    const f = await follow({ path: file, readFromHead: true, maxLineBytes: 1024, chunkBytes: 512 })
    expect(texts(await take(f, 2))).toEqual(['short 1', 'short 2'])
    expect(f.stats().droppedLongLines).toBe(1)
  })

  it('tail: a new follower restored from a snapshot continues exactly after the last line handed out', async () => {
    const file = join(dir, 'a.log')
    writeFileSync(file, lines(0, 1000))
    const f = await follow({ path: file, readFromHead: true })
    const first = await take(f, 300)
    const positions = f.snapshot()
    await f.close()
    appendFileSync(file, lines(1000, 1100))
    const g = await follow({ path: file })
    expect(() => g.restore(positions)).toThrow(/before start/)
    const h = new TailFollower({ path: file, pollIntervalMs: 20 })
    followers.push(h)
    h.restore(positions)
    await h.start()
    const rest = await take(h, 800)
    expect(texts([...first, ...rest])).toEqual(expected(0, 1100))
    expect(rest[0]!.lineNo).toBe(301)
  })

  it('tail: a restore after the file was rotated finishes the rotated file by inode, then reads the new one', async () => {
    const file = join(dir, 'a.log')
    writeFileSync(file, lines(0, 100))
    const f = await follow({ path: join(dir, '*.log'), readFromHead: true })
    const first = await take(f, 40)
    const positions = f.snapshot()
    await f.close()
    appendFileSync(file, lines(100, 120))
    renameSync(file, join(dir, 'a.log.1'))
    writeFileSync(file, lines(0, 10, 'new'))
    writeFileSync(join(dir, 'b.log'), lines(0, 5, 'b'))
    const g = new TailFollower({ path: join(dir, '*.log'), pollIntervalMs: 20 })
    followers.push(g)
    g.restore(positions)
    await g.start()
    const rest = await take(g, 80 + 10 + 5)
    const ofA = rest.filter((l) => l.file === file).map((l) => l.line)
    expect([...texts(first), ...ofA]).toEqual([...expected(0, 120), ...expected(0, 10, 'new')])
    expect(rest.filter((l) => l.file === join(dir, 'b.log')).map((l) => l.line)).toEqual(expected(0, 5, 'b'))
  })

  it('tail: bad options are refused with the parameter named', () => {
    expect(() => new TailFollower({ path: [] })).toThrow(/path: expected/)
    expect(() => new TailFollower({ path: 'x', pollIntervalMs: 0 })).toThrow(/pollIntervalMs/)
  })
})

import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { memoryLogger } from '../../src/core/logger.ts'
import { fileSink } from '../../src/plugins/outputs/file-sink.ts'
import {
  beginCheckpoint,
  completeCheckpoint,
  latestCheckpoint,
  listCheckpoints,
  type Manifest,
  openStateDir,
  pruneCheckpoints,
  STATE_FORMAT_VERSION,
} from '../../src/runtime/checkpoint-storage.ts'

const root = mkdtempSync(join(tmpdir(), 'squall-storage-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

function manifest(id: number): Manifest {
  return {
    formatVersion: STATE_FORMAT_VERSION,
    id,
    time: 1000 + id,
    job: 'j',
    finished: false,
    nodes: ['op'],
    parallelism: { op: 1 },
    maxParallelism: 128,
    sources: {},
    stores: { op: [{ task: 0, file: 'op-0.state', bytes: 3 }] },
    sinks: {},
    bytes: 3,
  }
}

function write(stateDir: string, id: number): string {
  const tmp = beginCheckpoint(stateDir, id)
  writeFileSync(join(tmp, 'op-0.state'), 'abc')
  return completeCheckpoint(stateDir, tmp, manifest(id))
}

describe('checkpoint storage', () => {
  it('a garbled manifest or a truncated task file is skipped, with a log line, for the previous complete checkpoint', () => {
    const dir = join(root, 'corrupt')
    openStateDir(dir, 'j')()
    write(dir, 1)
    const two = write(dir, 2)
    const three = write(dir, 3)
    writeFileSync(join(three, 'MANIFEST.json'), '{"formatVersion": 1, "id": 3, ')
    writeFileSync(join(two, 'op-0.state'), 'a')
    const log = memoryLogger()
    expect(latestCheckpoint(dir, log)?.manifest.id).toBe(1)
    expect(log.entries.map((e) => e.message).join('\n')).toMatch(
      /skipping checkpoint 3.*not valid JSON[\s\S]*skipping checkpoint 2.*has 1 bytes/,
    )
    expect(listCheckpoints(dir).map((c) => [c.id, c.complete])).toEqual([
      [3, false],
      [2, false],
      [1, true],
    ])
  })

  it('a checkpoint of another format version is refused, not skipped', () => {
    const dir = join(root, 'version')
    openStateDir(dir, 'j')()
    const one = write(dir, 1)
    writeFileSync(join(one, 'MANIFEST.json'), JSON.stringify({ ...manifest(1), formatVersion: 99 }))
    expect(() => latestCheckpoint(dir, memoryLogger())).toThrow(/format version 99/)
  })

  it('a state directory of another format version is refused before anything is read', () => {
    const dir = join(root, 'marker')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'squall-state.json'), JSON.stringify({ formatVersion: 7 }))
    expect(() => openStateDir(dir, 'j')).toThrow(expect.objectContaining({ code: 'ERR_STATE_FORMAT' }))
  })

  it('a second job on a state directory locked by a live process refuses to start; a dead owner’s lock is taken over', () => {
    const dir = join(root, 'lock')
    openStateDir(dir, 'j')
    writeFileSync(join(dir, 'LOCK'), `${process.ppid}\n`)
    expect(() => openStateDir(dir, 'j')).toThrow(expect.objectContaining({ code: 'ERR_STATE_LOCKED' }))
    writeFileSync(join(dir, 'LOCK'), '999999999\n')
    const release = openStateDir(dir, 'j')
    expect(readFileSync(join(dir, 'LOCK'), 'utf8').trim()).toBe(String(process.pid))
    release()
    expect(existsSync(join(dir, 'LOCK'))).toBe(false)
  })

  it('pruning keeps the newest complete checkpoints and drops older ones', async () => {
    const dir = join(root, 'prune')
    openStateDir(dir, 'j')()
    for (let id = 1; id <= 5; id++) write(dir, id)
    await pruneCheckpoints(dir, 3, memoryLogger())
    expect(listCheckpoints(dir).map((c) => c.id)).toEqual([5, 4, 3])
  })
})

describe('file sink: two-phase commit', () => {
  const ctx = (partition: number) => ({
    nodeName: 'out',
    partition,
    partitions: 1,
    log: memoryLogger(),
    clock: { now: () => 0 },
    count: () => {},
    report: () => {},
    badRecord: () => {},
  })
  const rec = (value: unknown) => ({ value, key: undefined, time: 0, tag: '' })
  const published = (dir: string) => readdirSync(dir).filter((f) => f.startsWith('part-'))

  it('records become visible only at commit, and recovery publishes committed data and drops the rest', async () => {
    const dir = join(root, 'sink')
    const spec = fileSink({ path: dir })
    const w = spec.create(ctx(0))
    await w.open?.()
    await w.write([rec({ a: 1 }), rec({ a: 2 })])
    const tx1 = await w.preCommit!(1)
    expect(published(dir)).toEqual([])
    await w.write([rec({ a: 3 })])
    const tx2 = await w.preCommit!(2)
    await w.write([rec({ a: 4 })])
    await w.commit!(1, tx1)
    expect(published(dir).length).toBe(1)
    // Crash here: checkpoint 2 completed but its commit never ran; a pending file of 3 is left over.
    await w.close?.()
    const again = spec.create(ctx(0))
    await again.recover!([tx2])
    const rows = published(dir)
      .sort()
      .flatMap((f) => readFileSync(join(dir, f), 'utf8').trim().split('\n'))
    expect(rows).toEqual(['{"a":1}', '{"a":2}', '{"a":3}'])
    expect(readdirSync(join(dir, '.pending'))).toEqual([])
    // Committing again (a retried commit) changes nothing.
    await again.recover!([tx1, tx2])
    expect(published(dir).length).toBe(2)
  })
})

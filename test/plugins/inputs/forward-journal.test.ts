import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  collect,
  type IoContext,
  memoryLogger,
  type Record,
  runEmbedded,
  type SourceReader,
  systemClock,
  Topology,
} from '../../../src/index.ts'
import { ForwardClient } from '../../../src/plugins/forward/client.ts'
import { packr } from '../../../src/plugins/forward/event-time.ts'
import { encodeJournaledRequest } from '../../../src/plugins/forward/journal-entry.ts'
import type { InputContext } from '../../../src/plugins/define.ts'
import forwardInput, { ForwardInputConfig } from '../../../src/plugins/inputs/forward.ts'
import { RawPeer } from '../forward/support.ts'
import { Journal } from '../../../src/state/journal.ts'
import { parseSegmentFileName } from '../../../src/state/journal-segment.ts'

const open: Array<{ reader: SourceReader<unknown>; client?: ForwardClient }> = []
const dirs: string[] = []
afterEach(async () => {
  for (const { reader, client } of open.splice(0)) {
    await client?.close()
    await reader.close?.()
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

interface Input {
  reader: SourceReader<unknown>
  port: number
  counts: Map<string, number>
  logs: string[]
}

/**
 * Opens a forward input with its default journal settings (fsync `always`) or the given `fsync`, in
 * `journalDir` if given (else a temporary journal); resolves with its port and what it counts and logs.
 */
/** The plugin context of a forward input named `fluent`. */
const inputContext = (): InputContext => ({
  name: 'fluent',
  path: 'sources[0]',
  baseDir: process.cwd(),
  stateDir: undefined,
  log: () => {},
  tag: 'fluent',
  parser: undefined,
})

async function startInput(journalDir?: string, fsync?: 'batch'): Promise<Input> {
  const ctx: InputContext = {
    name: 'fluent',
    path: 'sources[0]',
    baseDir: process.cwd(),
    stateDir: undefined,
    log: () => {},
    tag: 'fluent',
    parser: undefined,
  }
  const config = {
    port: 0,
    bind: '127.0.0.1',
    ...(journalDir ? { journalDir } : {}),
    ...(fsync ? { fsync } : {}),
  }
  const spec = forwardInput.create(ForwardInputConfig.parse(config), ctx)
  let port = 0
  const counts = new Map<string, number>()
  const logs: string[] = []
  const io: IoContext = {
    nodeName: 'fluent',
    partition: 0,
    partitions: 1,
    log: (_level, message) => {
      logs.push(message)
    },
    clock: systemClock,
    count: (metric, n = 1) => {
      counts.set(metric, (counts.get(metric) ?? 0) + n)
    },
    report: (channel, data) => {
      if (channel === 'listening:fluent') port = (data as { port: number }).port
    },
    badRecord: (e) => {
      throw e
    },
  }
  const reader = spec.create(io)
  await reader.open?.()
  return { reader, port, counts, logs }
}

const seqOf = (records: Record<unknown>[]): number[] => records.map((r) => (r.value as { seq: number }).seq)

/** `n` events numbered from `from`, one millisecond apart. */
function events(from: number, n: number) {
  return Array.from({ length: n }, (_, i) => ({
    time: 1_700_000_000_000 + from + i,
    nanos: (from + i) * 1_000_000,
    record: { seq: from + i },
  }))
}

describe('forward input journal', () => {
  it.each([
    ['the default fsync (always)', undefined],
    ['fsync batch', 'batch' as const],
  ])(
    'with %s, a sender that waits for every ack gets each within milliseconds and every event reaches the job',
    async (_, fsync) => {
      const { reader, port } = await startInput(undefined, fsync)
      const client = new ForwardClient({ servers: [{ host: '127.0.0.1', port }] })
      open.push({ reader, client })
      const t0 = performance.now()
      for (let chunk = 0; chunk < 10; chunk++) {
        const entries = Array.from({ length: 10 }, (_, i) => ({
          time: 1_700_000_000_000 + chunk * 10 + i,
          nanos: (chunk * 10 + i) * 1_000_000,
          record: { seq: chunk * 10 + i },
        }))
        await client.send('app.web', entries)
      }
      const elapsed = performance.now() - t0
      // Ten acks in a row: a sync wait of a second per append would take ten seconds.
      expect(elapsed).toBeLessThan(3000)
      const records = reader.nextBatch(1000) ?? []
      expect(records.map((r) => (r.value as { seq: number }).seq)).toEqual(
        Array.from({ length: 100 }, (_, i) => i),
      )
      expect(records[0]!.tag).toBe('app.web')
      expect(records[99]!.time).toBe(1_700_000_000_099)
    },
  )

  it('a sender with several chunks in flight gets every ack, and the journal keeps them in sending order', async () => {
    const input = await startInput()
    const client = new ForwardClient({ servers: [{ host: '127.0.0.1', port: input.port }] })
    open.push({ reader: input.reader, client })
    await Promise.all(Array.from({ length: 12 }, (_, chunk) => client.send('app', events(chunk * 5, 5))))
    expect(seqOf(input.reader.nextBatch(1000) ?? [])).toEqual(Array.from({ length: 60 }, (_, i) => i))
    expect(input.counts.get('journaled_requests')).toBe(12)
  })

  it('a crash after the acks: restoring a checkpoint taken inside a request replays every acknowledged event exactly once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'squall-forward-journal-'))
    dirs.push(dir)
    const first = await startInput(dir)
    const client = new ForwardClient({ servers: [{ host: '127.0.0.1', port: first.port }] })
    await Promise.all(Array.from({ length: 5 }, (_, chunk) => client.send('app', events(chunk * 10, 10))))
    await client.close()
    // The job reads in batches that cut requests, and a checkpoint records where it stands.
    const before: Record<unknown>[] = []
    for (const max of [7, 7, 7, 3]) before.push(...(first.reader.nextBatch(max) ?? []))
    const checkpoint = first.reader.snapshot!()
    expect(checkpoint).toEqual({ at: expect.any(Number), event: 4 })
    // Processed after the checkpoint, so rolled back by the crash.
    expect(seqOf(first.reader.nextBatch(10) ?? [])).toEqual(Array.from({ length: 10 }, (_, i) => 24 + i))
    await first.reader.close!()

    const second = await startInput(dir)
    open.push({ reader: second.reader })
    second.reader.restore!(checkpoint)
    const after: Record<unknown>[] = []
    for (
      let batch = second.reader.nextBatch(6);
      batch && batch.length > 0;
      batch = second.reader.nextBatch(6)
    )
      after.push(...batch)
    expect(seqOf([...before, ...after])).toEqual(Array.from({ length: 50 }, (_, i) => i))
    expect(after[0]!.tag).toBe('app')
    expect(after[0]!.time).toBe(1_700_000_000_024)
    expect(second.reader.snapshot!()).toMatchObject({ event: 0 })
  })

  it('events journaled one at a time by an earlier version are read after an upgrade, then new requests', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'squall-forward-journal-'))
    dirs.push(dir)
    // What the input wrote before journaling whole requests: one [tag, time, record] entry per event.
    const old = await Journal.open(dir)
    await old.append(events(0, 3).map((e) => ['app', e.time, e.record]))
    await old.close()
    const input = await startInput(dir)
    open.push({ reader: input.reader })
    const client = new ForwardClient({ servers: [{ host: '127.0.0.1', port: input.port }] })
    await client.send('app', events(3, 4))
    await client.close()
    const read: Record<unknown>[] = []
    for (let batch = input.reader.nextBatch(5); batch && batch.length > 0; batch = input.reader.nextBatch(5))
      read.push(...batch)
    expect(seqOf(read)).toEqual([0, 1, 2, 3, 4, 5, 6])
    expect(read.every((r) => r.tag === 'app')).toBe(true)
    expect(read[0]!.time).toBe(1_700_000_000_000)
    expect(input.counts.get('bad_requests')).toBeUndefined()
  })

  it('invalid events inside an acknowledged request are skipped when the job reads it, counted and logged with the sender and chunk', async () => {
    const input = await startInput()
    open.push({ reader: input.reader })
    const peer = await RawPeer.open(input.port)
    const entries = [
      [1_441_588_984, { seq: 1 }],
      ['soon', { seq: -1 }],
      [1_441_588_985, 'not a map'],
      [1_441_588_986, { seq: 2 }],
    ]
    peer.write(packr.pack(['app', entries, { chunk: 'c-bad' }]))
    expect(await peer.next()).toEqual({ ack: 'c-bad' })
    // A gzip payload that does not inflate is only found when the job decodes the request.
    peer.write(packr.pack(['app', Buffer.from('not gzip'), { chunk: 'c-gz', compressed: 'gzip' }]))
    expect(await peer.next()).toEqual({ ack: 'c-gz' })
    peer.write(packr.pack(['app', 1_441_588_987, { seq: 3 }, { chunk: 'c-ok' }]))
    expect(await peer.next()).toEqual({ ack: 'c-ok' })
    peer.end()
    expect(input.counts.get('skipped_events')).toBeUndefined()
    const records = input.reader.nextBatch(100) ?? []
    expect(seqOf(records)).toEqual([1, 2, 3])
    expect(records.map((r) => r.time)).toEqual([1_441_588_984_000, 1_441_588_986_000, 1_441_588_987_000])
    expect(input.counts.get('skipped_events')).toBe(2)
    expect(input.counts.get('bad_requests')).toBe(1)
    expect(input.logs).toContainEqual(
      expect.stringMatching(/skipped 2 invalid events of tag "app" in chunk c-bad from 127\.0\.0\.1:\d+/),
    )
    expect(input.logs).toContainEqual(
      expect.stringMatching(
        /dropped a journaled request of tag "app" in chunk c-gz from 127\.0\.0\.1:\d+: .*does not inflate/,
      ),
    )
  })

  it('as checkpoints complete, journal segments before the last complete checkpoint are deleted from disk, and none after it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'squall-forward-journal-'))
    dirs.push(dir)
    const journalDir = join(dir, 'journal')
    // A backlog of acknowledged requests in small segments, as a lagging job leaves its journal.
    const backlog = await Journal.open(journalDir, { segmentBytes: 1024 })
    for (let chunk = 0; chunk < 60; chunk++) {
      const entries = events(chunk * 10, 10).map((e) => [e.time / 1000, e.record])
      const bytes = packr.pack(['app', entries, { chunk: `c${chunk}` }])
      const request = {
        tag: 'app',
        mode: 'forward' as const,
        chunk: `c${chunk}`,
        size: 10,
        bytes,
        remote: '127.0.0.1:1',
      }
      await backlog.appendBytes([encodeJournaledRequest(request, 'app', Date.now())])
    }
    await backlog.close()
    const segments = () =>
      readdirSync(journalDir)
        .map((name) => parseSegmentFileName(name))
        .filter((base) => base !== undefined)
        .sort((a, b) => a - b)
    // The forward input's position in the newest complete checkpoint (which pruning never deletes).
    const checkpointed = (): number | undefined => {
      const ids = readdirSync(join(dir, 'state', 'checkpoints'))
        .map((name) => /^chk-(\d+)$/.exec(name)?.[1])
        .filter((id) => id !== undefined)
        .map(Number)
      if (ids.length === 0) return undefined
      const path = join(dir, 'state', 'checkpoints', `chk-${Math.max(...ids)}`, 'MANIFEST.json')
      const manifest = JSON.parse(readFileSync(path, 'utf8')) as { sources: { fluent: { at: number }[] } }
      return manifest.sources.fluent[0]!.at
    }
    const initial = segments().length
    expect(initial).toBeGreaterThanOrEqual(8)

    const spec = forwardInput.create(
      ForwardInputConfig.parse({ port: 0, bind: '127.0.0.1', journalDir }),
      inputContext(),
    )
    const out = collect<{ seq: number }>()
    const t = new Topology('journal-truncation')
    t.source('fluent', spec)
      .map((v) => {
        // A job slower than its input: checkpoints complete while most of the backlog is unread.
        const until = performance.now() + 0.5
        while (performance.now() < until) {}
        return v as { seq: number }
      })
      .sink(out)
    let port = 0
    const job = runEmbedded(t, {
      state: { dir: join(dir, 'state'), checkpointInterval: '20ms' },
      batchSize: 10,
      log: memoryLogger(),
      onReport: (channel, data) => {
        if (channel === 'listening:fluent') port = (data as { port: number }).port
      },
    })
    const deadline = Date.now() + 15_000
    const wait = async (what: string, ok: () => boolean) => {
      while (!ok()) {
        if (Date.now() > deadline) throw new Error(`${what} did not happen within 15 s`)
        await new Promise((r) => setTimeout(r, 5))
      }
    }
    await wait('the input listening', () => port !== 0)
    const client = new ForwardClient({ servers: [{ host: '127.0.0.1', port }] })
    await client.send('app', events(600, 10))
    await client.close()

    // Whenever looked at, the segment holding the last complete checkpoint's position is still on
    // disk; older ones go while the job reads on, newer ones stay until it has read past them.
    let partly = 0
    while (out.values.length < 610) {
      if (Date.now() > deadline) throw new Error(`only ${out.values.length} of 610 events read within 15 s`)
      const held = segments()
      const at = checkpointed()
      if (at !== undefined) {
        expect(held[0]).toBeLessThanOrEqual(at)
        if (held.length > 1 && held.length < initial && held.at(-1)! > at) partly++
      }
      await new Promise((r) => setTimeout(r, 10))
    }
    expect(partly).toBeGreaterThan(0)
    // Once a checkpoint past the last event completes, only the segment being written is left.
    await wait('the truncation of every read segment', () => segments().length === 1)
    expect(segments()[0]).toBeLessThanOrEqual(checkpointed()!)
    job.drain()
    await job.done
    expect(out.values.map((v) => v.seq)).toEqual(Array.from({ length: 610 }, (_, i) => i))
  })
})

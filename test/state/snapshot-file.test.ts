import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { keyGroupOf, keyGroupRange } from '../../src/core/key-group.ts'
import { KEY_MAP_SPREAD_AT } from '../../src/state/key-map.ts'
import { KeyedBackend, type StateBackend } from '../../src/state/keyed-backend.ts'
import { LmdbBackend } from '../../src/state/lmdb-backend.ts'
import { readSnapshotFile, writeSnapshotFile } from '../../src/state/snapshot-file.ts'

const dir = mkdtempSync(join(tmpdir(), 'squall-snap-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const MAX = 128
const backends: [string, (name: string) => StateBackend][] = [
  ['memory', () => new KeyedBackend('op', MAX, () => 0)],
  ['lmdb', (name) => LmdbBackend.open(join(dir, name), 'op', MAX, () => 0)],
]

function fill(b: StateBackend, keys: number): void {
  const v = b.value<number>('v')
  const m = b.map<string, number>('m')
  const l = b.list<string>('l')
  const r = b.reducing<number>('r', (a, c) => a + c)
  for (let i = 0; i < keys; i++) {
    b.currentKey = `k${i}`
    v.set(i)
    m.set('a', i)
    m.set('b', i * 2)
    l.add(`x${i}`)
    r.add(i)
    r.add(1)
  }
}

describe.each(backends)('%s backend: snapshot file → restore by key group → continue', (_kind, make) => {
  it('a store restored into two tasks holds every key exactly once with its value, and keeps counting', async () => {
    const b = make(`src-${_kind}`)
    fill(b, 500)
    const capture = {
      state: b.capture(),
      eventTimers: [[60_000, ['k1', 'k2']]] as [number, string[]][],
      processingTimers: [],
    }
    // Writes after the capture must not reach the snapshot.
    b.currentKey = 'k0'
    b.value<number>('v').set(999)
    b.map<string, number>('m').set('a', 999)
    const path = join(dir, `snap-${_kind}.state`)
    const bytes = await writeSnapshotFile(path, 'op', 0, capture, [0, MAX])
    expect(bytes).toBeGreaterThan(0)
    const restored: StateBackend[] = []
    const seen = new Set<string>()
    for (let t = 0; t < 2; t++) {
      const [from, to] = keyGroupRange(t, MAX, 2)
      const snap = await readSnapshotFile(path, from, to, MAX)
      const nb = make(`dst-${_kind}-${t}`)
      nb.restore(snap.stores, from, to)
      restored.push(nb)
      for (const [, keys] of snap.eventTimers) for (const k of keys) seen.add(String(k))
    }
    expect([...seen].sort()).toEqual(['k1', 'k2'])
    let found = 0
    for (let i = 0; i < 500; i++) {
      const key = `k${i}`
      const owners = restored.filter((nb) => {
        nb.currentKey = key
        return nb.value<number>('v').get() !== undefined
      })
      expect(owners.length).toBe(1)
      const nb = owners[0]!
      nb.currentKey = key
      expect(nb.value<number>('v').get()).toBe(i)
      expect(nb.map<string, number>('m').get('a')).toBe(i)
      expect(nb.map<string, number>('m').get('b')).toBe(i * 2)
      expect(nb.list<string>('l').get()).toEqual([`x${i}`])
      const r = nb.reducing<number>('r', (a, c) => a + c)
      expect(r.get()).toBe(i + 1)
      r.add(10)
      expect(r.get()).toBe(i + 11)
      found++
    }
    expect(found).toBe(500)
    for (const nb of [b, ...restored]) nb.close?.()
  })

  it('TTL: a key not written for longer than its ttl is dropped by expire(now)', () => {
    let now = 1000
    const b: StateBackend =
      _kind === 'memory'
        ? new KeyedBackend('op', MAX, () => now)
        : LmdbBackend.open(join(dir, 'ttl'), 'op', MAX, () => now)
    const v = b.value<number>('seen', { ttl: '10s' })
    b.currentKey = 'old'
    v.set(1)
    now = 8000
    b.currentKey = 'fresh'
    v.set(2)
    expect(b.hasTtl).toBe(true)
    expect(b.expire(12_000)).toBe(1)
    b.currentKey = 'old'
    expect(v.get()).toBeUndefined()
    b.currentKey = 'fresh'
    expect(v.get()).toBe(2)
    b.close?.()
  })
})

describe('snapshot file format', () => {
  it('a task owning the whole range of a file restores it without key groups; a part of it, with them', async () => {
    const b = new KeyedBackend('op', MAX, () => 0)
    const [from, to] = keyGroupRange(1, MAX, 2)
    const v = b.value<number>('v')
    for (let i = 0, n = 0; n < 300; i++) {
      if (keyGroupOf(`k${i}`, MAX) < from) continue
      b.currentKey = `k${i}`
      v.set(i)
      n++
    }
    const path = join(dir, 'half.state')
    await writeSnapshotFile(path, 'op', 1, { state: b.capture(), eventTimers: [], processingTimers: [] }, [
      from,
      to,
    ])
    const whole = await readSnapshotFile(path, from, to, MAX)
    expect(whole.stores[0]!.ungrouped?.reduce((n, u) => n + u.keys.length, 0)).toBe(300)
    expect(Object.keys(whole.stores[0]!.groups)).toEqual([])
    // Restoring at parallelism 4: task 2 owns the first half of the file's range, task 3 the rest.
    const quarters = [2, 3].map((t) => keyGroupRange(t, MAX, 4))
    let restoredKeys = 0
    for (const [qf, qt] of quarters) {
      const part = await readSnapshotFile(path, qf, qt, MAX)
      expect(part.stores[0]!.ungrouped).toBeUndefined()
      const nb = new KeyedBackend('op', MAX, () => 0)
      nb.restore(part.stores, qf, qt)
      restoredKeys += nb.stores.get('v')!.entries.size
      for (const g of Object.keys(part.stores[0]!.groups).map(Number)) expect(g >= qf && g < qt).toBe(true)
    }
    expect(restoredKeys).toBe(300)
  })

  it('keys encoded at one checkpoint and reused at the next stay matched with their values, also after removals', async () => {
    const b = new KeyedBackend('op', MAX, () => 0)
    const v = b.value<number>('v')
    const expected = new Map<string, number>()
    const put = (k: string, n: number) => {
      b.currentKey = k
      v.set(n)
      expected.set(k, n)
    }
    const check = async (name: string) => {
      const path = join(dir, name)
      await writeSnapshotFile(path, 'op', 0, { state: b.capture(), eventTimers: [], processingTimers: [] }, [
        0,
        MAX,
      ])
      const nb = new KeyedBackend('op', MAX, () => 0)
      nb.restore((await readSnapshotFile(path, 0, MAX, MAX)).stores, 0, MAX)
      expect(new Map(nb.stores.get('v')!.entries)).toEqual(expected)
    }
    for (let i = 0; i < 20_000; i++) put(`k${i}`, i)
    await check('reuse-1.state')
    // Same keys with new values, plus new keys: the first frames' keys come from the first file.
    for (let i = 0; i < 25_000; i += 3) put(`k${i}`, -i)
    await check('reuse-2.state')
    // A removal moves later keys one place down: nothing encoded before may be reused.
    b.currentKey = 'k5'
    v.clear()
    expected.delete('k5')
    put('k5', 5)
    put('new', 1)
    await check('reuse-3.state')
    await check('reuse-4.state')
  })

  it('a capture taken before its store spreads over the shards names the Maps it read, so no later file reuses its keys', async () => {
    const b = new KeyedBackend('op', MAX, () => 0)
    const v = b.value<number>('v')
    const expected = new Map<string, number>()
    const put = (k: string, n: number) => {
      b.currentKey = k
      v.set(n)
      expected.set(k, n)
    }
    const restored = async (path: string) => {
      const nb = new KeyedBackend('op', MAX, () => 0)
      nb.restore((await readSnapshotFile(path, 0, MAX, MAX)).stores, 0, MAX)
      return new Map(nb.stores.get('v')!.entries)
    }
    // More than a frame of keys, all in the first shard while the store is small.
    for (let i = 0; i < 10_000; i++) put(`k${i}`, i)
    const before = new Map(expected)
    const first = b.capture()
    // The store spreads while the first capture still waits to be written.
    for (let i = 10_000; i <= KEY_MAP_SPREAD_AT; i++) put(`k${i}`, i)
    const none = { eventTimers: [], processingTimers: [] }
    await writeSnapshotFile(join(dir, 'spread-1.state'), 'op', 0, { state: first, ...none }, [0, MAX])
    expect(await restored(join(dir, 'spread-1.state'))).toEqual(before)
    await writeSnapshotFile(join(dir, 'spread-2.state'), 'op', 0, { state: b.capture(), ...none }, [0, MAX])
    expect(await restored(join(dir, 'spread-2.state'))).toEqual(expected)
  })

  it('timers of a task with one per key are written in frames of their own and come back whole, split by key group', async () => {
    // One cleanup time shared by 5 000 keys (more than a frame holds), and 3 000 times of one key each.
    const shared: string[] = Array.from({ length: 5_000 }, (_, i) => `client-${i}`)
    const eventTimers: [number, (string | undefined)[]][] = [[900_000, shared]]
    for (let i = 0; i < 3_000; i++) eventTimers.push([1_000_000 + i, [`w${i}`]])
    const processingTimers: [number, (string | undefined)[]][] = [
      [5, [undefined]],
      [7, ['p1', 'p2']],
    ]
    const b = new KeyedBackend('op', MAX, () => 0)
    const path = join(dir, 'timers.state')
    await writeSnapshotFile(path, 'op', 0, { state: b.capture(), eventTimers, processingTimers }, [0, MAX])
    const { Packr } = await import('msgpackr')
    const { readFileSync } = await import('node:fs')
    const items = new Packr({ structuredClone: true }).unpackMultiple(readFileSync(path)) as {
      eventTimers?: unknown[]
      t?: number
    }[]
    expect(items[0]!.eventTimers).toEqual([])
    expect(items.filter((f) => f.t === 0).length).toBeGreaterThan(3)
    const pairs = (entries: [number, (unknown | undefined)[]][]) =>
      entries.flatMap(([t, ks]) => ks.map((k) => `${t}:${String(k)}`)).sort()
    const whole = await readSnapshotFile(path, 0, MAX, MAX)
    expect(pairs(whole.eventTimers)).toEqual(pairs(eventTimers))
    expect(pairs(whole.processingTimers)).toEqual(pairs(processingTimers))
    // Two tasks share them out: every timer once, the keyless one in the first task.
    const halves = await Promise.all(
      [0, 1].map((t) => {
        const [from, to] = keyGroupRange(t, MAX, 2)
        return readSnapshotFile(path, from, to, MAX)
      }),
    )
    expect(pairs(halves.flatMap((h) => h.eventTimers))).toEqual(pairs(eventTimers))
    expect(pairs(halves[0]!.processingTimers)).toContain('5:undefined')
    expect(pairs(halves[1]!.processingTimers)).not.toContain('5:undefined')
  })

  it('a store of large values is written in smaller frames, and its next file starts small', async () => {
    // 64 values of 50 000 numbers each: 32 of them take far longer to pack than one turn.
    const b = new KeyedBackend('big', MAX, () => 0)
    const value = b.value<number[]>('slices')
    for (let i = 0; i < 64; i++) {
      b.currentKey = `page-${i}`
      value.set(Array.from({ length: 50_000 }, (_, j) => i * 1e6 + j + 0.5))
    }
    const { Packr } = await import('msgpackr')
    const { readFileSync } = await import('node:fs')
    const framesOf = (path: string) =>
      (new Packr({ structuredClone: true }).unpackMultiple(readFileSync(path)) as { s?: number }[]).filter(
        (f) => f.s === 0,
      ).length
    const none = { eventTimers: [], processingTimers: [] }
    const first = join(dir, 'big-1.state')
    await writeSnapshotFile(first, 'big', 0, { state: b.capture(), ...none }, [0, MAX])
    expect(framesOf(first)).toBeGreaterThan(2)
    const second = join(dir, 'big-2.state')
    await writeSnapshotFile(second, 'big', 0, { state: b.capture(), ...none }, [0, MAX])
    // It starts at the size the first ended with, not at a whole store in one frame. How far the
    // frames grow depends on how fast they pack on the machine at that moment, so the two files'
    // counts are not compared.
    expect(framesOf(second)).toBeGreaterThan(2)
    for (const path of [first, second]) {
      const nb = new KeyedBackend('big', MAX, () => 0)
      nb.restore((await readSnapshotFile(path, 0, MAX, MAX)).stores, 0, MAX)
      const restored = nb.value<number[]>('slices')
      for (let i = 0; i < 64; i++) {
        nb.currentKey = `page-${i}`
        const v = restored.get()!
        expect(v.length).toBe(50_000)
        expect(v[49_999]).toBe(i * 1e6 + 49_999.5)
      }
    }
  })

  it('reads layout-3 files (timers in the header)', async () => {
    const { Packr } = await import('msgpackr')
    const { writeFileSync } = await import('node:fs')
    const packr = new Packr({ structuredClone: true })
    const header = {
      v: 3,
      node: 'op',
      task: 0,
      groups: [0, MAX],
      stores: [{ name: 'v', kind: 'value', ttlMs: 0 }],
      eventTimers: [[60_000, ['a', 'b']]],
      processingTimers: [[10, ['a']]],
    }
    const frame = { s: 0, kb: Buffer.from(['a', 'b'].join('\0')), vi: new Int32Array([1, 2]) }
    const path = join(dir, 'layout-3.state')
    writeFileSync(path, Buffer.concat([packr.pack(header), packr.pack(frame)]))
    const snap = await readSnapshotFile(path, 0, MAX, MAX)
    expect(snap.eventTimers).toEqual([[60_000, ['a', 'b']]])
    expect(snap.processingTimers).toEqual([[10, ['a']]])
    const nb = new KeyedBackend('op', MAX, () => 0)
    nb.restore(snap.stores, 0, MAX)
    expect(new Map(nb.stores.get('v')!.entries)).toEqual(
      new Map([
        ['a', 1],
        ['b', 2],
      ]),
    )
  })

  it('reads layout-2 files (string keys joined by NUL)', async () => {
    const { Packr } = await import('msgpackr')
    const { writeFileSync } = await import('node:fs')
    const packr = new Packr({ structuredClone: true })
    const header = {
      v: 2,
      node: 'op',
      task: 0,
      groups: [0, MAX],
      stores: [{ name: 'v', kind: 'value', ttlMs: 0 }],
      eventTimers: [],
      processingTimers: [],
    }
    const frame = { s: 0, ks: ['a', 'b', 'é'].join('\0'), vi: new Int32Array([1, 2, 3]) }
    const path = join(dir, 'layout-2.state')
    writeFileSync(path, Buffer.concat([packr.pack(header), packr.pack(frame)]))
    const nb = new KeyedBackend('op', MAX, () => 0)
    nb.restore((await readSnapshotFile(path, 0, MAX, MAX)).stores, 0, MAX)
    expect(new Map(nb.stores.get('v')!.entries)).toEqual(
      new Map([
        ['a', 1],
        ['b', 2],
        ['é', 3],
      ]),
    )
  })

  it('binary values (Buffers, as the kit blobs are) come back as copies that own their bytes, not views into the file', async () => {
    const b = new KeyedBackend('op', MAX, () => 0)
    const v = b.value<{ data: Uint8Array }>('blobs')
    for (let i = 0; i < 200; i++) {
      b.currentKey = `k${i}`
      v.set({ data: Buffer.from(Uint8Array.from({ length: 64 }, (_, j) => (i + j) & 0xff)) })
    }
    const path = join(dir, 'blobs.state')
    await writeSnapshotFile(path, 'op', 0, { state: b.capture(), eventTimers: [], processingTimers: [] }, [
      0,
      MAX,
    ])
    const nb = new KeyedBackend('op', MAX, () => 0)
    nb.restore((await readSnapshotFile(path, 0, MAX, MAX)).stores, 0, MAX)
    const restored = nb.value<{ data: Uint8Array }>('blobs')
    for (let i = 0; i < 200; i++) {
      nb.currentKey = `k${i}`
      const data = restored.get()!.data
      expect(data[1]).toBe((i + 1) & 0xff)
      // A view into the 13 kB file would keep it alive, and a deep copy of the value would copy it all.
      expect(data.buffer.byteLength).toBe(64)
    }
  })

  it('a file of another format version is refused with ERR_STATE_FORMAT', async () => {
    const { Packr } = await import('msgpackr')
    const { writeFileSync } = await import('node:fs')
    const path = join(dir, 'old.state')
    writeFileSync(path, new Packr({ structuredClone: true }).pack({ v: 99, stores: [] }))
    await expect(readSnapshotFile(path, 0, MAX, MAX)).rejects.toMatchObject({ code: 'ERR_STATE_FORMAT' })
  })
})

// Keyed state in an embedded LMDB database, for state larger than memory: entries keyed by
// (store, key group, key), written back in batches, captured for checkpoints by a read snapshot.

import { rmSync } from 'node:fs'
import { open, type RootDatabase } from 'lmdb'
import { toMillis } from '../core/duration.ts'
import { SquallError } from '../core/errors.ts'
import { keyGroupOf } from '../core/key-group.ts'
import type { Key } from '../core/record.ts'
import type { ListState, MapState, ReducingState, StateOptions, ValueState } from '../core/state.ts'
import type { StateBackend, StateCapture, StoreInfo, StoreSnapshot } from './keyed-backend.ts'

/** A written-back entry marked for deletion. */
const DELETED = Symbol('deleted')

/** Dirty entries over all stores that trigger a write-back transaction. */
const FLUSH_AT = 16_384

interface LmdbStore extends StoreInfo {
  index: number
  /** Entries written since the last write-back (DELETED for removals); read before the database. */
  dirty: Map<Key, unknown>
  touched: Map<Key, number> | undefined
}

type DbKey = [number, number, Key]

/**
 * The LMDB backend of one task. Reads look in the write-back buffer first, then in LMDB (a
 * synchronous, memory-mapped read); writes go to the buffer, written to LMDB in one transaction
 * per 16 384 dirty entries. `capture` writes the buffer back and opens a read transaction: a
 * consistent snapshot that is read later, off the hot path, while writes go on. The database is a
 * working copy — emptied at open; checkpoints (the same files as the memory backend's) are what
 * survives a crash. Values read from LMDB are fresh copies: changing one in place changes nothing
 * until it is written through a state handle. TTL stores keep their last-write times in memory.
 * Not thread-safe; owned by its task.
 */
export class LmdbBackend implements StateBackend {
  currentKey: Key | undefined = undefined
  private readonly stores = new Map<string, LmdbStore>()
  private readonly handles = new Map<string, unknown>()
  private dirtyCount = 0

  private constructor(
    private readonly db: RootDatabase<unknown, DbKey>,
    private readonly nodeName: string,
    private readonly maxParallelism: number,
    private readonly now: () => number,
  ) {}

  /** Opens (after deleting) the database at `path`. */
  static open(path: string, nodeName: string, maxParallelism: number, now: () => number): LmdbBackend {
    rmSync(path, { recursive: true, force: true })
    const db = open<unknown, DbKey>({
      path,
      encoding: 'msgpack',
      structuredClone: true,
      noSync: true,
      compression: false,
    } as never)
    return new LmdbBackend(db, nodeName, maxParallelism, now)
  }

  private store(name: string, kind: StoreInfo['kind'], options: StateOptions | undefined): LmdbStore {
    let s = this.stores.get(name)
    if (s === undefined) {
      const ttlMs = options?.ttl === undefined ? 0 : toMillis(options.ttl, `state "${name}".ttl`)
      s = {
        name,
        kind,
        ttlMs,
        index: this.stores.size,
        dirty: new Map(),
        touched: ttlMs > 0 ? new Map() : undefined,
      }
      this.stores.set(name, s)
    } else if (s.kind !== kind) {
      throw new SquallError(
        'ERR_ARGUMENT',
        `state "${name}" of node "${this.nodeName}" is a ${s.kind} store; it cannot also be used as a ${kind} store`,
      )
    }
    return s
  }

  private key(): Key {
    const k = this.currentKey
    if (k === undefined) {
      throw new SquallError(
        'ERR_TOPOLOGY_NOT_KEYED',
        `node "${this.nodeName}" used keyed state outside a keyed context; add keyBy() before it`,
      )
    }
    return k
  }

  private read(s: LmdbStore, k: Key): unknown {
    const d = s.dirty.get(k)
    if (d !== undefined) return d === DELETED ? undefined : d
    return this.db.get([s.index, keyGroupOf(k, this.maxParallelism), k])
  }

  private write(s: LmdbStore, k: Key, v: unknown): void {
    if (!s.dirty.has(k)) this.dirtyCount++
    s.dirty.set(k, v)
    if (s.touched !== undefined) {
      if (v === DELETED) s.touched.delete(k)
      else s.touched.set(k, this.now())
    }
    if (this.dirtyCount >= FLUSH_AT) this.flush()
  }

  /** Writes the buffer back to LMDB in one transaction. */
  flush(): void {
    if (this.dirtyCount === 0) return
    const max = this.maxParallelism
    this.db.transactionSync(() => {
      for (const s of this.stores.values()) {
        for (const [k, v] of s.dirty) {
          const dbKey: DbKey = [s.index, keyGroupOf(k, max), k]
          if (v === DELETED) this.db.removeSync(dbKey)
          else this.db.putSync(dbKey, v)
        }
        s.dirty.clear()
      }
    })
    this.dirtyCount = 0
  }

  value<T>(name: string, options?: StateOptions): ValueState<T> {
    const cached = this.handles.get(name)
    if (cached) return cached as ValueState<T>
    const s = this.store(name, 'value', options)
    const h: ValueState<T> = {
      get: () => this.read(s, this.key()) as T | undefined,
      set: (v) => this.write(s, this.key(), v),
      clear: () => this.write(s, this.key(), DELETED),
    }
    this.handles.set(name, h)
    return h
  }

  reducing<T>(name: string, reduce: (a: T, b: T) => T, options?: StateOptions): ReducingState<T> {
    const cached = this.handles.get(name)
    if (cached) return cached as ReducingState<T>
    const s = this.store(name, 'reducing', options)
    const h: ReducingState<T> = {
      get: () => this.read(s, this.key()) as T | undefined,
      add: (v) => {
        const k = this.key()
        const old = this.read(s, k) as T | undefined
        this.write(s, k, old === undefined ? v : reduce(old, v))
      },
      clear: () => this.write(s, this.key(), DELETED),
    }
    this.handles.set(name, h)
    return h
  }

  list<T>(name: string, options?: StateOptions): ListState<T> {
    const cached = this.handles.get(name)
    if (cached) return cached as ListState<T>
    const s = this.store(name, 'list', options)
    const empty: readonly T[] = Object.freeze([])
    const h: ListState<T> = {
      get: () => (this.read(s, this.key()) as T[] | undefined) ?? empty,
      add: (v) => {
        const k = this.key()
        const list = this.read(s, k) as T[] | undefined
        if (list === undefined) this.write(s, k, [v])
        else {
          list.push(v)
          this.write(s, k, list)
        }
      },
      update: (values) => this.write(s, this.key(), values.length === 0 ? DELETED : values),
      clear: () => this.write(s, this.key(), DELETED),
    }
    this.handles.set(name, h)
    return h
  }

  map<K, V>(name: string, options?: StateOptions): MapState<K, V> {
    const cached = this.handles.get(name)
    if (cached) return cached as MapState<K, V>
    const s = this.store(name, 'map', options)
    const emptyMap = new Map<K, V>()
    const read = (): Map<K, V> => (this.read(s, this.key()) as Map<K, V> | undefined) ?? emptyMap
    const h: MapState<K, V> = {
      get: (mk) => read().get(mk),
      has: (mk) => read().has(mk),
      set: (mk, v) => {
        const k = this.key()
        const m = (this.read(s, k) as Map<K, V> | undefined) ?? new Map<K, V>()
        m.set(mk, v)
        this.write(s, k, m)
      },
      delete: (mk) => {
        const k = this.key()
        const m = this.read(s, k) as Map<K, V> | undefined
        if (m === undefined || !m.has(mk)) return
        m.delete(mk)
        this.write(s, k, m.size === 0 ? DELETED : m)
      },
      entries: () => read().entries(),
      keys: () => read().keys(),
      get size() {
        return read().size
      },
      clear: () => this.write(s, this.key(), DELETED),
    }
    this.handles.set(name, h)
    return h
  }

  get hasTtl(): boolean {
    for (const s of this.stores.values()) if (s.touched !== undefined) return true
    return false
  }

  expire(now: number): number {
    let dropped = 0
    for (const s of this.stores.values()) {
      if (s.touched === undefined) continue
      const limit = now - s.ttlMs
      for (const [k, t] of s.touched) {
        if (t <= limit) {
          this.write(s, k, DELETED)
          dropped++
        }
      }
    }
    return dropped
  }

  size(): number {
    this.flush()
    return this.db.getCount()
  }

  /** Writes the buffer back, then pins a read transaction: the snapshot. */
  capture(): StateCapture {
    this.flush()
    const txn = this.db.useReadTransaction()
    const stores = [...this.stores.values()].map((s) => ({ name: s.name, kind: s.kind, ttlMs: s.ttlMs }))
    const db = this.db
    return {
      stores,
      *entries(index) {
        for (const { key, value } of db.getRange({ start: [index], end: [index + 1], transaction: txn })) {
          yield [(key as DbKey)[2], value]
        }
      },
      release() {
        txn.done()
      },
    }
  }

  restore(snapshots: readonly StoreSnapshot[], from: number, to: number): void {
    const now = this.now()
    for (const snap of snapshots) {
      const s = this.store(snap.name, snap.kind, snap.ttlMs > 0 ? { ttl: snap.ttlMs } : undefined)
      this.db.transactionSync(() => {
        for (const [kgText, entries] of Object.entries(snap.groups)) {
          const kg = Number(kgText)
          if (kg < from || kg >= to) continue
          for (const [k, v] of entries) {
            this.db.putSync([s.index, kg, k], v)
            s.touched?.set(k, now)
          }
        }
        for (const { keys, values } of snap.ungrouped ?? []) {
          for (let i = 0; i < keys.length; i++) {
            const k = keys[i]!
            this.db.putSync([s.index, keyGroupOf(k, this.maxParallelism), k], values[i])
            s.touched?.set(k, now)
          }
        }
      })
    }
  }

  close(): void {
    try {
      this.flush()
    } finally {
      void this.db.close()
    }
  }
}

// Keyed state kept in memory, partitioned by key group when snapshotted.

import { toMillis } from '../core/duration.ts'
import { SquallError } from '../core/errors.ts'
import { keyGroupOf } from '../core/key-group.ts'
import type { Key } from '../core/record.ts'
import {
  copyStateValue,
  settledCopy,
  type KeyedState,
  type ListState,
  type MapState,
  type ReducingState,
  type StateOptions,
  type ValueState,
} from '../core/state.ts'
import { KEY_MAP_SHARDS, KeyMap } from './key-map.ts'

/** One named store: a value per key, plus the last write time per key when it has a TTL. */
export interface KeyedStore {
  readonly name: string
  readonly kind: 'value' | 'map' | 'list' | 'reducing'
  readonly entries: KeyMap
  readonly ttlMs: number
  readonly touched: Map<Key, number> | undefined
  /**
   * False while every value the store has held is a primitive (a counter): copy-on-write then needs
   * no lookup at all. List and map stores hold objects from the start.
   */
  objects: boolean
  /**
   * Captures being written out. While one is pending, the first access to a key that may change its
   * value puts a copy of the value as it was into the capture's `frozen` map.
   */
  readonly pending: Pending[]
  /**
   * `pending.length`, kept as a number of its own: the hot paths test only this field, so the
   * first capture (which turns `pending` into an array of objects, a new shape) does not send every
   * optimized function that reads a store back to the interpreter.
   */
  captures: number
}

/** One pending capture of a store: the values, as they were at the barrier, of keys touched since. */
interface Pending {
  readonly frozen: Map<Key, unknown>
}

/** Kept for a key whose value at the barrier is the one in the capture's value list (a primitive). */
const LISTED: unique symbol = Symbol('listed')

/**
 * Copy-on-write for captures: before the value of `k` may change in place, every pending capture
 * that has not yet kept it keeps a copy of it as it is. Taking a capture is then only a shallow copy
 * of the key and value lists; each key is copied at most once per capture, when it is next touched,
 * instead of every key at the barrier. A value with an enumerable getter (a kit object's `data`) is
 * copied as what the getter returns.
 *
 * Primitive values cannot change in place, and the capture's value list already holds them as they
 * were at the barrier: before one is replaced by an object or removed, the capture only marks the key
 * `LISTED` (its list has its value; see `protectReplace`). This keeps one invariant: a key no capture
 * has kept holds either its value from the barrier (unchanged), or a primitive while its barrier
 * value was a primitive, or anything while it had no value at the barrier. Counters and other
 * primitive state so pay nothing.
 */
function protect(s: KeyedStore, k: Key): void {
  if (s.captures === 0 || !s.objects) return
  const pending = s.pending
  const v = s.entries.get(k)
  if (v !== null && typeof v === 'object') keep(pending, k, v)
}

/**
 * Copy-on-write before the value of `k` is replaced by `next` (`undefined`: removed): what the
 * pending captures need of the value as it is, following the invariant of `protect`.
 */
function protectReplace(s: KeyedStore, k: Key, next: unknown): void {
  const nextIsObject = next !== null && typeof next === 'object'
  if (nextIsObject) s.objects = true
  if (s.captures === 0) return
  const pending = s.pending
  if (!s.objects && next !== undefined) return
  const v = s.entries.get(k)
  if (v === undefined) return
  if (v !== null && typeof v === 'object') keep(pending, k, v)
  else if (next === undefined || nextIsObject) keep(pending, k, LISTED)
}

/** Has every pending capture that has not yet kept `k` keep a copy of `v`. */
function keep(pending: readonly Pending[], k: Key, v: unknown): void {
  let copy: unknown
  let copied = false
  for (const p of pending) {
    if (p.frozen.has(k)) continue
    if (!copied) {
      copy = copyStateValue(v)
      copied = true
    }
    p.frozen.set(k, copy)
  }
}

/**
 * The store's values in map order: a Float64Array when the store has only ever held primitives and
 * they are all numbers (counters, sums: off the JS heap, and encoded without a look at each), else
 * an array.
 */
function valuesOf(s: KeyedStore, shard: number): unknown[] | Float64Array {
  const map = s.entries.shards[shard]!
  if (!s.objects) {
    const out = new Float64Array(map.size)
    let i = 0
    for (const v of map.values()) {
      if (typeof v !== 'number') return Array.from(map.values())
      out[i++] = v
    }
    return out
  }
  return Array.from(map.values())
}

/** A new, empty store. */
function newStore(name: string, kind: KeyedStore['kind'], ttlMs: number): KeyedStore {
  return {
    name,
    kind,
    entries: new KeyMap(),
    ttlMs,
    touched: ttlMs > 0 ? new Map() : undefined,
    objects: kind === 'list' || kind === 'map',
    // Present from the start: a property added at the first checkpoint would change the store's
    // shape, and every optimized function that reads a store would be thrown back to the
    // interpreter at once.
    pending: [],
    captures: 0,
  }
}

/** A store's snapshot: its entries grouped by key group, so they can move between tasks. */
export interface StoreSnapshot {
  name: string
  kind: KeyedStore['kind']
  ttlMs: number
  groups: { [keyGroup: number]: [Key, unknown][] }
  /**
   * Entries known to lie in the key-group range being restored, whose key groups were not computed
   * (a task file read back whole by a task owning all of its range): keys and values side by side.
   */
  ungrouped?: { keys: readonly Key[]; values: ArrayLike<unknown> }[]
}

/** A store's name, kind and TTL, as a checkpoint records them. */
export interface StoreInfo {
  name: string
  kind: KeyedStore['kind']
  ttlMs: number
}

/**
 * A consistent copy of a task's keyed state, taken at a barrier. Taking it is cheap and synchronous
 * (on the hot path); reading it (`entries`) happens later, off the hot path, while the task goes on
 * writing: later writes never show through.
 */
export interface StateCapture {
  readonly stores: readonly StoreInfo[]
  /** The entries of store `index` of `stores`, in any order. */
  entries(index: number): Iterable<[Key, unknown]>
  /** How many parts `columns` gives store `index` in (the shards of a sharded store); default 1. */
  parts?(index: number): number
  /**
   * The entries of one part of store `index`, side by side (`keys[i]` holds `values[i]`, for i
   * below `values.length`), when the capture holds them that way: a faster path for encoding.
   * Numbers may come as a Float64Array. Read only; `keys` may be longer than `values` (the rest is
   * not this capture's). The parts together hold every entry of the store.
   */
  columns?(index: number, part: number): { keys: readonly Key[]; values: ArrayLike<unknown> }
  /**
   * Brings entries `[from, to)` of `columns(index, part)` up to date with the values as they were
   * at the barrier (copy-on-write). Call it right before reading that range, synchronously.
   */
  resolve?(index: number, part: number, from: number, to: number): void
  /**
   * Where the order of `columns(index, part)` comes from: the map it was taken of (`owner`) and how
   * many entries that map had removed by then. Two captures of one owner with equal `removals` list
   * the same keys in the same order, the later one with keys added since after them; an encoder
   * may so reuse the encoded keys of the earlier one.
   */
  order?(index: number, part: number): { owner: object; removals: number }
  /** Releases what the capture pins (an LMDB read transaction); called once it has been read. */
  release(): void
}

/**
 * What an operator task needs of its keyed state, whatever holds it (memory or LMDB): the user-facing
 * KeyedState, the current key, TTL expiry, capture for checkpoints and restore by key-group range.
 */
export interface StateBackend extends KeyedState {
  currentKey: Key | undefined
  /** Drops TTL entries not written since `now - ttl`; returns how many were dropped. */
  expire(now: number): number
  /** True when some store has a TTL (the processing-time tick then calls `expire`). */
  readonly hasTtl: boolean
  /** Number of keys over all stores. */
  size(): number
  capture(): StateCapture
  /** Loads the key groups in `[from, to)` of these snapshots (possibly of other tasks and parallelism). */
  restore(snapshots: readonly StoreSnapshot[], from: number, to: number): void
  /** Makes buffered writes durable where that applies; called at end of every input batch. */
  flush?(): void
  close?(): void
}

/**
 * Groups a capture by key group, in memory (tests and small states; checkpoints use files). A plain
 * object value with getters (a kit cell's `data`) is replaced by one holding what they return now,
 * so that a later deep copy of the snapshot does not run them while it copies.
 */
export function snapshotStores(capture: StateCapture, maxParallelism: number): StoreSnapshot[] {
  const out = capture.stores.map((s, i): StoreSnapshot => {
    const groups: StoreSnapshot['groups'] = {}
    for (const [k, v] of capture.entries(i)) {
      const kg = keyGroupOf(k, maxParallelism)
      let g = groups[kg]
      if (g === undefined) groups[kg] = g = []
      g.push([k, gettersRead(v)])
    }
    return { name: s.name, kind: s.kind, ttlMs: s.ttlMs, groups }
  })
  capture.release()
  return out
}

/** A plain object with own enumerable getters as one holding their values; anything else as it is. */
function gettersRead(v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Object.getPrototypeOf(v) !== Object.prototype) return v
  const descriptors = Object.getOwnPropertyDescriptors(v)
  if (!Object.values(descriptors).some((d) => d.enumerable && d.get !== undefined)) return v
  const out: { [key: string]: unknown } = {}
  for (const key of Object.keys(v)) out[key] = (v as { [key: string]: unknown })[key]
  return out
}

/** Copies a value so later in-place writes to the original do not change the copy. */
export function copyValue(v: unknown): unknown {
  return v !== null && typeof v === 'object' ? structuredClone(v) : v
}

/**
 * The in-memory keyed state of one task: every named store of the node, with the current key set
 * by the runtime before each record or timer. Not thread-safe; owned by its task.
 */
export class KeyedBackend implements StateBackend {
  currentKey: Key | undefined = undefined
  readonly stores = new Map<string, KeyedStore>()
  private readonly handles = new Map<string, unknown>()
  /**
   * The entry `read` returned last (store, key, value), so that a value state set back to the
   * object it just read (changed in place) costs no lookup. Forgotten by anything else that may
   * change a value store: a removal, expiry, a capture or a restore.
   */
  private lastStore: KeyedStore | undefined = undefined
  private lastKey: Key | undefined = undefined
  private lastValue: unknown = undefined

  constructor(
    private readonly nodeName: string,
    private readonly maxParallelism: number,
    private readonly now: () => number,
  ) {}

  private store(name: string, kind: KeyedStore['kind'], options: StateOptions | undefined): KeyedStore {
    let s = this.stores.get(name)
    if (s === undefined) {
      const ttlMs = options?.ttl === undefined ? 0 : toMillis(options.ttl, `state "${name}".ttl`)
      s = newStore(name, kind, ttlMs)
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

  private touch(s: KeyedStore, k: Key): void {
    if (s.touched !== undefined) s.touched.set(k, this.now())
  }

  /** The current key's entry of `s` (protected first: the caller may change it in place). */
  private read(s: KeyedStore): unknown {
    const k = this.key()
    const v = s.entries.get(k)
    // What `protect` does, with the value already at hand.
    if (s.captures > 0 && s.objects && v !== null && typeof v === 'object') keep(s.pending, k, v)
    this.lastStore = s
    this.lastKey = k
    this.lastValue = v
    return v
  }

  /** Drops the current key's entry of `s`. */
  private remove(s: KeyedStore): void {
    this.lastStore = undefined
    const k = this.key()
    protectReplace(s, k, undefined)
    s.entries.delete(k)
    s.touched?.delete(k)
  }

  value<T>(name: string, options?: StateOptions): ValueState<T> {
    const cached = this.handles.get(name)
    if (cached) return cached as ValueState<T>
    const s = this.store(name, 'value', options)
    const h: ValueState<T> = {
      get: () => this.read(s) as T | undefined,
      set: (v) => {
        const k = this.key()
        // The value read last, set back (an object changed in place, as kit objects are): the
        // store holds it already, and the read protected it for any pending capture.
        if (v === this.lastValue && k === this.lastKey && s === this.lastStore && v !== undefined) {
          this.touch(s, k)
          return
        }
        protectReplace(s, k, v)
        s.entries.set(k, v)
        this.touch(s, k)
        this.lastStore = s
        this.lastKey = k
        this.lastValue = v
      },
      clear: () => this.remove(s),
    }
    this.handles.set(name, h)
    return h
  }

  reducing<T>(name: string, reduce: (a: T, b: T) => T, options?: StateOptions): ReducingState<T> {
    const cached = this.handles.get(name)
    if (cached) return cached as ReducingState<T>
    const s = this.store(name, 'reducing', options)
    const h: ReducingState<T> = {
      get: () => this.read(s) as T | undefined,
      add: (v) => {
        const k = this.key()
        protect(s, k)
        const old = s.entries.get(k) as T | undefined
        const next = old === undefined ? v : reduce(old, v)
        protectReplace(s, k, next)
        s.entries.set(k, next)
        this.touch(s, k)
      },
      clear: () => this.remove(s),
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
      get: () => (s.entries.get(this.key()) as T[] | undefined) ?? empty,
      add: (v) => {
        const k = this.key()
        protect(s, k)
        const list = s.entries.get(k) as T[] | undefined
        if (list === undefined) s.entries.set(k, [v])
        else list.push(v)
        this.touch(s, k)
      },
      update: (values) => {
        const k = this.key()
        protectReplace(s, k, values.length === 0 ? undefined : values)
        if (values.length === 0) {
          s.entries.delete(k)
        } else s.entries.set(k, values)
        this.touch(s, k)
      },
      clear: () => this.remove(s),
    }
    this.handles.set(name, h)
    return h
  }

  map<K, V>(name: string, options?: StateOptions): MapState<K, V> {
    const cached = this.handles.get(name)
    if (cached) return cached as MapState<K, V>
    const s = this.store(name, 'map', options)
    const emptyMap = new Map<K, V>()
    const read = (): Map<K, V> => {
      const k = this.key()
      protect(s, k)
      return (s.entries.get(k) as Map<K, V> | undefined) ?? emptyMap
    }
    const write = (): Map<K, V> => {
      const k = this.key()
      protect(s, k)
      let m = s.entries.get(k) as Map<K, V> | undefined
      if (m === undefined) {
        m = new Map()
        s.entries.set(k, m)
      }
      this.touch(s, k)
      return m
    }
    const h: MapState<K, V> = {
      get: (mk) => read().get(mk),
      has: (mk) => read().has(mk),
      set: (mk, v) => {
        write().set(mk, v)
      },
      delete: (mk) => {
        const k = this.key()
        protect(s, k)
        const m = s.entries.get(k) as Map<K, V> | undefined
        if (m === undefined) return
        m.delete(mk)
        if (m.size === 0) {
          s.entries.delete(k)
          s.touched?.delete(k)
        }
      },
      entries: () => read().entries(),
      keys: () => read().keys(),
      get size() {
        return read().size
      },
      clear: () => this.remove(s),
    }
    this.handles.set(name, h)
    return h
  }

  get hasTtl(): boolean {
    for (const s of this.stores.values()) if (s.touched !== undefined) return true
    return false
  }

  /**
   * Takes every store's keys and values as flat arrays of references (about 20 ms per million
   * entries), and registers the capture for copy-on-write: until `release()`, a key whose object
   * value is about to change gets a copy first, and the capture keeps the original. So the barrier
   * costs no deep copy however large the state; grouping and encoding happen later, from the arrays.
   * Values must be changed only through the state handles (read them anew for every record).
   */
  capture(): StateCapture {
    this.lastStore = undefined
    const stores: StoreInfo[] = []
    // [store][shard]
    const keys: Key[][][] = []
    const values: (unknown[] | Float64Array)[][] = []
    const held: { store: KeyedStore; pending: Pending; owners: object[]; removals: number[] }[] = []
    for (const s of this.stores.values()) {
      stores.push({ name: s.name, kind: s.kind, ttlMs: s.ttlMs })
      const ks: Key[][] = []
      const vs: (unknown[] | Float64Array)[] = []
      for (let shard = 0; shard < KEY_MAP_SHARDS; shard++) {
        ks.push(s.entries.keyList(shard))
        vs.push(valuesOf(s, shard))
      }
      keys.push(ks)
      values.push(vs)
      const pending: Pending = { frozen: new Map() }
      s.pending.push(pending)
      s.captures = s.pending.length
      held.push({ store: s, pending, owners: [...s.entries.shards], removals: [...s.entries.removals] })
    }
    // The value of entry i of a shard as it was at the barrier: its copy if it was touched since
    // (a deferred copy built now), else as it is.
    const valueAt = (index: number, shard: number, i: number): unknown => {
      const frozen = held[index]!.pending.frozen
      const vs = values[index]![shard]!
      if (frozen.size === 0) return vs[i]
      const k = keys[index]![shard]![i]!
      const kept = frozen.get(k)
      return kept === LISTED || (kept === undefined && !frozen.has(k)) ? vs[i] : settledCopy(kept)
    }
    let released = false
    return {
      stores,
      *entries(index) {
        for (let shard = 0; shard < KEY_MAP_SHARDS; shard++) {
          const ks = keys[index]![shard]!
          const n = values[index]![shard]!.length
          for (let i = 0; i < n; i++) yield [ks[i]!, valueAt(index, shard, i)]
        }
      },
      parts: () => KEY_MAP_SHARDS,
      columns(index, part) {
        return { keys: keys[index]![part]!, values: values[index]![part]! }
      },
      order(index, part) {
        const h = held[index]!
        return { owner: h.owners[part]!, removals: h.removals[part]! }
      },
      resolve(index, part, from, to) {
        const vs = values[index]![part]!
        // Numbers captured as a Float64Array: the store held no object at the barrier, so every key
        // kept since is a primitive the array already has as it was (see `protect`).
        if (!Array.isArray(vs) || held[index]!.pending.frozen.size === 0) return
        for (let i = from; i < to; i++) vs[i] = valueAt(index, part, i)
      },
      release() {
        if (released) return
        released = true
        // The key lists stay: the store keeps them for its next capture.
        keys.length = 0
        values.length = 0
        for (const { store, pending } of held) {
          const i = store.pending.indexOf(pending)
          if (i >= 0) store.pending.splice(i, 1)
          store.captures = store.pending.length
        }
      },
    }
  }

  /** Drops entries of TTL stores not written since `now - ttl`. Returns how many were dropped. */
  expire(now: number): number {
    this.lastStore = undefined
    let dropped = 0
    for (const s of this.stores.values()) {
      if (s.touched === undefined) continue
      const limit = now - s.ttlMs
      for (const [k, t] of s.touched) {
        if (t <= limit) {
          protectReplace(s, k, undefined)
          s.touched.delete(k)
          s.entries.delete(k)
          dropped++
        }
      }
    }
    return dropped
  }

  /** Number of keys held over all stores (for metrics). */
  size(): number {
    let n = 0
    for (const s of this.stores.values()) n += s.entries.size
    return n
  }

  /**
   * Copies every store, grouped by key group. Values are deep-copied with structuredClone so later
   * writes do not alter the snapshot.
   */
  snapshot(): StoreSnapshot[] {
    const out: StoreSnapshot[] = []
    for (const s of this.stores.values()) {
      const groups: StoreSnapshot['groups'] = {}
      for (const [k, v] of s.entries) {
        const kg = keyGroupOf(k, this.maxParallelism)
        let g = groups[kg]
        if (g === undefined) groups[kg] = g = []
        g.push([k, structuredClone(v)])
      }
      out.push({ name: s.name, kind: s.kind, ttlMs: s.ttlMs, groups })
    }
    return out
  }

  /** Loads the entries of the key groups in `[from, to)` from snapshots (possibly of other tasks). */
  restore(snapshots: readonly StoreSnapshot[], from: number, to: number): void {
    this.lastStore = undefined
    const now = this.now()
    for (const snap of snapshots) {
      let s = this.stores.get(snap.name)
      if (s === undefined) {
        s = newStore(snap.name, snap.kind, snap.ttlMs)
        this.stores.set(snap.name, s)
      }
      const store = s
      const load = (k: Key, v: unknown): void => {
        if (v !== null && typeof v === 'object') store.objects = true
        store.entries.set(k, v)
        store.touched?.set(k, now)
      }
      for (const [kgText, entries] of Object.entries(snap.groups)) {
        const kg = Number(kgText)
        if (kg < from || kg >= to) continue
        for (const [k, v] of entries) load(k, v)
      }
      for (const { keys, values } of snap.ungrouped ?? []) {
        for (let i = 0; i < keys.length; i++) load(keys[i]!, values[i])
      }
    }
  }
}

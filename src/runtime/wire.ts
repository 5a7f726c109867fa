// The binary form of record batches crossing threads, and the targets that send them.

import { Packr } from 'msgpackr'
import type { Key, Record } from '../core/record.ts'
import type { Target } from './router.ts'

/** Messages between executors on different threads. Order on one port is preserved. */
export type WireMessage =
  | { k: 'r'; t: number; c: number; b: Uint8Array }
  | { k: 'w'; t: number; c: number; time: number }
  | { k: 'i'; t: number; c: number; idle: boolean }
  | { k: 'b'; t: number; c: number; id: number }
  | { k: 'e'; t: number; c: number }
  | { k: 'credit'; n: number }
  /** Several of the above, in order, in one message (see `BatchingPort`). */
  | { k: 'm'; list: WireMessage[] }

const packr = new Packr({ useRecords: true, moreTypes: true })

/**
 * Encodes a batch column-wise — values, keys, times, tags — with msgpackr. Repeated object shapes
 * are written once per batch (msgpackr records), times as one Float64Array, a batch whose records
 * all share one tag stores it once, and keys equal to their values (`keyBy(word => word)`) are not
 * written twice. The result owns its buffer, so it can be transferred.
 */
export function encodeBatch(records: Record[]): Uint8Array {
  const n = records.length
  const values = new Array<unknown>(n)
  const keys = new Array<Key | undefined>(n)
  const times = new Float64Array(n)
  const tag0 = n > 0 ? records[0]!.tag : ''
  let sameTag = true
  let keyIsValue = true
  let strings = true
  for (let i = 0; i < n; i++) {
    const r = records[i]!
    values[i] = r.value
    keys[i] = r.key
    times[i] = r.time
    if (r.tag !== tag0) sameTag = false
    if (r.key !== r.value) keyIsValue = false
    if (typeof r.value !== 'string') strings = false
  }
  const tags = sameTag ? tag0 : records.map((r) => r.tag)
  const packed = packr.pack([
    strings ? dictionary(values as string[]) : values,
    keyIsValue ? true : keys,
    times,
    tags,
  ])
  return new Uint8Array(packed.buffer.slice(packed.byteOffset, packed.byteOffset + packed.byteLength))
}

/**
 * String values as a dictionary of the distinct strings and one index per record: keyed streams of
 * words, paths or tags repeat a few strings many times in a batch.
 */
function dictionary(values: string[]): { d: string[]; i: Uint16Array | Uint32Array } {
  const ids = new Map<string, number>()
  const d: string[] = []
  const index = values.length < 65_536 ? new Uint16Array(values.length) : new Uint32Array(values.length)
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!
    let id = ids.get(v)
    if (id === undefined) {
      id = d.length
      ids.set(v, id)
      d.push(v)
    }
    index[i] = id
  }
  return { d, i: index }
}

/** Decodes what `encodeBatch` wrote. */
export function decodeBatch(bytes: Uint8Array): Record[] {
  const [valueColumn, keyColumn, times, tags] = packr.unpack(bytes) as [
    unknown[] | { d: string[]; i: Uint16Array | Uint32Array },
    (Key | undefined)[] | true,
    Float64Array,
    string | string[],
  ]
  let values: unknown[]
  if (Array.isArray(valueColumn)) values = valueColumn
  else {
    const { d, i: index } = valueColumn
    values = new Array<unknown>(index.length)
    for (let i = 0; i < index.length; i++) values[i] = d[index[i]!]
  }
  const n = values.length
  const out = new Array<Record>(n)
  const keys = keyColumn === true ? (values as Key[]) : keyColumn
  if (typeof tags === 'string') {
    for (let i = 0; i < n; i++)
      out[i] = { value: values[i], key: keys[i] ?? undefined, time: times[i]!, tag: tags }
  } else {
    for (let i = 0; i < n; i++)
      out[i] = { value: values[i], key: keys[i] ?? undefined, time: times[i]!, tag: tags[i]! }
  }
  return out
}

/** The sending side of a port to another thread, with credit-based flow control. */
export interface RemotePort {
  post(message: WireMessage, transfer?: ArrayBuffer[]): void
  /** Sends what `post` may still hold. */
  flush?(): void
  /** Batches sent and not yet processed by the receiver. */
  inFlight: number
}

/** What a `BatchingPort` sends through: a worker thread's `MessagePort`. */
export interface MessageSender {
  postMessage(message: unknown, transfer: ArrayBuffer[]): void
}

/**
 * A port that gathers the messages posted during one stretch of work and sends them as one
 * (`{ k: 'm', list }`), at the sender's `flush` or, at the latest, when the current task of the
 * event loop ends. A thread-to-thread message costs 10–20 µs on each side, whatever it carries: a
 * thread polling several sources, each routing a few records over keyed exchanges and then a
 * watermark, sent one message per batch and per watermark to each other thread, thousands a second.
 */
export class BatchingPort implements RemotePort {
  inFlight = 0
  private list: WireMessage[] = []
  private transfer: ArrayBuffer[] = []
  private scheduled = false

  constructor(private readonly port: MessageSender) {}

  post(message: WireMessage, transfer?: ArrayBuffer[]): void {
    this.list.push(message)
    if (transfer !== undefined) for (const b of transfer) this.transfer.push(b)
    if (!this.scheduled) {
      this.scheduled = true
      queueMicrotask(() => this.flush())
    }
  }

  flush(): void {
    this.scheduled = false
    const list = this.list
    if (list.length === 0) return
    this.port.postMessage(list.length === 1 ? list[0] : { k: 'm', list }, this.transfer)
    this.list = []
    this.transfer = []
  }
}

/** A downstream task on another thread. */
export class RemoteTarget implements Target {
  constructor(
    private readonly port: RemotePort,
    private readonly taskId: number,
    private readonly channel: number,
  ) {}

  push(records: Record[]): void {
    const b = encodeBatch(records)
    this.port.inFlight++
    this.port.post({ k: 'r', t: this.taskId, c: this.channel, b }, [b.buffer as ArrayBuffer])
  }
  watermark(time: number): void {
    this.port.post({ k: 'w', t: this.taskId, c: this.channel, time })
  }
  idle(idle: boolean): void {
    this.port.post({ k: 'i', t: this.taskId, c: this.channel, idle })
  }
  barrier(id: number): void {
    this.port.post({ k: 'b', t: this.taskId, c: this.channel, id })
  }
  end(): void {
    this.port.post({ k: 'e', t: this.taskId, c: this.channel })
  }
}

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
  for (let i = 0; i < n; i++) {
    const r = records[i]!
    values[i] = r.value
    keys[i] = r.key
    times[i] = r.time
    if (r.tag !== tag0) sameTag = false
    if (r.key !== r.value) keyIsValue = false
  }
  const tags = sameTag ? tag0 : records.map((r) => r.tag)
  const packed = packr.pack([values, keyIsValue ? true : keys, times, tags])
  return new Uint8Array(packed.buffer.slice(packed.byteOffset, packed.byteOffset + packed.byteLength))
}

/** Decodes what `encodeBatch` wrote. */
export function decodeBatch(bytes: Uint8Array): Record[] {
  const [values, keyColumn, times, tags] = packr.unpack(bytes) as [
    unknown[],
    (Key | undefined)[] | true,
    Float64Array,
    string | string[],
  ]
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
  /** Batches sent and not yet processed by the receiver. */
  inFlight: number
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

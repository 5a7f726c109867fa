// Fluentd's EventTime: seconds and nanoseconds as MessagePack extension type 0, and the one
// Packr/Unpackr pair of the forward protocol that reads and writes it.

import { addExtension, Packr, Unpackr } from 'msgpackr'

/**
 * A point in time with nanosecond precision, as fluentd sends it: extension type 0 holding
 * seconds (uint32 BE) and nanoseconds (uint32 BE), in a fixext8 or an ext8 frame.
 */
export class EventTime {
  constructor(
    readonly seconds: number,
    readonly nanoseconds: number,
  ) {}

  /** The EventTime of a millisecond time; `nanos`, when given, is the nanosecond of that second. */
  static fromMillis(ms: number, nanos?: number): EventTime {
    const seconds = Math.floor(ms / 1000)
    return new EventTime(seconds, nanos ?? (ms - seconds * 1000) * 1_000_000)
  }

  /** Milliseconds since the epoch, rounded down to the millisecond. */
  toMillis(): number {
    return this.seconds * 1000 + Math.floor(this.nanoseconds / 1_000_000)
  }
}

let installed = false

/**
 * Registers extension type 0 with msgpackr (its registry is process-wide). Decoding: 8 bytes
 * give an EventTime; any other length keeps msgpackr's own meaning of type 0 (`undefined`), so
 * other users of msgpackr in the process are not affected. Encoding: an EventTime is written as
 * fixext8 `d7 00 <seconds> <nanoseconds>`. Idempotent.
 */
export function installEventTime(): void {
  if (installed) return
  installed = true
  addExtension({
    type: 0,
    unpack(data: Uint8Array): EventTime | undefined {
      if (data.length !== 8) return undefined
      const seconds = data[0]! * 0x1000000 + ((data[1]! << 16) | (data[2]! << 8) | data[3]!)
      const nanoseconds = data[4]! * 0x1000000 + ((data[5]! << 16) | (data[6]! << 8) | data[7]!)
      return new EventTime(seconds, nanoseconds)
    },
  })
  // msgpackr refuses a packing extension of type 0 (falsy), so this one writes its whole frame
  // itself through the allocator and returns nothing; its nominal type is never emitted.
  addExtension({
    Class: EventTime,
    type: -1,
    pack(value: EventTime, allocate?: (size: number) => { target: Uint8Array; position: number }) {
      const { target, position } = allocate!(10)
      target[position] = 0xd7
      target[position + 1] = 0
      writeUint32(target, position + 2, value.seconds)
      writeUint32(target, position + 6, value.nanoseconds)
      return undefined as unknown as Uint8Array
    },
  })
}

function writeUint32(target: Uint8Array, at: number, v: number): void {
  target[at] = (v >>> 24) & 0xff
  target[at + 1] = (v >>> 16) & 0xff
  target[at + 2] = (v >>> 8) & 0xff
  target[at + 3] = v & 0xff
}

installEventTime()

/** The forward protocol's decoder: plain maps as objects, no msgpackr records. */
export const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true })
/** The forward protocol's encoder: plain maps, no msgpackr records, EventTime as ext 0. */
export const packr = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true })

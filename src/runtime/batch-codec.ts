// The binary form of record batches crossing from one thread to another: values, keys, times and
// tags as columns, with the strings a channel has already carried sent as numbers.

import { Packr } from 'msgpackr'
import type { Key, Record } from '../core/record.ts'

/**
 * A channel's msgpackr instance: `sequential` writes an object shape's field names in the first
 * batch that carries it and only its number after that, and the decoder keeps the shapes it has
 * read (and the reader it built for each), as the dictionary does for strings.
 */
function channelPackr(): Packr {
  return new Packr({ useRecords: true, moreTypes: true, sequential: true })
}

/**
 * Strings a channel's dictionary holds before it starts over: the encoder then clears it and marks
 * the next batch, and the decoder clears its copy before reading that batch.
 */
export const DICTIONARY_LIMIT = 65_536

/** Longer strings are written in full: they seldom repeat, and would crowd out those that do. */
export const MAX_DICTIONARY_STRING = 256

/**
 * A column whose strings were mostly new (fewer than half seen before) is written in full for this
 * many batches, then tried again: unique ids and messages gain nothing from a dictionary.
 */
export const DICTIONARY_BACKOFF = 64

/**
 * One column of a batch: numbers (a Float64Array), strings by dictionary number (a Uint16Array or
 * Uint32Array), or anything else as a plain array (written by msgpackr).
 */
type Column = Float64Array | Uint16Array | Uint32Array | unknown[]

/**
 * What one batch is on the wire (packed by msgpackr): whether the dictionary starts over, the
 * strings it adds, then values, keys (`true`: each key is its value; `false`: no keys), times and
 * tags (one string when the batch shares it).
 */
type WireBatch = [
  reset: boolean,
  added: string[],
  values: Column,
  keys: Column | boolean,
  times: Float64Array,
  tags: string | Column,
]

/**
 * Columns that may use the dictionary, each with its own back-off. Keys that are not their values
 * do not: they are mostly ids and addresses of many distinct values (clients, users, sessions),
 * where a lookup in a dictionary of tens of thousands of strings costs more than the bytes.
 */
type Role = typeof VALUES | typeof TAGS
const VALUES = 0
const TAGS = 1

/**
 * Encodes the batches one thread sends another, in the order the other decodes them (a
 * `MessagePort` keeps order). A column of short string values (words, paths, hashtags, hosts) or
 * tags sends each string once: the encoder numbers a string the first time it carries it, the decoder
 * keeps the same list, and later batches send the number; the decoder hands out the same string
 * object each time, whose hash the JavaScript engine has then already computed. A column of
 * numbers travels as a Float64Array; anything else (objects) as msgpackr writes it, each object
 * shape's field names once per channel.
 */
export class BatchEncoder {
  private readonly packr = channelPackr()
  private ids = new Map<string, number>()
  private added: string[] = []
  private reset = false
  /** Per role: batches left to write its strings in full (see {@link DICTIONARY_BACKOFF}). */
  private readonly inFull = [0, 0]

  /** The batch's bytes, in a buffer of their own (so it can be transferred). */
  encode(records: readonly Record[]): Uint8Array {
    if (this.ids.size >= DICTIONARY_LIMIT) {
      this.ids = new Map()
      this.reset = true
    }
    const n = records.length
    const values = new Array<unknown>(n)
    const times = new Float64Array(n)
    const tag0 = n > 0 ? records[0]!.tag : ''
    let sameTag = true
    let keyIsValue = true
    let noKeys = true
    for (let i = 0; i < n; i++) {
      const r = records[i]!
      values[i] = r.value
      times[i] = r.time
      if (r.tag !== tag0) sameTag = false
      if (r.key !== r.value) keyIsValue = false
      if (r.key !== undefined) noKeys = false
    }
    let keyColumn: Column | boolean
    if (noKeys) keyColumn = false
    else if (keyIsValue) keyColumn = true
    else
      keyColumn = this.column(
        undefined,
        records.map((r) => r.key),
      )
    const batch: WireBatch = [
      this.reset,
      this.added,
      this.column(VALUES, values),
      keyColumn,
      times,
      sameTag
        ? tag0
        : this.column(
            TAGS,
            records.map((r) => r.tag),
          ),
    ]
    this.reset = false
    this.added = []
    const packed = this.packr.pack(batch)
    return new Uint8Array(packed.buffer.slice(packed.byteOffset, packed.byteOffset + packed.byteLength))
  }

  /**
   * A column for `values`: numbers, strings by number (for a `role` that may use the dictionary),
   * or the values as they are.
   */
  private column(role: Role | undefined, values: unknown[]): Column {
    const n = values.length
    let numbers = true
    let strings = role !== undefined && this.inFull[role] === 0
    if (role !== undefined && !strings) this.inFull[role]!--
    for (let i = 0; i < n; i++) {
      const v = values[i]
      if (typeof v === 'number') strings = false
      else {
        numbers = false
        if (typeof v !== 'string' || v.length > MAX_DICTIONARY_STRING) strings = false
      }
      if (!numbers && !strings) return values
    }
    if (numbers) return n > 0 ? Float64Array.from(values as number[]) : values
    const ids = this.ids
    const column = ids.size + n < 65_536 ? new Uint16Array(n) : new Uint32Array(n)
    let added = 0
    for (let i = 0; i < n; i++) {
      const s = values[i] as string
      let id = ids.get(s)
      if (id === undefined) {
        id = ids.size
        ids.set(s, id)
        this.added.push(s)
        added++
      }
      column[i] = id
    }
    if (added * 2 > n && n >= 16) this.inFull[role!] = DICTIONARY_BACKOFF
    return column
  }
}

/** Decodes what one `BatchEncoder` wrote, in the order it wrote it. */
export class BatchDecoder {
  private readonly packr = channelPackr()
  private strings: string[] = []

  decode(bytes: Uint8Array): Record[] {
    const [reset, added, valueColumn, keyColumn, times, tagColumn] = this.packr.unpack(bytes) as WireBatch
    if (reset) this.strings = []
    const strings = this.strings
    for (let i = 0; i < added.length; i++) strings.push(added[i]!)
    const n = times.length
    const values = this.expand(valueColumn)
    const keys: readonly unknown[] | undefined =
      keyColumn === true ? values : keyColumn === false ? undefined : this.expand(keyColumn)
    const out = new Array<Record>(n)
    if (typeof tagColumn === 'string') {
      if (keys === undefined)
        for (let i = 0; i < n; i++)
          out[i] = { value: values[i], key: undefined, time: times[i]!, tag: tagColumn }
      else
        for (let i = 0; i < n; i++)
          out[i] = { value: values[i], key: keys[i] as Key | undefined, time: times[i]!, tag: tagColumn }
    } else {
      const tags = this.expand(tagColumn) as string[]
      for (let i = 0; i < n; i++)
        out[i] = { value: values[i], key: keys?.[i] as Key | undefined, time: times[i]!, tag: tags[i]! }
    }
    return out
  }

  /** A column's values as an array. */
  private expand(column: Column): unknown[] {
    if (Array.isArray(column)) return column
    const n = column.length
    const out = new Array<unknown>(n)
    if (column instanceof Float64Array) for (let i = 0; i < n; i++) out[i] = column[i]
    else {
      const strings = this.strings
      for (let i = 0; i < n; i++) out[i] = strings[column[i]!]
    }
    return out
  }
}

// The unit of data: one event with its value, key, event time and routing tag.

/** A record's key: a primitive, so it hashes and compares cheaply and serialises exactly. */
export type Key = string | number | boolean

/**
 * One event flowing through a topology.
 *
 * - `value`: the payload, any structured-cloneable value (plain objects, arrays, strings, numbers).
 * - `key`: set by `keyBy`; `undefined` on streams that are not keyed.
 * - `time`: event time in ms since the epoch (ingestion time when the source has no event time).
 * - `tag`: fluentd-style routing label such as `web.access`; `''` when the source sets none.
 *
 * Records are treated as immutable once emitted: operators create new records instead of mutating
 * the ones they receive, because one record may be delivered to several downstream nodes.
 */
export interface Record<V = unknown> {
  readonly value: V
  readonly key: Key | undefined
  readonly time: number
  readonly tag: string
}

/** Builds a record; `time` defaults to now and `tag` to `''`. */
export function record<V>(value: V, time: number = Date.now(), tag = '', key?: Key): Record<V> {
  return { value, key, time, tag }
}

/** Sentinels for watermarks: nothing seen yet, and the end of all input. */
export const MIN_TIME = Number.NEGATIVE_INFINITY
export const MAX_TIME = Number.POSITIVE_INFINITY

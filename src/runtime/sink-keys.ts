// Idempotency keys of a sink task: a random base per key sequence and a number per record, kept
// in every checkpoint so that a replay gives the records it repeats the keys they had.

import { randomBytes } from 'node:crypto'

/** Where a sink task's key sequence stands at a barrier, as a checkpoint keeps it (plain data). */
export interface SinkKeyPosition {
  /** The sequence's random base. */
  base: string
  /** The number the next record gets. */
  next: number
}

/**
 * The numbering of the records one sink task receives (see `IoContext.idempotencyKey`). The task
 * calls `advance` once per batch, before its writer's `write`: two additions, nothing per record.
 * Keys are `<base>.<task>.<seq>`; the base is 16 base64url characters (96 random bits).
 */
export class SinkKeys {
  base = randomBytes(12).toString('base64url')
  /** The number of record 0 of the batch being written. */
  batchStart = 0
  /** The number the next record gets. */
  next = 0

  constructor(readonly task: number) {}

  /** Numbers a batch of `n` records about to be written. */
  advance(n: number): void {
    this.batchStart = this.next
    this.next += n
  }

  key(seq: number): string {
    return `${this.base}.${this.task}.${seq}`
  }

  position(): SinkKeyPosition {
    return { base: this.base, next: this.next }
  }

  /** Goes on with a sequence recorded by a checkpoint. */
  restore(position: SinkKeyPosition): void {
    this.base = position.base
    this.next = position.next
    this.batchStart = position.next
  }
}

/**
 * True when a restored checkpoint's key sequences may go on: it recorded them, and the job has the
 * same nodes with the same parallelism, so each sink task may receive the records it received
 * before. Otherwise every sink task starts a new sequence and replayed records get new keys.
 */
export function keysContinue(
  before: { nodes: readonly string[]; parallelism: { readonly [node: string]: number } },
  now: { nodes: readonly string[]; parallelism: { readonly [node: string]: number } },
): boolean {
  if (before.nodes.length !== now.nodes.length) return false
  for (let i = 0; i < now.nodes.length; i++) {
    const node = now.nodes[i]!
    if (before.nodes[i] !== node || before.parallelism[node] !== now.parallelism[node]) return false
  }
  return true
}

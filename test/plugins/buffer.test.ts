import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/core/clock.ts'
import { SquallError } from '../../src/core/errors.ts'
import { memoryLogger } from '../../src/core/logger.ts'
import type { Record } from '../../src/core/record.ts'
import type { IoContext } from '../../src/core/source.ts'
import { compileTagPattern } from '../../src/core/tag-match.ts'
import type { Delivery } from '../../src/plugins/define.ts'
import {
  BufferedWriter,
  type BufferedWriterOptions,
  type DeadLetterValue,
} from '../../src/plugins/helpers/buffer.ts'
import { backoffDelay, retry } from '../../src/plugins/helpers/retry.ts'
import { SinkKeys } from '../../src/runtime/sink-keys.ts'

function context() {
  const counters: { [k: string]: number } = {}
  const log = memoryLogger()
  const ctx: IoContext = {
    nodeName: 'out',
    partition: 0,
    partitions: 1,
    log,
    clock: new ManualClock(0),
    count: (m, n = 1) => {
      counters[m] = (counters[m] ?? 0) + n
    },
    report: () => {},
    badRecord: () => {},
  }
  return { ctx, counters, log }
}

/** A context that numbers batches as a sink task does; `write` must go through `write` below. */
function keyedContext() {
  const keys = new SinkKeys(3)
  const ctx: IoContext = {
    ...context().ctx,
    batchSequence: () => keys.batchStart,
    idempotencyKey: (seq) => keys.key(seq),
  }
  /** Writes a batch as the sink task does: numbers it first. */
  const write = (w: BufferedWriter, records: Record[]) => {
    keys.advance(records.length)
    return w.write(records)
  }
  return { ctx, keys, write }
}

const rec = (value: unknown, tag = 'web.access'): Record => ({ value, key: undefined, time: 1000, tag })
const noSleep = async () => {}

function options(over: Partial<BufferedWriterOptions> = {}): BufferedWriterOptions {
  return {
    name: 'out',
    buffer: { type: 'memory', chunkLimitRecords: 2, totalLimitBytes: 1 << 20, flushIntervalMs: 60_000 },
    retry: { maxAttempts: 3, initialIntervalMs: 1, maxIntervalMs: 4 },
    sleep: noSleep,
    ...over,
  }
}

describe('retry', () => {
  it('backoff doubles from the initial interval and stops at the maximum', () => {
    const p = { maxAttempts: 10, initialIntervalMs: 100, maxIntervalMs: 1000 }
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(p, n))).toEqual([100, 200, 400, 800, 1000])
  })

  it('retries retryable errors until an attempt succeeds, and gives up at once on the others', async () => {
    let calls = 0
    const waits: number[] = []
    const got = await retry(
      () => {
        calls++
        if (calls < 3) throw new SquallError('ERR_SINK_FAILED', 'busy')
        return 'ok'
      },
      { maxAttempts: 5, initialIntervalMs: 10, maxIntervalMs: 100, jitter: 0 },
      { sleep: async (ms) => void waits.push(ms) },
    )
    expect(got).toBe('ok')
    expect(waits).toEqual([10, 20])
    let fatal = 0
    await expect(
      retry(
        () => {
          fatal++
          throw new SquallError('ERR_CONFIG', 'bad')
        },
        { maxAttempts: 5, initialIntervalMs: 1, maxIntervalMs: 1 },
        { sleep: noSleep },
      ),
    ).rejects.toThrow('bad')
    expect(fatal).toBe(1)
  })
})

describe('buffered output', () => {
  it('delivers matching records in chunks, in order, and everything by finish', async () => {
    const chunks: unknown[][] = []
    const target: Delivery = { deliver: (rs) => void chunks.push(rs.map((r) => r.value)) }
    const { ctx, counters } = context()
    const w = new BufferedWriter(target, options({ match: compileTagPattern('web.**') }), ctx)
    await w.open()
    await w.write([rec(1), rec(2, 'db.query'), rec(3), rec(4)])
    await w.write([rec(5)])
    await w.finish()
    await w.close()
    expect(chunks).toEqual([
      [1, 3],
      [4, 5],
    ])
    expect(counters.delivered).toBe(4)
  })

  it('a retryable failure is retried with backoff and the chunk is delivered once it succeeds', async () => {
    let attempts = 0
    const delivered: unknown[] = []
    const target: Delivery = {
      deliver(rs) {
        attempts++
        if (attempts <= 2) throw new SquallError('ERR_SINK_FAILED', 'connection reset')
        delivered.push(...rs.map((r) => r.value))
      },
    }
    const { ctx, counters, log } = context()
    const w = new BufferedWriter(target, options(), ctx)
    await w.open()
    await w.write([rec('a'), rec('b')])
    await w.finish()
    await w.close()
    expect(delivered).toEqual(['a', 'b'])
    expect(counters.retries).toBe(2)
    expect(log.entries.filter((e) => e.message.includes('retrying'))).toHaveLength(2)
  })

  it('what cannot be delivered goes to the secondary output with the reason', async () => {
    const letters: DeadLetterValue[] = []
    const target: Delivery = {
      deliver() {
        throw new SquallError('ERR_SINK_FAILED', 'server answered 503')
      },
    }
    const secondary: Delivery = {
      deliver: (rs) => void letters.push(...rs.map((r) => r.value as DeadLetterValue)),
    }
    const { ctx, counters } = context()
    const w = new BufferedWriter(target, options({ secondary }), ctx)
    await w.open()
    await w.write([rec({ n: 1 }), rec({ n: 2 })])
    await w.finish()
    await w.close()
    expect(letters.map((l) => l.record)).toEqual([{ n: 1 }, { n: 2 }])
    expect(letters[0]).toMatchObject({ output: 'out', tag: 'web.access', time: 1000 })
    expect(letters[0]!.error).toContain('server answered 503')
    expect(counters.dead_lettered).toBe(2)
    expect(counters.delivery_errors).toBe(3)
  })

  it('without a secondary output an undeliverable chunk fails the job with ERR_OUTPUT_UNDELIVERABLE', async () => {
    const target: Delivery = {
      deliver() {
        throw new SquallError('ERR_CONFIG', 'rejected')
      },
    }
    const { ctx } = context()
    const w = new BufferedWriter(target, options(), ctx)
    await w.open()
    await w.write([rec(1), rec(2)])
    await expect(w.finish()).rejects.toMatchObject({ code: 'ERR_OUTPUT_UNDELIVERABLE' })
    await w.close()
  })

  it('onUndeliverable skip drops the chunk with a counter and an error log line', async () => {
    const target: Delivery = {
      deliver() {
        throw new SquallError('ERR_CONFIG', 'rejected')
      },
    }
    const { ctx, counters, log } = context()
    const w = new BufferedWriter(target, options({ onUndeliverable: 'skip' }), ctx)
    await w.open()
    await w.write([rec(1), rec(2)])
    await w.finish()
    await w.close()
    expect(counters.dropped).toBe(2)
    expect(
      log.entries.some((e) => e.level === 'error' && e.message.includes('dropped a chunk of 2 records')),
    ).toBe(true)
  })

  it('a slow output makes write return a promise once the buffer is over its limit', async () => {
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    const delivered: unknown[] = []
    const target: Delivery = {
      async deliver(rs) {
        await gate
        delivered.push(...rs.map((r) => r.value))
      },
    }
    const { ctx, counters } = context()
    const w = new BufferedWriter(
      target,
      options({
        buffer: { type: 'memory', chunkLimitRecords: 10, totalLimitBytes: 200, flushIntervalMs: 60_000 },
      }),
      ctx,
    )
    await w.open()
    const big = Array.from({ length: 30 }, (_, i) => rec({ i, pad: 'x'.repeat(20) }))
    const result = w.write(big)
    expect(result).toBeInstanceOf(Promise)
    let settled = false
    void (result as Promise<void>).then(() => {
      settled = true
    })
    await new Promise((r) => setTimeout(r, 20))
    expect(settled).toBe(false)
    release()
    await result
    await w.finish()
    await w.close()
    expect(delivered).toHaveLength(30)
    expect(counters.buffer_full).toBe(1)
  })

  it("each chunk is delivered with its records' idempotency keys, the same at every attempt, skipping what the match filter drops", async () => {
    const attempts: { values: unknown[]; keys: string[] }[] = []
    const target: Delivery = {
      deliver(rs, keys) {
        attempts.push({ values: rs.map((r) => r.value), keys: rs.map((_, i) => keys!.key(i)) })
        if (attempts.length === 1) throw new SquallError('ERR_SINK_FAILED', 'connection reset')
      },
    }
    const { ctx, keys, write } = keyedContext()
    const w = new BufferedWriter(target, options({ match: compileTagPattern('web.**') }), ctx)
    await w.open()
    await write(w, [rec(1), rec(2, 'db.query'), rec(3)])
    await write(w, [rec(4), rec(5)])
    await w.finish()
    await w.close()
    const k = (seq: number) => `${keys.base}.3.${seq}`
    expect(attempts).toEqual([
      { values: [1, 3], keys: [k(0), k(2)] },
      { values: [1, 3], keys: [k(0), k(2)] },
      { values: [4, 5], keys: [k(3), k(4)] },
    ])
  })

  it('a file buffer keeps the idempotency keys of undelivered chunks across a restart', async () => {
    const { mkdtempSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const dir = mkdtempSync(join(tmpdir(), 'squall-buffer-'))
    const fileBuffer = {
      type: 'file' as const,
      path: dir,
      chunkLimitRecords: 2,
      totalLimitBytes: 1 << 20,
      flushIntervalMs: 60_000,
    }
    const down: Delivery = { deliver: () => new Promise<void>(() => {}) }
    const before = keyedContext()
    const first = new BufferedWriter(down, options({ buffer: fileBuffer }), before.ctx)
    await first.open()
    await before.write(first, [rec('a'), rec('b'), rec('c'), rec('d')])
    await new Promise((r) => setTimeout(r, 120))
    await first.close()
    const got: { value: unknown; key: string | undefined }[] = []
    const up: Delivery = {
      deliver: (rs, keys) => void got.push(...rs.map((r, i) => ({ value: r.value, key: keys?.key(i) }))),
    }
    const after = keyedContext()
    const second = new BufferedWriter(up, options({ buffer: fileBuffer }), after.ctx)
    await second.open()
    await second.finish()
    await second.close()
    const k = (seq: number) => `${before.keys.base}.3.${seq}`
    expect(got).toEqual([
      { value: 'a', key: k(0) },
      { value: 'b', key: k(1) },
      { value: 'c', key: k(2) },
      { value: 'd', key: k(3) },
    ])
    expect(after.keys.base).not.toBe(before.keys.base)
  })

  it('a file buffer keeps undelivered chunks across a restart', async () => {
    const { mkdtempSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const dir = mkdtempSync(join(tmpdir(), 'squall-buffer-'))
    const fileBuffer = {
      type: 'file' as const,
      path: dir,
      chunkLimitRecords: 2,
      totalLimitBytes: 1 << 20,
      flushIntervalMs: 60_000,
    }
    const down: Delivery = {
      deliver: () => new Promise<void>(() => {}),
    }
    const first = new BufferedWriter(down, options({ buffer: fileBuffer }), context().ctx)
    await first.open()
    await first.write([rec('a'), rec('b'), rec('c'), rec('d')])
    await new Promise((r) => setTimeout(r, 120))
    await first.close()
    const got: unknown[] = []
    const up: Delivery = { deliver: (rs) => void got.push(...rs.map((r) => r.value)) }
    const second = new BufferedWriter(up, options({ buffer: fileBuffer }), context().ctx)
    await second.open()
    await second.finish()
    await second.close()
    expect(got).toEqual(['a', 'b', 'c', 'd'])
  })
})

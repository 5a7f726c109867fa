import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { memoryLogger } from '../../src/core/logger.ts'
import type { SinkSpec, SinkWriter, SourceSpec, ValuesRange } from '../../src/core/source.ts'
import { stdout } from '../../src/plugins/outputs/stdout.ts'
import { type Catalog, planQuery } from '../../src/query/planner.ts'
import { runEmbedded } from '../../src/runtime/embedded/runner.ts'
import { InputGate } from '../../src/runtime/input-gate.ts'

// A source that reads values, with its fused stateless steps, hands its batches to a sink that
// takes values (`SinkWriter.writeValues`) as values and event times: no record is made for them.

interface Hit {
  user: string
  n: number
  ts: number
}

const hits: Hit[] = Array.from({ length: 5000 }, (_, i) => ({ user: `u${i % 7}`, n: i, ts: 1_000 + i }))

/**
 * How `valuesSource` hands out its batches: new arrays, ranges of `rows` itself, or one array it
 * refills each time.
 */
type BatchForm = 'copies' | 'ranges' | 'one array'

/**
 * A one-partition bounded source of `rows` read as values, `perBatch` at a time; with `spacingMs`,
 * a batch only every that many ms (so checkpoints fall between them). Its positions at checkpoint
 * barriers go to `positions`.
 */
function valuesSource(
  rows: readonly Hit[],
  perBatch: number,
  spacingMs = 0,
  positions: number[] = [],
  form: BatchForm = 'copies',
): SourceSpec {
  return {
    kind: 'rows',
    bounded: true,
    maxPartitions: 1,
    create: () => {
      let i = 0
      let last = 0
      const one: Hit[] = []
      return {
        nextBatch: () => {
          throw new Error('read as values only')
        },
        nextValues(max: number): unknown[] | ValuesRange | null {
          if (i >= rows.length) return null
          if (spacingMs > 0 && performance.now() - last < spacingMs) return []
          last = performance.now()
          const from = i
          i = Math.min(rows.length, i + Math.min(max, perBatch))
          if (form === 'ranges') return { values: rows, from, to: i }
          if (form === 'copies') return rows.slice(from, i)
          // One array, refilled: what was left in it from the last batch must not be read again.
          one.length = 0
          for (let k = from; k < i; k++) one.push(rows[k]!)
          return one
        },
        snapshot: () => {
          positions.push(i)
          return i
        },
        restore: (p: unknown) => {
          i = p as number
        },
      }
    },
  }
}

const catalogOf = (source: SourceSpec): Catalog => ({
  hits: {
    source,
    schema: { user: 'STRING', n: 'BIGINT', ts: 'TIMESTAMP(3)' },
    eventTime: { column: 'ts', watermarkDelayMs: 0 },
  },
})

const SQL = 'SELECT user, n * 2 AS twice, ts FROM hits WHERE MOD(n, 3) = 0'
const expected = (rows: readonly Hit[]) =>
  rows.filter((h) => h.n % 3 === 0).map((h) => ({ user: h.user, twice: h.n * 2, ts: h.ts }))

/** What a sink saw: values (with times) through writeValues, records through write, pre-commits. */
interface Seen {
  values: unknown[]
  times: number[]
  records: unknown[]
  preCommits: { id: number; written: number }[]
}

function seeingSink(takesValues: boolean, slowEvery = 0): SinkSpec & { seen: Seen } {
  const seen: Seen = { values: [], times: [], records: [], preCommits: [] }
  let calls = 0
  const later = () =>
    slowEvery > 0 && ++calls % slowEvery === 0 ? new Promise<void>((r) => setTimeout(r, 2)) : undefined
  return {
    kind: 'seeing',
    seen,
    create: () => {
      const w: SinkWriter = {
        write(records) {
          for (const r of records) seen.records.push(r.value)
          return later()
        },
        preCommit(id) {
          seen.preCommits.push({ id, written: seen.values.length + seen.records.length })
          return undefined
        },
      }
      if (takesValues) {
        w.writeValues = (values, times) => {
          expect(times.length).toBe(values.length)
          seen.values.push(...values)
          seen.times.push(...times)
          return later()
        }
      }
      return w
    },
  }
}

async function runSql(
  source: SourceSpec,
  sink: SinkSpec,
  options: { state?: { dir: string; checkpointInterval: string } } = {},
) {
  const plan = planQuery(SQL, catalogOf(source), { sink: { spec: sink, name: 'out' }, timestamps: 'ms' })
  return runEmbedded(plan.topology, { threads: 1, log: memoryLogger(), ...options }).done
}

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

describe('batches handed to a sink as values', () => {
  it('a SQL query’s rows reach a sink that takes values as values with their event times, and never as records', async () => {
    const sink = seeingSink(true)
    const result = await runSql(valuesSource(hits, 100), sink)
    const rows = expected(hits)
    expect(sink.seen.values).toEqual(rows)
    expect(sink.seen.times).toEqual(rows.map((r) => r.ts))
    expect(sink.seen.records).toEqual([])
    expect(result.metrics.out?.in).toBe(rows.length)
    expect(result.metrics.hits?.out).toBe(hits.length)
  })

  it('a sink without writeValues gets the same rows as records', async () => {
    const sink = seeingSink(false)
    await runSql(valuesSource(hits, 100), sink)
    expect(sink.seen.records).toEqual(expected(hits))
    expect(sink.seen.values).toEqual([])
  })

  it('a reader may hand out ranges of an array it keeps, or refill one array: the rows are the same', async () => {
    for (const form of ['ranges', 'one array'] as const) {
      const asValues = seeingSink(true)
      const result = await runSql(valuesSource(hits, 64, 0, [], form), asValues)
      expect(asValues.seen.values, form).toEqual(expected(hits))
      expect(asValues.seen.times, form).toEqual(expected(hits).map((r) => r.ts))
      expect(result.metrics.hits?.out, form).toBe(hits.length)
      const asRecords = seeingSink(false)
      await runSql(valuesSource(hits, 64, 0, [], form), asRecords)
      expect(asRecords.seen.records, form).toEqual(expected(hits))
    }
  })

  it('a range outside its array fails the job naming the source and the range', async () => {
    const bad: SourceSpec = {
      kind: 'bad-range',
      bounded: true,
      create: () => ({
        nextBatch: () => null,
        nextValues: () => ({ values: hits, from: 4990, to: 5010 }),
      }),
    }
    const e = await runSql(bad, seeingSink(true)).then(
      () => undefined,
      (err: unknown) => err as { code: string; message: string },
    )
    expect(e?.code).toBe('ERR_SOURCE_FAILED')
    expect(e?.message).toContain('source "hits"')
    expect(e?.message).toContain('nextValues returned the range 4990..5010 of an array of 5000 values')
  })

  it('batches waiting behind a pending writeValues are all written, in order', async () => {
    const sink = seeingSink(true, 3)
    await runSql(valuesSource(hits, 40), sink)
    expect(sink.seen.values).toEqual(expected(hits))
  })

  it('a checkpoint’s pre-commit comes after exactly the rows read before its barrier', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'squall-values-'))
    dirs.push(dir)
    const positions: number[] = []
    const sink = seeingSink(true)
    await runSql(valuesSource(hits, 50, 2, positions), sink, { state: { dir, checkpointInterval: '20ms' } })
    expect(sink.seen.values).toEqual(expected(hits))
    // The k-th barrier took the source's k-th position; its pre-commit saw exactly the rows of
    // the query among the values read up to there.
    const paired = sink.seen.preCommits.filter((p) => p.id <= positions.length)
    expect(paired.length).toBeGreaterThanOrEqual(3)
    for (const { id, written } of paired) {
      expect(written).toBe(expected(hits.slice(0, positions[id - 1])).length)
    }
  }, 20_000)

  it('values on a channel aligning a barrier wait behind it with the records, and come after the barrier in order', () => {
    const seen: string[] = []
    const gate = new InputGate(2, {
      onRecords: (records) => seen.push(`records ${records.map((r) => r.value).join(',')}`),
      onValues: (values, times) => seen.push(`values ${values.join(',')} at ${times.join(',')}`),
      onWatermark: () => {},
      onBarrier: (id) => seen.push(`barrier ${id}`),
      onEnd: () => {},
    })
    gate.values(0, ['a'], [1])
    gate.barrier(0, 7)
    gate.values(0, ['b', 'c'], [2, 3])
    gate.records(0, [{ value: 'd', key: undefined, time: 4, tag: '' }])
    gate.values(1, ['x'], [5])
    gate.barrier(1, 7)
    gate.values(1, ['y'], [6])
    expect(seen).toEqual([
      'values a at 1',
      'values x at 5',
      'barrier 7',
      'values b,c at 2,3',
      'records d',
      'values y at 6',
    ])
  })

  it('stdout with a format of the value alone prints the values; a format of the record gets records', async () => {
    for (const format of [
      (v: unknown) => JSON.stringify(v),
      (v: unknown, r: { time: number }) => `${r.time} ${JSON.stringify(v)}`,
    ]) {
      let text = ''
      const output = {
        write: (s: string) => {
          text += s
          return true
        },
      } as unknown as NodeJS.WritableStream
      const plan = planQuery(SQL, catalogOf(valuesSource(hits.slice(0, 30), 10)), {
        sink: { spec: stdout({ format, output }), name: 'out' },
        timestamps: 'ms',
      })
      const spec = stdout({ format, output })
      const writer = spec.create({} as Parameters<typeof spec.create>[0]) as SinkWriter
      expect(writer.writeValues === undefined).toBe(format.length >= 2)
      await runEmbedded(plan.topology, { threads: 1, log: memoryLogger() }).done
      const lines = expected(hits.slice(0, 30)).map((r) =>
        format.length < 2 ? JSON.stringify(r) : `${r.ts} ${JSON.stringify(r)}`,
      )
      expect(text).toBe(`${lines.join('\n')}\n`)
    }
  })
})

import { describe, expect, test } from 'vitest'
import { memoryLogger } from '../../src/core/logger.ts'
import type { Record } from '../../src/core/record.ts'
import type { SourceSpec } from '../../src/core/source.ts'
import { Topology } from '../../src/core/topology.ts'
import { collect } from '../../src/plugins/outputs/collect.ts'
import { type Catalog, planQuery } from '../../src/query/planner.ts'
import { runEmbedded } from '../../src/runtime/embedded/runner.ts'
import { planTopology } from '../../src/runtime/plan.ts'

// Stateless SQL steps (WHERE, SELECT) run in the task of the source they read, after event time is
// assigned; the results, watermarks and error reports are those of the unfused plan.

interface Hit {
  user: string
  n: number
  ts?: number
}

/**
 * A one-partition bounded source of `rows`, offering them as values too when `values` is set,
 * at most `perBatch` at a time (the watermark follows each batch).
 */
function rowsSource(
  rows: readonly Hit[],
  values: boolean,
  reads?: { values: number; batches: number },
  perBatch = Number.POSITIVE_INFINITY,
): SourceSpec {
  return {
    kind: 'rows',
    bounded: true,
    maxPartitions: 1,
    create: () => {
      let i = 0
      return {
        nextBatch(max: number): Record[] | null {
          if (i >= rows.length) return null
          if (reads) reads.batches++
          const out = rows
            .slice(i, i + Math.min(max, perBatch))
            .map((v) => ({ value: v, key: undefined, time: 0, tag: '' }))
          i += out.length
          return out
        },
        ...(values
          ? {
              nextValues(max: number): unknown[] | null {
                if (i >= rows.length) return null
                if (reads) reads.values++
                const out = rows.slice(i, i + Math.min(max, perBatch))
                i += out.length
                return out
              },
            }
          : {}),
        snapshot: () => i,
        restore: (p: unknown) => {
          i = p as number
        },
      }
    },
  }
}

function catalogOf(source: SourceSpec): Catalog {
  return {
    hits: {
      source,
      schema: { user: 'STRING', n: 'BIGINT', ts: 'TIMESTAMP(3)' },
      eventTime: { column: 'ts', watermarkDelayMs: 0 },
    },
  }
}

async function runSql(sql: string, source: SourceSpec, onError?: 'skip') {
  const sink = collect<{ [c: string]: unknown }>()
  const plan = planQuery(sql, catalogOf(source), { sink: { spec: sink, name: 'out' }, timestamps: 'ms' })
  if (onError) (plan.topology.node('hits') as { onError: string }).onError = onError
  const log = memoryLogger()
  const result = await runEmbedded(plan.topology, { threads: 1, log }).done
  return { rows: sink.values, metrics: result.metrics, plan, log }
}

const hits: Hit[] = Array.from({ length: 5000 }, (_, i) => ({ user: `u${i % 7}`, n: i, ts: 1_000 + i }))

describe('fusing stateless SQL steps into the source', () => {
  for (const values of [false, true]) {
    test(`WHERE and SELECT run in the source task and give the rows of the query (${values ? 'values' : 'records'})`, async () => {
      const reads = { values: 0, batches: 0 }
      const { rows, metrics } = await runSql(
        'SELECT user, n * 2 AS twice FROM hits WHERE MOD(n, 3) = 0',
        rowsSource(hits, values, reads),
      )
      const expected = hits.filter((h) => h.n % 3 === 0).map((h) => ({ user: h.user, twice: h.n * 2 }))
      expect(rows).toEqual(expected)
      // No task ran for the filter or the projection: they ran in the source's task.
      expect(Object.keys(metrics).filter((n) => /^(filter|project)-/.test(n))).toEqual([])
      expect(metrics.hits?.out).toBe(hits.length)
      if (values) expect(reads).toMatchObject({ batches: 0 })
      else expect(reads).toMatchObject({ values: 0 })
      expect(reads.values + reads.batches).toBeGreaterThan(0)
    })
  }

  test('a filter keeping all of some batches and little of others passes exactly its rows, in order', async () => {
    // Batches of 100: the first ten and the last ten keep every row, those between keep 2 of 100,
    // so the task's output arrays are made both at the batch's size and grown from empty.
    const sql = 'SELECT n FROM hits WHERE n < 1000 OR n >= 4000 OR MOD(n, 50) = 0'
    const expected = hits.filter((h) => h.n < 1000 || h.n >= 4000 || h.n % 50 === 0).map((h) => ({ n: h.n }))
    for (const values of [false, true]) {
      const { rows } = await runSql(sql, rowsSource(hits, values, undefined, 100))
      expect(rows).toEqual(expected)
    }
  })

  test('the watermark counts the records a fused filter drops, as before the filter in Flink', async () => {
    // One record per batch, so the watermark moves between them. 'b' at 20 s is dropped by WHERE,
    // yet moves the watermark past the first window; the 'a' at 2 s is then late and not counted,
    // exactly as with the filter as its own operator.
    const rows: Hit[] = [
      { user: 'a', n: 1, ts: 1_000 },
      { user: 'b', n: 2, ts: 20_000 },
      { user: 'a', n: 3, ts: 2_000 },
      { user: 'a', n: 4, ts: 21_000 },
    ]
    for (const values of [false, true]) {
      const { rows: out } = await runSql(
        "SELECT window_start, COUNT(*) AS c FROM TABLE(TUMBLE(TABLE hits, DESCRIPTOR(ts), INTERVAL '10' SECOND)) WHERE user = 'a' GROUP BY window_start, window_end",
        rowsSource(rows, values, undefined, 1),
      )
      expect(out).toEqual([
        { window_start: 0, c: 1 },
        { window_start: 20_000, c: 1 },
      ])
    }
  })

  test('a value without event time read through nextValues follows the source error policy', async () => {
    const rows: Hit[] = [
      { user: 'a', n: 1, ts: 1_000 },
      { user: 'a', n: 2 },
      { user: 'a', n: 3, ts: 3_000 },
    ]
    const { rows: out, metrics, log } = await runSql('SELECT n FROM hits', rowsSource(rows, true), 'skip')
    expect(out).toEqual([{ n: 1 }, { n: 3 }])
    expect(metrics.hits?.skipped).toBe(1)
    expect(log.entries.some((e) => e.message.includes('no usable event time'))).toBe(true)
    await expect(runSql('SELECT n FROM hits', rowsSource(rows, true))).rejects.toThrow(/no usable event time/)
  })

  test('an error in a fused step fails the job naming the fused nodes', async () => {
    const rows: Hit[] = [
      { user: 'a', n: 1, ts: 1_000 },
      { user: 'a', n: 0, ts: 2_000 },
    ]
    await expect(runSql('SELECT 10 / n AS q FROM hits', rowsSource(rows, true))).rejects.toThrow(
      /node "project-1" \(task 0\) failed on a record.*division by zero/,
    )
  })

  test('a source read by two nodes, or at another parallelism, keeps its steps as operators', () => {
    const step = (v: unknown) => v
    const shared = new Topology('t')
    shared.addSource('s', rowsSource([], false))
    shared.addProcessor('a', () => ({ process: (r, out) => out.emitRecord(r) }), [{ from: 's' }], {
      calc: step,
    })
    shared.addProcessor('b', () => ({ process: (r, out) => out.emitRecord(r) }), [{ from: 's' }], {
      calc: step,
    })
    shared.addSink('out', collect(), [{ from: 'a' }, { from: 'b' }])
    expect(planTopology(shared, 1, 1).nodes.map((n) => n.spec.name)).toEqual(['s', 'a', 'b', 'out'])

    const wider = new Topology('t')
    wider.addSource('s', rowsSource([], false))
    wider.addProcessor('a', () => ({ process: (r, out) => out.emitRecord(r) }), [{ from: 's' }], {
      calc: step,
    })
    wider.addSink('out', collect(), [{ from: 'a' }])
    expect(planTopology(wider, 2, 2).nodes.map((n) => n.spec.name)).toEqual(['s', 'a', 'out'])
    expect(planTopology(wider, 1, 1).nodes.map((n) => n.spec.name)).toEqual(['s', 'out'])
    // The topology itself is left as built.
    expect(wider.nodes.map((n) => n.name)).toEqual(['s', 'a', 'out'])
  })

  test('DSL map and filter of the value alone are fused; a function of the record is not', async () => {
    const t = new Topology('dsl')
    const nums = t.source('nums', rowsSource(hits, false))
    const fused = collect<unknown>()
    nums
      .map((h) => (h as Hit).n)
      .filter((n) => (n as number) % 3 === 0)
      .map(() => undefined)
      .sink(fused, { name: 'fused-out' })
    const result = await runEmbedded(t, { threads: 1, log: () => {} }).done
    // A map may return undefined: the record stays, with that value (only a filter drops).
    expect(fused.values).toEqual(hits.filter((h) => h.n % 3 === 0).map(() => undefined))
    expect(Object.keys(result.metrics).filter((n) => /^(map|filter)-/.test(n))).toEqual([])

    const u = new Topology('dsl-record')
    const timed = collect<unknown>()
    u.source('nums', rowsSource(hits.slice(0, 3), false))
      .map((h, r) => `${(h as Hit).n}@${r.time}`)
      .sink(timed, { name: 'timed-out' })
    const other = await runEmbedded(u, { threads: 1, log: () => {} }).done
    expect(timed.values).toEqual(['0@0', '1@0', '2@0'])
    expect(other.metrics['map-1']?.in).toBe(3)
  })

  test('a fused DSL step that throws fails the job naming its node, as unfused', async () => {
    const t = new Topology('dsl-fail')
    t.source('nums', rowsSource(hits.slice(0, 3), false))
      .map((h) => {
        if ((h as Hit).n === 2) throw new Error('no twos')
        return h
      })
      .sink(collect(), { name: 'out' })
    await expect(runEmbedded(t, { threads: 1, log: () => {} }).done).rejects.toThrow(
      /node "map-1" \(task 0\) failed on a record .*no twos/,
    )
  })
})

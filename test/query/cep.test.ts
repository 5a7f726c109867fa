import { describe, expect, test } from 'vitest'
import type { SourceSpec } from '../../src/core/source.ts'
import { Topology } from '../../src/core/topology.ts'
import { WatermarkStrategy } from '../../src/core/watermark.ts'
import { Pattern } from '../../src/query/cep/pattern.ts'
import { type Catalog, planQuery } from '../../src/query/planner.ts'
import { collect } from '../../src/plugins/outputs/collect.ts'
import { TestDriver } from '../../src/runtime/test-driver.ts'

const idle: SourceSpec = { kind: 'test', bounded: true, create: () => ({ nextBatch: () => null }) }

interface Login {
  ip: string
  user_name: string
  outcome: 'failure' | 'success'
  ts: number
}

const catalog: Catalog = {
  logins: {
    source: idle,
    schema: { ip: 'STRING', user_name: 'STRING', outcome: 'STRING', ts: 'TIMESTAMP(3)' },
    eventTime: { column: 'ts', watermarkDelayMs: 0 },
  },
  events: {
    source: idle,
    schema: { k: 'STRING', v: 'STRING', ts: 'TIMESTAMP(3)' },
    eventTime: { column: 'ts', watermarkDelayMs: 0 },
  },
}

const BRUTE_FORCE = `SELECT * FROM logins MATCH_RECOGNIZE (
    PARTITION BY ip ORDER BY ts
    MEASURES FIRST(F.ts) AS first_failure, COUNT(F.*) AS failures, S.user_name AS user_name, MATCH_ROWTIME() AS matched_at
    AFTER MATCH SKIP PAST LAST ROW
    PATTERN (F{5,} S) WITHIN INTERVAL '60' SECOND
    DEFINE F AS F.outcome = 'failure', S AS S.outcome = 'success') AS attack`

/** Logins of one IP: `f` a failure, `s` a success, one per `stepMs` from `start`. */
function trace(ip: string, pattern: string, start = 0, stepMs = 1000): Login[] {
  return [...pattern].map((c, i) => ({
    ip,
    user_name: `user-${ip}`,
    outcome: c === 'f' ? 'failure' : 'success',
    ts: start + i * stepMs,
  }))
}

function runSql(sql: string, table: string, rows: readonly { ts: number }[]): Record<string, unknown>[] {
  const plan = planQuery(sql, catalog, { sink: { spec: collect() }, timestamps: 'ms' })
  const d = new TestDriver(plan.topology)
  const sorted = [...rows].sort((a, b) => a.ts - b.ts)
  d.pushRecords(
    table,
    sorted.map((value) => ({ value, time: value.ts })),
  )
  d.end()
  return d.values('sink')
}

describe('MATCH_RECOGNIZE', () => {
  test('five failures then a success from one IP within 60 s is one match with its measures', () => {
    const out = runSql(BRUTE_FORCE, 'logins', trace('10.0.0.1', 'ffffffs', 5000))
    expect(out).toEqual([
      { ip: '10.0.0.1', first_failure: 5000, failures: 6, user_name: 'user-10.0.0.1', matched_at: 11_000 },
    ])
  })

  test('no false positives: four failures, failures across IPs, or a success in between do not match', () => {
    const rows = [
      ...trace('a', 'ffffs'),
      ...trace('b', 'fffsffs', 0),
      ...trace('c', 'ff'),
      ...trace('d', 'fff'),
      ...trace('c', 'sfffs', 10_000),
    ]
    expect(runSql(BRUTE_FORCE, 'logins', rows)).toEqual([])
  })

  test('matches are found per IP, interleaved in time', () => {
    const rows = [
      ...trace('x', 'fffffs', 0, 1000),
      ...trace('y', 'fffffs', 500, 1000),
      ...trace('z', 'ffs', 0),
    ]
    const out = runSql(BRUTE_FORCE, 'logins', rows)
    expect(out.map((r) => `${r.ip}:${r.failures}@${r.matched_at}`).sort()).toEqual(['x:5@5000', 'y:5@5500'])
  })

  test('WITHIN: failures spread over more than 60 s do not match, the same trace faster does', () => {
    expect(runSql(BRUTE_FORCE, 'logins', trace('slow', 'fffffs', 0, 15_000))).toEqual([])
    expect(runSql(BRUTE_FORCE, 'logins', trace('fast', 'fffffs', 0, 10_000))).toHaveLength(1)
  })

  test('WITHIN: a late success after an expired run can still close a newer run', () => {
    // failures at 0..40 s and 70..110 s (every 10 s), success at 115 s: only the second burst is within 60 s
    const rows = [
      ...trace('ip', 'fffff', 0, 10_000),
      ...trace('ip', 'fffff', 70_000, 10_000),
      ...trace('ip', 's', 115_000),
    ]
    const out = runSql(BRUTE_FORCE, 'logins', rows)
    expect(out.map((r) => [r.first_failure, r.failures])).toEqual([[70_000, 5]])
  })

  const skipQuery = (skip: string) => `SELECT * FROM events MATCH_RECOGNIZE (
      PARTITION BY k ORDER BY ts
      MEASURES FIRST(A.ts) AS s, LAST(B.ts) AS e
      AFTER MATCH ${skip}
      PATTERN (A B) DEFINE A AS A.v = 'a', B AS B.v = 'a')`
  const aaaa = [0, 1, 2, 3].map((i) => ({ k: 'k', v: 'a', ts: i * 1000 }))

  test('AFTER MATCH SKIP PAST LAST ROW: matches do not overlap', () => {
    expect(runSql(skipQuery('SKIP PAST LAST ROW'), 'events', aaaa).map((r) => [r.s, r.e])).toEqual([
      [0, 1000],
      [2000, 3000],
    ])
  })

  test('AFTER MATCH SKIP TO NEXT ROW: a match starts at every row that can start one', () => {
    expect(runSql(skipQuery('SKIP TO NEXT ROW'), 'events', aaaa).map((r) => [r.s, r.e])).toEqual([
      [0, 1000],
      [1000, 2000],
      [2000, 3000],
    ])
  })

  test('AFTER MATCH SKIP TO LAST B: the next match starts at the last row mapped to B', () => {
    expect(runSql(skipQuery('SKIP TO LAST B'), 'events', aaaa).map((r) => [r.s, r.e])).toEqual([
      [0, 1000],
      [1000, 2000],
      [2000, 3000],
    ])
  })

  const spans = (rows: Record<string, unknown>[]) => rows.map((r) => `${r.s}-${r.e}`)

  test('AFTER MATCH SKIP TO FIRST B: the next match starts at the first row mapped to B, not the last', () => {
    const q = (skip: string) => `SELECT * FROM events MATCH_RECOGNIZE (
      PARTITION BY k ORDER BY ts
      MEASURES FIRST(A.ts) AS s, LAST(C.ts) AS e
      AFTER MATCH ${skip}
      PATTERN (A B{2} C) DEFINE A AS A.v = 'a', B AS B.v = 'a', C AS C.v = 'a')`
    const eight = [...'aaaaaaaa'].map((v, i) => ({ k: 'k', v, ts: i * 1000 }))
    expect(spans(runSql(q('SKIP TO FIRST B'), 'events', eight))).toEqual([
      '0-3000',
      '1000-4000',
      '2000-5000',
      '3000-6000',
      '4000-7000',
    ])
    expect(spans(runSql(q('SKIP TO LAST B'), 'events', eight))).toEqual(['0-3000', '2000-5000', '4000-7000'])
    expect(spans(runSql(q('SKIP TO FIRST C'), 'events', eight))).toEqual(['0-3000', '3000-6000'])
  })

  test('AFTER MATCH SKIP TO FIRST B when the match maps no row to B goes on at the next row', () => {
    const rows = [...'aacaaac'].map((v, i) => ({ k: 'k', v, ts: i * 1000 }))
    const sql = `SELECT * FROM events MATCH_RECOGNIZE (PARTITION BY k ORDER BY ts
      MEASURES FIRST(A.ts) AS s, LAST(C.ts) AS e, COUNT(B.*) AS bs
      AFTER MATCH SKIP TO FIRST B
      PATTERN (A B* C) DEFINE A AS A.v = 'a', B AS B.v = 'a', C AS C.v = 'c')`
    expect(runSql(sql, 'events', rows).map((r) => `${r.s}-${r.e}:${r.bs}`)).toEqual([
      '0-2000:1',
      '1000-2000:0',
      '3000-6000:2',
      '4000-6000:1',
      '5000-6000:0',
    ])
  })

  test('B* matches zero or more rows and B? zero or one, between A and C', () => {
    const q = (p: string) => `SELECT * FROM events MATCH_RECOGNIZE (PARTITION BY k ORDER BY ts
      MEASURES FIRST(A.ts) AS s, LAST(C.ts) AS e, COUNT(B.*) AS bs
      PATTERN (${p}) DEFINE A AS A.v = 'a', B AS B.v = 'b', C AS C.v = 'c')`
    const rows = [...'acabcabbbcxac'].map((v, i) => ({ k: 'k', v, ts: i * 1000 }))
    const got = (p: string) => runSql(q(p), 'events', rows).map((r) => `${r.s}-${r.e}:${r.bs}`)
    expect(got('A B* C')).toEqual(['0-1000:0', '2000-4000:1', '5000-9000:3', '11000-12000:0'])
    expect(got('A B? C')).toEqual(['0-1000:0', '2000-4000:1', '11000-12000:0'])
    expect(got('A B+ C')).toEqual(['2000-4000:1', '5000-9000:3'])
  })

  test('a greedy quantifier takes every row it can; a reluctant one as few as it can', () => {
    const rows = [...'abbbc'].map((v, i) => ({ k: 'k', v, ts: i * 1000 }))
    const q = (p: string) => `SELECT * FROM events MATCH_RECOGNIZE (PARTITION BY k ORDER BY ts
      MEASURES COUNT(B.*) AS bs, CLASSIFIER() AS last_var PATTERN (${p})
      DEFINE A AS A.v = 'a', B AS B.v = 'b'${p.includes('C') ? ", C AS C.v = 'c'" : ''})`
    expect(runSql(q('A B+ C'), 'events', rows)).toEqual([{ k: 'k', bs: 3, last_var: 'C' }])
    expect(runSql(q('A B+?'), 'events', rows)).toEqual([{ k: 'k', bs: 1, last_var: 'B' }])
    expect(runSql(q('A B{2}'), 'events', rows)).toEqual([{ k: 'k', bs: 2, last_var: 'B' }])
  })

  test('PREV compares a row with the one before it: three rising prices', () => {
    const rows = [5, 6, 7, 8, 3].map((p, i) => ({ k: 'k', v: String(p), ts: i * 1000 }))
    const sql = `SELECT * FROM events MATCH_RECOGNIZE (PARTITION BY k ORDER BY ts
      MEASURES FIRST(U.v) AS low, LAST(U.v) AS high PATTERN (D U{3})
      DEFINE U AS CAST(U.v AS INT) > CAST(PREV(U.v) AS INT))`
    expect(runSql(sql, 'events', rows)).toEqual([{ k: 'k', low: '6', high: '8' }])
  })

  test('PREV reaches before the match: a V of falling then rising prices starts at its first fall', () => {
    const rows = [10, 9, 8, 12, 11, 7, 13].map((p, i) => ({ k: 'k', v: String(p), ts: i * 1000 }))
    const sql = `SELECT * FROM events MATCH_RECOGNIZE (PARTITION BY k ORDER BY ts
      MEASURES FIRST(D.v) AS start_p, LAST(D.v) AS bottom, U.v AS up, PREV(D.v, 2) AS before_bottom
      PATTERN (D+ U)
      DEFINE D AS CAST(D.v AS INT) < CAST(PREV(D.v) AS INT),
             U AS CAST(U.v AS INT) > CAST(PREV(U.v) AS INT))`
    expect(runSql(sql, 'events', rows)).toEqual([
      { k: 'k', start_p: '9', bottom: '8', up: '12', before_bottom: '9' },
      { k: 'k', start_p: '11', bottom: '7', up: '13', before_bottom: '11' },
    ])
  })

  test('MATCH_RECOGNIZE must be ordered by the time attribute', () => {
    expect(() => planQuery(BRUTE_FORCE.replace('ORDER BY ts', 'ORDER BY ip'), catalog)).toThrow(
      /ORDER BY the time attribute/,
    )
  })
})

describe('the Pattern API', () => {
  const bruteForce = Pattern.begin<Login>('fail')
    .where((l) => l.outcome === 'failure')
    .times(5)
    .followedBy('ok')
    .where((l) => l.outcome === 'success')
    .within('60s')

  function runPattern(rows: Login[]) {
    const t = new Topology('cep')
    t.source<Login>('logins', idle as SourceSpec<Login>, {
      watermarks: WatermarkStrategy.forBoundedOutOfOrderness<Login>(0),
    })
      .keyBy((l) => l.ip)
      .process(
        'brute-force',
        bruteForce.processor((m, key) => ({
          ip: key,
          first: m.fail![0]!.ts,
          fails: m.fail!.length,
          ok: m.ok![0]!.ts,
        })),
      )
      .sink(collect(), { name: 'out' })
    const d = new TestDriver(t, { parallelism: 2 })
    d.pushRecords(
      'logins',
      [...rows].sort((a, b) => a.ts - b.ts).map((value) => ({ value, time: value.ts })),
    )
    d.end()
    return d.values('out')
  }

  test('five failed logins from one IP followed by a success within 60 s is reported once', () => {
    const out = runPattern([...trace('1.1.1.1', 'fffffffs', 0), ...trace('2.2.2.2', 'ffffs', 0)])
    expect(out).toEqual([{ ip: '1.1.1.1', first: 0, fails: 5, ok: 7000 }])
  })

  test('followedBy allows other logins between the failures and the success', () => {
    const rows: Login[] = [
      ...trace('ip', 'fffff', 0),
      { ip: 'ip', user_name: 'x', outcome: 'failure', ts: 20_000 },
      ...trace('ip', 's', 30_000),
    ]
    expect(runPattern(rows)).toEqual([{ ip: 'ip', first: 0, fails: 5, ok: 30_000 }])
  })

  test('a success after the 60 s window does not complete the pattern', () => {
    expect(runPattern([...trace('ip', 'fffff', 0), ...trace('ip', 's', 61_000)])).toEqual([])
  })

  test('toTerm gives the pattern MATCH_RECOGNIZE would write', () => {
    const term = bruteForce.toTerm()
    expect(term.kind).toBe('seq')
    expect(JSON.stringify(term)).toContain('"min":5,"max":5')
  })
})

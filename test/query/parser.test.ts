import { describe, expect, it } from 'vitest'
import type { Expr, MatchRecognize, Select } from '../../src/query/ast.ts'
import { formatExpr } from '../../src/query/format-expr.ts'
import { parseExpression, parseQuery, parseStatement } from '../../src/query/parser.ts'

function select(sql: string): Select {
  const q = parseQuery(sql)
  if (q.body.kind !== 'select') throw new Error(`expected a SELECT, got ${q.body.kind}`)
  return q.body
}
const roundTrip = (sql: string) => formatExpr(parseExpression(sql))

describe('parser: expressions', () => {
  it('binds * tighter than +, AND tighter than OR, and comparison tighter than NOT', () => {
    expect(parseExpression('1 + 2 * 3')).toMatchObject({ op: '+', right: { op: '*' } })
    expect(parseExpression('a OR b AND c')).toMatchObject({ op: 'OR', right: { op: 'AND' } })
    expect(parseExpression('NOT a = 1')).toMatchObject({ kind: 'unary', op: 'NOT', operand: { op: '=' } })
    expect(parseExpression('a - b - c')).toMatchObject({ op: '-', left: { op: '-' } })
  })

  it('reads IS, IN, BETWEEN, LIKE with ESCAPE and their NOT forms', () => {
    expect(parseExpression('x IS NOT NULL')).toMatchObject({ kind: 'is', not: true, test: 'NULL' })
    expect(parseExpression('x NOT IN (1, 2, 3)')).toMatchObject({
      kind: 'in',
      not: true,
      list: [{ value: 1 }, {}, {}],
    })
    expect(parseExpression('x NOT BETWEEN 1 AND 5 AND y')).toMatchObject({
      op: 'AND',
      left: { kind: 'between', not: true, low: { value: 1 }, high: { value: 5 } },
    })
    expect(parseExpression("s LIKE 'a!%%' ESCAPE '!'")).toMatchObject({
      kind: 'like',
      escape: { value: '!' },
    })
    expect(parseExpression('a IS DISTINCT FROM b')).toMatchObject({
      kind: 'is',
      test: 'DISTINCT',
      other: { name: 'b' },
    })
  })

  it('reads both forms of CASE, CAST and TRY_CAST with parameterised types', () => {
    expect(parseExpression("CASE WHEN a > 1 THEN 'x' ELSE 'y' END")).toMatchObject({
      kind: 'case',
      whens: [{ when: { op: '>' }, result: { value: 'x' } }],
      else: { value: 'y' },
    })
    expect(parseExpression('CASE status WHEN 200 THEN 1 END')).toMatchObject({
      kind: 'case',
      operand: { name: 'status' },
    })
    expect(parseExpression('CAST(x AS DECIMAL(10, 2))')).toMatchObject({
      kind: 'cast',
      safe: false,
      type: { kind: 'DECIMAL', precision: 10, scale: 2 },
    })
    expect(parseExpression('TRY_CAST(x AS ARRAY<MAP<STRING, INT>>)')).toMatchObject({
      safe: true,
      type: { kind: 'ARRAY', element: { kind: 'MAP', key: { kind: 'VARCHAR' }, value: { kind: 'INT' } } },
    })
    expect(parseExpression('CAST(r AS ROW<a INT, b TIMESTAMP_LTZ(3)>)')).toMatchObject({
      type: {
        kind: 'ROW',
        fields: [{ name: 'a' }, { name: 'b', type: { kind: 'TIMESTAMP_LTZ', precision: 3 } }],
      },
    })
  })

  it('reads intervals, including MINUTE TO SECOND, into milliseconds', () => {
    expect(parseExpression("INTERVAL '10' SECOND")).toMatchObject({
      kind: 'interval',
      value: 10_000,
      unit: 'SECOND',
    })
    expect(parseExpression("INTERVAL '1:30' MINUTE TO SECOND")).toMatchObject({
      value: 90_000,
      toUnit: 'SECOND',
    })
    expect(parseExpression("INTERVAL '1 02:00:00' DAY TO SECOND")).toMatchObject({ value: 93_600_000 })
    expect(parseExpression("INTERVAL '1-6' YEAR TO MONTH")).toMatchObject({ value: 18, yearMonth: true })
  })

  it('reads typed literals as epoch milliseconds in UTC', () => {
    expect(parseExpression("TIMESTAMP '2020-01-01 00:00:01'")).toMatchObject({
      value: Date.UTC(2020, 0, 1, 0, 0, 1),
    })
    expect(parseExpression("DATE '2020-02-29'")).toMatchObject({
      value: Date.UTC(2020, 1, 29),
      type: { kind: 'DATE' },
    })
    expect(parseExpression('-3')).toMatchObject({ kind: 'literal', value: -3 })
    expect(parseExpression('1.5e3')).toMatchObject({ value: 1500, type: { kind: 'DOUBLE' } })
  })

  it('reads function call forms: COUNT(*), COUNT(DISTINCT x), FLOOR TO, TIMESTAMPADD, POSITION IN, TRIM, FILTER', () => {
    expect(parseExpression('COUNT(*)')).toMatchObject({ name: 'COUNT', args: [{ kind: 'star' }] })
    expect(parseExpression('count(DISTINCT ip)')).toMatchObject({ name: 'COUNT', distinct: true })
    expect(parseExpression('FLOOR(ts TO MINUTE)')).toMatchObject({ name: 'FLOOR', unit: 'MINUTE' })
    expect(parseExpression('TIMESTAMPADD(HOUR, 1, ts)')).toMatchObject({
      name: 'TIMESTAMPADD',
      unit: 'HOUR',
      args: [{}, {}],
    })
    expect(parseExpression("POSITION('b' IN s)")).toMatchObject({
      name: 'POSITION',
      args: [{ value: 'b' }, { name: 's' }],
    })
    expect(parseExpression("TRIM(LEADING 'x' FROM s)")).toMatchObject({
      name: 'LTRIM',
      args: [{ name: 's' }, { value: 'x' }],
    })
    expect(parseExpression('SUBSTRING(s FROM 2 FOR 3)')).toMatchObject({
      name: 'SUBSTRING',
      args: [{}, { value: 2 }, { value: 3 }],
    })
    expect(parseExpression('SUM(x) FILTER (WHERE x > 0)')).toMatchObject({ filter: { op: '>' } })
    expect(parseExpression('EXTRACT(HOUR FROM ts)')).toMatchObject({ kind: 'extract', unit: 'HOUR' })
  })

  it('reads qualified names, nested fields, map and array access and || concatenation', () => {
    expect(parseExpression('a.b')).toMatchObject({ kind: 'column', qualifier: 'a', name: 'b' })
    expect(parseExpression('t.r.f')).toMatchObject({
      kind: 'field',
      field: 'f',
      target: { kind: 'column', qualifier: 't' },
    })
    expect(parseExpression("headers['host']")).toMatchObject({ kind: 'index', index: { value: 'host' } })
    expect(parseExpression("a || '-' || b")).toMatchObject({ op: '||', left: { op: '||' } })
    expect(parseExpression('`select`')).toMatchObject({ kind: 'column', name: 'select' })
  })

  it('prints expressions back to SQL that parses to the same text', () => {
    for (const sql of [
      "a + b * (c - 1) > 10 AND NOT s LIKE 'x%'",
      "CASE WHEN x IS NULL THEN 'none' ELSE UPPER(x) END",
      'COUNT(DISTINCT ip) OVER (PARTITION BY host ORDER BY ts ROWS BETWEEN 5 PRECEDING AND CURRENT ROW)',
      "ts BETWEEN TIMESTAMP '2020-01-01 00:00:00' AND ts + INTERVAL '1' HOUR",
    ]) {
      expect(roundTrip(roundTrip(sql))).toBe(roundTrip(sql))
    }
  })
})

describe('parser: queries', () => {
  it('reads DISTINCT, WHERE, GROUP BY, HAVING, ORDER BY DESC and LIMIT', () => {
    const q = parseQuery(
      'SELECT DISTINCT path, COUNT(*) AS hits FROM access WHERE status = 200 GROUP BY path HAVING COUNT(*) > 1 ORDER BY hits DESC LIMIT 10',
    )
    const s = q.body as Select
    expect(s.distinct).toBe(true)
    expect(s.items.map((i) => i.alias)).toEqual([undefined, 'hits'])
    expect(s.groupBy.map(formatExpr)).toEqual(['path'])
    expect(formatExpr(s.having!)).toBe('COUNT(*) > 1')
    expect(q.orderBy).toMatchObject([{ desc: true, expr: { name: 'hits' } }])
    expect(q.limit).toBe(10)
  })

  it('reads UNION ALL of two selects and WITH queries', () => {
    const q = parseQuery('WITH recent AS (SELECT * FROM a) SELECT x FROM recent UNION ALL SELECT x FROM b')
    expect(q.with.map((c) => c.name)).toEqual(['recent'])
    expect(q.body).toMatchObject({
      kind: 'union',
      all: true,
      left: { kind: 'select' },
      right: { kind: 'select' },
    })
  })

  it('reads LEFT OUTER JOIN, a lookup join FOR SYSTEM_TIME AS OF, and a comma join', () => {
    const s = select(
      'SELECT * FROM orders AS o LEFT OUTER JOIN rates FOR SYSTEM_TIME AS OF o.ts AS r ON o.cur = r.cur, extra e',
    )
    expect(s.from).toMatchObject({
      kind: 'join',
      type: 'comma',
      left: {
        kind: 'join',
        type: 'left',
        right: { kind: 'table', name: ['rates'], alias: 'r', forSystemTime: { qualifier: 'o', name: 'ts' } },
      },
      right: { alias: 'e' },
    })
  })

  it('reads CUMULATE with step then max size, SESSION with PARTITION BY, and named arguments', () => {
    expect(
      select(
        "SELECT * FROM TABLE(CUMULATE(TABLE t, DESCRIPTOR(ts), INTERVAL '2' MINUTE, INTERVAL '10' MINUTE))",
      ).from,
    ).toMatchObject({ kind: 'windowTvf', fn: 'CUMULATE', step: { value: 120_000 }, size: { value: 600_000 } })
    expect(
      select(
        "SELECT * FROM TABLE(SESSION(TABLE clicks PARTITION BY user_id, DESCRIPTOR(ts), INTERVAL '30' MINUTE))",
      ).from,
    ).toMatchObject({ fn: 'SESSION', gap: { value: 1_800_000 }, partitionBy: [{ name: 'user_id' }] })
    expect(
      select(
        "SELECT * FROM TABLE(TUMBLE(DATA => TABLE t, TIMECOL => DESCRIPTOR(ts), SIZE => INTERVAL '1' HOUR, OFFSET => INTERVAL '5' MINUTE)) AS w",
      ).from,
    ).toMatchObject({ fn: 'TUMBLE', size: { value: 3_600_000 }, offset: { value: 300_000 }, alias: 'w' })
  })

  it('reads named windows and RANGE frames with interval bounds', () => {
    const s = select(
      "SELECT SUM(x) OVER w FROM t WINDOW w AS (PARTITION BY k ORDER BY ts RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW)",
    )
    expect(s.items[0]!.expr).toMatchObject({ over: 'w' })
    expect(s.windows[0]).toMatchObject({
      name: 'w',
      spec: { frame: { unit: 'RANGE', start: { kind: 'preceding', offset: { value: 3_600_000 } } } },
    })
  })

  it('reads Top-N with ROW_NUMBER in a subquery filtered by the outer WHERE', () => {
    const s = select(
      'SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY category ORDER BY sales DESC) AS rn FROM shop) WHERE rn <= 3',
    )
    expect(formatExpr(s.where!)).toBe('rn <= 3')
  })
})

describe('parser: statements', () => {
  it('reads CREATE VIEW, INSERT INTO with columns, SET and CREATE TABLE with a watermark', () => {
    expect(parseStatement('CREATE TEMPORARY VIEW IF NOT EXISTS v (a) AS SELECT x FROM t')).toMatchObject({
      kind: 'createView',
      name: ['v'],
      ifNotExists: true,
      columns: ['a'],
    })
    expect(parseStatement('INSERT INTO out (a, b) SELECT x, y FROM t')).toMatchObject({
      kind: 'insert',
      columns: ['a', 'b'],
    })
    expect(parseStatement("SET 'parallelism.default' = '4'")).toMatchObject({
      key: 'parallelism.default',
      value: '4',
    })
    const create = parseStatement(`CREATE TABLE access (
      ip STRING, path STRING, ts TIMESTAMP(3), proc AS PROCTIME(),
      WATERMARK FOR ts AS ts - INTERVAL '5' SECOND,
      PRIMARY KEY (ip) NOT ENFORCED
    ) WITH ('connector' = 'tail', 'path' = '/var/log/access.log')`)
    expect(create).toMatchObject({
      kind: 'createTable',
      watermark: { column: 'ts' },
      primaryKey: ['ip'],
      options: { connector: 'tail', path: '/var/log/access.log' },
    })
    if (create.kind === 'createTable')
      expect(formatExpr(create.watermark!.expr)).toBe("ts - INTERVAL '5' SECOND")
  })
})

describe('parser: MATCH_RECOGNIZE', () => {
  const bruteForce = `
    SELECT *
    FROM logins
      MATCH_RECOGNIZE (
        PARTITION BY ip
        ORDER BY ts
        MEASURES
          FIRST(F.ts) AS first_failure,
          LAST(F.ts) AS last_failure,
          COUNT(F.*) AS failures,
          S.user_name AS user_name,
          MATCH_ROWTIME() AS matched_at
        ONE ROW PER MATCH
        AFTER MATCH SKIP PAST LAST ROW
        PATTERN (F{5,} S)
        WITHIN INTERVAL '60' SECOND
        DEFINE
          F AS F.outcome = 'failure',
          S AS S.outcome = 'success'
      ) AS attack`

  it('reads the brute-force login query: 5 failures from one IP within 60 seconds, then a success', () => {
    const s = select(bruteForce)
    const mr = s.from as MatchRecognize
    expect(mr.kind).toBe('matchRecognize')
    expect(mr.alias).toBe('attack')
    expect(mr.input).toMatchObject({ kind: 'table', name: ['logins'] })
    expect(mr.partitionBy.map(formatExpr)).toEqual(['ip'])
    expect(mr.orderBy.map((o) => formatExpr(o.expr))).toEqual(['ts'])
    expect(mr.measures.map((m) => `${formatExpr(m.expr)} AS ${m.name}`)).toEqual([
      'FIRST(F.ts) AS first_failure',
      'LAST(F.ts) AS last_failure',
      'COUNT(F.*) AS failures',
      'S.user_name AS user_name',
      'MATCH_ROWTIME() AS matched_at',
    ])
    expect(mr.rowsPerMatch).toBe('one')
    expect(mr.afterMatch).toEqual({ kind: 'pastLastRow' })
    expect(mr.pattern).toEqual({
      kind: 'seq',
      items: [
        { kind: 'repeat', body: { kind: 'var', name: 'F' }, min: 5, max: null, reluctant: false },
        { kind: 'var', name: 'S' },
      ],
    })
    expect(mr.within!.value).toBe(60_000)
    expect(mr.define.map((d) => `${d.name}: ${formatExpr(d.expr)}`)).toEqual([
      "F: F.outcome = 'failure'",
      "S: S.outcome = 'success'",
    ])
  })

  it('reads every quantifier, reluctant suffixes, alternation and groups', () => {
    const s = select(`SELECT * FROM t MATCH_RECOGNIZE (
      ORDER BY ts MEASURES A.x AS x AFTER MATCH SKIP TO LAST C
      PATTERN (A{5} B+ C* D? E{2,} F{1,3} (G | H)+? I*?)
      DEFINE A AS x > 0)`)
    const items = ((s.from as MatchRecognize).pattern as unknown as { items: unknown[] }).items
    expect(items).toEqual([
      { kind: 'repeat', body: { kind: 'var', name: 'A' }, min: 5, max: 5, reluctant: false },
      { kind: 'repeat', body: { kind: 'var', name: 'B' }, min: 1, max: null, reluctant: false },
      { kind: 'repeat', body: { kind: 'var', name: 'C' }, min: 0, max: null, reluctant: false },
      { kind: 'repeat', body: { kind: 'var', name: 'D' }, min: 0, max: 1, reluctant: false },
      { kind: 'repeat', body: { kind: 'var', name: 'E' }, min: 2, max: null, reluctant: false },
      { kind: 'repeat', body: { kind: 'var', name: 'F' }, min: 1, max: 3, reluctant: false },
      {
        kind: 'repeat',
        body: {
          kind: 'alt',
          options: [
            { kind: 'var', name: 'G' },
            { kind: 'var', name: 'H' },
          ],
        },
        min: 1,
        max: null,
        reluctant: true,
      },
      { kind: 'repeat', body: { kind: 'var', name: 'I' }, min: 0, max: null, reluctant: true },
    ])
    expect((s.from as MatchRecognize).afterMatch).toEqual({ kind: 'toLast', variable: 'C' })
  })

  it('refuses a DEFINE for a variable that is not in the pattern', () => {
    expect(() => select('SELECT * FROM t MATCH_RECOGNIZE (PATTERN (A B) DEFINE C AS x > 0)')).toThrow(
      /DEFINE C: C is not a variable of the PATTERN \(A, B\)/,
    )
  })
})

describe('parser: names', () => {
  it('keeps non-reserved keywords usable as column names', () => {
    const s = select('SELECT value, key, time, date, year, window_start, `from` FROM t')
    expect(s.items.map((i) => (i.expr as Expr & { kind: 'column' }).name)).toEqual([
      'value',
      'key',
      'time',
      'date',
      'year',
      'window_start',
      'from',
    ])
  })
})

// Several INSERT INTO statements in one script (a statement set, or plain consecutive INSERTs) plan
// into one topology: one source per table read, fanned out, and each table gets the rows of its
// INSERT alone. Paths that take one result stream refuse them, naming the statement's line.

import { describe, expect, it } from 'vitest'
import { SquallError } from '../../src/core/errors.ts'
import type { SourceSpec } from '../../src/core/source.ts'
import { Stream } from '../../src/core/stream.ts'
import { Topology } from '../../src/core/topology.ts'
import { type CollectSink, collect } from '../../src/plugins/outputs/collect.ts'
import { ChangelogTable } from '../../src/query/changelog.ts'
import type { QueryCatalogTable } from '../../src/query/manager.ts'
import { parseScript } from '../../src/query/parser.ts'
import { planPipelineQuery } from '../../src/query/pipeline-planner.ts'
import { type Catalog, type PlanOptions, planQuery, sqlPlanner } from '../../src/query/planner.ts'
import { runToEnd } from '../../src/runtime/embedded/runner.ts'

const T0 = Date.UTC(2024, 0, 1)
const ORDERS = [
  { id: 1, item: 'pen', amount: 120, ts: T0 + 1_000 },
  { id: 2, item: 'ink', amount: 30, ts: T0 + 2_000 },
  { id: 3, item: 'pen', amount: 250, ts: T0 + 3_000 },
  { id: 4, item: 'cap', amount: 5, ts: T0 + 11_000 },
  { id: 5, item: 'ink', amount: 150, ts: T0 + 12_000 },
  { id: 6, item: 'pen', amount: 40, ts: T0 + 21_000 },
]

/** A bounded source of ORDERS that counts how often it is opened and how many rows it hands out. */
function countingSource(): SourceSpec & { opened: number; read: number } {
  const spec = {
    kind: 'orders',
    bounded: true,
    maxPartitions: 1,
    opened: 0,
    read: 0,
    create: () => {
      spec.opened++
      let done = false
      return {
        nextBatch: () => {
          if (done) return null
          done = true
          spec.read += ORDERS.length
          return ORDERS.map((value) => ({ value, key: undefined, time: value.ts, tag: '' }))
        },
        snapshot: () => done,
        restore: (p: unknown) => {
          done = p as boolean
        },
      }
    },
  }
  return spec
}

function catalog(source: SourceSpec = countingSource()): Catalog {
  return {
    orders: {
      source,
      schema: { id: 'BIGINT', item: 'STRING', amount: 'BIGINT', ts: 'TIMESTAMP(3)' },
      eventTime: { column: 'ts', watermarkDelayMs: 0 },
    },
  }
}

const TABLES = `CREATE TABLE big_orders (id BIGINT, amount BIGINT) WITH ('connector' = 'blackhole');
CREATE TABLE per_item (item STRING, n BIGINT, total BIGINT) WITH ('connector' = 'print');
CREATE TABLE per_window (window_start TIMESTAMP(3), n BIGINT) WITH ('connector' = 'blackhole');
`
const BIG = 'INSERT INTO big_orders SELECT id, amount FROM orders WHERE amount >= 100'
const PER_ITEM = 'INSERT INTO per_item SELECT item, COUNT(*), SUM(amount) FROM orders GROUP BY item'
const PER_WINDOW = `INSERT INTO per_window SELECT window_start, COUNT(*)
  FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end`

/** Plans `sql` with one collect sink per INSERT, runs it to the end, and returns each table's final rows. */
async function run(sql: string, source = countingSource(), options: PlanOptions = {}) {
  const sinks = new Map<string, CollectSink<unknown>>()
  const plan = planQuery(sql, catalog(source), {
    ...options,
    sink: {
      spec: ({ table }) => {
        const sink = collect<unknown>()
        sinks.set(table, sink)
        return sink
      },
    },
  })
  await runToEnd(plan.topology, { log: () => {} })
  const rows: { [table: string]: string[] } = {}
  for (const insert of plan.inserts) {
    const table = new ChangelogTable()
    for (const v of sinks.get(insert.table)!.values) table.apply(v as never)
    rows[insert.table] = table
      .toRows()
      .map((r) => JSON.stringify(r))
      .sort()
  }
  return { plan, rows, source }
}

function planError(sql: string, options: PlanOptions = {}): SquallError {
  try {
    planQuery(sql, catalog(), options)
  } catch (err) {
    expect(err).toBeInstanceOf(SquallError)
    return err as SquallError
  }
  throw new Error('expected the plan to fail')
}

describe('statement sets: several INSERT INTO in one job', () => {
  it('EXECUTE STATEMENT SET plans every INSERT into one topology that reads the source once, and each table gets the rows of its INSERT alone', async () => {
    const { plan, rows, source } = await run(`${TABLES}
EXECUTE STATEMENT SET
BEGIN
  ${BIG};
  ${PER_ITEM};
  ${PER_WINDOW};
END;`)
    expect(plan.inserts.map((i) => [i.table, i.sink, i.updating])).toEqual([
      ['big_orders', 'big_orders', false],
      ['per_item', 'per_item', true],
      ['per_window', 'per_window', false],
    ])
    expect(plan.topology.nodes.filter((n) => n.kind === 'source').map((n) => n.name)).toEqual(['orders'])
    expect(source.opened).toBe(1)
    expect(source.read).toBe(ORDERS.length)

    for (const [table, insert] of [
      ['big_orders', BIG],
      ['per_item', PER_ITEM],
      ['per_window', PER_WINDOW],
    ] as const) {
      const alone = await run(`${TABLES}${insert}`)
      expect(rows[table], table).toEqual(alone.rows[table])
    }
    expect(rows.big_orders).toEqual([
      '{"id":1,"amount":120}',
      '{"id":3,"amount":250}',
      '{"id":5,"amount":150}',
    ])
    expect(rows.per_item).toEqual([
      '{"item":"cap","n":1,"total":5}',
      '{"item":"ink","n":2,"total":180}',
      '{"item":"pen","n":3,"total":410}',
    ])
    expect(rows.per_window).toEqual([
      '{"window_start":"2024-01-01 00:00:00.000","n":3}',
      '{"window_start":"2024-01-01 00:00:10.000","n":2}',
      '{"window_start":"2024-01-01 00:00:20.000","n":1}',
    ])
  })

  it("the SQL client's BEGIN STATEMENT SET; … END; and plain consecutive INSERTs plan the same job", async () => {
    const set = await run(`${TABLES}BEGIN STATEMENT SET;\n${BIG};\n${PER_ITEM};\nEND;`)
    const plain = await run(`${TABLES}${BIG};\n${PER_ITEM};`)
    expect(plain.plan.inserts.map((i) => i.table)).toEqual(['big_orders', 'per_item'])
    expect(plain.rows).toEqual(set.rows)
    expect(plain.source.opened).toBe(1)
    expect(plain.plan.topology.nodes.map((n) => n.name)).toEqual(set.plan.topology.nodes.map((n) => n.name))
  })

  it('a view read by two INSERTs is planned once and feeds both', async () => {
    const { plan, rows } = await run(`CREATE VIEW dear AS SELECT * FROM orders WHERE amount >= 100;
CREATE TABLE ids (id BIGINT) WITH ('connector' = 'blackhole');
CREATE TABLE items (item STRING, n BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO ids SELECT id FROM dear;
INSERT INTO items SELECT item, COUNT(*) FROM dear GROUP BY item;`)
    expect(plan.topology.nodes.filter((n) => n.name.startsWith('filter-')).map((n) => n.name)).toEqual([
      'filter-1',
    ])
    expect(rows.ids).toEqual(['{"id":1}', '{"id":3}', '{"id":5}'])
    expect(rows.items).toEqual(['{"item":"ink","n":1}', '{"item":"pen","n":2}'])
  })

  it("a sink function gets each table's name and WITH options, in the order of the INSERTs", () => {
    const targets: unknown[] = []
    planQuery(`${TABLES}${PER_ITEM};\n${BIG};`, catalog(), {
      sink: {
        spec: (target) => {
          targets.push(target)
          return collect()
        },
      },
    })
    expect(targets).toEqual([
      { table: 'per_item', options: { connector: 'print' } },
      { table: 'big_orders', options: { connector: 'blackhole' } },
    ])
  })

  it('one sink spec, or one sink name, for several INSERTs is refused before planning', () => {
    const sql = `${TABLES}${BIG};\n${PER_ITEM};`
    const spec = planError(sql, { sink: { spec: collect() } })
    expect(spec.code).toBe('ERR_SQL_PLAN')
    expect(spec.message).toContain(
      'the script has 2 INSERT INTO statements (line 4, line 5), each with its own sink',
    )
    const name = planError(sql, { sink: { spec: () => collect(), name: 'out' } })
    expect(name.message).toContain('options.sink.name names the sink of a single result')
  })

  it('appendOnly refuses the INSERT whose results update, naming its sink', () => {
    const err = planError(`${TABLES}${BIG};\n${PER_ITEM};`, {
      sink: { spec: () => collect(), appendOnly: true },
    })
    expect(err.code).toBe('ERR_SQL_UPDATING_SINK')
    expect(err.message).toContain('sink "per_item"')
  })

  it('explain shows the plan of every INSERT, the shared source described once', () => {
    const plan = planQuery(`${TABLES}EXECUTE STATEMENT SET BEGIN ${BIG}; ${PER_ITEM}; END`, catalog())
    const text = plan.explain()
    const sections = text.split('\n\n')
    expect(sections[0]).toMatch(/^INSERT INTO big_orders \(line 4\)\nSource +orders\n +table orders \(/)
    expect(sections[0]).toContain('WHERE amount >= 100')
    expect(sections[0]).toContain('Result: (id, amount)\n    append-only: every row is final')
    expect(sections[1]).toMatch(
      /^INSERT INTO per_item \(line 4\)\nSource +orders\n +shared: described under INSERT INTO big_orders/,
    )
    expect(sections[1]).toContain('GroupAggregate')
    expect(sections[1]).not.toContain('WHERE amount')
    expect(sections[1]).toContain('Result: (item, n, total)\n    updating: a changelog')
    expect(sections[2]).toMatch(/^Warning: GROUP BY item/)
  })

  it('the plan fields are those of the first INSERT; a single INSERT has one entry in inserts', () => {
    const two = planQuery(`${TABLES}${PER_ITEM};\n${BIG};`, catalog())
    expect(two.columns).toEqual(['item', 'n', 'total'])
    expect(two.updating).toBe(true)
    expect(two.output).toBe(two.inserts[0]!.output)
    expect(two.updatingBecause).toMatch(/^a GROUP BY without a window/)
    expect(two.inserts[1]!.updatingBecause).toBeUndefined()
    const one = planQuery(`${TABLES}${BIG}`, catalog())
    expect(one.inserts).toHaveLength(1)
    expect(one.inserts[0]).toMatchObject({ table: 'big_orders', line: 4, column: 1, updating: false })
  })
})

describe('statement sets: errors name the statement', () => {
  it('an INSERT into an undeclared table inside a statement set names its line and column', () => {
    const err = planError(`${TABLES}EXECUTE STATEMENT SET BEGIN
  ${BIG};
  INSERT INTO per_itme SELECT item, COUNT(*), SUM(amount) FROM orders GROUP BY item;
END`)
    expect(err.code).toBe('ERR_SQL_PLAN')
    expect(err.message).toMatch(
      /^line 6, column 15: unknown table "per_itme" in INSERT INTO \(did you mean per_item\?\)/,
    )
  })

  it('an INSERT whose columns do not match its table names the line of that INSERT', () => {
    const err = planError(`${TABLES}BEGIN STATEMENT SET;
${BIG};
INSERT INTO per_window SELECT window_start FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(ts), INTERVAL '10' SECOND));
END;`)
    expect(err.code).toBe('ERR_SQL_PLAN')
    expect(err.message).toMatch(
      /^line 6, column 24: INSERT INTO per_window: the query gives 1 column \(window_start\) but the table takes 2 \(window_start, n\)/,
    )
    const type = planError(
      `${TABLES}${BIG};\nINSERT INTO per_item SELECT item, COUNT(*), item FROM orders GROUP BY item;`,
    )
    expect(type.code).toBe('ERR_SQL_TYPE')
    expect(type.message).toMatch(/^line 5, column 45: INSERT INTO per_item: column 3 "total" is BIGINT/)
  })

  it('a second statement set is refused at its line', () => {
    const err = planError(`${TABLES}EXECUTE STATEMENT SET BEGIN ${BIG}; END;
EXECUTE STATEMENT SET BEGIN ${PER_ITEM}; END;`)
    expect(err.code).toBe('ERR_SQL_PLAN')
    expect(err.message).toMatch(/^line 5, column 1: a second statement set \(the first is at line 4\)/)
  })

  it('an INSERT outside the statement set is refused', () => {
    const err = planError(`${TABLES}${BIG};
BEGIN STATEMENT SET;
${PER_ITEM};
END;`)
    expect(err.message).toMatch(
      /^line 4, column 1: INSERT INTO big_orders is outside the statement set at line 5/,
    )
  })

  it('two INSERTs into one table, and a query beside INSERTs, are refused', () => {
    expect(planError(`${TABLES}${BIG};\n${BIG};`).message).toMatch(
      /^line 5, column 13: table "big_orders" is already written by the INSERT at line 4; .*UNION ALL/,
    )
    expect(planError(`${TABLES}${BIG};\nSELECT item FROM orders;`).message).toMatch(
      /^line 5, column 1: a query beside INSERT INTO statements \(line 4\) has no table to go to/,
    )
  })

  it('a statement set holds only INSERTs, at least one, and ends with END (syntax errors)', () => {
    const only = planError(`${TABLES}BEGIN STATEMENT SET;\n${BIG};\nSELECT 1;\nEND;`)
    expect(only.code).toBe('ERR_SQL_SYNTAX')
    expect(only.message).toMatch(
      /^line 6, column 1: expected INSERT INTO or END \(a statement set holds only INSERT statements\), got "SELECT"/,
    )
    expect(planError('EXECUTE STATEMENT SET BEGIN END').message).toMatch(
      /^line 1, column 29: a statement set holds at least one INSERT INTO statement/,
    )
    expect(planError(`${TABLES}EXECUTE STATEMENT SET BEGIN\n${BIG};\n${PER_ITEM}`).message).toMatch(
      /^line 6, column \d+: expected END to close the statement set of line 4, got end of input/,
    )
  })

  it('parseScript reads both forms as one statement holding the INSERTs, and EXECUTE INSERT as an INSERT', () => {
    expect(parseScript(BIG.replace('INSERT', 'EXECUTE INSERT'))[0]).toMatchObject({
      kind: 'insert',
      at: 0,
      target: ['big_orders'],
    })
    const [a] = parseScript(`EXECUTE STATEMENT SET BEGIN ${BIG}; ${PER_ITEM} END`)
    const [b] = parseScript(`BEGIN STATEMENT SET; ${BIG}; ${PER_ITEM}; END;`)
    for (const st of [a, b]) {
      expect(st).toMatchObject({ kind: 'statementSet', at: 0 })
      expect(st?.kind === 'statementSet' && st.inserts.map((i) => i.target)).toEqual([
        ['big_orders'],
        ['per_item'],
      ])
    }
  })
})

describe('statement sets where the results are one stream', () => {
  it('a query registered on a running job refuses several INSERTs at the second one', () => {
    const tables = new Map<string, QueryCatalogTable>([
      [
        'orders',
        {
          name: 'orders',
          source: countingSource(),
          schema: { id: 'BIGINT', item: 'STRING', amount: 'BIGINT' },
        },
      ],
    ])
    expect(() => sqlPlanner(`${TABLES}${BIG};\n${PER_ITEM};`, tables)).toThrow(
      /^line 5, column 1: a second INSERT INTO \(the first is at line 4\): a registered query has one result table; register each INSERT as a query of its own/,
    )
  })

  it("a pipeline's query refuses several INSERTs, pointing to one queries entry per INSERT", () => {
    const topology = new Topology('p')
    topology.addSource('orders', countingSource())
    const streams = { orders: new Stream<unknown>(topology, 'orders') }
    const tables = {
      orders: { path: 'sources[0]', columns: { id: 'BIGINT', item: 'STRING', amount: 'BIGINT' } },
    }
    let err: unknown
    try {
      planPipelineQuery({ name: 'q', sql: `${TABLES}${BIG};\n${PER_ITEM};` }, { topology, streams, tables })
    } catch (e) {
      err = e
    }
    expect((err as SquallError).code).toBe('ERR_SQL_PLAN')
    expect((err as Error).message).toMatch(
      /^line 5, column 1: a second INSERT INTO \(the first is at line 4\): the results of queries\[\]\.sql go to one tag \(query\.q\)/,
    )
  })
})

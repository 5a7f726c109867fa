// Updating queries and the outputs their tag reaches: an output that takes only inserts refuses the
// query at load, with where, why and what to do; outputs that take a changelog, and append-only
// queries, load.

import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/core/errors.ts'
import { loadPipeline } from '../../src/pipeline/load.ts'

async function problems(yaml: string): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'squall-updating-'))
  writeFileSync(join(dir, 'pipeline.yaml'), yaml)
  try {
    await loadPipeline(join(dir, 'pipeline.yaml'), { env: {}, log: () => {} })
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i) => `${i.path}: ${i.message}`)
    throw e
  }
  return []
}

const SOURCE = `name: clicks
sources:
  - name: clicks
    type: file
    path: ./clicks.jsonl
    format: jsonl
    columns: { user: STRING, page: STRING }
`

const TAIL = (tag: string) =>
  `so retracted and replaced rows (-U, -D) would stay there as if they were still true; window the query (TUMBLE, HOP, CUMULATE or SESSION) so every row is final, or route "${tag}" only to outputs that take a changelog (stdout, http, nats, or redis with mode publish, xadd or lpush)`

describe('updating queries and insert-only outputs', () => {
  it('a GROUP BY without a window sent to a file and to forward is refused at queries[i], once per output, naming the output and the operator', async () => {
    const found = await problems(`${SOURCE}queries:
  - name: windowed
    sql: >
      SELECT window_start, COUNT(*) AS n
      FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(time), INTERVAL '1' MINUTE))
      GROUP BY window_start, window_end
  - name: per_user
    sql: SELECT user, COUNT(*) AS n FROM clicks GROUP BY user
outputs:
  - type: stdout
    match: "query.**"
  - type: file
    match: "query.**"
    path: ./out.log
  - type: forward
    match: "query.per_*"
    servers: [{ host: 127.0.0.1, port: 24224 }]
`)
    const why =
      'query "per_user" has updating results: a GROUP BY without a window (node per_user.group-aggregate-1) updates rows it emitted earlier (changelog)'
    expect(found).toEqual([
      `queries[1]: ${why}, but outputs[1] (file) matches its tag "query.per_user" and takes only inserts, ${TAIL('query.per_user')}`,
      `queries[1]: ${why}, but outputs[2] (forward) matches its tag "query.per_user" and takes only inserts, ${TAIL('query.per_user')}`,
    ])
  })

  it('a continuous Top-N sent to postgres is refused: postgres never deletes a row', async () => {
    const found = await problems(`${SOURCE}queries:
  - name: top
    sql: >
      SELECT page, user FROM (
        SELECT page, user, ROW_NUMBER() OVER (PARTITION BY page ORDER BY user DESC) AS rownum FROM clicks
      ) WHERE rownum <= 2
outputs:
  - type: postgres
    match: query.top
    table: top_users
    columns: [page, user]
    key: [page, user]
`)
    expect(found).toHaveLength(1)
    expect(found[0]).toMatch(
      /^queries\[0\]: query "top" has updating results: a Top-N \(ROW_NUMBER … rownum <= N\) without a window \(node top\.[^)]+\) updates rows it emitted earlier \(changelog\), but outputs\[0\] \(postgres\) matches its tag "query\.top" and takes only inserts, /,
    )
  })

  it('an updating query whose tag only changelog outputs match loads; so does an append-only windowed query sent to a file', async () => {
    expect(
      await problems(`${SOURCE}queries:
  - name: per_user
    sql: SELECT user, COUNT(*) AS n FROM clicks GROUP BY user
  - name: windowed
    sql: >
      SELECT window_start, page, COUNT(*) AS n
      FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(time), INTERVAL '1' MINUTE))
      GROUP BY window_start, window_end, page
outputs:
  - type: stdout
    match: query.per_user
  - type: redis
    match: query.per_user
    mode: xadd
    key: changes
  - type: file
    match: "query.windowed"
    path: ./out
    exactlyOnce: true
  - type: file
    match: "web.**"
    path: ./raw.log
state:
  dir: ./state
`),
    ).toEqual([])
  })

  it('a redis output that overwrites keys (set) takes only inserts; publishing whole records takes a changelog', async () => {
    const yaml = (mode: string) => `${SOURCE}queries:
  - name: per_user
    sql: SELECT user, COUNT(*) AS n FROM clicks GROUP BY user
outputs:
  - type: redis
    match: query.per_user
    mode: ${mode}
    key: "user:\${user}"
`
    const set = await problems(yaml('set'))
    expect(set).toHaveLength(1)
    expect(set[0]).toContain('but outputs[0] (redis) matches its tag "query.per_user" and takes only inserts')
    expect(await problems(yaml('publish'))).toEqual([])
  })
})

// SQL queries in pipeline files: the sources are tables (with `time`, the event time), each query's
// nodes carry its name, and its results reach the outputs tagged `query.<name>`.

import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/core/errors.ts'
import { loadPipeline } from '../../src/pipeline/load.ts'

const BIN = join(import.meta.dirname, '../../bin/squall.js')

function write(files: { [name: string]: string }): string {
  const dir = mkdtempSync(join(tmpdir(), 'squall-queries-'))
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  return dir
}

async function problems(yaml: string): Promise<string[]> {
  const dir = write({ 'pipeline.yaml': yaml })
  try {
    await loadPipeline(join(dir, 'pipeline.yaml'), { env: {}, log: () => {} })
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i) => `${i.path}: ${i.message}`)
    throw e
  }
  return []
}

const CLICKS = [
  { ts: '2024-05-01T10:00:05Z', user: 'ann', page: '/a' },
  { ts: '2024-05-01T10:00:20Z', user: 'bob', page: '/a' },
  { ts: '2024-05-01T10:00:40Z', user: 'ann', page: '/a' },
  { ts: '2024-05-01T10:00:50Z', user: 'ann', page: '/b' },
  { ts: '2024-05-01T10:01:10Z', user: 'cid', page: '/a' },
]

describe('pipeline queries', () => {
  it('squall run plans every query over the sources; outputs get their rows tagged query.<name>, not the raw records', () => {
    const dir = write({
      'clicks.jsonl': `${CLICKS.map((c) => JSON.stringify(c)).join('\n')}\n`,
      'pipeline.yaml': `
name: clicks
sources:
  - name: clicks
    type: file
    path: ./clicks.jsonl
    format: jsonl
    tag: web.clicks
    columns: { user: STRING, page: STRING }
    eventTime: { field: ts }
queries:
  - name: per_minute
    sql: >
      SELECT window_start, page, COUNT(*) AS views, COUNT(DISTINCT user) AS users
      FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(time), INTERVAL '1' MINUTE))
      GROUP BY window_start, window_end, page
  - name: per_user
    sql: SELECT user, COUNT(*) AS n FROM clicks GROUP BY user
outputs:
  - type: stdout
    match: "query.**"
    format: { type: json, includeTagKey: true }
`,
    })
    const r = spawnSync(process.execPath, [BIN, 'run', join(dir, 'pipeline.yaml')], {
      encoding: 'utf8',
      timeout: 30_000,
    })
    expect(r.status, r.stderr).toBe(0)
    const rows = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { tag: string })
    const perMinute = rows.filter((x) => x.tag === 'query.per_minute')
    expect(perMinute.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))).toEqual([
      { window_start: '2024-05-01 10:00:00.000', page: '/a', views: 3, users: 2, tag: 'query.per_minute' },
      { window_start: '2024-05-01 10:00:00.000', page: '/b', views: 1, users: 1, tag: 'query.per_minute' },
      { window_start: '2024-05-01 10:01:00.000', page: '/a', views: 1, users: 1, tag: 'query.per_minute' },
    ])
    // An updating query sends its changes: the last one of each user is its final count.
    const perUser = rows.filter((x) => x.tag === 'query.per_user') as unknown as {
      op: string
      user: string
      n: number
    }[]
    expect(perUser.every((c) => ['+I', '-U', '+U'].includes(c.op))).toBe(true)
    const final = new Map<string, number>()
    for (const c of perUser) if (c.op !== '-U') final.set(c.user, c.n)
    expect(Object.fromEntries(final)).toEqual({ ann: 3, bob: 1, cid: 1 })
    expect(rows.length).toBe(perMinute.length + perUser.length)
  })

  it('an apache2 source needs no columns; the nodes of a query carry its name', async () => {
    const dir = write({ 'access.log': '' })
    const built = await loadPipeline(
      join(
        write({
          'pipeline.yaml': `
sources:
  - { name: access, type: file, path: ${join(dir, 'access.log')}, parser: { type: apache2 } }
queries:
  - { name: errors, sql: "SELECT host, path, code, time FROM access WHERE code >= 500" }
  - { name: big, sql: "SELECT host, size FROM access WHERE size > 1000000" }
outputs: [{ type: stdout }]
`,
        }),
        'pipeline.yaml',
      ),
      { log: () => {} },
    )
    const names = built.topology.nodes.map((n) => n.name)
    expect(names).toEqual(expect.arrayContaining(['access', 'errors.results', 'big.results', 'stdout']))
    for (const n of names) expect(n === 'access' || n === 'stdout' || /^(errors|big)\./.test(n), n).toBe(true)
  })

  it('a query over a source whose columns are unknown, or with bad SQL, is a config error at queries[i]', async () => {
    const found = await problems(`
sources:
  - { name: events, type: stdin }
queries:
  - { name: q, sql: "SELECT user FROM events" }
outputs: [{ type: stdout }]
`)
    expect(found).toEqual([
      'queries[0]: table "events": the columns of its records are unknown (its parser declares none); list them in sources[0].columns, e.g. { user: STRING, bytes: BIGINT }',
    ])
    const bad = await problems(`
sources:
  - { name: events, type: stdin, columns: { user: STRING } }
queries:
  - { name: q, sql: "SELECT usr FROM events" }
outputs: [{ type: stdout }]
`)
    expect(bad).toHaveLength(1)
    expect(bad[0]).toMatch(/^queries\[0\]: .*usr/)
  })

  it('a query match pattern that does not compile is a config error at queries[i].match, worded as for an output', async () => {
    const found = await problems(`
sources:
  - { name: events, type: stdin, columns: { user: STRING } }
queries:
  - { name: empty, match: "", sql: "SELECT user FROM events" }
  - { name: regexp, match: "/web.(/", sql: "SELECT user FROM events" }
  - { name: fine, match: "web.** {app,db}.*", sql: "SELECT user FROM events" }
outputs:
  - { type: stdout, match: "" }
  - { type: stdout, match: "/web.(/" }
`)
    expect(found).toHaveLength(4)
    const at = (path: string) => found.find((f) => f.startsWith(`${path}: `))?.slice(path.length + 2)
    expect(at('queries[0].match')).toBe(
      'pattern: expected a tag pattern like "web.**" or "{app,db}.*", got ""',
    )
    expect(at('queries[1].match')).toMatch(/^pattern: invalid regular expression \/web\.\(\/: /)
    expect(at('queries[0].match')).toBe(at('outputs[0].match'))
    expect(at('queries[1].match')).toBe(at('outputs[1].match'))
  })
})

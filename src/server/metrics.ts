// The Prometheus text exposition of a job: per-node counters, per-table and per-query figures,
// and the process's memory.

import type { QueryManager } from '../query/manager.ts'
import type { Job } from '../runtime/job.ts'

function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function labels(pairs: { [name: string]: string }): string {
  const parts = Object.entries(pairs).map(([k, v]) => `${k}="${label(v)}"`)
  return parts.length === 0 ? '' : `{${parts.join(',')}}`
}

/** Collects families of samples and renders them in the Prometheus text format 0.0.4. */
class Exposition {
  private readonly families = new Map<string, { help: string; type: string; lines: string[] }>()

  sample(
    name: string,
    type: 'counter' | 'gauge',
    help: string,
    pairs: { [name: string]: string },
    value: number,
  ): void {
    if (!Number.isFinite(value)) return
    let f = this.families.get(name)
    if (f === undefined) this.families.set(name, (f = { help, type, lines: [] }))
    f.lines.push(`${name}${labels(pairs)} ${value}`)
  }

  render(): string {
    let out = ''
    for (const [name, f] of this.families)
      out += `# HELP ${name} ${f.help}\n# TYPE ${name} ${f.type}\n${f.lines.join('\n')}\n`
    return out
  }
}

const JOB_STATUSES = ['starting', 'running', 'draining', 'finished', 'failed', 'cancelled'] as const
const QUERY_STATUSES = ['running', 'finished', 'failed', 'stopped'] as const

/**
 * The metrics page: `squall_node_total{job,node,counter}` for every node counter of
 * `job.metrics()` (records `in` and `out`, `skipped`, `side.late`, ...), `squall_job_status`,
 * `squall_table_*` for the tables queries read, `squall_query_*` per query, and process memory
 * and uptime. Names and labels follow Prometheus conventions; values are read at call time.
 */
export function renderMetrics(job: Job | undefined, manager: QueryManager | undefined): string {
  const x = new Exposition()
  if (job !== undefined) {
    const status = job.status()
    for (const s of JOB_STATUSES) {
      x.sample(
        'squall_job_status',
        'gauge',
        'The job status: 1 for the current one.',
        { job: job.name, status: s },
        s === status ? 1 : 0,
      )
    }
    for (const [node, counters] of Object.entries(job.metrics())) {
      for (const [counter, value] of Object.entries(counters)) {
        x.sample(
          'squall_node_total',
          'counter',
          'Per-node counters summed over tasks (in, out, skipped, side outputs).',
          { job: job.name, node, counter },
          value,
        )
      }
    }
  }
  if (manager !== undefined) {
    const bus = manager.bus
    for (const table of bus.tables()) {
      const info = bus.info(table)!
      x.sample(
        'squall_table_published_total',
        'counter',
        'Records published to a table queries can read.',
        { table },
        info.published,
      )
      x.sample(
        'squall_table_subscribers',
        'gauge',
        'Query sources reading a table.',
        { table },
        info.subscribers,
      )
      x.sample(
        'squall_table_watermark_ms',
        'gauge',
        "The table's watermark, ms since the epoch.",
        { table },
        info.watermark,
      )
    }
    for (const q of manager.list()) {
      const query = q.name
      for (const s of QUERY_STATUSES) {
        x.sample(
          'squall_query_status',
          'gauge',
          'The query status: 1 for the current one.',
          { query, status: s },
          s === q.status ? 1 : 0,
        )
      }
      x.sample(
        'squall_query_input_records_total',
        'counter',
        'Records a query read from its tables.',
        { query },
        q.metrics.in,
      )
      x.sample(
        'squall_query_changes_total',
        'counter',
        'Result changes a query produced.',
        { query },
        q.metrics.changes,
      )
      x.sample(
        'squall_query_result_rows',
        'gauge',
        "Rows in a query's current result table.",
        { query },
        q.metrics.rows,
      )
      x.sample(
        'squall_query_subscribers',
        'gauge',
        'Clients streaming a query’s results.',
        { query },
        q.metrics.subscribers,
      )
    }
  }
  const mem = process.memoryUsage()
  x.sample('process_resident_memory_bytes', 'gauge', 'Resident set size in bytes.', {}, mem.rss)
  x.sample('nodejs_heap_used_bytes', 'gauge', 'V8 heap used in bytes.', {}, mem.heapUsed)
  x.sample('nodejs_heap_total_bytes', 'gauge', 'V8 heap size in bytes.', {}, mem.heapTotal)
  x.sample(
    'nodejs_external_memory_bytes',
    'gauge',
    'Memory of C++ objects bound to JavaScript objects, in bytes.',
    {},
    mem.external,
  )
  x.sample(
    'process_uptime_seconds',
    'gauge',
    'Seconds since the process started.',
    {},
    Math.round(process.uptime()),
  )
  return x.render()
}

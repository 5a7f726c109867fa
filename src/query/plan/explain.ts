// What `explain()` prints for a plan: one block per operator (kind, node, what it computes, its
// state), the result, and the warnings; for several INSERTs, one section per INSERT.

import type { Topology } from '../../core/topology.ts'
import type { ExplainLine } from './relation.ts'

/** What explain needs of one planned INSERT. */
export interface ExplainedInsert {
  readonly table: string
  readonly line: number
  readonly sink?: string
  readonly output: string
  readonly columns: readonly string[]
  readonly updating: boolean
  readonly key?: readonly string[]
}

/** The nodes `node` reads from, directly or not, and itself. */
export function upstreamOf(topology: Topology, node: string): Set<string> {
  const seen = new Set<string>()
  const todo = [node]
  while (todo.length > 0) {
    const n = todo.pop()!
    if (seen.has(n)) continue
    seen.add(n)
    for (const i of topology.node(n)?.inputs ?? []) todo.push(i.from)
  }
  return seen
}

/** What the first updating operator of a plan is, in the user's terms, with its node. */
export function updatingBecause(lines: readonly ExplainLine[]): string | undefined {
  const line = lines.find((l) => l.updating)
  if (line === undefined) return undefined
  const what =
    line.operator === 'GroupAggregate'
      ? 'a GROUP BY without a window'
      : line.operator === 'TopN'
        ? 'a Top-N (ROW_NUMBER … rownum <= N) without a window'
        : line.operator.endsWith('Join')
          ? 'a regular join (an outer join, or a join of updating inputs)'
          : `the operator ${line.operator}`
  return `${what} (node ${line.node})`
}

/** The plan of one query or INSERT: every operator in planning order, then the result. */
export function explainText(
  lines: readonly ExplainLine[],
  warnings: readonly string[],
  updating: boolean,
  columns: readonly string[],
  key: readonly string[] | undefined,
): string {
  const out: string[] = []
  for (const l of lines) explainLine(out, l)
  explainResult(out, updating, columns, key)
  for (const w of warnings) out.push(`Warning: ${w}`)
  return out.join('\n')
}

function explainLine(out: string[], l: ExplainLine, sharedWith?: string): void {
  out.push(`${l.operator.padEnd(16)} ${l.node}${l.updating ? '  [updating]' : ''}`)
  if (sharedWith !== undefined) {
    out.push(
      `    shared: described under INSERT INTO ${sharedWith}; it runs once for every INSERT reading it`,
    )
    return
  }
  out.push(`    ${l.detail}`)
  if (l.state !== undefined) out.push(`    state: ${l.state}`)
}

function explainResult(
  out: string[],
  updating: boolean,
  columns: readonly string[],
  key: readonly string[] | undefined,
): void {
  out.push(`Result: (${columns.join(', ')})`)
  out.push(
    updating
      ? `    updating: a changelog of +I, -U, +U, -D rows${key && key.length > 0 ? ` keyed by (${key.join(', ')})` : ''}`
      : '    append-only: every row is final',
  )
}

/**
 * The plan of several INSERTs: per INSERT, a header, every operator its rows pass (in planning
 * order; one already shown for an earlier INSERT is named, not described again) and its result.
 */
export function explainInserts(
  topology: Topology,
  lines: readonly ExplainLine[],
  warnings: readonly string[],
  inserts: readonly ExplainedInsert[],
): string {
  const out: string[] = []
  const shownIn = new Map<string, string>()
  for (const insert of inserts) {
    if (out.length > 0) out.push('')
    out.push(
      `INSERT INTO ${insert.table} (line ${insert.line})${insert.sink ? ` -> sink ${insert.sink}` : ''}`,
    )
    const upstream = upstreamOf(topology, insert.output)
    for (const l of lines) {
      if (!upstream.has(l.node)) continue
      explainLine(out, l, shownIn.get(l.node))
      if (!shownIn.has(l.node)) shownIn.set(l.node, insert.table)
    }
    explainResult(out, insert.updating, insert.columns, insert.key)
  }
  if (warnings.length > 0) out.push('')
  for (const w of warnings) out.push(`Warning: ${w}`)
  return out.join('\n')
}

// Changelogs of updating queries (Flink's `+I`, `-U`, `+U`, `-D`): how a change is recognised and
// how a stream of changes folds into the final table it describes.

import type { Change, ChangeOp, Row } from './query-job.ts'

export type { Change, ChangeOp, Row }

/** True when `v` is a `{ op, row }` change. */
export function isChange(v: unknown): v is Change {
  if (v === null || typeof v !== 'object') return false
  const op = (v as Change).op
  return (op === '+I' || op === '-U' || op === '+U' || op === '-D') && typeof (v as Change).row === 'object'
}

/** True for the ops that add a row (`+I`, `+U`); `-U` and `-D` remove one. */
export function isAdd(op: ChangeOp): boolean {
  return op === '+I' || op === '+U'
}

/** A change as one JSON-lines object: `{"op":"+U", ...row}`. */
export function changeLine(c: Change): { [column: string]: unknown } {
  return { op: c.op, ...c.row }
}

/**
 * The table a changelog describes, as a multiset of rows: `+I`/`+U` add a row, `-U`/`-D` remove
 * one equal row (by content). Rows stay in the order they were last added. A removal of a row
 * that is not there is counted in `unmatched` and otherwise ignored.
 */
export class ChangelogTable {
  private readonly rows = new Map<string, { row: Row; n: number }>()
  /** Removals that found no equal row. */
  unmatched = 0

  /** Applies one change, or a plain row as an insert. */
  apply(v: Change | Row): void {
    if (!isChange(v)) this.add(v)
    else if (isAdd(v.op)) this.add(v.row)
    else this.remove(v.row)
  }

  private add(row: Row): void {
    const k = JSON.stringify(row)
    const e = this.rows.get(k)
    if (e === undefined) this.rows.set(k, { row, n: 1 })
    else {
      this.rows.delete(k)
      this.rows.set(k, { row, n: e.n + 1 })
    }
  }

  private remove(row: Row): void {
    const k = JSON.stringify(row)
    const e = this.rows.get(k)
    if (e === undefined) this.unmatched++
    else if (e.n === 1) this.rows.delete(k)
    else e.n--
  }

  /** The rows now in the table, each as often as it occurs. */
  toRows(): Row[] {
    const out: Row[] = []
    for (const { row, n } of this.rows.values()) for (let i = 0; i < n; i++) out.push(row)
    return out
  }

  get size(): number {
    let n = 0
    for (const e of this.rows.values()) n += e.n
    return n
  }
}

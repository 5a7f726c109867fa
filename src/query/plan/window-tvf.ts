// A window TVF read without aggregation (`SELECT * FROM TABLE(HOP(...))`): each row once per window
// it falls in, with `window_start`, `window_end` and `window_time` added.

import type { Processor } from '../../core/processor.ts'
import { alignDown } from '../../core/window/assigners.ts'
import type { WindowTvf } from '../ast.ts'
import type { SqlRow } from '../compile-expr.ts'
import { type PlanContext, type Rel, planError } from './relation.ts'
import { describeTvf } from './window-aggregate.ts'

/** The `[start, end)` windows of time `t`, as a flat list `start0, end0, start1, end1, ...`. */
export function windowsOf(tvf: WindowTvf, t: number): number[] {
  const off = tvf.offset?.value ?? 0
  const out: number[] = []
  switch (tvf.fn) {
    case 'TUMBLE': {
      const size = tvf.size!.value
      const s = alignDown(t, size, off)
      out.push(s, s + size)
      break
    }
    case 'HOP': {
      const size = tvf.size!.value
      const slide = tvf.slide!.value
      for (let s = alignDown(t, slide, off); s > t - size; s -= slide) out.push(s, s + size)
      break
    }
    case 'CUMULATE': {
      const max = tvf.size!.value
      const step = tvf.step!.value
      const s = alignDown(t, max, off)
      for (let e = alignDown(t, step, off) + step; e <= s + max; e += step) out.push(s, e)
      break
    }
    case 'SESSION':
      throw planError('SESSION windows can only be aggregated: add GROUP BY window_start, window_end')
  }
  return out
}

/** Adds a node emitting each row once per window with the window columns set (time: window_end − 1). */
export function planWindowAssign(ctx: PlanContext, rel: Rel, tvf: WindowTvf): Rel {
  windowsOf(tvf, 0)
  const fields = rel.schema.columns.map((c) => c.field ?? c.name)
  const name = ctx.name('window-assign')
  const factory = (): Processor<SqlRow, SqlRow> => ({
    process(r, out) {
      const w = windowsOf(tvf, r.time)
      for (let i = 0; i < w.length; i += 2) {
        const o: { [c: string]: unknown } = {}
        for (const f of fields)
          if (f !== 'window_start' && f !== 'window_end' && f !== 'window_time') o[f] = r.value[f]
        o.window_start = w[i]
        o.window_end = w[i + 1]
        o.window_time = w[i + 1]! - 1
        out.emitRecord({ value: o, key: r.key, time: w[i + 1]! - 1, tag: r.tag })
      }
    },
  })
  ctx.topology.addProcessor(name, factory as () => Processor<unknown, unknown>, [{ from: rel.node }])
  ctx.lines.push({ node: name, operator: 'WindowAssign', detail: describeTvf(tvf), updating: false })
  return { ...rel, node: name, rowtime: 'window_time', windowStart: 'window_start', windowEnd: 'window_end' }
}

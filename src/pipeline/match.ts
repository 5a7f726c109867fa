// Routing by tag for outputs that bring their own sink: only records whose tag matches are written.

import type { SinkSpec, SinkWriter } from '../core/source.ts'
import type { TagMatcher } from '../core/tag-match.ts'

/**
 * Wraps `spec` so its writers receive only records whose tag `match`es (all when `undefined`).
 * Every other method of the writer (two-phase commit, recovery) is passed through unchanged.
 */
export function matchingSink(spec: SinkSpec<unknown>, match: TagMatcher | undefined): SinkSpec<unknown> {
  if (match === undefined) return spec
  return {
    kind: spec.kind,
    ...(spec.maxParallelism === undefined ? {} : { maxParallelism: spec.maxParallelism }),
    create(ctx) {
      const inner = spec.create(ctx)
      const writer: SinkWriter<unknown> = Object.create(inner) as SinkWriter<unknown>
      writer.write = (records) => {
        const kept = records.filter((r) => match(r.tag))
        return kept.length === 0 ? undefined : inner.write(kept)
      }
      return writer
    },
  }
}

// Turning lines of text into records: the source's parser, its event time, and the error policy for
// lines no parser matches (with the file and line they came from).

import { SquallError } from '../../core/errors.ts'
import type { Record } from '../../core/record.ts'
import type { IoContext, SourceReader, SourceSpec } from '../../core/source.ts'
import type { Parser } from '../parsers/parser.ts'

/**
 * Decodes lines with an optional parser. Without one, a record's value is the line itself. A line
 * the parser does not match goes to the node's error policy (`ctx.badRecord`) with an ERR_PARSE
 * error naming the file and line; the reader goes on with the next line.
 */
export class LineDecoder {
  constructor(
    private readonly parser: Parser | undefined,
    private readonly ctx: IoContext,
  ) {}

  /** Appends the record for `line` to `out`, or reports the line as bad. */
  push(
    out: Record[],
    line: string,
    time: number,
    tag: string,
    file: string,
    lineNo: number | undefined,
  ): void {
    const parser = this.parser
    if (parser === undefined) {
      out.push({ value: line, key: undefined, time, tag })
      return
    }
    const parsed = parser.parse(line)
    if (parsed !== undefined) {
      out.push({ value: parsed.value, key: undefined, time: parsed.time ?? time, tag })
      return
    }
    const at = lineNo === undefined ? file : `${file}:${lineNo}`
    const shown = line.length > 120 ? `${line.slice(0, 117)}...` : line
    this.ctx.badRecord(
      new SquallError(
        'ERR_PARSE',
        `${at}: parser ${parser.type} does not match the line ${JSON.stringify(shown)}`,
        {
          where: { node: this.ctx.nodeName, file, ...(lineNo === undefined ? {} : { line: lineNo }) },
        },
      ),
      line,
    )
  }
}

/**
 * Wraps a source whose record values are lines (strings) so that each line is parsed by `parser`.
 * Positions, readiness and lifecycle are the wrapped source's. `file` names the input in errors;
 * line numbers count the lines this partition handed out.
 */
export function parseLines(
  spec: SourceSpec<unknown>,
  parser: Parser | undefined,
  file: string,
): SourceSpec<unknown> {
  if (parser === undefined) return spec
  return {
    kind: spec.kind,
    bounded: spec.bounded,
    ...(spec.maxPartitions === undefined ? {} : { maxPartitions: spec.maxPartitions }),
    ...(spec.rescale ? { rescale: spec.rescale.bind(spec) } : {}),
    ...(spec.sharedWork ? { sharedWork: true } : {}),
    create(ctx) {
      const inner = spec.create(ctx)
      const decoder = new LineDecoder(parser, ctx)
      let lineNo = 0
      const reader: SourceReader<unknown> = {
        nextBatch(max) {
          const batch = inner.nextBatch(max)
          if (batch === null || batch.length === 0) return batch
          const out: Record[] = []
          for (let i = 0; i < batch.length; i++) {
            const r = batch[i]!
            lineNo++
            if (typeof r.value === 'string')
              decoder.push(out, r.value, r.time, r.tag, file, ctx.partitions === 1 ? lineNo : undefined)
            else out.push(r)
          }
          return out
        },
      }
      if (inner.open) reader.open = () => inner.open!()
      if (inner.ready) reader.ready = () => inner.ready!()
      if (inner.snapshot) reader.snapshot = () => inner.snapshot!()
      if (inner.restore) reader.restore = (p) => inner.restore!(p)
      if (inner.onCheckpointComplete)
        reader.onCheckpointComplete = (id, p) => inner.onCheckpointComplete!(id, p)
      if (inner.close) reader.close = () => inner.close!()
      return reader
    },
  }
}

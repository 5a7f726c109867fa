// Turning lines of text into records: the source's parser, its event time, the error policy for
// lines no parser matches (with the file and line they came from), and the joining of multi-line
// records (stack traces) with a multiline parser, whose records in progress go into checkpoints.

import { SquallError } from '../../core/errors.ts'
import type { Record } from '../../core/record.ts'
import type { IoContext, SourceReader, SourceSpec } from '../../core/source.ts'
import { duration } from '../config.ts'
import {
  isMultilineParser,
  type JoinedText,
  type LineJoiner,
  type MultilineParser,
} from '../parsers/multiline.ts'
import type { Parser } from '../parsers/parser.ts'

/** The `multilineFlushInterval` option of the inputs that follow a stream of lines (tail, stdin, syslog). */
export const multilineFlushOption = duration('5s').describe(
  'With a multiline parser: a record whose last line came this long ago is emitted without waiting for the next first line (fluentd `multiline_flush_interval`); `0` waits for the next first line.',
)

/** Options of a {@link LineDecoder}. */
export interface LineDecoderOptions {
  /**
   * With a multiline parser: a record in progress whose last line came `multilineFlushMs` ago or
   * more is emitted by `flushIdle` (ms of the context's clock). `undefined` or 0: never.
   */
  readonly multilineFlushMs?: number | undefined
  /**
   * How an error names where a bad line came from, given the stream and line number `push` had
   * (NATS: the subject and the stream sequence). Default: `file:line`, also set as the error's
   * `file` and `line`.
   */
  readonly origin?: ((stream: string, lineNo: number | undefined) => string) | undefined
}

/**
 * A multi-line record in progress, as a checkpoint keeps it: its lines so far and what its first
 * line brought (the tag, the time it was read, its line number when known). Restoring it into a
 * decoder of the same parser continues the record where it stood.
 */
export interface PendingLines {
  /** The stream the lines came from: the followed file for tail, the input's name otherwise. */
  readonly stream: string
  readonly lines: string[]
  readonly tag: string
  readonly time: number
  readonly lineNo?: number
}

/** A source position together with the multi-line records in progress at it. */
export interface PositionWithPending {
  readonly position: unknown
  readonly multiline: PendingLines[]
}

/** True for a position written by {@link LineDecoder.wrap}. */
function isWrapped(position: unknown): position is PositionWithPending {
  return (
    typeof position === 'object' &&
    position !== null &&
    'position' in position &&
    Array.isArray((position as { multiline?: unknown }).multiline)
  )
}

/**
 * Splits a position saved by a source that uses a decoder into the source's own position and the
 * records in progress (none for positions saved without a multiline parser).
 */
export function unwrapPosition(position: unknown): { position: unknown; multiline: PendingLines[] } {
  return isWrapped(position) ? position : { position, multiline: [] }
}

/** One stream's record in progress: its joiner and what its first line brought. */
interface Joining {
  readonly joiner: LineJoiner
  tag: string
  time: number
  lineNo: number | undefined
  /** Clock time of its last line. */
  lastAt: number
}

/**
 * Decodes lines with an optional parser. Without one, a record's value is the line itself. A line
 * the parser does not match goes to the node's error policy (`ctx.badRecord`) with an ERR_PARSE
 * error naming the file and line; the reader goes on with the next line.
 *
 * With a multiline parser ({@link isMultilineParser}) lines are joined per stream (the `file`
 * argument of `push`; tail passes the followed path, so each file joins its own lines): a record
 * comes out when the line after it starts the next one, from `flushIdle` once no line came for
 * `multilineFlushMs`, or from `flushAll` at the end of the input. Its event time is the parser's,
 * else the time its first line was read; its tag is its first line's. A source that uses such a
 * decoder saves its position with `wrap` (the records in progress travel with the position, so a
 * restore neither loses nor repeats them) and restores with `unwrapPosition` and `restore`.
 * One decoder serves one source partition, on its thread.
 */
export class LineDecoder {
  /** True when the parser joins lines (a multiline parser). */
  readonly joins: boolean
  private readonly streams = new Map<string, Joining>()
  private readonly flushMs: number
  private readonly origin: ((stream: string, lineNo: number | undefined) => string) | undefined
  /** Records in progress restored from a checkpoint, fed again before the next line. */
  private carried: PendingLines[] = []

  constructor(
    private readonly parser: Parser | undefined,
    private readonly ctx: IoContext,
    options: LineDecoderOptions = {},
  ) {
    this.joins = isMultilineParser(parser)
    this.flushMs = options.multilineFlushMs ?? 0
    this.origin = options.origin
  }

  /** True when `flushIdle` may have work: the parser joins lines, or restored lines wait. */
  get active(): boolean {
    return this.joins || this.carried.length > 0
  }

  /**
   * Appends the record for `line` to `out` (with a multiline parser: the record it completes, if
   * any), or reports the line as bad.
   */
  push(
    out: Record[],
    line: string,
    time: number,
    tag: string,
    file: string,
    lineNo: number | undefined,
  ): void {
    if (this.carried.length > 0) this.replay(out)
    const parser = this.parser
    if (parser === undefined) {
      out.push({ value: line, key: undefined, time, tag })
      return
    }
    if (this.joins) {
      this.join(out, line, time, tag, file, lineNo)
      return
    }
    const parsed = parser.parse(line)
    if (parsed !== undefined) {
      out.push({ value: parsed.value, key: undefined, time: parsed.time ?? time, tag })
      return
    }
    this.bad(file, lineNo, `parser ${parser.type} does not match the line`, line)
  }

  private join(
    out: Record[],
    line: string,
    time: number,
    tag: string,
    file: string,
    lineNo: number | undefined,
  ): void {
    let s = this.streams.get(file)
    if (s === undefined) {
      s = { joiner: (this.parser as MultilineParser).joiner(), tag, time, lineNo, lastAt: 0 }
      this.streams.set(file, s)
    } else if (s.joiner.size() === 0) {
      s.tag = tag
      s.time = time
      s.lineNo = lineNo
    }
    const startTag = s.tag
    const startTime = s.time
    const startNo = s.lineNo
    const joined = s.joiner.feed(line)
    if (joined !== undefined) this.emit(out, joined, file, startTag, startTime, startNo)
    if (s.joiner.size() === 1) {
      s.tag = tag
      s.time = time
      s.lineNo = lineNo
    }
    if (this.flushMs > 0) s.lastAt = this.ctx.clock.now()
  }

  private emit(
    out: Record[],
    joined: JoinedText,
    file: string,
    tag: string,
    time: number,
    lineNo: number | undefined,
  ): void {
    const r = joined.record
    if (r !== undefined) {
      out.push({ value: r.value, key: undefined, time: r.time ?? time, tag })
      return
    }
    const what = joined.orphan
      ? 'parser multiline: a line comes before any line matching formatFirstline'
      : `parser multiline does not match the record of ${joined.lines} line${joined.lines === 1 ? '' : 's'} starting`
    this.bad(file, lineNo, what, joined.text)
  }

  private bad(file: string, lineNo: number | undefined, what: string, raw: string): void {
    const origin = this.origin
    const at = origin ? origin(file, lineNo) : lineNo === undefined ? file : `${file}:${lineNo}`
    const shown = raw.length > 120 ? `${raw.slice(0, 117)}...` : raw
    this.ctx.badRecord(
      new SquallError('ERR_PARSE', `${at}: ${what} ${JSON.stringify(shown)}`, {
        where: origin
          ? { node: this.ctx.nodeName }
          : { node: this.ctx.nodeName, file, ...(lineNo === undefined ? {} : { line: lineNo }) },
      }),
      raw,
    )
  }

  /**
   * Appends the records in progress whose last line came `multilineFlushMs` or more before `now`
   * (none without a flush interval), and records carried over from a restore. Cheap when there
   * is nothing to do: sources call it at every read.
   */
  flushIdle(out: Record[], now: number): void {
    if (this.carried.length > 0) this.replay(out)
    if (this.flushMs <= 0 || this.streams.size === 0) return
    for (const [file, s] of this.streams) {
      if (s.joiner.size() > 0 && now - s.lastAt >= this.flushMs) this.flushOne(out, file, s)
    }
  }

  /** Appends every record in progress: the end of the input. */
  flushAll(out: Record[]): void {
    this.flushIdle(out, Number.NEGATIVE_INFINITY)
    for (const [file, s] of this.streams) this.flushOne(out, file, s)
  }

  private flushOne(out: Record[], file: string, s: Joining): void {
    const joined = s.joiner.flush()
    this.streams.delete(file)
    if (joined !== undefined) this.emit(out, joined, file, s.tag, s.time, s.lineNo)
  }

  /** The records in progress, for a checkpoint. */
  pending(): PendingLines[] {
    const out: PendingLines[] = []
    for (const [stream, s] of this.streams) {
      if (s.joiner.size() === 0) continue
      const p = { stream, lines: s.joiner.held(), tag: s.tag, time: s.time }
      out.push(s.lineNo === undefined ? p : { ...p, lineNo: s.lineNo })
    }
    return this.carried.length > 0 ? [...this.carried, ...out] : out
  }

  /** How many lines the records in progress hold (for close-time reporting). */
  pendingLines(): number {
    let n = 0
    for (const s of this.streams.values()) n += s.joiner.size()
    return n
  }

  /**
   * The source position `position` with this decoder's records in progress, when the parser
   * joins lines; `position` itself otherwise. Read it back with {@link unwrapPosition}.
   */
  wrap(position: unknown): unknown {
    return this.active ? { position, multiline: this.pending() } : position
  }

  /**
   * Continues the records in progress of a checkpoint (call with the source's restore, before
   * reading): their lines are fed again before the next line read, or at the next `flushIdle`.
   * With a parser that no longer joins lines, they are parsed one by one, so none is lost.
   */
  restore(pending: readonly PendingLines[]): void {
    this.streams.clear()
    this.carried = pending.filter((p) => Array.isArray(p?.lines) && p.lines.length > 0)
  }

  private replay(out: Record[]): void {
    const carried = this.carried
    this.carried = []
    for (const p of carried) {
      for (let i = 0; i < p.lines.length; i++) {
        const lineNo = p.lineNo === undefined ? undefined : p.lineNo + i
        this.push(out, p.lines[i]!, p.time, p.tag, p.stream, lineNo)
      }
    }
  }
}

/**
 * Wraps a source whose record values are lines (strings) so that each line is parsed by `parser`.
 * Positions, readiness and lifecycle are the wrapped source's. `file` names the input in errors;
 * line numbers count the lines this partition handed out. With a multiline parser the source has
 * one partition (its lines must come in order), the records in progress are part of its
 * position, and the last one comes out when the wrapped source ends, or once no line came for
 * `multilineFlushMs`.
 */
export function parseLines(
  spec: SourceSpec<unknown>,
  parser: Parser | undefined,
  file: string,
  options: LineDecoderOptions = {},
): SourceSpec<unknown> {
  if (parser === undefined) return spec
  const maxPartitions = isMultilineParser(parser) ? 1 : spec.maxPartitions
  const rescale = spec.rescale
  return {
    kind: spec.kind,
    bounded: spec.bounded,
    ...(maxPartitions === undefined ? {} : { maxPartitions }),
    ...(rescale === undefined
      ? {}
      : {
          rescale(positions, partitions) {
            const parts = positions.map(unwrapPosition)
            const pending = parts.flatMap((p) => p.multiline)
            const next = rescale.call(
              spec,
              parts.map((p) => p.position),
              partitions,
            )
            if (pending.length === 0) return next
            return next.map((position, i) => ({ position, multiline: i === 0 ? pending : [] }))
          },
        }),
    ...(spec.sharedWork ? { sharedWork: true } : {}),
    create(ctx) {
      const inner = spec.create(ctx)
      const decoder = new LineDecoder(parser, ctx, options)
      let lineNo = 0
      let ended = false
      const reader: SourceReader<unknown> = {
        nextBatch(max) {
          if (ended) return null
          const batch = inner.nextBatch(max)
          if (batch === null) {
            ended = true
            if (!decoder.active) return null
            const rest: Record[] = []
            decoder.flushAll(rest)
            return rest.length > 0 ? rest : null
          }
          if (batch.length === 0 && !decoder.active) return batch
          const out: Record[] = []
          for (let i = 0; i < batch.length; i++) {
            const r = batch[i]!
            lineNo++
            if (typeof r.value === 'string')
              decoder.push(out, r.value, r.time, r.tag, file, ctx.partitions === 1 ? lineNo : undefined)
            else out.push(r)
          }
          if (decoder.active) decoder.flushIdle(out, ctx.clock.now())
          return out
        },
      }
      if (inner.open) reader.open = () => inner.open!()
      if (inner.ready) reader.ready = () => inner.ready!()
      if (inner.snapshot || decoder.joins) reader.snapshot = () => decoder.wrap(inner.snapshot?.())
      if (inner.restore || decoder.joins)
        reader.restore = (p) => {
          const { position, multiline } = unwrapPosition(p)
          if (inner.restore && position !== undefined) inner.restore(position)
          decoder.restore(multiline)
        }
      if (inner.onCheckpointComplete)
        reader.onCheckpointComplete = (id, p) => inner.onCheckpointComplete!(id, unwrapPosition(p).position)
      if (decoder.joins)
        reader.finish = () => {
          const rest: Record[] = []
          if (!ended) decoder.flushAll(rest)
          ended = true
          return rest
        }
      if (inner.close) reader.close = () => inner.close!()
      return reader
    },
  }
}

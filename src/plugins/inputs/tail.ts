// The tail input: follows files like fluentd's in_tail (tail -F). Positions are the source's
// snapshot, so they are part of every checkpoint instead of a separate pos_file.

import { resolve } from 'node:path'
import { z } from 'zod'
import type { Record } from '../../core/record.ts'
import type { IoContext, SourceReader, SourceSpec } from '../../core/source.ts'
import { ConfigError } from '../../core/errors.ts'
import { TailFollower, type TailPosition } from '../helpers/tail-follower.ts'
import { defineInput, type InputContext } from '../define.ts'
import { duration, size, validate } from '../config.ts'
import type { Fields, Parser } from '../parsers/parser.ts'
import { LineDecoder, multilineFlushOption, unwrapPosition } from './lines.ts'

const paths = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)])

export const TailInputConfig = z.strictObject({
  path: paths.describe(
    'Files or glob patterns to follow (a string or a list); relative to the pipeline file.',
  ),
  excludePath: paths.optional().describe('Glob patterns never followed (fluentd `exclude_path`).'),
  readFromHead: z
    .boolean()
    .default(false)
    .describe('Read files found at start from their first line instead of their end.'),
  refreshInterval: duration('60s').describe('How often the globs are expanded again to find new files.'),
  pollInterval: duration('250ms').describe(
    'How often an idle file is checked for new data, rotation and truncation.',
  ),
  rotateWait: duration('5s').describe(
    'How long a rotated file is still read before switching to the new one.',
  ),
  maxLineSize: size('4MiB').describe('Longer lines are dropped and counted.'),
  multilineFlushInterval: multilineFlushOption,
})

type Config = z.output<typeof TailInputConfig>

/** fluentd's tag expansion: `app.*` becomes `app.var.log.x.log` for the file `/var/log/x.log`. */
export function tagForFile(tag: string, file: string): string {
  if (!tag.endsWith('*')) return tag
  const fromPath = file.replace(/^[/\\]+/, '').replace(/[/\\]+/g, '.')
  const head = tag.slice(0, -1)
  return head === '' ? fromPath : `${head}${head.endsWith('.') ? '' : '.'}${fromPath}`
}

/** What a tail reader needs from where it is used: relative paths' base, the tag, the parser. */
type ReaderContext = Pick<InputContext, 'baseDir' | 'tag' | 'parser'>

class TailReader implements SourceReader<unknown> {
  private readonly follower: TailFollower
  private started: Promise<void> | undefined
  private readonly decoder: LineDecoder
  private readonly tags = new Map<string, string>()

  constructor(
    config: Config,
    private readonly ctx: ReaderContext,
    private readonly io: IoContext,
  ) {
    const abs = (p: string | string[]) =>
      typeof p === 'string' ? resolve(ctx.baseDir, p) : p.map((x) => resolve(ctx.baseDir, x))
    this.follower = new TailFollower({
      path: abs(config.path),
      ...(config.excludePath === undefined ? {} : { excludePath: abs(config.excludePath) }),
      readFromHead: config.readFromHead,
      refreshIntervalMs: config.refreshInterval,
      pollIntervalMs: config.pollInterval,
      rotateWaitMs: config.rotateWait,
      maxLineBytes: config.maxLineSize,
      log: io.log,
    })
    this.decoder = new LineDecoder(ctx.parser, io, { multilineFlushMs: config.multilineFlushInterval })
  }

  /** Starts following at the first read, after a restore had its chance to set positions. */
  private start(): Promise<void> {
    this.started ??= this.follower.start()
    return this.started
  }

  nextBatch(max: number): Record<unknown>[] {
    if (this.started === undefined) {
      void this.start()
      return []
    }
    const lines = this.follower.readBatch(max)
    const out: Record<unknown>[] = []
    const now = this.io.clock.now()
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i]!
      let tag = this.tags.get(l.file)
      if (tag === undefined) {
        tag = tagForFile(this.ctx.tag, l.file)
        this.tags.set(l.file, tag)
      }
      this.decoder.push(out, l.line, now, tag, l.file, l.lineNo)
    }
    if (this.decoder.active) this.decoder.flushIdle(out, now)
    return out
  }

  async ready(): Promise<void> {
    await this.start()
    await this.follower.ready()
  }

  /**
   * The follower's positions (after the last line handed out); with a multiline parser, together
   * with each file's record in progress, whose lines a restore feeds again before reading on.
   */
  snapshot(): unknown {
    return this.decoder.wrap(this.follower.snapshot())
  }

  restore(saved: unknown): void {
    const { position, multiline } = unwrapPosition(saved)
    if (Array.isArray(position)) this.follower.restore(position as TailPosition[])
    this.decoder.restore(multiline)
  }

  /** Emits every multi-line record in progress: the job drains (fluentd flushes them at shutdown). */
  finish(): Record<unknown>[] {
    const out: Record<unknown>[] = []
    if (this.decoder.active) this.decoder.flushAll(out)
    return out
  }

  async close(): Promise<void> {
    const s = this.follower.stats()
    if (s.droppedLongLines > 0) this.io.count('dropped_long_lines', s.droppedLongLines)
    const held = this.decoder.pendingLines()
    if (held > 0) {
      this.io.count('multiline_lines_held_at_close', held)
      this.io.log(
        'info',
        `tail input "${this.io.nodeName}": ${held} line(s) of multi-line records in progress were not emitted (the job stopped without draining); with a state directory, the last checkpoint keeps them for the next run`,
        { node: this.io.nodeName },
      )
    }
    await this.follower.close()
  }
}

/** Options of {@link tail}: the tail input's options (durations as `"250ms"` or ms), a parser and a tag. */
export type TailSourceOptions = z.input<typeof TailInputConfig> & {
  /** Parses each line; records then carry its fields and its time. Default: records are the lines. */
  parser?: Parser
  /** Routing tag of the records; a trailing `*` expands to the file path. Default `''`. */
  tag?: string
}

/**
 * Follows files like `tail -F`, as the `tail` input of pipeline files: from their end, or from their
 * first line with `readFromHead`, then every line appended, through rotation and truncation. Never
 * ends by itself (drain the job, e.g. `squall run --duration`). One partition; its position (inode
 * and offset per file) is part of every checkpoint. Relative paths resolve against the working
 * directory. Without a parser a record is one line; with one, its fields, with the parser's time
 * as event time (else the time the line was read); lines it does not match follow the node's error
 * policy. Throws ConfigError for invalid options.
 */
export function tail(options: TailSourceOptions & { parser: Parser }): SourceSpec<Fields>
export function tail(options: TailSourceOptions): SourceSpec<string>
export function tail(options: TailSourceOptions): SourceSpec<unknown> {
  const { parser, tag = '', ...rest } = options
  const config = validate(TailInputConfig, rest, 'tail')
  if (!config.ok) throw new ConfigError(config.issues)
  const ctx: ReaderContext = { baseDir: process.cwd(), tag, parser }
  return {
    kind: 'tail',
    bounded: false,
    maxPartitions: 1,
    create: (io) => new TailReader(config.value, ctx, io),
  }
}

export default defineInput({
  type: 'tail',
  summary:
    'Follows files like tail -F (rotation, truncation, globs); positions are part of every checkpoint.',
  config: TailInputConfig,
  produces: 'lines',
  example:
    'sources:\n  - name: access\n    type: tail\n    path: /var/log/nginx/access.log\n    tag: web.access\n    parser: { type: nginx }',
  create(config, ctx) {
    return { kind: 'tail', bounded: false, maxPartitions: 1, create: (io) => new TailReader(config, ctx, io) }
  },
})

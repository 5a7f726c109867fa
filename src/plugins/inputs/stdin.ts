// Standard input as a source of lines or JSON lines; it ends when stdin closes.

import { SquallError } from '../../core/errors.ts'
import type { Record } from '../../core/record.ts'
import type { IoContext, SourceReader, SourceSpec } from '../../core/source.ts'

export interface StdinOptions {
  format?: 'lines' | 'jsonl'
  tag?: string
  /** The stream to read (default `process.stdin`); tests pass their own. */
  input?: NodeJS.ReadableStream
}

/**
 * Reads lines from standard input. One partition only. Reading pauses while the lines already
 * buffered have not been taken (at most about 1 MiB), so a slow job slows the writer down.
 */
export function stdin(options: StdinOptions = {}): SourceSpec<unknown> {
  return { kind: 'stdin', bounded: true, maxPartitions: 1, create: (ctx) => new StdinReader(options, ctx) }
}

class StdinReader implements SourceReader<unknown> {
  private lines: string[] = []
  private head = 0
  private partial = ''
  private ended = false
  private waiter: (() => void) | undefined
  private lineNo = 0
  private readonly input: NodeJS.ReadableStream
  private bytes = 0

  constructor(
    private readonly options: StdinOptions,
    private readonly ctx: IoContext,
  ) {
    this.input = options.input ?? process.stdin
  }

  open(): void {
    this.input.setEncoding?.('utf8')
    this.input.on('data', this.onData)
    this.input.on('end', this.onEnd)
  }

  private readonly onData = (chunk: string | Buffer): void => {
    const text = this.partial + chunk.toString()
    const parts = text.split('\n')
    this.partial = parts.pop()!
    for (const p of parts) this.lines.push(p.endsWith('\r') ? p.slice(0, -1) : p)
    this.bytes += chunk.length
    if (this.bytes > 1 << 20) this.input.pause()
    this.notify()
  }

  private readonly onEnd = (): void => {
    if (this.partial.length > 0) this.lines.push(this.partial)
    this.partial = ''
    this.ended = true
    this.notify()
  }

  private notify(): void {
    const w = this.waiter
    this.waiter = undefined
    w?.()
  }

  nextBatch(max: number): Record<unknown>[] | null {
    if (this.head >= this.lines.length) {
      this.lines = []
      this.head = 0
      this.bytes = 0
      this.input.resume()
      return this.ended ? null : []
    }
    const out: Record<unknown>[] = []
    const now = this.ctx.clock.now()
    const tag = this.options.tag ?? ''
    while (out.length < max && this.head < this.lines.length) {
      const text = this.lines[this.head++]!
      this.lineNo++
      if (text.length === 0) continue
      if (this.options.format !== 'jsonl') {
        out.push({ value: text, key: undefined, time: now, tag })
        continue
      }
      try {
        out.push({ value: JSON.parse(text), key: undefined, time: now, tag })
      } catch (e) {
        this.ctx.badRecord(
          new SquallError(
            'ERR_BAD_RECORD',
            `stdin: line ${this.lineNo} is not valid JSON: ${(e as Error).message}`,
            {
              where: { node: this.ctx.nodeName, file: 'stdin', line: this.lineNo },
            },
          ),
          text,
        )
      }
    }
    return out
  }

  ready(): Promise<void> {
    if (this.head < this.lines.length || this.ended) return Promise.resolve()
    return new Promise((resolve) => {
      this.waiter = resolve
    })
  }

  /**
   * Stops reading. A job that ends before its input does (it failed, or a signal drained it) must
   * not be held open by a writer that keeps the pipe open.
   */
  close(): void {
    this.input.off('data', this.onData)
    this.input.off('end', this.onEnd)
    this.input.pause()
    this.notify()
  }
}

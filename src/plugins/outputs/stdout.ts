// Prints records to standard output, one line each.

import type { Record } from '../../core/record.ts'
import type { SinkSpec, SinkWriter } from '../../core/source.ts'

export interface StdoutOptions<T> {
  /** Turns a record into its line; default: the value as JSON (strings as they are). */
  format?: (value: T, record: Record<T>) => string
  /** The stream to write (default `process.stdout`). */
  output?: NodeJS.WritableStream
}

/**
 * Writes each record as a line. One task, so lines keep the order in which they arrive. Waits for
 * the stream to drain when its buffer is full, which slows the job down instead of growing memory.
 * A format of the value alone (the default) also takes batches as values (`SinkWriter.writeValues`).
 */
export function stdout<T>(options: StdoutOptions<T> = {}): SinkSpec<T> {
  const format = options.format ?? ((v: T) => (typeof v === 'string' ? v : JSON.stringify(v)))
  return {
    kind: 'stdout',
    maxParallelism: 1,
    create: () => {
      const out = options.output ?? process.stdout
      const print = (text: string) => {
        if (!out.write(text)) return new Promise<void>((resolve) => out.once('drain', () => resolve()))
      }
      const writer: SinkWriter<T> = {
        write(records: Record<T>[]) {
          let text = ''
          for (const r of records) text += `${format(r.value, r)}\n`
          return print(text)
        },
      }
      if (format.length < 2) {
        writer.writeValues = (values: T[]) => {
          let text = ''
          for (const v of values) text += `${(format as (value: T) => string)(v)}\n`
          return print(text)
        }
      }
      return writer
    },
  }
}

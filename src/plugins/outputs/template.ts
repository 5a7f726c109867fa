// Record templates of outputs: `page:${path}` or `${tag}.${user.id}` compiled once into parts, so a
// key per record costs a few string concatenations and no parsing.

import { SquallError } from '../../core/errors.ts'
import type { Record } from '../../core/record.ts'

/** Reads a dotted field path (`user.id`) from a record value; `undefined` when any step is missing. */
export function fieldAt(value: unknown, path: readonly string[]): unknown {
  let v = value
  for (let i = 0; i < path.length; i++) {
    if (v === null || typeof v !== 'object') return undefined
    v = (v as { [k: string]: unknown })[path[i]!]
  }
  return v
}

/** A field value as text: strings as they are, numbers and booleans printed, objects as JSON. */
export function textOf(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v)
}

/**
 * A compiled template. `render` returns the text for one record, or `undefined` when a field the
 * template names is missing (or null) in that record; `${tag}` is the record's tag, `${time}` its
 * event time in ms. Any other `${a.b}` reads the field path `a.b` of the record value.
 */
export interface RecordTemplate {
  readonly source: string
  /** True when the template reads no field and no tag: every record renders the same text. */
  readonly constant: boolean
  render(r: Record): string | undefined
}

const TAG: readonly string[] = ['\0tag']
const TIME: readonly string[] = ['\0time']

/** Compiles `source`; throws ERR_ARGUMENT naming `where` for an unclosed `${` or an empty field. */
export function compileTemplate(source: string, where: string): RecordTemplate {
  const texts: string[] = []
  const paths: (readonly string[])[] = []
  let rest = source
  let text = ''
  for (;;) {
    const open = rest.indexOf('${')
    if (open < 0) break
    const close = rest.indexOf('}', open)
    const name = close < 0 ? '' : rest.slice(open + 2, close).trim()
    if (close < 0 || name === '')
      throw new SquallError(
        'ERR_ARGUMENT',
        `${where}: expected \${field} with a field name in ${JSON.stringify(source)}; write e.g. "page:\${path}"`,
      )
    texts.push(text + rest.slice(0, open))
    text = ''
    paths.push(name === 'tag' ? TAG : name === 'time' ? TIME : name.split('.'))
    rest = rest.slice(close + 1)
  }
  const last = text + rest
  const n = paths.length
  return {
    source,
    constant: n === 0,
    render(r) {
      let out = texts[0] ?? ''
      for (let i = 0; i < n; i++) {
        const p = paths[i]!
        let v: unknown
        if (p === TAG) v = r.tag
        else if (p === TIME) v = r.time
        else v = fieldAt(r.value, p)
        if (v === undefined || v === null) return undefined
        out += textOf(v)
        out += i + 1 < n ? texts[i + 1]! : ''
      }
      return n === 0 ? last : out + last
    },
  }
}

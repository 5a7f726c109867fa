// JSON functions with SQL/JSON path expressions in lax mode: `$`, `.name`, `."quoted name"`,
// `['name']`, `[index]` and `[*]`. A document is parsed once per distinct string in a row.

import { SquallError } from '../core/errors.ts'
import { Arg, type ScalarFunction, scalar } from './function-def.ts'
import { SqlTypes } from './types.ts'

type Step = string | number | '*'
const pathCache = new Map<string, readonly Step[]>()

/** Splits a JSON path into steps, cached; ERR_SQL_RUNTIME when it is malformed. */
export function compileJsonPath(path: string): readonly Step[] {
  let steps = pathCache.get(path)
  if (steps) return steps
  const bad = (why: string): never => {
    throw new SquallError(
      'ERR_SQL_RUNTIME',
      `JSON path ${JSON.stringify(path)}: ${why}; write e.g. '$.a.b[0]'`,
    )
  }
  let p = path.trim()
  if (/^(lax|strict)\s/i.test(p)) p = p.replace(/^(lax|strict)\s+/i, '')
  if (p[0] !== '$') bad('must start with $')
  const out: Step[] = []
  let i = 1
  while (i < p.length) {
    const c = p[i]
    if (c === '.') {
      i++
      if (p[i] === '"') {
        const close = p.indexOf('"', i + 1)
        if (close < 0) bad('unclosed quote')
        out.push(p.slice(i + 1, close))
        i = close + 1
      } else if (p[i] === '*') {
        out.push('*')
        i++
      } else {
        const m = /^[A-Za-z_$][\w$-]*/.exec(p.slice(i))
        if (!m) bad(`expected a name after "." at position ${i}`)
        out.push(m![0])
        i += m![0].length
      }
    } else if (c === '[') {
      const close = p.indexOf(']', i)
      if (close < 0) bad('unclosed [')
      const inner = p.slice(i + 1, close).trim()
      if (inner === '*') out.push('*')
      else if (/^\d+$/.test(inner)) out.push(Number(inner))
      else if (/^'.*'$|^".*"$/.test(inner)) out.push(inner.slice(1, -1))
      else bad(`cannot read [${inner}]`)
      i = close + 1
    } else if (c === ' ') {
      i++
    } else {
      bad(`unexpected ${JSON.stringify(c)} at position ${i}`)
    }
  }
  if (pathCache.size > 512) pathCache.clear()
  pathCache.set(path, out)
  steps = out
  return steps
}

const MISSING = Symbol('missing')
let lastText: string | undefined
let lastDoc: unknown = MISSING

/** Parses a JSON document, reusing the last result when the same string comes again; MISSING if invalid. */
function parseDoc(text: unknown): unknown {
  if (typeof text !== 'string') return text
  if (text === lastText) return lastDoc
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    doc = MISSING
  }
  lastText = text
  lastDoc = doc
  return doc
}

/** Follows the steps of a path into a parsed document; MISSING when a step finds nothing. */
function follow(doc: unknown, steps: readonly Step[]): unknown {
  let cur: unknown = doc
  for (let k = 0; k < steps.length; k++) {
    const s = steps[k]!
    if (cur === null || typeof cur !== 'object') return MISSING
    if (s === '*') {
      const all = Array.isArray(cur) ? cur : Object.values(cur)
      const rest = steps.slice(k + 1)
      const found = all.map((v) => follow(v, rest)).filter((v) => v !== MISSING)
      return found
    }
    if (typeof s === 'number') {
      if (!Array.isArray(cur)) return MISSING
      cur = cur[s]
    } else {
      if (Array.isArray(cur)) return MISSING
      cur = (cur as { [k: string]: unknown })[s]
    }
    if (cur === undefined) return MISSING
  }
  return cur
}

/** The value at `path` in the JSON text, or MISSING. */
function lookup(json: unknown, path: string): unknown {
  const doc = parseDoc(json)
  if (doc === MISSING) return MISSING
  return follow(doc, compileJsonPath(path))
}

/**
 * Reads the hidden mode of a JSON constructor call (see the parser): whether NULL values are
 * kept, and for each value whether it is the JSON text of a nested constructor.
 */
function constructorMode(mode: string): { keepNull: boolean; raw: string } {
  const colon = mode.indexOf(':')
  return { keepNull: mode.slice(0, colon) === 'NULL', raw: mode.slice(colon + 1) }
}

/** A value of a JSON constructor as JSON: nested constructors' text as it is, others encoded. */
function jsonOf(v: unknown, raw: boolean): unknown {
  return raw && typeof v === 'string' ? JSON.parse(v) : v
}

/** JSON_VALUE, JSON_QUERY, JSON_EXISTS, JSON_STRING, JSON_OBJECT and JSON_ARRAY. */
export const JSON_FUNCTIONS: readonly ScalarFunction[] = [
  scalar(
    'JSON_VALUE(json, path)',
    "The scalar at path as a string (NULL when absent, invalid JSON, or not a scalar): JSON_VALUE(body, '$.user.id').",
    [Arg.string, Arg.string],
    SqlTypes.STRING,
    (json: string, path: string) => {
      const v = lookup(json, path)
      if (v === MISSING || v === null || typeof v === 'object') return null
      return String(v)
    },
  ),
  scalar(
    'JSON_QUERY(json, path)',
    'The object or array at path as JSON text (NULL when absent or a scalar).',
    [Arg.string, Arg.string],
    SqlTypes.STRING,
    (json: string, path: string) => {
      const v = lookup(json, path)
      return v !== MISSING && v !== null && typeof v === 'object' ? JSON.stringify(v) : null
    },
  ),
  scalar(
    'JSON_EXISTS(json, path)',
    'TRUE when path finds a value (even null) in the JSON text; FALSE when not or when the text is not JSON.',
    [Arg.string, Arg.string],
    SqlTypes.BOOLEAN,
    (json: string, path: string) => lookup(json, path) !== MISSING,
  ),
  scalar('JSON_STRING(value)', 'The value as JSON text.', [Arg.any], SqlTypes.STRING, (v: unknown) =>
    JSON.stringify(v),
  ),
  scalar(
    'JSON_OBJECT([KEY] k VALUE v, ...)',
    "A JSON object text from key/value pairs: JSON_OBJECT(KEY 'user' VALUE name, 'hits' VALUE n [NULL | ABSENT ON NULL]), NULL ON NULL unless told. A value made by JSON_OBJECT or JSON_ARRAY is nested as JSON.",
    [Arg.string, Arg.any],
    SqlTypes.STRING,
    (mode: string, ...pairs: unknown[]) => {
      const { keepNull, raw } = constructorMode(mode)
      const out: { [k: string]: unknown } = {}
      for (let i = 0; i < pairs.length; i += 2) {
        const key = pairs[i]
        if (key === null || key === undefined)
          throw new SquallError(
            'ERR_SQL_RUNTIME',
            `JSON_OBJECT: key ${i / 2 + 1} is NULL; a key must be a string`,
          )
        const v = pairs[i + 1] ?? null
        if (v === null && !keepNull) continue
        out[String(key)] = jsonOf(v, raw[i / 2] === '1')
      }
      return JSON.stringify(out)
    },
    { nullAware: true },
  ),
  scalar(
    'JSON_ARRAY(v, ...)',
    'A JSON array text of the values: JSON_ARRAY(a, b [NULL | ABSENT ON NULL]), ABSENT ON NULL unless told. A value made by JSON_OBJECT or JSON_ARRAY is nested as JSON.',
    [Arg.string, Arg.any],
    SqlTypes.STRING,
    (mode: string, ...values: unknown[]) => {
      const { keepNull, raw } = constructorMode(mode)
      const out: unknown[] = []
      for (let i = 0; i < values.length; i++) {
        const v = values[i] ?? null
        if (v === null && !keepNull) continue
        out.push(jsonOf(v, raw[i] === '1'))
      }
      return JSON.stringify(out)
    },
    { nullAware: true },
  ),
]

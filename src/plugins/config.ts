// Config schemas on zod: durations and sizes as users write them, and validation that turns every
// problem into a ConfigIssue with its path and, for a misspelt key, the key that was probably meant.

import { z } from 'zod'
import { toMillis } from '../core/duration.ts'
import { type ConfigIssue, describeValue } from '../core/errors.ts'
import { closestName } from './parsers/parser.ts'

/** A zod schema of a plugin config or of a part of one. */
export type ConfigSchema = z.ZodType

/**
 * A duration field: `"30s"`, `"1m30s"`, `"250ms"` or a number of milliseconds; parses to ms.
 * `fallback` (when given) is used when the field is absent.
 */
export function duration(): ReturnType<typeof durationBase>
export function duration(fallback: string | number): z.ZodPrefault<ReturnType<typeof durationBase>>
export function duration(fallback?: string | number) {
  const base = durationBase()
  const meta = { squallType: 'duration', ...(fallback === undefined ? {} : { squallDefault: fallback }) }
  return fallback === undefined ? base.meta(meta) : base.prefault(fallback).meta(meta)
}

function durationBase() {
  return z.union([z.number(), z.string()]).transform((v, ctx): number => {
    try {
      return toMillis(v)
    } catch {
      ctx.issues.push({
        code: 'custom',
        input: v,
        message: `expected a duration like "30s", "5m" or a number of milliseconds, got ${describeValue(v)}`,
      })
      return z.NEVER
    }
  })
}

const SIZE_UNITS: { [unit: string]: number } = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
}

/** Converts `"8MiB"`, `"512k"`, `"1g"` or a number of bytes into bytes; `undefined` when unreadable. */
export function toBytes(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.floor(value) : undefined
  if (typeof value !== 'string') return undefined
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value)
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined
  return m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : undefined
}

/** A size field: `"8MiB"`, `"512k"` or a number of bytes (units are powers of 1024); parses to bytes. */
export function size(): ReturnType<typeof sizeBase>
export function size(fallback: string | number): z.ZodPrefault<ReturnType<typeof sizeBase>>
export function size(fallback?: string | number) {
  const base = sizeBase()
  const meta = { squallType: 'size', ...(fallback === undefined ? {} : { squallDefault: fallback }) }
  return fallback === undefined ? base.meta(meta) : base.prefault(fallback).meta(meta)
}

function sizeBase() {
  return z.union([z.number(), z.string()]).transform((v, ctx): number => {
    const n = toBytes(v)
    if (n !== undefined) return n
    ctx.issues.push({
      code: 'custom',
      input: v,
      message: `expected a size like "8MiB", "512k" or a number of bytes, got ${describeValue(v)}`,
    })
    return z.NEVER
  })
}

/** A TCP or UDP port; 0 asks the system for a free one. */
export function port(fallback: number) {
  return z.number().int().min(0).max(65535).default(fallback)
}

/**
 * A parser or formatter config (fluentd's `<parse>` or `<format>`): `{ type: ltsv, … }`, or the
 * type alone (`json`), which reads as `{ type: json }`. Only `type` is checked here; the other
 * options belong to the plugin of that type, which validates them when it is created.
 */
export function typedConfig(typeDescription: string) {
  return z
    .preprocess(
      (v) => (typeof v === 'string' ? { type: v } : v),
      z.looseObject({ type: z.string().describe(typeDescription) }),
    )
    .meta({ squallType: 'type or { type, … }' })
}

/** The keys a strict object schema accepts, for "did you mean" hints. */
function knownKeys(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let s: z.ZodType | undefined = schema
  for (const part of path) {
    s = unwrap(s)
    if (s instanceof z.ZodObject) s = (s.shape as { [k: string]: z.ZodType })[String(part)]
    else if (s instanceof z.ZodArray) s = s.element as z.ZodType
    else return []
    if (s === undefined) return []
  }
  s = unwrap(s)
  return s instanceof z.ZodObject ? Object.keys(s.shape) : []
}

function unwrap(schema: z.ZodType | undefined): z.ZodType | undefined {
  let s = schema
  for (let i = 0; i < 8 && s; i++) {
    if (
      s instanceof z.ZodOptional ||
      s instanceof z.ZodDefault ||
      s instanceof z.ZodPrefault ||
      s instanceof z.ZodNullable
    ) {
      s = s.unwrap() as z.ZodType
    } else if (s instanceof z.ZodPipe) s = s.in as z.ZodType
    else break
  }
  return s
}

/** Joins a base path and a zod path: `sources[0]` + `['parser', 'type']` → `sources[0].parser.type`. */
export function joinPath(base: string, path: readonly PropertyKey[]): string {
  let out = base
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`
  return out
}

function issueMessage(issue: z.core.$ZodIssue, input: unknown): string {
  switch (issue.code) {
    case 'invalid_type': {
      const got = valueAt(input, issue.path)
      return got === undefined
        ? `is required (${issue.expected})`
        : `expected ${issue.expected}, got ${describeValue(got)}`
    }
    case 'invalid_value': {
      const got = valueAt(input, issue.path)
      const choices = issue.values.map((v) => JSON.stringify(v))
      const hint = typeof got === 'string' ? closestName(got, issue.values.map(String)) : undefined
      return `expected one of ${choices.join(', ')}, got ${describeValue(got)}${hint ? `; did you mean "${hint}"?` : ''}`
    }
    case 'too_small':
    case 'too_big': {
      const got = valueAt(input, issue.path)
      const bound = issue.code === 'too_small' ? `≥ ${issue.minimum}` : `≤ ${issue.maximum}`
      const what =
        issue.origin === 'array' || issue.origin === 'string' ? `a length ${bound}` : `a value ${bound}`
      return `expected ${what}, got ${describeValue(got)}`
    }
    default:
      return issue.message
  }
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v = input
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined
    v = (v as { [k: PropertyKey]: unknown })[p]
  }
  return v
}

/** The outcome of validating a config: the parsed value, or every problem found. */
export type Validated<T> = { ok: true; value: T } | { ok: false; issues: ConfigIssue[] }

/**
 * Validates `input` against `schema` and returns the parsed value (defaults filled in, durations in
 * ms) or every problem, each with its full path under `base`. An unknown key gets a suggestion when
 * it is close to an accepted one (`prot` → `port`). Never throws for bad input.
 */
export function validate<S extends z.ZodType>(schema: S, input: unknown, base = ''): Validated<z.output<S>> {
  const result = schema.safeParse(input)
  if (result.success) return { ok: true, value: result.data }
  const issues: ConfigIssue[] = []
  for (const issue of result.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeys(schema, issue.path)
      for (const key of issue.keys) {
        const hint = closestName(key, known)
        issues.push({
          path: joinPath(base, [...issue.path, key]),
          message: `unknown option${hint ? `; did you mean "${hint}"?` : known.length > 0 ? ` (options: ${known.join(', ')})` : ''}`,
        })
      }
      continue
    }
    issues.push({ path: joinPath(base, issue.path), message: issueMessage(issue, input) })
  }
  return { ok: false, issues }
}

/** One option of a config schema, as `squall describe` and the docs show it. */
export interface OptionInfo {
  readonly name: string
  /** `string`, `integer`, `boolean`, `duration`, `size`, `"a" | "b"`, `list of string`, … */
  readonly type: string
  readonly required: boolean
  /** The default as written in a config (JSON), if any. */
  readonly default: string | undefined
  readonly description: string
}

type JsonSchema = {
  type?: string | string[]
  enum?: unknown[]
  const?: unknown
  anyOf?: JsonSchema[]
  items?: JsonSchema
  properties?: { [k: string]: JsonSchema }
  required?: string[]
  default?: unknown
  description?: string
  squallType?: string
  squallDefault?: unknown
  allOf?: JsonSchema[]
}

function typeName(s: JsonSchema): string {
  if (s.squallType) return s.squallType
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' | ')
  if (s.const !== undefined) return JSON.stringify(s.const)
  if (s.anyOf) return [...new Set(s.anyOf.map(typeName))].join(' or ')
  if (Array.isArray(s.type)) return s.type.join(' or ')
  if (s.type === 'array') return `list of ${s.items ? typeName(s.items) : 'values'}`
  if (s.type === 'object') return s.properties ? `{ ${Object.keys(s.properties).join(', ')} }` : 'object'
  return s.type ?? 'any'
}

/** The options of an object schema, in declaration order, with their type, default and description. */
export function describeOptions(schema: z.ZodType): OptionInfo[] {
  let json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema
  if (!json.properties && json.allOf) json = json.allOf.find((s) => s.properties) ?? json
  const props = json.properties ?? {}
  const required = new Set(json.required ?? [])
  return Object.entries(props).map(([name, s]) => {
    const d = s.squallDefault ?? s.default
    return {
      name,
      type: typeName(s),
      required: required.has(name) && d === undefined,
      default: d === undefined ? undefined : JSON.stringify(d),
      description: s.description ?? '',
    }
  })
}

// Reading a pipeline file: YAML (or JSON), environment variables, then the pipeline schema; every
// problem is reported at once with its path (and a YAML syntax error with its line and column).

import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { parseDocument, type YAMLError } from 'yaml'
import { z } from 'zod'
import { type ConfigIssue, ConfigError } from '../core/errors.ts'
import { validate } from '../plugins/config.ts'
import { type BuildOptions, type BuiltPipeline, buildPipeline } from './build.ts'
import { type MaskedText, maskReferences, restoreReferences, substituteEnv } from './env.ts'
import { OutputEntry, type PipelineFile, PipelineSchema, SourceEntry } from './schema.ts'

/** Options of {@link loadPipeline}. */
export interface LoadOptions extends BuildOptions {
  /** Variables for `${VAR}`; default `process.env`. */
  env?: { readonly [name: string]: string | undefined }
}

const Outline = PipelineSchema.extend({
  sources: z.array(z.unknown()).min(1),
  outputs: z.array(z.unknown()).min(1),
})

/** A pipeline file as far as it is valid, and every problem found in it so far. */
export interface ParsedPipeline {
  /**
   * The file; a source or output entry with invalid common keys is kept without them (its problems
   * are in `issues`), and one without a usable `type` is a hole of the (sparse) array.
   */
  readonly file: PipelineFile
  readonly issues: readonly ConfigIssue[]
}

/**
 * The first YAML error of a document as one problem: `file:line:column: what is wrong`. The errors
 * after a syntax error mostly follow from it (the parser has lost its place), so they are counted
 * rather than listed.
 */
function syntaxIssue(errors: readonly YAMLError[], source: string, masked: MaskedText): ConfigIssue {
  const first = errors[0]!
  const at = first.linePos?.[0]
  // With prettyErrors the message is `what at line L, column C:` followed by an excerpt.
  const what = masked.restore(first.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''))
  const more = errors.length - 1
  return {
    path: '',
    message: `${source}${at ? `:${at.line}:${at.col}` : ''}: ${what}${more > 0 ? ` (and ${more} more YAML error${more === 1 ? '' : 's'} after it, often caused by it)` : ''}`,
  }
}

/**
 * The keys of a mapping (at `base` in the file) that `found` are about, so that the rest of it can
 * still be checked; `undefined` when a problem is about the mapping as a whole.
 */
function keysAtFault(found: readonly ConfigIssue[], base: string): Set<string> | undefined {
  const keys = new Set<string>()
  for (const issue of found) {
    if (base !== '' && !issue.path.startsWith(`${base}.`)) return undefined
    const key = /^[^.[]+/.exec(base === '' ? issue.path : issue.path.slice(base.length + 1))?.[0]
    if (key === undefined) return undefined
    keys.add(key)
  }
  return keys
}

/**
 * Validates `value` (at `base`) against `schema`, adding its problems to `issues`. When they are
 * about some of its keys only, the value is validated again without those keys (against
 * `rest`, default `schema`), so that what depends on the other keys is still checked: a bad
 * `retry` of an output does not hide the problems of its plugin options. `undefined` when nothing
 * usable remains, or when a key in `needed` is at fault.
 */
function validateSalvaging<T extends z.ZodType>(
  schema: T,
  value: unknown,
  base: string,
  issues: ConfigIssue[],
  needed: readonly string[] = [],
  rest: z.ZodType = schema,
): z.output<T> | undefined {
  const r = validate(schema, value, base)
  if (r.ok) return r.value
  issues.push(...r.issues)
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined
  const bad = keysAtFault(r.issues, base)
  if (bad === undefined || needed.some((k) => bad.has(k))) return undefined
  const again = validate(rest, Object.fromEntries(Object.entries(value).filter(([k]) => !bad.has(k))), base)
  return again.ok ? (again.value as z.output<T>) : undefined
}

/**
 * Parses pipeline text (YAML or JSON), substitutes environment variables and validates the
 * pipeline's own keys, entry by entry, so that a bad entry does not hide the problems of the
 * others (nor a bad common key, such as `retry`, the problems of the entry's plugin options).
 * `${…}` references may stand unquoted anywhere, flow mappings included
 * (`server: { port: 8080, token: ${SQUALL_TOKEN} }`). `source` names the text in messages (the
 * file path). Throws ConfigError only when the text is not a pipeline at all: a YAML syntax error
 * (reported as `source:line:column: what is wrong`), or not a mapping.
 */
export function parsePipeline(
  text: string,
  source: string,
  env: { readonly [name: string]: string | undefined } = process.env,
): ParsedPipeline {
  // Variables are substituted in the parsed values, not in the text: a value cannot inject YAML,
  // and positions in errors are the user's. Only the references are made readable to YAML first.
  const masked = maskReferences(text)
  const doc = parseDocument(masked.text, { prettyErrors: true })
  if (doc.errors.length > 0) throw new ConfigError([syntaxIssue(doc.errors, source, masked)])
  const raw = restoreReferences(doc.toJS(), masked)
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([
      { path: '', message: `${source}: expected a mapping with name, sources and outputs` },
    ])
  }
  const issues: ConfigIssue[] = []
  const substituted = substituteEnv(raw, env, issues) as { [k: string]: unknown }
  const rest = validateSalvaging(Outline, substituted, '', issues, [], Outline.partial()) ?? {}
  const entries = <T extends z.ZodType>(key: 'sources' | 'outputs', schema: T): z.output<T>[] => {
    const list = Array.isArray(substituted[key]) ? (substituted[key] as unknown[]) : []
    // Sparse: an unusable entry leaves a hole, so later entries keep their index in messages.
    const out: z.output<T>[] = new Array(list.length)
    list.forEach((entry, i) => {
      const value = validateSalvaging(schema, entry, `${key}[${i}]`, issues, ['type'])
      if (value !== undefined) out[i] = value
    })
    return out
  }
  const sources = entries('sources', SourceEntry)
  const outputs = entries('outputs', OutputEntry)
  const file = { name: 'pipeline', queries: [], ...rest, sources, outputs } as PipelineFile
  return { file, issues }
}

/**
 * Reads, validates and builds the pipeline in `path`: the topology and job options, ready to run.
 * Relative paths in it resolve against the file's directory. Throws ConfigError with every problem
 * (also for an unreadable file), before anything starts.
 */
export async function loadPipeline(path: string, options: LoadOptions = {}): Promise<BuiltPipeline> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    throw new ConfigError([
      { path: '', message: `cannot read pipeline file "${path}": ${(e as Error).message}` },
    ])
  }
  const { file, issues } = parsePipeline(text, path, options.env ?? process.env)
  return buildPipeline(file, { ...options, baseDir: options.baseDir ?? dirname(resolve(path)), issues })
}

/** True when `path` names a pipeline file (by extension) rather than a topology module. */
export function isPipelineFile(path: string): boolean {
  return /\.(ya?ml|json)$/i.test(path)
}

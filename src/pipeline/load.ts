// Reading a pipeline file: YAML (or JSON), environment variables, then the pipeline schema; every
// problem is reported at once with its path (and YAML syntax errors with their line).

import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { parseDocument } from 'yaml'
import { z } from 'zod'
import { type ConfigIssue, ConfigError } from '../core/errors.ts'
import { validate } from '../plugins/config.ts'
import { type BuildOptions, type BuiltPipeline, buildPipeline } from './build.ts'
import { substituteEnv } from './env.ts'
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
  /** The file; invalid source and output entries are holes of the (sparse) arrays. */
  readonly file: PipelineFile
  readonly issues: readonly ConfigIssue[]
}

/**
 * Parses pipeline text (YAML or JSON), substitutes environment variables and validates the
 * pipeline's own keys, entry by entry, so that a bad entry does not hide the problems of the
 * others. `source` names the text in messages (the file path). Throws ConfigError only when the
 * text is not a pipeline at all (bad YAML, not a mapping).
 */
export function parsePipeline(
  text: string,
  source: string,
  env: { readonly [name: string]: string | undefined } = process.env,
): ParsedPipeline {
  const doc = parseDocument(text, { prettyErrors: false })
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => ({
        path: '',
        message: `${source}${e.linePos?.[0] ? `:${e.linePos[0].line}:${e.linePos[0].col}` : ''}: ${e.message.split('\n')[0]}`,
      })),
    )
  }
  const raw = doc.toJS() as unknown
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([
      { path: '', message: `${source}: expected a mapping with name, sources and outputs` },
    ])
  }
  const issues: ConfigIssue[] = []
  const substituted = substituteEnv(raw, env, issues) as { [k: string]: unknown }
  const outline = validate(Outline, substituted)
  if (!outline.ok) issues.push(...outline.issues)
  const entries = <T extends z.ZodType>(key: 'sources' | 'outputs', schema: T): z.output<T>[] => {
    const list = Array.isArray(substituted[key]) ? (substituted[key] as unknown[]) : []
    // Sparse: an invalid entry leaves a hole, so later entries keep their index in messages.
    const out: z.output<T>[] = new Array(list.length)
    list.forEach((entry, i) => {
      const r = validate(schema, entry, `${key}[${i}]`)
      if (r.ok) out[i] = r.value
      else issues.push(...r.issues)
    })
    return out
  }
  const sources = entries('sources', SourceEntry)
  const outputs = entries('outputs', OutputEntry)
  const partial = outline.ok ? outline : validate(Outline.partial(), substituted)
  const rest: Partial<PipelineFile> = partial.ok ? (partial.value as Partial<PipelineFile>) : {}
  const file: PipelineFile = { name: 'pipeline', queries: [], ...rest, sources, outputs } as PipelineFile
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

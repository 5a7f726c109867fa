// Generated benchmark inputs: JSON log lines of about 160 bytes with about 150 distinct paths.

import { closeSync, existsSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Random } from '../src/plugins/inputs/generator.ts'

const PATHS = Array.from({ length: 150 }, (_, i) => `/section${i % 12}/page-${i}.html`)
const AGENTS = ['Mozilla/5.0 (X11; Linux x86_64)', 'curl/8.5.0', 'Googlebot/2.1', 'Mozilla/5.0 (Macintosh)']

/** One log line as a JSON object, deterministic for `seq`. */
export function logEvent(seq: number, r: Random): object {
  return {
    time: 1_700_000_000_000 + seq * 10,
    ip: `10.${r.int(256)}.${r.int(256)}.${r.int(256)}`,
    method: 'GET',
    path: PATHS[Math.floor(r.next() ** 2 * PATHS.length)],
    status: r.next() < 0.95 ? 200 : 404,
    bytes: r.int(50_000),
    agent: AGENTS[r.int(AGENTS.length)],
  }
}

/** Writes (once) and returns the path of a file of `lines` JSON log lines. */
export function jsonlFile(lines: number): string {
  const dir = join(tmpdir(), 'squall-bench')
  mkdirSync(dir, { recursive: true })
  const path = join(dir, `access-${lines}.jsonl`)
  if (existsSync(path) && statSync(path).size > lines * 100) return path
  const fd = openSync(path, 'w')
  const r = new Random(1)
  let chunk = ''
  for (let i = 0; i < lines; i++) {
    r.reseed(1, i)
    chunk += `${JSON.stringify(logEvent(i, r))}\n`
    if (chunk.length > 1 << 20) {
      writeSync(fd, chunk)
      chunk = ''
    }
  }
  writeSync(fd, chunk)
  closeSync(fd)
  return path
}

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import {
  type IoContext,
  type SourceReader,
  type SourceSpec,
  file,
  generator,
  systemClock,
} from '../../../src/index.ts'

const dir = mkdtempSync(join(tmpdir(), 'squall-rescale-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function context(partition: number, partitions: number): IoContext {
  return {
    nodeName: 'src',
    partition,
    partitions,
    log: () => {},
    clock: systemClock,
    count: () => {},
    report: () => {},
    badRecord: (e) => {
      throw e
    },
  }
}

async function open<T>(
  spec: SourceSpec<T>,
  partitions: number,
  positions?: unknown[],
): Promise<SourceReader<T>[]> {
  const readers: SourceReader<T>[] = []
  for (let p = 0; p < partitions; p++) {
    const r = spec.create(context(p, partitions))
    await r.open?.()
    if (positions) r.restore?.(positions[p])
    readers.push(r)
  }
  return readers
}

/**
 * Reads up to `batches` rounds of `max` records (all of it when `batches` is Infinity); reader i
 * reads only every (i+1)-th round, so the partitions' progress differs when a round limit is set.
 */
function read<T>(readers: SourceReader<T>[], batches: number, max: number): T[] {
  const out: T[] = []
  const ended = new Set<number>()
  for (let b = 0; b < batches && ended.size < readers.length; b++) {
    readers.forEach((r, i) => {
      if (ended.has(i) || (Number.isFinite(batches) && b % (i + 1) !== 0)) return
      const batch = r.nextBatch(max)
      if (batch === null) ended.add(i)
      else for (const rec of batch) out.push(rec.value)
    })
  }
  return out
}

/** Reads a while at `from` partitions, rescales to each of `to` in turn, and returns everything read. */
async function readAcross<T>(
  spec: SourceSpec<T>,
  steps: number[],
  batches: number,
  max: number,
): Promise<T[]> {
  let readers = await open(spec, steps[0]!)
  const out: T[] = []
  for (let i = 1; i < steps.length; i++) {
    out.push(...read(readers, batches, max))
    const positions = readers.map((r) => r.snapshot?.() ?? null)
    for (const r of readers) await r.close?.()
    readers = await open(spec, steps[i]!, spec.rescale!(positions, steps[i]!))
  }
  out.push(...read(readers, Number.POSITIVE_INFINITY, max))
  for (const r of readers) await r.close?.()
  return out
}

describe('file source rescaling', () => {
  const lines = Array.from({ length: 2000 }, (_, i) => `line ${i} ${'x'.repeat(i % 37)}`)
  const path = join(dir, 'lines.txt')
  writeFileSync(path, `${lines.join('\n')}\n`)

  it.each([[[2, 3]], [[2, 1]], [[3, 2, 5, 1]], [[1, 4]]])(
    'read at parallelism %j in turn, every line is read exactly once',
    async (steps) => {
      const spec = file({ path, chunkBytes: 256 })
      const got = await readAcross(spec, steps, 3, 97)
      expect(got.length).toBe(lines.length)
      expect([...got].sort()).toEqual([...lines].sort())
    },
  )

  it('a file without a final newline, rescaled right after opening, still gives every line once', async () => {
    const p2 = join(dir, 'no-newline.txt')
    writeFileSync(p2, lines.slice(0, 300).join('\n'))
    const got = await readAcross(file({ path: p2, chunkBytes: 64 }), [2, 3, 1], 0, 50)
    expect([...got].sort()).toEqual(lines.slice(0, 300).sort())
  })
})

describe('generator source rescaling', () => {
  const spec = () => generator({ count: 5000, seed: 9, make: (seq, r) => `${seq}:${r.int(1000)}` })

  it.each([[[2, 3]], [[2, 1]], [[3, 2, 5, 1]]])(
    'produced at parallelism %j in turn, gives the records of an uninterrupted run, each once',
    async (steps) => {
      const straight = read(await open(spec(), 1), Number.POSITIVE_INFINITY, 1000)
      const got = await readAcross(spec(), steps, 4, 61)
      expect(got.length).toBe(5000)
      expect([...got].sort()).toEqual([...straight].sort())
    },
  )
})

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import {
  ManualClock,
  type IoContext,
  type SourceReader,
  type SourceSpec,
  file,
  generator,
  systemClock,
} from '../../../src/index.ts'

const dir = mkdtempSync(join(tmpdir(), 'squall-rescale-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A partition's context; partitions given one `claims` array share their splits, as on threads. */
function context(partition: number, partitions: number, claims?: Int32Array): IoContext {
  return {
    ...(claims ? { claim: () => Atomics.add(claims, 0, 1) } : {}),
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
  const claims = new Int32Array(1)
  for (let p = 0; p < partitions; p++) {
    const r = spec.create(context(p, partitions, claims))
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
    // A source sharing its work is restored through rescale also at the same parallelism.
    const again =
      spec.sharedWork || steps[i] !== steps[i - 1] ? spec.rescale!(positions, steps[i]!) : positions
    readers = await open(spec, steps[i]!, again)
  }
  out.push(...read(readers, Number.POSITIVE_INFINITY, max))
  for (const r of readers) await r.close?.()
  return out
}

describe('file source rescaling', () => {
  const lines = Array.from({ length: 2000 }, (_, i) => `line ${i} ${'x'.repeat(i % 37)}`)
  const path = join(dir, 'lines.txt')
  writeFileSync(path, `${lines.join('\n')}\n`)

  it.each([[[2, 3]], [[2, 1]], [[3, 2, 5, 1]], [[1, 4]], [[2, 2, 2]]])(
    'read at parallelism %j in turn, every line is read exactly once',
    async (steps) => {
      for (const splitBytes of [undefined, 1000, 4096]) {
        const spec = file({ path, chunkBytes: 256, ...(splitBytes ? { splitBytes } : {}) })
        const got = await readAcross(spec, steps, 3, 97)
        expect(got.length).toBe(lines.length)
        expect([...got].sort()).toEqual([...lines].sort())
      }
    },
  )

  it('partitions take splits in turn: one that reads first reads more, each line still once', async () => {
    const spec = file({ path, chunkBytes: 256, splitBytes: 2048 })
    const readers = await open(spec, 2)
    const first = read([readers[0]!], Number.POSITIVE_INFINITY, 50) as string[]
    const rest = read([readers[1]!], Number.POSITIVE_INFINITY, 50) as string[]
    // Partition 1 only read split 1, its own to start with; partition 0 took every other split.
    expect(rest.length).toBeGreaterThan(20)
    expect(rest.length).toBeLessThan(80)
    expect([...first, ...rest].sort()).toEqual([...lines].sort())
    // Without a shared claim each partition takes every other split: p, p + P, …
    const alone = file({ path, chunkBytes: 256, splitBytes: 2048 })
    const r0 = alone.create(context(0, 2))
    await r0.open?.()
    const own = read([r0], Number.POSITIVE_INFINITY, 50) as string[]
    expect(own.length).toBeGreaterThan(800)
    expect(own.length).toBeLessThan(1200)
  })

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

describe('generator source ended by its duration', () => {
  it('restored at the same parallelism it stays ended; a rescale starts it again', async () => {
    const clock = new ManualClock(0)
    const spec = generator({ duration: '1s', make: (seq) => seq })
    const reader = spec.create({ ...context(0, 1), clock })
    await reader.open?.()
    expect(reader.nextBatch(10)).toHaveLength(10)
    clock.advance(1000)
    expect(reader.nextBatch(10)).toBeNull()
    const position = reader.snapshot!()
    expect(position).toEqual({ seq: 10, ended: true })

    const again = spec.create({ ...context(0, 1), clock })
    await again.open?.()
    again.restore!(position)
    expect(again.nextBatch(10)).toBeNull()

    const [rescaled] = spec.rescale!([position], 1)
    const fresh = spec.create({ ...context(0, 1), clock })
    await fresh.open?.()
    fresh.restore!(rescaled)
    expect(fresh.nextBatch(10)!.map((r) => r.value)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19])
  })
})

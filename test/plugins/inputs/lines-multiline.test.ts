// Joining multi-line records in the line inputs: the decoder's flush interval on a manual clock,
// its reports of lines it cannot join, and snapshot → restore of a record in progress for the
// tail and file inputs, read partition by partition as the runtime does.
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ManualClock } from '../../../src/core/clock.ts'
import type { Record } from '../../../src/core/record.ts'
import type { IoContext, SourceReader, SourceSpec } from '../../../src/core/source.ts'
import type { InputContext } from '../../../src/plugins/define.ts'
import { fileInput } from '../../../src/plugins/inputs/builtin.ts'
import { type JournalIntake, journaledSource } from '../../../src/plugins/inputs/journaled.ts'
import { LineDecoder, parseLines, type PositionWithPending } from '../../../src/plugins/inputs/lines.ts'
import tailInput from '../../../src/plugins/inputs/tail.ts'
import { validate } from '../../../src/plugins/config.ts'
import { createParser, jsonParser } from '../../../src/plugins/parsers/index.ts'

const dir = mkdtempSync(join(tmpdir(), 'squall-multiline-input-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const java = () =>
  createParser({
    type: 'multiline',
    formatFirstline: '/^\\d{4}-\\d{2}-\\d{2} /',
    format: '/^(?<time>\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}) (?<level>\\w+) (?<message>.*)/',
    timeFormat: '%Y-%m-%d %H:%M:%S',
  })

/** Event `n`: a first line and `depth` "at" lines; `message` is what its record holds. */
function event(n: number, depth: number): { lines: string[]; message: string } {
  const head = `2024-05-01 10:00:${String(n).padStart(2, '0')} ERROR request ${n} failed`
  const at = Array.from(
    { length: depth },
    (_, i) => `    at app.Handler.step${i}(Handler.java:${n * 10 + i})`,
  )
  return {
    lines: [head, 'java.lang.RuntimeException: boom', ...at],
    message: [`request ${n} failed`, 'java.lang.RuntimeException: boom', ...at].join('\n'),
  }
}

const text = (lines: string[]) => lines.map((l) => `${l}\n`).join('')

function context(clock = new ManualClock(1_000), bad: Error[] = []): IoContext {
  return {
    nodeName: 'logs',
    partition: 0,
    partitions: 1,
    log: () => {},
    clock,
    count: () => {},
    report: () => {},
    badRecord: (e) => {
      bad.push(e)
    },
  }
}

function inputContext(parser = java()): InputContext {
  return {
    name: 'logs',
    path: 'sources[0]',
    baseDir: dir,
    stateDir: undefined,
    log: () => {},
    tag: 'app',
    parser,
  }
}

const messages = (records: Record[]) => records.map((r) => (r.value as { message: string }).message)

describe('LineDecoder with a multiline parser', () => {
  it('holds the last record until multilineFlushMs of clock time pass without a line', () => {
    const clock = new ManualClock(1_000)
    const decoder = new LineDecoder(java(), context(clock), { multilineFlushMs: 500 })
    const e = event(1, 2)
    const out: Record[] = []
    for (const line of e.lines.slice(0, 3)) decoder.push(out, line, clock.now(), 'app', 'a.log', undefined)
    clock.advance(400)
    decoder.push(out, e.lines[3]!, clock.now(), 'app', 'a.log', undefined)
    clock.advance(499)
    decoder.flushIdle(out, clock.now())
    expect(out).toEqual([])
    clock.advance(1)
    decoder.flushIdle(out, clock.now())
    expect(messages(out)).toEqual([e.message])
    expect(out[0]!.time).toBe(Date.parse('2024-05-01T10:00:01Z'))
    expect(decoder.pending()).toEqual([])
  })

  it('without a flush interval only the next first line or the end of input emits a record', () => {
    const clock = new ManualClock(0)
    const decoder = new LineDecoder(java(), context(clock))
    const out: Record[] = []
    for (const line of event(1, 1).lines) decoder.push(out, line, 0, 'app', 'a.log', undefined)
    clock.advance(3_600_000)
    decoder.flushIdle(out, clock.now())
    expect(out).toEqual([])
    decoder.flushAll(out)
    expect(messages(out)).toEqual([event(1, 1).message])
  })

  it('reports a line before any first line and a record the format does not match, with the file and line where they start', () => {
    const bad: Error[] = []
    const decoder = new LineDecoder(java(), context(new ManualClock(0), bad))
    const out: Record[] = []
    const lines = [
      '    at orphan(X.java:1)',
      '2024-05-01 garbage',
      'continuation of garbage',
      ...event(2, 0).lines,
    ]
    lines.forEach((line, i) => {
      decoder.push(out, line, 0, 'app', 'a.log', i + 1)
    })
    decoder.flushAll(out)
    expect(messages(out)).toEqual([event(2, 0).message])
    expect(bad.map((e) => e.message)).toEqual([
      'a.log:1: parser multiline: a line comes before any line matching formatFirstline "    at orphan(X.java:1)"',
      'a.log:2: parser multiline does not match the record of 2 lines starting "2024-05-01 garbage\\ncontinuation of garbage"',
    ])
  })

  it('restores a record in progress into a decoder whose parser no longer joins lines: each line is parsed, none is lost', () => {
    const held = [{ stream: 'x', lines: ['{"a":1}', '{"b":2}'], tag: 'app', time: 5, lineNo: 7 }]
    const plain = new LineDecoder(jsonParser(), context())
    plain.restore(held)
    expect(plain.wrap(42)).toEqual({ position: 42, multiline: held })
    const out: Record[] = []
    plain.flushIdle(out, 0)
    expect(out.map((r) => r.value)).toEqual([{ a: 1 }, { b: 2 }])
    expect(plain.wrap(43)).toBe(43)
  })
})

/**
 * Polls `reader` as the runtime does until `done(records so far)` holds (or 5 s pass), waiting on
 * its `ready()` in between; a manual `clock` moves `step` ms at each empty poll.
 */
async function pump(
  reader: SourceReader<unknown>,
  done: (out: Record[]) => boolean,
  clock?: ManualClock,
  step = 0,
): Promise<Record[]> {
  const out: Record[] = []
  const end = Date.now() + 5_000
  while (!done(out) && Date.now() < end) {
    const batch = reader.nextBatch(3)
    if (batch === null) break
    out.push(...batch)
    if (batch.length === 0) {
      await Promise.race([reader.ready?.(), new Promise((r) => setTimeout(r, 20))])
      clock?.advance(step)
    }
  }
  return out
}

function tailSpec(config: object, parser = java()): SourceSpec<unknown> {
  const v = validate(tailInput.config, config, 'sources[0]')
  if (!v.ok) throw new Error(JSON.stringify(v.issues))
  return tailInput.create(v.value, inputContext(parser)) as SourceSpec<unknown>
}

describe('tail input with a multiline parser', () => {
  it('a snapshot taken with a record in progress holds its lines; a reader restored from it emits the record once, whole', async () => {
    const path = join(dir, 'tail.log')
    const [e1, e2, e3] = [event(1, 2), event(2, 5), event(3, 0)]
    writeFileSync(path, text([...e1.lines, ...e2.lines.slice(0, 3)]))
    const spec = tailSpec({ path, readFromHead: true, pollInterval: 10, multilineFlushInterval: '1h' })
    const first = spec.create(context())
    // Read until every line written so far was taken: e2's first three are then in progress.
    const inProgress = () => (first.snapshot!() as PositionWithPending).multiline[0]?.lines.length ?? 0
    const before = await pump(first, (out) => out.length === 1 && inProgress() === 3)
    expect(messages(before)).toEqual([e1.message])
    const saved = structuredClone(first.snapshot!()) as PositionWithPending
    await first.close?.()
    expect(saved.multiline).toEqual([
      { stream: path, lines: e2.lines.slice(0, 3), tag: 'app', time: 1_000, lineNo: e1.lines.length + 1 },
    ])
    expect(saved.position).toEqual([
      expect.objectContaining({
        path,
        offset: Buffer.byteLength(text([...e1.lines, ...e2.lines.slice(0, 3)])),
      }),
    ])

    appendFileSync(path, text([...e2.lines.slice(3), ...e3.lines]))
    const second = spec.create(context())
    second.restore!(saved)
    const after = await pump(second, (out) => out.length >= 1)
    await second.close?.()
    expect(messages(after)).toEqual([e2.message])
  })

  it('with the flush interval on the clock, the last record comes out once no line came for that long', async () => {
    const path = join(dir, 'flush.log')
    const e = event(4, 3)
    writeFileSync(path, text(e.lines))
    const clock = new ManualClock(0)
    const reader = tailSpec({
      path,
      readFromHead: true,
      pollInterval: 10,
      multilineFlushInterval: '2s',
    }).create(context(clock))
    const got = await pump(reader, (out) => out.length >= 1, clock, 250)
    await reader.close?.()
    expect(messages(got)).toEqual([e.message])
    expect(clock.now()).toBeGreaterThanOrEqual(2_000)
  })
})

describe('file input with a multiline parser', () => {
  it('has one partition; a checkpoint in the middle of a record, restored through rescale, gives the records of a straight read', async () => {
    const path = join(dir, 'file.log')
    const events = Array.from({ length: 12 }, (_, i) => event(i + 1, i % 4))
    writeFileSync(path, text(events.flatMap((e) => e.lines)))
    const v = validate(fileInput.config, { path, splitBytes: 100 }, 'sources[0]')
    if (!v.ok) throw new Error(JSON.stringify(v.issues))
    const spec = fileInput.create(v.value, inputContext()) as SourceSpec<unknown>
    expect(spec.maxPartitions).toBe(1)

    const first = spec.create(context())
    await first.open?.()
    const head: Record[] = []
    for (let i = 0; i < 6; i++) head.push(...(first.nextBatch(4) ?? []))
    const saved = structuredClone(first.snapshot!()) as PositionWithPending
    first.close?.()
    expect(saved.multiline).toHaveLength(1)
    expect(saved.multiline[0]!.lines.length).toBeGreaterThan(0)

    const [position] = spec.rescale!([saved], 1)
    const second = spec.create(context())
    await second.open?.()
    second.restore!(position)
    const tail: Record[] = []
    for (let b = second.nextBatch(5); b !== null; b = second.nextBatch(5)) tail.push(...b)
    second.close?.()
    expect(messages([...head, ...tail])).toEqual(events.map((e) => e.message))
  })
})

describe('parseLines with a multiline parser over an unbounded source (stdin)', () => {
  it('emits the last record once the flush interval passes on the clock, and wraps the inner position', () => {
    const e = event(5, 2)
    let served = 0
    const inner: SourceSpec<unknown> = {
      kind: 'lines',
      bounded: false,
      maxPartitions: 4,
      create: () => ({
        nextBatch: () => {
          if (served > 0) return []
          served = e.lines.length
          return e.lines.map((line) => ({ value: line, key: undefined, time: 1, tag: 't' }))
        },
        snapshot: () => ({ offset: served }),
      }),
    }
    const spec = parseLines(inner, java(), 'stdin', { multilineFlushMs: 1_000 })
    expect(spec.maxPartitions).toBe(1)
    const clock = new ManualClock(0)
    const reader = spec.create(context(clock))
    expect(reader.nextBatch(100)).toEqual([])
    expect(reader.snapshot!()).toEqual({
      position: { offset: 4 },
      multiline: [{ stream: 'stdin', lines: e.lines, tag: 't', time: 1, lineNo: 1 }],
    })
    clock.advance(999)
    expect(reader.nextBatch(100)).toEqual([])
    clock.advance(1)
    expect(messages(reader.nextBatch(100)!)).toEqual([e.message])
    expect(reader.snapshot!()).toEqual({ position: { offset: 4 }, multiline: [] })
  })
})

describe('syslog (journaled) input with a multiline parser', () => {
  it('a record in progress at a snapshot is part of the position; a reader restored from it on the same journal emits it once, whole', async () => {
    const journal = join(dir, 'journal')
    const [e1, e2, e3] = [event(1, 1), event(2, 4), event(3, 0)]
    let intake: JournalIntake | undefined
    const spec = journaledSource({
      kind: 'syslog',
      dir: journal,
      fsync: 'never',
      maxLagBytes: 1 << 20,
      parser: java(),
      async start(i) {
        intake = i
        return { close: async () => {} }
      },
    })
    const send = (lines: string[]) => intake!.append(lines.map((l) => ['sys', 7, l]))
    const first = spec.create(context())
    await first.open?.()
    await send([...e1.lines, ...e2.lines.slice(0, 2)])
    const inProgress = () => (first.snapshot!() as PositionWithPending).multiline[0]?.lines.length ?? 0
    const before = await pump(first, (out) => out.length === 1 && inProgress() === 2)
    expect(messages(before)).toEqual([e1.message])
    const saved = structuredClone(first.snapshot!())
    await first.close?.()

    const second = spec.create(context())
    await second.open?.()
    second.restore!(saved)
    await send([...e2.lines.slice(2), ...e3.lines])
    const after = await pump(second, (out) => out.length >= 1)
    await second.close?.()
    expect(messages(after)).toEqual([e2.message])
    expect(after[0]!.time).toBe(Date.parse('2024-05-01T10:00:02Z'))
  })
})

// The file output on real files: slicing by the records' event time (strftime directives in
// `path`, in a zone), rolling by `maxFileSize` between chunks, both together, a restarted task
// going on in the right file; and the options exactlyOnce cannot honour refused at build time.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../../../src/core/errors.ts'
import { loadPipeline } from '../../../src/pipeline/load.ts'
import fileOutput from '../../../src/plugins/outputs/file.ts'
import { openDelivery, rec } from './delivery-support.ts'

const root = mkdtempSync(join(tmpdir(), 'squall-file-output-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

let n = 0
const fresh = () => join(root, String(n++))

/** The JSON records of a file, in order. */
const records = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { [k: string]: unknown })

const at = (iso: string) => Date.parse(iso)

describe('file output', () => {
  it('slices files by the event time of each record (UTC), not by when they are written', async () => {
    const dir = fresh()
    const delivery = await openDelivery(fileOutput, { path: join(dir, 'access.%Y%m%d-%H.log') })
    await delivery.deliver([
      rec({ n: 1 }, 'web', at('2023-11-14T22:59:59.999Z')),
      rec({ n: 2 }, 'web', at('2023-11-14T23:00:00Z')),
      rec({ n: 3 }, 'web', at('2023-11-14T22:30:00Z')),
    ])
    await delivery.deliver([rec({ n: 4 }, 'web', at('2023-11-15T00:00:00Z'))])
    expect(readdirSync(dir).sort()).toEqual([
      'access.20231114-22.log',
      'access.20231114-23.log',
      'access.20231115-00.log',
    ])
    expect(records(join(dir, 'access.20231114-22.log'))).toEqual([{ n: 1 }, { n: 3 }])
    expect(records(join(dir, 'access.20231114-23.log'))).toEqual([{ n: 2 }])
    expect(records(join(dir, 'access.20231115-00.log'))).toEqual([{ n: 4 }])
  })

  it('slices in the configured timezone, with directories from the path made as needed', async () => {
    const dir = fresh()
    const delivery = await openDelivery(fileOutput, {
      path: join(dir, '%Y/%m/%d.log'),
      timezone: '+09:00',
    })
    await delivery.deliver([
      rec({ n: 1 }, 'web', at('2023-12-31T14:59:59Z')),
      rec({ n: 2 }, 'web', at('2023-12-31T15:00:00Z')),
    ])
    expect(records(join(dir, '2023/12/31.log'))).toEqual([{ n: 1 }])
    expect(records(join(dir, '2024/01/01.log'))).toEqual([{ n: 2 }])
  })

  it('rolls to .1, .2, … once a file has reached maxFileSize, never splitting a chunk', async () => {
    const dir = fresh()
    const path = join(dir, 'out.log')
    const delivery = await openDelivery(fileOutput, { path, maxFileSize: 40 })
    // Each record is 15 bytes as a JSON line.
    const chunk = (from: number, count: number) =>
      Array.from({ length: count }, (_, i) => rec({ s: String(from + i).padStart(6, '0') }))
    const line = `${JSON.stringify({ s: '000000' })}\n`
    expect(line.length).toBe(15)
    await delivery.deliver(chunk(0, 2)) // out.log: 30 bytes, below 40
    await delivery.deliver(chunk(2, 2)) // out.log: 60 bytes, now full
    await delivery.deliver(chunk(4, 1)) // out.log.1: 15
    await delivery.deliver(chunk(5, 3)) // out.log.1: 60, full
    await delivery.deliver(chunk(8, 1)) // out.log.2
    expect(readdirSync(dir).sort()).toEqual(['out.log', 'out.log.1', 'out.log.2'])
    const seq = (p: string) => records(join(dir, p)).map((r) => Number(r.s))
    expect(seq('out.log')).toEqual([0, 1, 2, 3])
    expect(seq('out.log.1')).toEqual([4, 5, 6, 7])
    expect(seq('out.log.2')).toEqual([8])

    // A task that starts again (after a restart) goes on in the first file with room.
    const again = await openDelivery(fileOutput, { path, maxFileSize: 40 })
    await again.deliver(chunk(9, 1))
    expect(seq('out.log.2')).toEqual([8, 9])
    expect(readFileSync(path, 'utf8').length).toBe(60)
  })

  it('rolls each time slice by size on its own', async () => {
    const dir = fresh()
    const delivery = await openDelivery(fileOutput, { path: join(dir, 'a-%Y%m%d.log'), maxFileSize: '10' })
    const day1 = at('2024-02-28T12:00:00Z')
    const day2 = at('2024-02-29T12:00:00Z')
    await delivery.deliver([rec({ d: 1, i: 0 }, 'x', day1), rec({ d: 2, i: 0 }, 'x', day2)])
    await delivery.deliver([rec({ d: 1, i: 1 }, 'x', day1)])
    await delivery.deliver([rec({ d: 2, i: 1 }, 'x', day2), rec({ d: 2, i: 2 }, 'x', day2)])
    expect(readdirSync(dir).sort()).toEqual([
      'a-20240228.log',
      'a-20240228.log.1',
      'a-20240229.log',
      'a-20240229.log.1',
    ])
    expect(records(join(dir, 'a-20240228.log'))).toEqual([{ d: 1, i: 0 }])
    expect(records(join(dir, 'a-20240228.log.1'))).toEqual([{ d: 1, i: 1 }])
    expect(records(join(dir, 'a-20240229.log'))).toEqual([{ d: 2, i: 0 }])
    expect(records(join(dir, 'a-20240229.log.1'))).toEqual([
      { d: 2, i: 1 },
      { d: 2, i: 2 },
    ])
  })

  it('exactlyOnce with time directives in path, maxFileSize or timezone is a config error naming each option', async () => {
    const dir = fresh()
    const pipeline = join(dir, 'pipeline.yaml')
    mkdirSync(dir, { recursive: true })
    writeFileSync(
      pipeline,
      `name: eo
state: { dir: ./state }
sources:
  - { name: gen, type: generator, record: { a: 1 }, count: 1 }
outputs:
  - { type: file, path: ./out/%Y%m%d, exactlyOnce: true, maxFileSize: 1MiB, timezone: "+09:00" }
  - { type: file, path: ./plain, exactlyOnce: true }
`,
    )
    let error: unknown
    try {
      await loadPipeline(pipeline, { env: {}, log: () => {} })
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).code).toBe('ERR_CONFIG')
    expect((error as ConfigError).issues.map((i) => i.path)).toEqual([
      'outputs[0].path',
      'outputs[0].maxFileSize',
      'outputs[0].timezone',
    ])
    expect((error as ConfigError).message).toContain('cannot slice them by time, got "./out/%Y%m%d"')
    expect((error as ConfigError).message).toContain(
      'cannot roll by size; remove maxFileSize, or exactlyOnce',
    )
    expect(existsSync(join(dir, 'out'))).toBe(false)
  })
})

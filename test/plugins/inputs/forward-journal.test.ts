import { afterEach, describe, expect, it } from 'vitest'
import { type IoContext, type SourceReader, systemClock } from '../../../src/index.ts'
import { ForwardClient } from '../../../src/plugins/forward/client.ts'
import type { InputContext } from '../../../src/plugins/define.ts'
import forwardInput, { ForwardInputConfig } from '../../../src/plugins/inputs/forward.ts'

const open: Array<{ reader: SourceReader<unknown>; client: ForwardClient }> = []
afterEach(async () => {
  for (const { reader, client } of open.splice(0)) {
    await client.close()
    await reader.close?.()
  }
})

/** Opens a forward input with its default journal settings (fsync `batch`); resolves with its port. */
async function startInput(): Promise<{ reader: SourceReader<unknown>; port: number }> {
  const ctx: InputContext = {
    name: 'fluent',
    path: 'sources[0]',
    baseDir: process.cwd(),
    stateDir: undefined,
    log: () => {},
    tag: 'fluent',
    parser: undefined,
  }
  const spec = forwardInput.create(ForwardInputConfig.parse({ port: 0, bind: '127.0.0.1' }), ctx)
  let port = 0
  const io: IoContext = {
    nodeName: 'fluent',
    partition: 0,
    partitions: 1,
    log: () => {},
    clock: systemClock,
    count: () => {},
    report: (channel, data) => {
      if (channel === 'listening:fluent') port = (data as { port: number }).port
    },
    badRecord: (e) => {
      throw e
    },
  }
  const reader = spec.create(io)
  await reader.open?.()
  return { reader, port }
}

describe('forward input journal', () => {
  it('with the default fsync (batch), a sender that waits for every ack gets each within milliseconds and every event reaches the job', async () => {
    const { reader, port } = await startInput()
    const client = new ForwardClient({ servers: [{ host: '127.0.0.1', port }] })
    open.push({ reader, client })
    const t0 = performance.now()
    for (let chunk = 0; chunk < 10; chunk++) {
      const entries = Array.from({ length: 10 }, (_, i) => ({
        time: 1_700_000_000_000 + chunk * 10 + i,
        nanos: (chunk * 10 + i) * 1_000_000,
        record: { seq: chunk * 10 + i },
      }))
      await client.send('app.web', entries)
    }
    const elapsed = performance.now() - t0
    // Ten acks in a row: a sync wait of a second per append would take ten seconds.
    expect(elapsed).toBeLessThan(3000)
    const records = reader.nextBatch(1000) ?? []
    expect(records.map((r) => (r.value as { seq: number }).seq)).toEqual(
      Array.from({ length: 100 }, (_, i) => i),
    )
    expect(records[0]!.tag).toBe('app.web')
    expect(records[99]!.time).toBe(1_700_000_000_099)
  })
})

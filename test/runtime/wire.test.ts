import { describe, expect, it } from 'vitest'
import type { Record } from '../../src/core/record.ts'
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads'
import { BatchDecoder } from '../../src/runtime/batch-codec.ts'
import { BatchingPort, type WireMessage } from '../../src/runtime/wire.ts'

describe('messages between threads', () => {
  it('go out as one message per flush, in order, with every buffer transferred', () => {
    const { port1, port2 } = new MessageChannel()
    // No send interval: every flush sends.
    const port = new BatchingPort(port1, 0)
    const batch: Record[] = [{ value: 'x', key: 'x', time: 1, tag: '' }]
    const b1 = port.encoder.encode(batch)
    const b2 = port.encoder.encode(batch)
    port.post({ k: 'r', t: 3, c: 0, b: b1 }, [b1.buffer as ArrayBuffer])
    port.post({ k: 'w', t: 3, c: 0, time: 10 })
    port.post({ k: 'r', t: 4, c: 1, b: b2 }, [b2.buffer as ArrayBuffer])
    expect(receiveMessageOnPort(port2)).toBeUndefined()
    port.flush()
    // Transferred: the sender's views are detached.
    expect(b1.byteLength).toBe(0)
    expect(b2.byteLength).toBe(0)
    const m = receiveMessageOnPort(port2)?.message as WireMessage
    expect(m.k).toBe('m')
    const list = (m as { list: WireMessage[] }).list
    expect(list.map((x) => [x.k, 't' in x ? x.t : -1])).toEqual([
      ['r', 3],
      ['w', 3],
      ['r', 4],
    ])
    const decoder = new BatchDecoder()
    expect(decoder.decode((list[0] as { b: Uint8Array }).b)).toEqual(batch)
    expect(decoder.decode((list[2] as { b: Uint8Array }).b)).toEqual(batch)
    expect(receiveMessageOnPort(port2)).toBeUndefined()
    // A flush with nothing held sends nothing; a single message goes out as it is.
    port.flush()
    port.post({ k: 'credit', n: 2 })
    port.flush()
    expect(receiveMessageOnPort(port2)?.message).toEqual({ k: 'credit', n: 2 })
    port1.close()
  })

  it('leave without a flush in the next check phase of the event loop, after the microtasks', async () => {
    const { port1, port2 } = new MessageChannel()
    const port = new BatchingPort(port1, 0)
    port.post({ k: 'e', t: 1, c: 0 })
    // Held past the current task's microtasks: what other messages handled in this turn of the
    // event loop cause goes out with it.
    await Promise.resolve()
    expect(receiveMessageOnPort(port2)).toBeUndefined()
    port.post({ k: 'credit', n: 1 })
    await new Promise((r) => setImmediate(r))
    const m = receiveMessageOnPort(port2)?.message
    expect(m).toEqual({
      k: 'm',
      list: [
        { k: 'e', t: 1, c: 0 },
        { k: 'credit', n: 1 },
      ],
    })
    port1.close()
  })

  it('go at most once per send interval: sooner, they wait for its end; an end of input or a full list goes at once', async () => {
    const { port1, port2 } = new MessageChannel()
    const port = new BatchingPort(port1, 40)
    // Nothing sent yet: the first flush sends.
    port.post({ k: 'credit', n: 1 })
    port.flush()
    expect(receiveMessageOnPort(port2)?.message).toEqual({ k: 'credit', n: 1 })
    const sent = performance.now()
    port.post({ k: 'w', t: 1, c: 0, time: 5 })
    port.flush()
    expect(receiveMessageOnPort(port2)).toBeUndefined()
    port.post({ k: 'w', t: 1, c: 0, time: 6 })
    await new Promise((r) => setImmediate(r))
    expect(receiveMessageOnPort(port2)).toBeUndefined()
    // Its timer sends what was held, in order, as one message, once the interval is up.
    let m: unknown
    while ((m = receiveMessageOnPort(port2)?.message) === undefined && performance.now() - sent < 5_000)
      await new Promise((r) => setTimeout(r, 2))
    expect(performance.now() - sent).toBeGreaterThanOrEqual(35)
    expect(m).toEqual({
      k: 'm',
      list: [
        { k: 'w', t: 1, c: 0, time: 5 },
        { k: 'w', t: 1, c: 0, time: 6 },
      ],
    })
    // Within the next interval, an end of input goes at once, with what was held before it.
    port.post({ k: 'w', t: 1, c: 0, time: 7 })
    port.post({ k: 'e', t: 1, c: 0 })
    port.flush()
    expect(receiveMessageOnPort(port2)?.message).toEqual({
      k: 'm',
      list: [
        { k: 'w', t: 1, c: 0, time: 7 },
        { k: 'e', t: 1, c: 0 },
      ],
    })
    // So do 64 messages held; 63 wait.
    for (let i = 0; i < 63; i++) port.post({ k: 'credit', n: 1 })
    port.flush()
    expect(receiveMessageOnPort(port2)).toBeUndefined()
    port.post({ k: 'credit', n: 1 })
    port.flush()
    const full = receiveMessageOnPort(port2)?.message as { list: unknown[] } | undefined
    expect(full?.list).toHaveLength(64)
    port1.close()
  })
})

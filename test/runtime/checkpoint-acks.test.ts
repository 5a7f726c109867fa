// A thread whose job has failed acknowledges no checkpoint. A sink whose write throws fails the
// job, yet the barrier behind the failed batch may still reach the sink in the same turn of the
// loop: acknowledged, it would complete a checkpoint that resumes after the failed batch.

import { describe, expect, it } from 'vitest'
import { memoryLogger } from '../../src/core/logger.ts'
import type { Record } from '../../src/core/record.ts'
import type { SinkWriter } from '../../src/core/source.ts'
import { type AckSink, type TaskAck, TaskCheckpointer } from '../../src/runtime/checkpoint-tasks.ts'
import type { Executor } from '../../src/runtime/executor.ts'
import type { NodePlan } from '../../src/runtime/plan.ts'
import { SinkTask } from '../../src/runtime/sink-task.ts'
import type { TaskEnv } from '../../src/runtime/task-env.ts'

/** One sink task on a thread of its own, its checkpointer, and what the coordinator was told. */
function thread(writer: SinkWriter) {
  let failure: unknown
  const env = {
    job: 'acks',
    log: memoryLogger(),
    clock: { now: () => 0 },
    maxParallelism: 128,
    metrics: () => ({}),
    report: () => {},
    fail: (e: unknown) => {
      failure ??= e
    },
  } as unknown as TaskEnv
  const node = {
    spec: { name: 'out', kind: 'sink' },
    parallelism: 1,
    inputs: [],
    outputs: [],
    firstTaskId: 0,
  }
  const sink = new SinkTask(node as unknown as NodePlan, 0, 0, writer, 1, env)
  const executor = {
    operators: [],
    sinks: [sink],
    sources: [],
    plan: { maxParallelism: 128 },
    get failed() {
      return failure
    },
  } as unknown as Executor
  const acks: TaskAck[] = []
  const coordinator: AckSink = { ack: (a) => acks.push(a), decline: () => {} }
  const checkpointer = new TaskCheckpointer(executor, coordinator)
  return { sink, checkpointer, acks, failure: () => failure }
}

const batch = (values: number[]): Record<number>[] =>
  values.map((value) => ({ value, key: undefined, time: value, tag: '' }))

describe('checkpoint acks of a failed thread', () => {
  it('a sink acks the barrier behind the batches it wrote', () => {
    const written: number[] = []
    const t = thread({ write: (records) => void written.push(...records.map((r) => r.value as number)) })
    t.checkpointer.trigger(1, '/nonexistent')
    t.sink.onRecords(batch([1, 2, 3]))
    t.sink.onBarrier(1)
    expect(written).toEqual([1, 2, 3])
    expect(t.acks.map((a) => [a.id, a.kind])).toEqual([[1, 'sink']])
  })

  it('after a write threw, the barrier behind the failed batch is not acked: no checkpoint skips it', () => {
    const t = thread({
      write: (records) => {
        if (records.some((r) => r.value === 2)) throw new Error('the output refused the batch')
      },
    })
    t.checkpointer.trigger(1, '/nonexistent')
    t.sink.onRecords(batch([1]))
    t.sink.onBarrier(1)
    t.checkpointer.trigger(2, '/nonexistent')
    t.sink.onRecords(batch([2]))
    // The failure is recorded; the barrier of checkpoint 2 arrives in the same turn.
    expect(String(t.failure())).toMatch(/failed to write/)
    t.sink.onBarrier(2)
    expect(t.acks.map((a) => a.id)).toEqual([1])
  })
})

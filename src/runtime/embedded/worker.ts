// A worker thread of the embedded runner: builds the topology from its module and runs its tasks,
// then, kept by the runner's pool, the next job it is given.

import { type MessagePort, parentPort, workerData } from 'node:worker_threads'
import { systemClock } from '../../core/clock.ts'
import { consoleLogger } from '../../core/logger.ts'
import { Executor } from '../executor.ts'
import { importModule, loadTopology } from '../load-module.ts'
import type { Topology } from '../../core/topology.ts'
import { planTopology } from '../plan.ts'
import { BatchingPort, type MessageSender, type RemotePort, type WireMessage } from '../wire.ts'
import { serializeError } from './worker-errors.ts'
import { SquallError } from '../../core/errors.ts'
import { installStateBackend } from '../../state/backend-choice.ts'
import { TaskCheckpointer } from '../checkpoint-tasks.ts'
import {
  type RestoreData,
  type ToWorkerCheckpoint,
  handleCheckpointMessage,
  postingAcks,
} from '../checkpoint-threads.ts'

/** What a worker is told of its job: at start (`workerData`), or in a `job` message. */
export interface WorkerData {
  moduleUrl: string
  exportName: string
  /** Applied to the loaded topology (EmbeddedOptions.decorate). */
  decorate?: { moduleUrl: string; exportName: string; args?: unknown }
  thread: number
  threads: number
  parallelism: number
  batchSize?: number
  sinkQueueBound?: number
  lingerMs?: number
  sendIntervalMs?: number
  timerSliceMs?: number
  ports: { [thread: string]: MessagePort }
  /** One counter per plan node, shared by all threads: source partitions claim splits from it. */
  claims: SharedArrayBuffer
  /** Set when the job has a state directory: where LMDB files go and which backend to use. */
  state?: { dir: string; backend: 'memory' | 'lmdb' }
}

/**
 * The port to the runner. What sinks report during one turn of the event loop goes as one message
 * (`reports`), in the turn's check phase (`setImmediate`: after every message from other threads
 * that arrived in the turn has been handled) or before any other message, so reports keep their
 * order with each other and with everything else the worker says. Sent one by one, each report
 * costs a thread-to-thread message (10–20 µs on each side), and a sink reporting every small batch
 * sends thousands a second.
 */
class RunnerPort {
  private pending: { channel: string; data: unknown }[] = []
  private scheduled = false
  constructor(private readonly port: MessagePort) {}

  on(event: 'message', listener: (m: RunnerMessage) => void): void {
    this.port.on(event, listener)
  }

  report(channel: string, data: unknown): void {
    this.pending.push({ channel, data })
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(() => this.flush())
    }
  }

  postMessage(message: unknown): void {
    this.flush()
    this.port.postMessage(message)
  }

  private flush(): void {
    this.scheduled = false
    const list = this.pending
    if (list.length === 0) return
    this.pending = []
    this.port.postMessage(list.length === 1 ? { k: 'report', ...list[0] } : { k: 'reports', list })
  }
}

const parent = new RunnerPort(parentPort!)

type RunnerMessage = { k: string; restore?: RestoreData; data?: WorkerData }

/** What the job in progress does with a message from the runner; undefined between jobs. */
let onRunnerMessage: ((m: RunnerMessage) => void) | undefined
/** Messages for the job that is loading, kept until it listens; undefined between jobs. */
let early: RunnerMessage[] | undefined
/** The ports of the last job, closed when the next one starts. */
let lastPorts: MessagePort[] = []

parent.on('message', (m: RunnerMessage) => {
  if (m.k === 'job') startJob(m.data!)
  else if (onRunnerMessage !== undefined) onRunnerMessage(m)
  else early?.push(m)
})

function startJob(data: WorkerData): void {
  for (const p of lastPorts) p.close()
  lastPorts = Object.values(data.ports)
  early = []
  runJob(data).catch((e) => {
    onRunnerMessage = undefined
    early = undefined
    parent.postMessage({ k: 'error', error: serializeError(e) })
  })
}

/**
 * The job listens from now on. The messages that came while it was loading reach it first, on the
 * next turn of the event loop, as they would have reached a listener added late.
 */
function listen(handler: (m: RunnerMessage) => void): void {
  const queued = early ?? []
  early = undefined
  if (queued.length === 0) {
    onRunnerMessage = handler
    return
  }
  early = []
  setImmediate(() => {
    const later = early ?? []
    early = undefined
    onRunnerMessage = handler
    for (const m of [...queued, ...later]) handler(m)
  })
}

/** The loaded topology, with the job's decorator applied when it has one. */
async function decorated(data: WorkerData, topology: Topology): Promise<Topology> {
  const d = data.decorate
  if (d === undefined) return topology
  const mod = (await importModule(d.moduleUrl)) as { [name: string]: unknown }
  const fn = mod[d.exportName]
  if (typeof fn !== 'function') {
    throw new SquallError(
      'ERR_MODULE_LOAD',
      `topology decorator "${d.exportName}" is not a function exported by ${d.moduleUrl}`,
    )
  }
  return (fn as (t: Topology, args: unknown) => Topology)(topology, d.args)
}

/**
 * Resolves once what this thread wrote to its stdout and stderr has reached the parent thread (a
 * worker's write completes when the parent takes the chunk). The lines go over a port of their own,
 * in no order with the job's messages: a `done` sent before them could overtake them, and a
 * process ending right after its job (its threads kept idle and unreferenced) would lose them.
 */
async function stdioDelivered(): Promise<void> {
  for (const stream of [process.stdout, process.stderr]) {
    while (stream.writableLength > 0) await new Promise((resolve) => setTimeout(resolve, 1))
  }
}

/**
 * Runs one job: answers `ready` once its tasks are open, then `done` (or `error`) once they are
 * closed, the last message of the job; messages from the runner after that wait for the next job.
 */
async function runJob(data: WorkerData): Promise<void> {
  const topology = await decorated(data, await loadTopology(data.moduleUrl, data.exportName))
  const plan = planTopology(topology, data.parallelism, data.threads)
  const remotes = new Map<number, RemotePort>()
  for (const [other, port] of Object.entries(data.ports)) {
    remotes.set(Number(other), new BatchingPort(port as MessageSender, data.sendIntervalMs))
  }
  const executor = new Executor(
    plan,
    data.thread,
    {
      job: topology.name,
      log: consoleLogger(),
      clock: systemClock,
      ...(data.batchSize ? { batchSize: data.batchSize } : {}),
      ...(data.sinkQueueBound ? { sinkQueueBound: data.sinkQueueBound } : {}),
      ...(data.lingerMs !== undefined ? { lingerMs: data.lingerMs } : {}),
      ...(data.timerSliceMs !== undefined ? { timerSliceMs: data.timerSliceMs } : {}),
      report: (channel, payload) => parent.report(channel, payload),
      claims: new Int32Array(data.claims),
    },
    remotes,
  )
  for (const [other, port] of Object.entries(data.ports)) {
    const from = Number(other)
    port.on('message', (m: WireMessage) => executor.receive(from, m))
  }
  const acks = postingAcks((m) => parent.postMessage(m))
  const checkpoints = new TaskCheckpointer(executor, acks)
  let finalId = -1
  // Every way this worker ends closes its tasks once, then answers `done` or `error`.
  let closed: Promise<void> | undefined
  const closeTasks = () => (closed ??= executor.close().finally(stdioDelivered))
  let answered = false
  const finish = async () => {
    await closeTasks()
    if (answered) return
    answered = true
    onRunnerMessage = undefined
    parent.postMessage({ k: 'done', metrics: executor.metrics() })
  }
  const failWith = async (e: unknown) => {
    await closeTasks()
    if (answered) return
    answered = true
    onRunnerMessage = undefined
    // The counters up to the end go too: a stopped job's result counts what it did.
    parent.postMessage({ k: 'error', error: serializeError(e), metrics: executor.metrics() })
  }
  let opened: Promise<void> = Promise.resolve()
  let started: Promise<void> | undefined
  listen((m) => {
    if (m.k.startsWith('cp-')) {
      const c = m as ToWorkerCheckpoint
      if (c.k === 'cp-final') finalId = c.id
      const committed = handleCheckpointMessage(checkpoints, c, (e) => executor.fail(e), acks.decline)
      if (c.k === 'cp-commit' && c.id === finalId) {
        void committed!.then(() => (executor.failed === undefined ? finish() : failWith(executor.failed)))
      }
      return
    }
    if (m.k === 'start') {
      const restore = m.restore
      started = (restore ? checkpoints.restore(restore.manifest, restore.dir) : Promise.resolve())
        .then(() => executor.run())
        .then(async () => {
          if (data.state) return parent.postMessage({ k: 'ran' })
          await checkpoints.publishAtEnd()
          await finish()
        })
        .catch(failWith)
    } else if (m.k === 'close') {
      // Nothing to run, or the job failed elsewhere: a run in progress stops first; the tasks close
      // once they have opened.
      if (started) executor.fail(new SquallError('ERR_JOB_CANCELLED', 'the job is ending'))
      void (started ?? opened).then(finish, finish)
    } else if (m.k === 'drain') executor.drain()
    else if (m.k === 'stop') executor.fail(new SquallError('ERR_JOB_CANCELLED', 'the job was stopped'))
    else if (m.k === 'metrics') parent.postMessage({ k: 'metrics', metrics: executor.metrics() })
  })
  opened = (async () => {
    if (data.state) installStateBackend(executor, data.state)
    await executor.open()
  })()
  await opened.catch(async (e: unknown) => {
    await closeTasks()
    throw e
  })
  parent.postMessage({ k: 'ready' })
}

startJob(workerData as WorkerData)

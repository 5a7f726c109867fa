// The embedded runner: runs a topology in this process, on the main thread or on worker threads.

import { availableParallelism } from 'node:os'
import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads'
import { type Clock, systemClock } from '../../core/clock.ts'
import { SquallError, check } from '../../core/errors.ts'
import { type Logger, consoleLogger } from '../../core/logger.ts'
import type { Topology } from '../../core/topology.ts'
import { Executor } from '../executor.ts'
import {
  type CheckpointStatus,
  type Job,
  type JobResult,
  type JobStatus,
  mergeMetrics,
  type StopOptions,
  stopAfterCheckpoint,
} from '../job.ts'
import { loadTopology, moduleUrl } from '../load-module.ts'
import { planTopology } from '../plan.ts'
import type { NodeMetrics } from '../task-env.ts'
import { deserializeError, type SerializedError } from './worker-errors.ts'
import { type JobStateOptions, resolveStateOptions } from '../checkpoint-recovery.ts'
import { LocalCheckpoints } from '../checkpoint-local.ts'
import { ThreadCheckpoints } from '../checkpoint-threads.ts'
import { acquireThread, releaseThread } from './thread-pool.ts'
import type { WorkerData } from './worker.ts'

/** Options of an embedded job. */
export interface EmbeddedOptions {
  /**
   * Threads to run on: 1 (default) runs every task on the calling thread; N > 1 starts N worker
   * threads; `'auto'` uses one per core. With more than one thread, `module` is required: each
   * worker imports it to build the topology's functions on its own thread.
   */
  threads?: number | 'auto'
  /** Default parallelism of nodes that set none (default: the number of threads). */
  parallelism?: number
  /** The module whose export is the topology (a path or URL); required when threads > 1. */
  module?: string
  exportName?: string
  /**
   * With threads > 1: what each worker applies to the topology it imports from `module`, so that
   * it builds the same graph as the `topology` given here when that is a changed copy of the
   * module's (as `withThreadTaps` makes). See `TopologyDecorator`.
   */
  decorate?: TopologyDecorator
  log?: Logger
  clock?: Clock
  batchSize?: number
  sinkQueueBound?: number
  /** See `ExecutorOptions.lingerMs` (default 2 ms). */
  lingerMs?: number
  /**
   * With threads > 1: the least time between two messages from one thread to another, in ms
   * (default 1; 0: a message at every turn of the thread's loop). What is posted meanwhile goes in
   * the next message, as Flink's buffer timeout holds a network buffer: fewer, fuller messages, for
   * at most this much latency per thread crossed. See `BatchingPort`.
   */
  sendIntervalMs?: number
  /**
   * Longest stretch an operator fires the event timers of one watermark before the thread's other
   * tasks run, in ms (default 10; 0: all at once). Output is the same either way.
   */
  timerSliceMs?: number
  /** Receives what sinks report (`collect` sinks use this; the topology's own specs get it too). */
  onReport?: (channel: string, data: unknown) => void
  /**
   * Keyed state and checkpoints: with `state.dir`, the job restores the latest complete
   * checkpoint found there, checkpoints every `state.checkpointInterval`, and two-phase sinks
   * become exactly-once. See docs/state-and-checkpoints.md.
   */
  state?: JobStateOptions
}

/**
 * A function that each worker thread imports and applies to the topology it loads: `module`'s
 * export `exportName`, called as `(topology, args) => Topology`. `args` crosses to the worker by
 * structured clone (a SharedArrayBuffer in it is shared).
 */
export interface TopologyDecorator {
  readonly module: string
  readonly exportName: string
  readonly args?: unknown
}

/** Sinks that want their reports back in the job's owner thread implement this. */
interface ReportReceiver {
  receiveReport(data: unknown): void
}

function routeReports(topology: Topology, onReport?: (channel: string, data: unknown) => void) {
  return (channel: string, data: unknown) => {
    if (channel.startsWith('sink:')) {
      const spec = topology.node(channel.slice(5))?.sink as unknown as Partial<ReportReceiver> | undefined
      spec?.receiveReport?.(data)
    }
    onReport?.(channel, data)
  }
}

/**
 * Starts a topology in this process and returns the running Job. The topology is validated first:
 * a broken graph throws before anything starts.
 */
export function runEmbedded(topology: Topology, options: EmbeddedOptions = {}): Job {
  const threads = options.threads === 'auto' ? availableParallelism() : (options.threads ?? 1)
  check(Number.isInteger(threads) && threads >= 1, 'threads', 'an integer ≥ 1 or "auto"', options.threads)
  const parallelism = options.parallelism ?? threads
  check(
    Number.isInteger(parallelism) && parallelism >= 1,
    'parallelism',
    'an integer ≥ 1',
    options.parallelism,
  )
  const plan = planTopology(topology, parallelism, threads)
  const log = options.log ?? consoleLogger()
  return threads === 1
    ? new LocalJob(topology, plan, options, log)
    : new ThreadedJob(topology, threads, parallelism, options, log)
}

/** Runs a topology to its end and returns the result; rejects if it fails. */
export async function runToEnd(topology: Topology, options: EmbeddedOptions = {}): Promise<JobResult> {
  return runEmbedded(topology, options).done
}

class LocalJob implements Job {
  readonly name: string
  readonly done: Promise<JobResult>
  private state: JobStatus = 'starting'
  private readonly executor: Executor
  /** `performance.now()` at the start: durations use the monotonic clock, to a fraction of a ms. */
  private readonly started = performance.now()
  /** `performance.now()` when processing began (0 before). */
  private running = 0
  /** `Date.now()` at that moment (see `runningSince`). */
  private runningAt = 0
  private readonly checkpoints: LocalCheckpoints

  constructor(
    topology: Topology,
    plan: ReturnType<typeof planTopology>,
    options: EmbeddedOptions,
    log: Logger,
  ) {
    this.name = topology.name
    const state = options.state
      ? { ...resolveStateOptions(options.state), fromCheckpoint: options.state.fromCheckpoint }
      : undefined
    this.executor = new Executor(plan, 0, {
      job: topology.name,
      log,
      clock: options.clock ?? systemClock,
      ...(options.batchSize ? { batchSize: options.batchSize } : {}),
      ...(options.sinkQueueBound ? { sinkQueueBound: options.sinkQueueBound } : {}),
      ...(options.lingerMs !== undefined ? { lingerMs: options.lingerMs } : {}),
      ...(options.timerSliceMs !== undefined ? { timerSliceMs: options.timerSliceMs } : {}),
      report: routeReports(topology, options.onReport),
    })
    this.checkpoints = new LocalCheckpoints(topology, this.executor, state, log)
    this.done = this.start()
  }

  private async start(): Promise<JobResult> {
    const ex = this.executor
    const cp = this.checkpoints
    let error: unknown
    // A job restored as already finished opens nothing, but closes the tasks it built and lets
    // go of the state directory like any other run.
    let nothingToRun = false
    try {
      nothingToRun = await cp.recover()
      if (!nothingToRun) {
        await ex.open()
        await cp.restore()
        this.running = performance.now()
        this.runningAt = Date.now()
        if (this.state === 'starting') this.state = 'running'
        cp.start()
        await ex.run()
        await cp.finish(this.state !== 'draining')
      }
    } catch (e) {
      error = e
    }
    cp.stop()
    await ex.close()
    cp.release()
    const result: JobResult = {
      status: error === undefined ? 'finished' : this.state === 'cancelled' ? 'cancelled' : 'failed',
      metrics: nothingToRun ? {} : cp.metrics(ex.metrics()),
      durationMs: performance.now() - this.started,
      runningMs: nothingToRun ? 0 : performance.now() - (this.running || this.started),
      ...(error === undefined ? {} : { error }),
    }
    this.state = result.status
    if (result.status === 'failed') throw error
    return result
  }

  status(): JobStatus {
    return this.state
  }
  runningSince(): number | undefined {
    return this.runningAt === 0 ? undefined : this.runningAt
  }
  metrics(): { [node: string]: NodeMetrics } {
    return this.executor.metrics()
  }
  drain(): void {
    if (this.state === 'running' || this.state === 'starting') this.state = 'draining'
    this.executor.drain()
  }
  checkpointStatus(): CheckpointStatus {
    return this.checkpoints.status()
  }
  triggerCheckpoint(id?: number): Promise<void> {
    return triggerWhileRunning(this.state, () => this.checkpoints.checkpoint(id))
  }
  stop(options?: StopOptions): Promise<void> {
    return stopJob(this.state, this.checkpoints, options, async () => {
      this.state = 'cancelled'
      this.executor.fail(new SquallError('ERR_JOB_CANCELLED', `job "${this.name}" was stopped`))
      await this.done.catch(() => {})
    })
  }
}

/** States of a job that has ended. */
const ENDED: ReadonlySet<JobStatus> = new Set(['finished', 'failed', 'cancelled'])

/**
 * `Job.stop`: with `options.checkpoint`, a last checkpoint after whose barrier the sources read
 * nothing (while the job runs), then `stopNow` (see `stopAfterCheckpoint`).
 */
function stopJob(
  state: JobStatus,
  checkpoints: { checkpoint(id: number | undefined, stopReading: boolean): Promise<void> },
  options: StopOptions | undefined,
  stopNow: () => Promise<void>,
): Promise<void> {
  return stopAfterCheckpoint(
    options,
    () => triggerWhileRunning(state, () => checkpoints.checkpoint(undefined, true)),
    stopNow,
  )
}

/** `Job.triggerCheckpoint`: `take()` while the job runs; a refusal naming its state otherwise. */
function triggerWhileRunning(state: JobStatus, take: () => Promise<void>): Promise<void> {
  if (state !== 'running')
    return Promise.reject(
      new SquallError('ERR_CHECKPOINT_FAILED', `no checkpoint taken: the job is ${state}`),
    )
  return take()
}

type FromWorker =
  | { k: 'ready' }
  | { k: 'report'; channel: string; data: unknown }
  | { k: 'reports'; list: { channel: string; data: unknown }[] }
  | { k: 'metrics'; metrics: { [node: string]: NodeMetrics } }
  | { k: 'done'; metrics: { [node: string]: NodeMetrics } }
  /** A worker's failure (or cancellation), with its counters when it had tasks. */
  | { k: 'error'; error: SerializedError; metrics?: { [node: string]: NodeMetrics } }
  | { k: 'ran' }
  | { k: 'cp-ack' | 'cp-decline' }

/** How long a failed job waits for its workers to close their tasks before it ends the threads. */
const CLOSE_WAIT_MS = 10_000

/** Resolves when `promise` settles, or after `ms`, calling `late` first. */
function bounded(promise: Promise<unknown>, ms: number, late: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      late()
      resolve()
    }, ms)
  })
  return Promise.race([
    promise.then(
      () => {},
      () => {},
    ),
    timeout,
  ]).finally(() => clearTimeout(timer))
}

class ThreadedJob implements Job {
  readonly name: string
  readonly done: Promise<JobResult>
  private state: JobStatus = 'starting'
  private readonly workers: Worker[] = []
  /** Per worker: removes this job's listeners, before the thread goes back to the pool. */
  private readonly detach: (() => void)[] = []
  private readonly lastMetrics: { [node: string]: NodeMetrics }[] = []
  /** `performance.now()` at the start: durations use the monotonic clock, to a fraction of a ms. */
  private readonly started = performance.now()
  /** `performance.now()` when processing began (0 before). */
  private running = 0
  /** `Date.now()` at that moment (see `runningSince`). */
  private runningAt = 0
  private readonly checkpoints: ThreadCheckpoints

  constructor(
    topology: Topology,
    threads: number,
    parallelism: number,
    options: EmbeddedOptions,
    log: Logger,
  ) {
    this.name = topology.name
    if (!options.module) {
      throw new SquallError(
        'ERR_ARGUMENT',
        `threads: running on ${threads} threads needs the topology's module (option "module"), so each worker can import it`,
      )
    }
    const url = moduleUrl(options.module)
    // One MessageChannel per pair of threads.
    const ports: Map<number, MessagePort>[] = Array.from({ length: threads }, () => new Map())
    for (let a = 0; a < threads; a++) {
      for (let b = a + 1; b < threads; b++) {
        const { port1, port2 } = new MessageChannel()
        ports[a]!.set(b, port1)
        ports[b]!.set(a, port2)
      }
    }
    const report = routeReports(topology, options.onReport)
    const state = options.state
      ? { ...resolveStateOptions(options.state), fromCheckpoint: options.state.fromCheckpoint }
      : undefined
    const checkpoints = new ThreadCheckpoints(topology, threads, parallelism, state, log)
    this.checkpoints = checkpoints
    // Split claims shared by every thread: one counter per node of the plan (as many as the topology's).
    const claims = new SharedArrayBuffer(4 * Math.max(1, topology.nodes.length))
    this.done = new Promise<JobResult>((resolve, reject) => {
      // A state directory that cannot be locked (another live job holds it) or read: no worker
      // starts, so nothing in the directory is touched.
      if (checkpoints.lockError !== undefined) {
        this.state = 'failed'
        reject(checkpoints.lockError)
        return
      }
      let ready = 0
      let ran = 0
      let finished = 0
      let failed = false
      let nothingToRun = false
      // Workers that have closed their tasks (answered `done` or `error`) or exited.
      const ended = new Set<number>()
      let allEnded = () => {}
      const everyEnded = new Promise<void>((r) => {
        allEnded = r
      })
      const workerEnded = (i: number) => {
        ended.add(i)
        if (ended.size === threads) allEnded()
      }
      // A failure, at any point from start to end: every worker closes the tasks it built (a run
      // in progress stops first), then the threads end and the state directory is released, once
      // recovery has settled (it may still hold the lock), before the job settles.
      const fail = (error: unknown) => {
        if (failed) return
        failed = true
        checkpoints.stop()
        if (this.state !== 'cancelled') this.state = 'failed'
        for (const [i, w] of this.workers.entries()) if (!ended.has(i)) w.postMessage({ k: 'close' })
        const closed = bounded(everyEnded, CLOSE_WAIT_MS, () => {
          const left = this.workers.map((_, i) => i).filter((i) => !ended.has(i))
          log(
            'warn',
            `worker threads ${left.join(', ')} did not close their tasks within ${CLOSE_WAIT_MS} ms`,
          )
        })
        void Promise.all([closed, checkpoints.recovered.catch(() => false)])
          .then(() => Promise.all(this.workers.map((w) => w.terminate())))
          .then(() => {
            checkpoints.release()
            if (this.state === 'cancelled') {
              resolve({
                status: 'cancelled',
                metrics: mergeMetrics(this.lastMetrics),
                durationMs: performance.now() - this.started,
                runningMs: performance.now() - (this.running || this.started),
              })
            } else reject(error)
          })
      }
      for (let i = 0; i < threads; i++) {
        const own = ports[i]!
        const data: WorkerData = {
          moduleUrl: url,
          exportName: options.exportName ?? 'default',
          ...(options.decorate
            ? {
                decorate: {
                  moduleUrl: moduleUrl(options.decorate.module),
                  exportName: options.decorate.exportName,
                  args: options.decorate.args,
                },
              }
            : {}),
          thread: i,
          threads,
          parallelism,
          batchSize: options.batchSize,
          sinkQueueBound: options.sinkQueueBound,
          lingerMs: options.lingerMs,
          sendIntervalMs: options.sendIntervalMs,
          timerSliceMs: options.timerSliceMs,
          ports: Object.fromEntries(own),
          claims,
          ...(state ? { state: { dir: state.dir, backend: state.backend } } : {}),
        }
        const worker = acquireThread(data, [...own.values()])
        this.workers.push(worker)
        this.lastMetrics.push({})
        const onMessage = (m: FromWorker) => {
          if (checkpoints.receive(m)) return
          switch (m.k) {
            case 'ready':
              if (++ready === threads) {
                checkpoints.recovered.then((done) => {
                  if (failed) return
                  if (done) {
                    // Nothing to run: each worker closes the tasks it opened and reports `done`.
                    nothingToRun = true
                    for (const w of this.workers) w.postMessage({ k: 'close' })
                    return
                  }
                  this.running = performance.now()
                  this.runningAt = Date.now()
                  if (this.state === 'starting') this.state = 'running'
                  checkpoints.start(this.workers)
                  const restore = checkpoints.restore
                  for (const w of this.workers) w.postMessage({ k: 'start', ...(restore ? { restore } : {}) })
                }, fail)
              }
              break
            case 'ran':
              if (++ran === threads && !failed) checkpoints.final(this.state !== 'draining').catch(fail)
              break
            case 'report':
              report(m.channel, m.data)
              break
            case 'reports':
              for (const r of m.list) report(r.channel, r.data)
              break
            case 'metrics':
              this.lastMetrics[i] = m.metrics
              break
            case 'done':
              this.lastMetrics[i] = m.metrics
              workerEnded(i)
              if (failed) break
              if (++finished === threads) {
                this.state = 'finished'
                checkpoints.stop()
                checkpoints.release()
                const counters = checkpoints.counters()
                if (counters) this.lastMetrics.push({ checkpoints: counters })
                // The job ran until its last thread was done; stopping the threads is not running.
                const runningMs = nothingToRun ? 0 : performance.now() - (this.running || this.started)
                // Every thread answered `done`, its last message of the job: each goes back to the
                // pool, warm for the next job of this process.
                for (const detach of this.detach) detach()
                for (const worker of this.workers) releaseThread(worker)
                resolve({
                  status: 'finished',
                  metrics: nothingToRun ? {} : mergeMetrics(this.lastMetrics),
                  durationMs: performance.now() - this.started,
                  runningMs,
                })
              }
              break
            case 'error':
              if (m.metrics !== undefined) this.lastMetrics[i] = m.metrics
              workerEnded(i)
              fail(deserializeError(m.error))
              break
          }
        }
        const onError = (e: Error) =>
          fail(new SquallError('ERR_WORKER_FAILED', `worker thread ${i} failed: ${e.message}`, { cause: e }))
        const onExit = (code: number) => {
          workerEnded(i)
          if (finished < threads && !failed && code !== 0) {
            fail(new SquallError('ERR_WORKER_FAILED', `worker thread ${i} exited with code ${code}`))
          }
        }
        worker.on('message', onMessage)
        worker.on('error', onError)
        worker.on('exit', onExit)
        this.detach.push(() => {
          worker.off('message', onMessage)
          worker.off('error', onError)
          worker.off('exit', onExit)
        })
      }
    })
  }

  status(): JobStatus {
    return this.state
  }
  runningSince(): number | undefined {
    return this.runningAt === 0 ? undefined : this.runningAt
  }
  metrics(): { [node: string]: NodeMetrics } {
    for (const w of this.workers) w.postMessage({ k: 'metrics' })
    return mergeMetrics(this.lastMetrics)
  }
  drain(): void {
    if (this.state === 'running' || this.state === 'starting') this.state = 'draining'
    for (const w of this.workers) w.postMessage({ k: 'drain' })
  }
  checkpointStatus(): CheckpointStatus {
    return this.checkpoints.status()
  }
  triggerCheckpoint(id?: number): Promise<void> {
    return triggerWhileRunning(this.state, () => this.checkpoints.checkpoint(id))
  }
  stop(options?: StopOptions): Promise<void> {
    return stopJob(this.state, this.checkpoints, options, async () => {
      // Once the job has ended its threads are back in the pool, maybe running another job.
      if (!ENDED.has(this.state)) {
        this.state = 'cancelled'
        for (const w of this.workers) w.postMessage({ k: 'stop' })
      }
      await this.done.catch(() => {})
    })
  }
}

/** Loads a topology module and runs it (what `squall run` does). */
export async function runModule(path: string, options: EmbeddedOptions = {}): Promise<Job> {
  const topology = await loadTopology(path, options.exportName)
  return runEmbedded(topology, { ...options, module: path })
}

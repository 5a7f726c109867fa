// Runs the tasks of one thread: polls sources, pushes batches through operators to sinks, and
// exchanges batches with executors on other threads.

import { setImmediate as yieldToLoop } from 'node:timers/promises'
import type { Clock } from '../core/clock.ts'
import { SquallError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { Record } from '../core/record.ts'
import type { IoContext, SinkWriter, SourceReader } from '../core/source.ts'
import { OperatorTask } from './operator-task.ts'
import { type ExecutionPlan, type NodePlan, channelCount, channelOf } from './plan.ts'
import { OutputRouter, type Target } from './router.ts'
import { SinkKeys } from './sink-keys.ts'
import { SinkTask } from './sink-task.ts'
import { SourceTask } from './source-task.ts'
import { type NodeMetrics, type TaskEnv, handleRecordError } from './task-env.ts'
import { BatchDecoder } from './batch-codec.ts'
import { RemoteTarget, type RemotePort, type WireMessage } from './wire.ts'

/** Tuning of an executor. */
export interface ExecutorOptions {
  job: string
  log: Logger
  clock: Clock
  /** Records asked of a source per poll (default 1024). */
  batchSize?: number
  /** Batches a sink may have queued before sources pause (default 16). */
  sinkQueueBound?: number
  /** Batches in flight to another thread before sources pause (default 32). */
  remoteCredits?: number
  /** How often processing-time timers and idleness are checked, in ms (default 50). */
  tickMs?: number
  /**
   * How long the thread waits for more input after a poll of its sources that gave less than a
   * quarter of a batch, when none of its operators has work left (timers firing in slices), in ms
   * (default {@link DEFAULT_LINGER_MS}; 0: it polls again at once), as a Kafka producer's
   * `linger.ms` or Flink's buffer timeout. A source with little to give then gives it in fewer,
   * larger batches, and each batch costs the same whatever its size: a message to another thread
   * (10–20 µs on each side), its encoding, a watermark to every channel downstream. At most this
   * much latency is added; a source with a full batch ready is polled again at once.
   */
  lingerMs?: number
  /**
   * Longest stretch an operator fires event timers before other tasks of the thread run, in ms
   * (default 10; 0: a watermark's timers all fire at once, as the test driver wants).
   */
  timerSliceMs?: number
  report(channel: string, data: unknown): void
  /**
   * One counter per node of the plan (by index) from which source partitions claim shared work
   * (`IoContext.claim`); the same memory on every thread (a SharedArrayBuffer). Default: this
   * executor's own, for a job on one thread.
   */
  claims?: Int32Array
  /** Replaces the reader of a source partition (the test driver feeds sources this way). */
  readerFor?(node: NodePlan, partition: number, ctx: IoContext): SourceReader | undefined
  /** Replaces the writer of a sink task (the test driver captures sink input this way). */
  writerFor?(node: NodePlan, index: number, ctx: IoContext): SinkWriter | undefined
}

type AnyTask = SourceTask | OperatorTask | SinkTask

/** Default of {@link ExecutorOptions.lingerMs}. */
export const DEFAULT_LINGER_MS = 2

/** A local task's input, as a router target. */
class LocalTarget implements Target {
  readonly pushValues: ((values: unknown[], times: number[]) => void) | undefined
  constructor(
    private readonly task: OperatorTask | SinkTask,
    private readonly channel: number,
  ) {
    const gate = task.gate
    this.pushValues =
      task instanceof SinkTask && task.writer.writeValues !== undefined
        ? (values, times) => gate.values(channel, values, times)
        : undefined
  }
  push(records: Record[]): void {
    this.task.gate.records(this.channel, records)
  }
  watermark(time: number): void {
    this.task.gate.watermark(this.channel, time)
  }
  idle(idle: boolean): void {
    this.task.gate.setIdle(this.channel, idle)
  }
  barrier(id: number): void {
    this.task.gate.barrier(this.channel, id)
  }
  end(): void {
    this.task.gate.end(this.channel)
  }
}

/**
 * The engine of one thread. It owns the tasks the plan places on its thread, calls them
 * synchronously batch by batch (no promise per record), and stops reading sources while a sink's
 * queue or a channel to another thread is full (backpressure). `run()` resolves when every local
 * task has finished, or rejects with the first failure.
 */
export class Executor {
  readonly sources: SourceTask[] = []
  readonly operators: OperatorTask[] = []
  readonly sinks: SinkTask[] = []
  readonly tasks = new Map<number, AnyTask>()
  readonly nodeMetrics = new Map<string, NodeMetrics>()
  private readonly ports = new Map<number, RemotePort>()
  /** Per sending thread: the decoder of what its port's encoder writes (kept in step, in order). */
  private readonly decoders = new Map<number, BatchDecoder>()
  private readonly env: TaskEnv
  private readonly batchSize: number
  private readonly sinkBound: number
  private readonly credits: number
  private readonly tickMs: number
  private readonly lingerMs: number
  private failure: unknown
  private draining = false
  /** The sources are read no more (see `stopReading`). */
  private readingStopped = false
  /** A source reached its end in the last `readSources` (the main loop then goes on without waiting). */
  private sourceEnded = false
  private wake: (() => void) | undefined
  private pendingCredits = new Map<number, number>()
  /** A send of what messages from other threads caused is scheduled (see `receive`). */
  private sendScheduled = false
  private readonly claims: Int32Array

  constructor(
    readonly plan: ExecutionPlan,
    readonly thread: number,
    private readonly options: ExecutorOptions,
    ports: Map<number, RemotePort> = new Map(),
  ) {
    this.batchSize = options.batchSize ?? 1024
    this.sinkBound = options.sinkQueueBound ?? 16
    this.credits = options.remoteCredits ?? 32
    this.tickMs = options.tickMs ?? 50
    this.lingerMs = options.lingerMs ?? DEFAULT_LINGER_MS
    this.ports = ports
    this.claims = options.claims ?? new Int32Array(plan.nodes.length)
    const metrics = this.nodeMetrics
    this.env = {
      job: options.job,
      log: options.log,
      clock: options.clock,
      maxParallelism: plan.maxParallelism,
      metrics: (node) => {
        let m = metrics.get(node)
        if (m === undefined) metrics.set(node, (m = {}))
        return m
      },
      report: options.report,
      fail: (e) => this.fail(e),
    }
    this.build()
  }

  private mine(taskId: number): boolean {
    return this.plan.threadOf(taskId) === this.thread
  }

  private build(): void {
    const { plan } = this
    // Targets first need the receiving tasks: create operator and sink tasks in reverse order.
    const routers = new Map<number, OutputRouter>()
    for (const node of [...plan.nodes].reverse()) {
      for (let i = 0; i < node.parallelism; i++) {
        const id = node.firstTaskId + i
        if (!this.mine(id)) continue
        const edges = node.outputs.map((edge) => ({ edge, targets: this.targetsOf(edge, i) }))
        const router = new OutputRouter(edges, i, plan.maxParallelism)
        routers.set(id, router)
        const spec = node.spec
        const channels = channelCount(node, i)
        let task: AnyTask
        if (spec.kind === 'operator') {
          task = new OperatorTask(node, i, id, spec.processor!(), router, channels, this.env)
          task.timerSliceMs = this.options.timerSliceMs ?? 10
          this.operators.push(task)
        } else if (spec.kind === 'sink') {
          const keys = new SinkKeys(i)
          const ctx: IoContext = {
            ...this.ioContext(node, i, routers),
            batchSequence: () => keys.batchStart,
            idempotencyKey: (seq) => keys.key(seq),
          }
          const writer = this.options.writerFor?.(node, i, ctx) ?? spec.sink!.create(ctx)
          task = new SinkTask(node, i, id, writer, channels, this.env, keys)
          this.sinks.push(task)
        } else {
          const ctx = this.ioContext(node, i, routers)
          const reader = this.options.readerFor?.(node, i, ctx) ?? spec.source!.create(ctx)
          task = new SourceTask(node, i, id, reader, router, this.env)
          this.sources.push(task)
        }
        this.tasks.set(id, task)
      }
    }
    this.sources.reverse()
    this.operators.reverse()
    this.sinks.reverse()
  }

  private ioContext(node: NodePlan, index: number, routers: Map<number, OutputRouter>): IoContext {
    const metrics = this.env.metrics(node.spec.name)
    const claims = this.claims
    const slot = this.plan.nodes.indexOf(node)
    return {
      nodeName: node.spec.name,
      partition: index,
      partitions: node.parallelism,
      log: this.env.log,
      clock: this.env.clock,
      count: (metric, n = 1) => {
        metrics[metric] = (metrics[metric] ?? 0) + n
      },
      report: this.env.report,
      badRecord: (error, raw) => {
        const router = routers.get(node.firstTaskId + index)
        const r = { value: raw, key: undefined, time: this.env.clock.now(), tag: '' }
        handleRecordError(this.env, node.spec.name, index, node.spec.onError, error, r, router, metrics)
      },
      claim: () => Atomics.add(claims, slot, 1),
    }
  }

  private targetsOf(edge: NodePlan['outputs'][number], fromIndex: number): Target[] {
    const to = edge.to
    const indices: number[] =
      edge.type === 'forward' ? [fromIndex] : edge.type === 'global' ? [0] : [...Array(to.parallelism).keys()]
    return indices.map((j) => {
      const taskId = to.firstTaskId + j
      const channel = channelOf(edge, fromIndex)
      if (this.mine(taskId)) {
        const t = this.tasks.get(taskId)
        if (!(t instanceof OperatorTask || t instanceof SinkTask)) {
          throw new SquallError(
            'ERR_WORKER_FAILED',
            `internal: task ${taskId} of "${to.spec.name}" is not built`,
          )
        }
        return new LocalTarget(t, channel)
      }
      const port = this.ports.get(this.plan.threadOf(taskId))
      if (port === undefined)
        throw new SquallError('ERR_WORKER_FAILED', `internal: no port to the thread of task ${taskId}`)
      return new RemoteTarget(port, taskId, channel)
    })
  }

  /** Opens every task (sinks first, sources last). */
  async open(): Promise<void> {
    for (const t of this.sinks) await t.open()
    for (const t of this.operators) await t.open()
    for (const t of this.sources) await t.open()
  }

  /**
   * Handles a message from another thread's executor. What it caused (records for other threads,
   * credits) is sent once the messages that arrived together are all handled, in one message per
   * thread, not one per message received.
   */
  receive(from: number, m: WireMessage): void {
    this.handle(from, m)
    if (this.sendScheduled) return
    this.sendScheduled = true
    setImmediate(() => {
      this.sendScheduled = false
      this.flushCredits()
      this.flushPorts()
    })
  }

  /** Sends the messages the ports hold for other threads. */
  private flushPorts(): void {
    for (const p of this.ports.values()) p.flush?.()
  }

  private decoderOf(from: number): BatchDecoder {
    let d = this.decoders.get(from)
    if (d === undefined) this.decoders.set(from, (d = new BatchDecoder()))
    return d
  }

  private handle(from: number, m: WireMessage): void {
    if (m.k === 'm') {
      for (const one of m.list) this.handle(from, one)
      return
    }
    if (m.k === 'credit') {
      const port = this.ports.get(from)!
      port.inFlight -= m.n
      this.wakeUp()
      return
    }
    try {
      const task = this.tasks.get(m.t) as OperatorTask | SinkTask
      switch (m.k) {
        case 'r':
          task.gate.records(m.c, this.decoderOf(from).decode(m.b))
          this.returnCredit(from)
          break
        case 'w':
          task.gate.watermark(m.c, m.time)
          break
        case 'i':
          task.gate.setIdle(m.c, m.idle)
          break
        case 'b':
          task.gate.barrier(m.c, m.id)
          break
        case 'e':
          task.gate.end(m.c)
          break
      }
    } catch (e) {
      this.fail(e)
    }
    this.wakeUp()
  }

  /**
   * Credits go back together, with the next send (see `receive`), and once local sinks are below
   * their bound, so a slow sink also slows other threads.
   */
  private returnCredit(to: number): void {
    this.pendingCredits.set(to, (this.pendingCredits.get(to) ?? 0) + 1)
  }

  private flushCredits(): void {
    if (this.pendingCredits.size === 0 || this.sinkBacklogFull()) return
    for (const [to, n] of this.pendingCredits) this.ports.get(to)!.post({ k: 'credit', n })
    this.pendingCredits.clear()
  }

  private sinkBacklogFull(): boolean {
    for (const s of this.sinks) if (s.backlog() >= this.sinkBound) return true
    return false
  }

  private wakeUp(): void {
    const w = this.wake
    if (w) {
      this.wake = undefined
      w()
    }
  }

  /**
   * Stops reading sources and leaves them open: what was read still flows through, and the job
   * runs on (timers, messages from other threads) until it is stopped. A stop with a last
   * checkpoint does this at the checkpoint's barrier, so that nothing read after it waits on it.
   */
  stopReading(): void {
    this.readingStopped = true
  }

  /** Stops reading sources; what was read still flows to the sinks, then the job ends. */
  drain(): void {
    this.draining = true
    this.wakeUp()
  }

  fail(error: unknown): void {
    if (this.failure === undefined) this.failure = error ?? new Error('unknown failure')
    this.wakeUp()
  }

  get failed(): unknown {
    return this.failure
  }

  private finished(): boolean {
    for (const s of this.sources) if (!s.ended) return false
    for (const o of this.operators) if (!o.finished) return false
    for (const s of this.sinks) if (!s.finished || s.backlog() > 0) return false
    return true
  }

  /** Waits for a wake-up, a source's `ready()`, or `ms`. */
  private pause(ms: number, extra?: Promise<void>): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.wake = done
      extra?.then(done, done)
    })
  }

  private backpressure(): Promise<void> | undefined {
    for (const s of this.sinks) if (s.backlog() >= this.sinkBound) return s.waitBelow(this.sinkBound)
    for (const p of this.ports.values()) if (p.inFlight >= this.credits) return this.pause(100)
    return undefined
  }

  /**
   * Reads one batch from each source still open (`boundedOnly`: each bounded one), or ends them
   * all when draining. Returns how many records were read; sets `sourceEnded` when a source
   * reached its end.
   */
  private readSources(boundedOnly = false): number {
    let read = 0
    for (const s of this.sources) {
      if (s.ended || (boundedOnly && !s.bounded)) continue
      if (this.draining) s.end()
      else if (!this.readingStopped) read += s.poll(this.batchSize)
      if (s.ended) this.sourceEnded = true
    }
    return read
  }

  /** Ticks processing time: timers, idleness, TTL. */
  tick(now: number): void {
    for (const o of this.operators) o.onProcessingTime(now)
    for (const s of this.sources) s.checkIdle(now)
  }

  /** The main loop. Resolves when all local tasks have finished; rejects with the first failure. */
  async run(): Promise<void> {
    const { clock } = this.options
    let lastTick = clock.now()
    let lastYield = performance.now()
    let quiet = 0
    // Where the thread's time goes (as Flink's busy / idle / back-pressured time), in node "thread.<i>".
    const times = this.env.metrics(`thread.${this.thread}`)
    times.idleMs = 0
    times.backpressuredMs = 0
    const started = performance.now()
    while (this.failure === undefined && !this.finished()) {
      this.flushCredits()
      const wait = this.backpressure()
      if (wait) {
        const t0 = performance.now()
        await Promise.race([wait, this.pause(100)])
        times.backpressuredMs += performance.now() - t0
        continue
      }
      let produced = 0
      // Operators that had work left (timers firing in slices) and went on with it.
      let resumed = 0
      try {
        produced += this.readSources()
        for (const o of this.operators) {
          if (!o.busy) continue
          o.resume()
          resumed++
        }
        produced += resumed
        const now = clock.now()
        if (now - lastTick >= this.tickMs) {
          lastTick = now
          this.tick(now)
        }
        this.flushPorts()
      } catch (e) {
        this.fail(e)
        break
      }
      if (this.sourceEnded) {
        // A source has just ended: what follows from it (operators and sinks ending) goes on at once.
        this.sourceEnded = false
        quiet = 0
      } else if (produced === 0) {
        // Nothing ready: back off from 1 ms to 20 ms, or until a source says it is ready.
        quiet = Math.min(quiet + 1, 20)
        const ready = this.sources.find((s) => !s.ended && s.reader.ready)?.reader.ready?.()
        const t0 = performance.now()
        await this.pause(quiet, ready)
        times.idleMs += performance.now() - t0
      } else if (resumed === 0 && produced * 4 < this.batchSize && this.lingerMs > 0 && !this.draining) {
        // Little was ready, and no operator has work left: wait for more rather than send it on
        // in small batches. A bounded source's last batch is short too: the bounded sources are
        // read once more first, so one at its end ends now rather than after the wait.
        quiet = 0
        try {
          this.readSources(true)
          this.flushPorts()
        } catch (e) {
          this.fail(e)
          break
        }
        if (this.sourceEnded) continue
        const t0 = performance.now()
        lastYield = t0
        await this.pause(this.lingerMs)
        times.idleMs += performance.now() - t0
      } else {
        quiet = 0
        const t = performance.now()
        if (t - lastYield > 5) {
          lastYield = t
          await yieldToLoop()
        }
      }
    }
    // Sinks may still be delivering (a buffered output flushing at the end of input); a stop or a
    // failure meanwhile ends the wait, so a destination that never answers cannot hold the job.
    const sinksDone = Promise.all(this.sinks.map((s) => s.done)).then(() => true)
    while (this.failure === undefined) {
      if (await Promise.race([sinksDone, this.pause(1000).then(() => false)])) break
    }
    times.runningMs = performance.now() - started
    if (this.failure !== undefined) throw this.failure
  }

  /** Closes every task, even after a failure; errors from close are logged, not thrown. */
  async close(): Promise<void> {
    for (const t of [...this.sources, ...this.operators, ...this.sinks]) {
      try {
        await t.close()
      } catch (e) {
        this.options.log(
          'warn',
          `closing "${t.node.spec.name}" failed: ${e instanceof Error ? e.message : String(e)}`,
        )
      }
    }
  }

  /** Counters per node, summed over this thread's tasks. */
  metrics(): { [node: string]: NodeMetrics } {
    return Object.fromEntries(this.nodeMetrics)
  }
}

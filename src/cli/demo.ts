// `squall demo`: the founding use cases, embedded, on live generated traffic, with a terminal view.

import { rmSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { SquallError } from '../core/errors.ts'
import { type Logger, consoleLogger, memoryLogger } from '../core/logger.ts'
import demoTopology, { demoSettings } from '../demo/job.ts'
import { LatencyHistogram } from '../demo/latency.ts'
import {
  type Alert,
  type DemoView,
  type PageRank,
  type TagTrend,
  httpApiLine,
  redraw,
  renderView,
  runSummaryLine,
} from '../demo/view.ts'
import type { EmbeddedOptions } from '../runtime/embedded/runner.ts'
import { runEmbedded } from '../runtime/embedded/runner.ts'
import type { Job } from '../runtime/job.ts'
import { serveTopology } from '../server/job-server.ts'
import { durationFlag, parse, positiveInt } from './args.ts'
import type { Command } from './commands.ts'

/**
 * The first stretch of a run left out of its settled latency: the code is still being compiled and
 * the state grows from nothing (or a restored one is rebuilt).
 */
const SETTLE_MS = 10_000

/** How long a stopping demo waits for its last checkpoint before it stops without it. */
const LAST_CHECKPOINT_MS = 15_000

/**
 * Stops `job` after a last checkpoint (`Job.stop` with `checkpoint`), so the next run resumes from
 * here: the generators read nothing after its barrier, so no event waits on it. Waits at most
 * {@link LAST_CHECKPOINT_MS}; a checkpoint that is not taken is logged, and the next run then
 * resumes from the last periodic checkpoint.
 */
async function stopWithCheckpoint(job: Job, log: Logger): Promise<void> {
  try {
    await job.stop({ checkpoint: true, timeoutMs: LAST_CHECKPOINT_MS })
  } catch (e) {
    log('warn', `demo: no last checkpoint: ${e instanceof Error ? e.message : String(e)}`)
  }
}

const HELP = `Usage: squall demo [options]

Runs the three founding use cases embedded, on generated live traffic with planted trends,
brute-force attackers and a crawler: pages ranked by unique visitors over the last 60 minutes,
trending hashtags, and fraud alerts. Event time runs on a simulated clock (1 s = 1 min by
default). State is checkpointed in --state-dir every 10 s and when the demo stops (Ctrl-C or the
end of --duration; a second Ctrl-C stops at once), so a second run resumes where the first stopped.

Options:
  --duration D      stop by itself after D (e.g. 30s; a bare number is seconds); without it,
                    run until Ctrl-C
  --rate N          generated events per second (default 100000)
  --speedup N       simulated seconds per wall second (default 60)
  --threads N       threads to run on (default: one per core, at most 4)
  --http PORT       serve the HTTP API on PORT (default 8787; 0 picks a free one; "off" disables)
  --state-dir DIR   where checkpoints go (default ./.squall-demo)
  --fresh           delete the state directory first (start from zero)
  --plain           print a summary every few seconds instead of redrawing the screen`

/** The demo uses every core (up to 4: its 100 000 events/s need no more). */
const DEFAULT_THREADS = Math.min(availableParallelism(), 4)

interface DemoOptions {
  durationMs: number | undefined
  rate: number
  speedup: number
  threads: number
  http: number | undefined
  stateDir: string
  plain: boolean
}

function options(args: string[]): DemoOptions & { fresh: boolean } {
  const { values: flags } = parse('demo', args, {
    duration: { type: 'string' },
    rate: { type: 'string' },
    speedup: { type: 'string' },
    threads: { type: 'string' },
    http: { type: 'string' },
    'state-dir': { type: 'string' },
    fresh: { type: 'boolean' },
    plain: { type: 'boolean' },
  })
  const values = flags as { [flag: string]: string | undefined } & { fresh?: boolean; plain?: boolean }
  const durationMs = durationFlag('duration', values.duration)
  const http = values.http === 'off' ? undefined : Number(values.http ?? 8787)
  if (http !== undefined && !(Number.isInteger(http) && http >= 0 && http < 65536)) {
    throw new SquallError('ERR_CLI_USAGE', `--http: expected a port number or "off", got "${values.http}"`)
  }
  return {
    durationMs,
    rate: positiveInt('rate', values.rate) ?? 100_000,
    speedup: positiveInt('speedup', values.speedup) ?? 60,
    threads: positiveInt('threads', values.threads) ?? DEFAULT_THREADS,
    http,
    stateDir: values['state-dir'] ?? join(process.cwd(), '.squall-demo'),
    fresh: values.fresh ?? false,
    plain: values.plain ?? !process.stdout.isTTY,
  }
}

/** What the demo's result channels carry. */
interface RankingValue {
  windowStart: number
  windowEnd: number
  pages: PageRank[]
}
interface TrendingValue {
  time: number
  tags: TagTrend[]
}

/** Keeps the view's state up to date from the job's reports and metrics. */
class DemoState {
  /** Latency of the current 10 s period (the live view). */
  readonly latency = new LatencyHistogram()
  /** Latency since the run started (the summary when it stops). */
  readonly runLatency = new LatencyHistogram()
  /** Latency from {@link SETTLE_MS} after the first sample on (the summary's settled figure). */
  readonly settledLatency = new LatencyHistogram()
  private firstSampleAt: number | undefined = undefined
  readonly view: DemoView
  private lastEvents = 0
  private lastAt = Date.now()
  private windowStart = Date.now()
  /**
   * When the stop began: the generators read nothing after the last checkpoint's barrier, so the
   * rate shown stays the one measured before, and the run's rate counts the time up to here.
   */
  stoppedAt: number | undefined = undefined

  constructor(
    readonly opts: DemoOptions,
    start: number,
  ) {
    this.view = {
      simTime: start,
      speedup: opts.speedup * 1000,
      eventsTotal: 0,
      eventsPerSecond: 0,
      latencyP50: 0,
      latencyP99: 0,
      latencySamples: 0,
      threads: opts.threads,
      alerts: [],
      alertCount: 0,
    }
  }

  report(channel: string, data: unknown): void {
    const values = data as unknown[]
    if (channel === 'demo:probe') {
      const now = Date.now()
      this.firstSampleAt ??= now
      const settled = now - this.firstSampleAt >= SETTLE_MS
      for (const born of values as number[]) {
        this.latency.record(now - born)
        this.runLatency.record(now - born)
        if (settled) this.settledLatency.record(now - born)
      }
    } else if (channel === 'demo:rankings') {
      const last = values.at(-1) as RankingValue | undefined
      if (last && (!this.view.ranking || last.windowEnd >= this.view.ranking.windowEnd)) {
        this.view.ranking = last
        if (last.windowEnd > this.view.simTime) this.view.simTime = last.windowEnd
      }
    } else if (channel === 'demo:trends') {
      for (const t of values as TrendingValue[]) {
        if (t.time > this.view.simTime) this.view.simTime = t.time
        if (!this.view.trending || t.time >= this.view.trending.time) {
          // Keep showing the last non-empty list for a while: trends are rare by design.
          if (t.tags.length > 0 || !this.view.trending || t.time - this.view.trending.time > 5 * 60_000)
            this.view.trending = t
        }
      }
    } else if (channel === 'demo:alerts') {
      for (const a of values as Alert[]) {
        if (a.time > this.view.simTime) this.view.simTime = a.time
        this.view.alerts.push(a)
        this.view.alertCount++
      }
      if (this.view.alerts.length > 50) this.view.alerts.splice(0, this.view.alerts.length - 50)
    }
  }

  /** Refreshes throughput and latency from the job; call once a second. */
  tick(job: Job): void {
    const m = job.metrics()
    const events = (m.access?.out ?? 0) + (m.logins?.out ?? 0) + (m.posts?.out ?? 0)
    const now = Date.now()
    // Nothing is read before processing begins (threads starting, state restoring): the rate
    // counts from then.
    const since = job.runningSince()
    if (since !== undefined && this.lastAt < since) this.lastAt = since
    const seconds = (now - this.lastAt) / 1000
    // A rate over less than half a second (the refresh right after the job stops) says little,
    // and once the stop began the generators read no more.
    if (seconds >= 0.5 && this.stoppedAt === undefined) {
      this.view.eventsPerSecond = (events - this.lastEvents) / seconds
      this.lastEvents = events
      this.lastAt = now
    }
    this.view.eventsTotal = events
    // Latency of the last 10 s: what a live view should show (a whole-run figure hides changes).
    if (this.latency.count > 0) {
      this.view.latencyP50 = this.latency.percentile(0.5)
      this.view.latencyP99 = this.latency.percentile(0.99)
      this.view.latencySamples = this.latency.count
    }
    if (now - this.windowStart >= 10_000) {
      this.latency.reset()
      this.windowStart = now
    }
    const status = job.checkpointStatus?.()
    if (status?.restoredFrom !== undefined) this.view.resumedFrom = status.restoredFrom
    if (status?.lastCompleted)
      this.view.checkpoint = { id: status.lastCompleted.id, agoMs: now - status.lastCompleted.time }
  }
}

export const demoCommand: Command = {
  name: 'demo',
  usage: 'demo [--duration 30s]',
  summary: 'the embedded demo: live rankings, trends and fraud alerts',
  help: HELP,
  async run(args) {
    const opts = options(args)
    if (opts.fresh) rmSync(opts.stateDir, { recursive: true, force: true })
    const settings = { ...demoSettings(), rate: opts.rate, speedup: opts.speedup }
    // A scripted run sees one whole traffic episode: every planted trend and attack happens in it.
    if (opts.durationMs !== undefined)
      settings.episodeMs = Math.max(10 * 60_000, opts.durationMs * opts.speedup)
    process.env.SQUALL_DEMO_RATE = String(settings.rate)
    process.env.SQUALL_DEMO_SPEEDUP = String(settings.speedup)
    process.env.SQUALL_DEMO_EPISODE_MS = String(settings.episodeMs)
    const state = new DemoState(opts, settings.start)
    const quiet = memoryLogger()
    const log: Logger = opts.plain
      ? consoleLogger('warn')
      : (level, message, fields) => {
          quiet(level, message, fields)
        }
    const runOptions: EmbeddedOptions = {
      threads: opts.threads,
      module: new URL('../demo/job.ts', import.meta.url).href,
      log,
      state: { dir: opts.stateDir, checkpointInterval: process.env.SQUALL_DEMO_CHECKPOINT ?? '10s' },
      onReport: (channel, data) => state.report(channel, data),
    }
    const topology = demoTopology(settings)
    let job: Job
    let close = async () => {}
    if (opts.http !== undefined) {
      const served = await serveTopology(topology, runOptions, {
        port: opts.http,
        log,
        stateDir: join(opts.stateDir, 'queries'),
        // Every event's `time` is its event time, so queries can window the demo's tables.
        tables: {
          access: { timeColumn: 'time' },
          logins: { timeColumn: 'time' },
          posts: { timeColumn: 'time' },
        },
      })
      job = served.job
      state.view.httpUrl = served.server.url
      close = () => served.close()
      // A plain run prints only a summary until it ends: say at once where the API listens.
      if (opts.plain) process.stdout.write(`${httpApiLine(served.server.url, false)}\n`)
    } else {
      job = runEmbedded(topology, runOptions)
    }
    // Ctrl-C (or the end of --duration) takes a last checkpoint and stops, as Flink's stop with a
    // savepoint does: the next run resumes from where this one stopped. A second Ctrl-C stops at
    // once; the next run then resumes from the last periodic checkpoint.
    let stopping = false
    const stop = (why: string) => {
      if (stopping) {
        process.stdout.write(`\n${why} again: stopping without the last checkpoint\n`)
        void job.stop()
        return
      }
      stopping = true
      state.stoppedAt = Date.now()
      process.stdout.write(`\n${why}: taking a last checkpoint, then stopping\n`)
      void stopWithCheckpoint(job, log)
    }
    const onSignal = () => stop('interrupted')
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    const uninstall = () => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }
    const started = Date.now()
    let first = true
    const show = () => {
      state.tick(job)
      if (opts.durationMs !== undefined)
        state.view.remainingMs = Math.max(0, opts.durationMs - (Date.now() - started))
      if (!opts.plain) redraw(process.stdout, renderView(state.view), first)
      first = false
    }
    const timer = setInterval(show, 1000)
    const plainTimer = opts.plain
      ? setInterval(
          () => process.stdout.write(`${renderView(state.view, false).slice(0, 3).join('\n')}\n`),
          5000,
        )
      : undefined
    const stopper =
      opts.durationMs === undefined ? undefined : setTimeout(() => stop('time is up'), opts.durationMs)
    try {
      const result = await job.done
      show()
      process.stdout.write(`\n${renderView(state.view, !opts.plain).join('\n')}\n`)
      const took = ((Date.now() - started) / 1000).toFixed(1)
      const run = state.runLatency
      process.stdout.write(
        `${runSummaryLine({
          events: state.view.eventsTotal,
          // The time the generators read: from the moment processing began (after the threads
          // started and the state was restored) up to the stop, not the last checkpoint after it.
          seconds: ((state.stoppedAt ?? Date.now()) - (job.runningSince() ?? started)) / 1000,
          latencyP50: run.percentile(0.5),
          latencyP99: run.percentile(0.99),
          latencySamples: run.count,
          settled: {
            afterSeconds: SETTLE_MS / 1000,
            latencyP50: state.settledLatency.percentile(0.5),
            latencyP99: state.settledLatency.percentile(0.99),
            latencySamples: state.settledLatency.count,
          },
        })}\n`,
      )
      const status = job.checkpointStatus?.()
      // A resumed run stopped before its own first checkpoint resumes from the one it started from.
      const last = status?.lastCompleted?.id ?? status?.restoredFrom
      const resume =
        last !== undefined
          ? `run it again to resume from checkpoint #${last} (${opts.stateDir})`
          : 'no checkpoint was completed yet'
      process.stdout.write(`demo stopped after ${took} s; ${resume}\n`)
      return result.status === 'failed' ? 1 : 0
    } finally {
      clearInterval(timer)
      if (plainTimer) clearInterval(plainTimer)
      if (stopper) clearTimeout(stopper)
      uninstall()
      await close()
    }
  },
}

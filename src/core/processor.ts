// The Processor API: Storm's bolt, batch-friendly. Every built-in operator is a short Processor.

import type { Key, Record } from './record.ts'
import type { KeyedState } from './state.ts'
import type { Logger } from './logger.ts'

/**
 * Where a processor sends its results. Emitting is synchronous and cheap: the runtime batches
 * records per downstream task and hands them over at the end of the input batch.
 *
 * `emit(value)` keeps the time, key and tag of the record being processed (or, inside `onTimer`,
 * the timer's time and key). `emitRecord` sends a complete record as given.
 */
export interface Collector<O> {
  emit(value: O): void
  emitRecord(record: Record<O>): void
  /** Sends a value to the named side output (e.g. `late`, `dead-letter`) of this node. */
  side(output: string, value: unknown): void
}

/** A timer that fired: its time (event or processing time) and the key it was registered for. */
export interface Timer {
  readonly time: number
  readonly key: Key | undefined
  readonly domain: 'event' | 'processing'
}

/**
 * Keyed timers, as in Flink's KeyedProcessFunction. A timer is registered for the current key;
 * registering the same (key, time) twice keeps one. Event-time timers fire when the watermark
 * reaches their time; processing-time timers when the clock does. Timers are part of checkpoints.
 */
export interface TimerService {
  /** The operator's current watermark: every event-time timer at or before it has fired. */
  currentWatermark(): number
  /** The clock's current processing time (a manual clock in tests). */
  currentProcessingTime(): number
  registerEventTimer(time: number): void
  registerProcessingTimer(time: number): void
  deleteEventTimer(time: number): void
  deleteProcessingTimer(time: number): void
}

/** Read-only facts about the task a processor runs in, plus its state, timers, metrics and log. */
export interface ProcessorContext {
  /** The node's name (stable; keys its state in checkpoints). */
  readonly nodeName: string
  /** This task's index among the node's parallel tasks, from 0. */
  readonly taskIndex: number
  readonly parallelism: number
  readonly maxParallelism: number
  /** The key of the record being processed (or of the timer firing); undefined on unkeyed streams. */
  readonly currentKey: Key | undefined
  /** Keyed state stores of this node, scoped to `currentKey`. */
  readonly state: KeyedState
  readonly timers: TimerService
  readonly log: Logger
  /** Adds `n` to a counter of this node, reported in the job's metrics. */
  count(metric: string, n?: number): void
}

/**
 * The low-level operator contract. Lifecycle, in order:
 * `open` (once, before any record) → `process` / `onWatermark` / `onTimer` (any number, interleaved,
 * never concurrently) → `finish` (once at end of input: flush what is buffered; nothing may be
 * emitted after it returns) → `close` (once, always, even after a failure: release resources; never
 * emits).
 *
 * A throw from `process` is handled by the node's error policy (fail the job, skip the record, or
 * dead-letter it). A throw from any other method fails the job.
 */
export interface Processor<I, O> {
  open?(ctx: ProcessorContext): void | Promise<void>
  /** Handles one record. Called with `ctx.currentKey` set to the record's key. */
  process(record: Record<I>, out: Collector<O>): void
  /** Called when the operator's watermark advances, after the event-time timers up to it fired. */
  onWatermark?(watermark: number, out: Collector<O>): void
  /** Called for each timer that fires, with `ctx.currentKey` set to the timer's key. */
  onTimer?(timer: Timer, out: Collector<O>): void
  finish?(out: Collector<O>): void
  close?(): void | Promise<void>
}

/** Creates a fresh processor per task. Called once per parallel task, on the task's thread. */
export type ProcessorFactory<I, O> = () => Processor<I, O>

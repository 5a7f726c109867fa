// The input side of a task: per-channel watermarks, idleness, end of input and barrier alignment.

import type { Record } from '../core/record.ts'

/** A message held back on a channel blocked by barrier alignment. */
type Held =
  | { kind: 'records'; records: Record[] }
  | { kind: 'values'; values: unknown[]; times: number[] }
  | { kind: 'watermark'; time: number }
  | { kind: 'idle'; idle: boolean }
  | { kind: 'end' }
  | { kind: 'barrier'; id: number }

/** What a task does with what the gate lets through. */
export interface GateHandler {
  onRecords(records: Record[]): void
  /** A batch as values and event times (see `SinkWriter.writeValues`); only sinks take them. */
  onValues?(values: unknown[], times: number[]): void
  /** The minimum watermark over active channels rose to `time`. */
  onWatermark(time: number): void
  /** A barrier arrived on every channel that has not ended: snapshot now, then forward it. */
  onBarrier(id: number): void
  /** Every channel has ended. */
  onEnd(): void
}

/**
 * Merges a task's input channels. The task's watermark is the minimum over channels that are
 * neither idle nor ended (an ended channel counts as +∞). Barriers are aligned as in Flink: once a
 * barrier arrives on a channel, that channel's later messages are held until the barrier has
 * arrived on all channels; then the handler snapshots and the held messages are replayed in order.
 */
export class InputGate {
  private readonly watermarks: Float64Array
  private readonly idle: Uint8Array
  private readonly ended: Uint8Array
  private readonly blocked: Uint8Array
  private held: Held[][] = []
  private endedCount = 0
  private blockedCount = 0
  private aligning = -1
  current = Number.NEGATIVE_INFINITY
  done = false

  constructor(
    readonly channels: number,
    private readonly handler: GateHandler,
  ) {
    this.watermarks = new Float64Array(channels).fill(Number.NEGATIVE_INFINITY)
    this.idle = new Uint8Array(channels)
    this.ended = new Uint8Array(channels)
    this.blocked = new Uint8Array(channels)
    for (let i = 0; i < channels; i++) this.held.push([])
  }

  records(channel: number, records: Record[]): void {
    if (this.blocked[channel]) this.held[channel]!.push({ kind: 'records', records })
    else this.handler.onRecords(records)
  }

  /** A batch as values and their event times (`Target.pushValues`), in order with records. */
  values(channel: number, values: unknown[], times: number[]): void {
    if (this.blocked[channel]) this.held[channel]!.push({ kind: 'values', values, times })
    else this.handler.onValues!(values, times)
  }

  watermark(channel: number, time: number): void {
    if (this.blocked[channel]) return void this.held[channel]!.push({ kind: 'watermark', time })
    if (time > this.watermarks[channel]!) this.watermarks[channel] = time
    if (this.idle[channel]) this.idle[channel] = 0
    this.advance()
  }

  setIdle(channel: number, idle: boolean): void {
    if (this.blocked[channel]) return void this.held[channel]!.push({ kind: 'idle', idle })
    this.idle[channel] = idle ? 1 : 0
    this.advance()
  }

  end(channel: number): void {
    if (this.blocked[channel]) return void this.held[channel]!.push({ kind: 'end' })
    if (this.ended[channel]) return
    this.ended[channel] = 1
    this.endedCount++
    this.watermarks[channel] = Number.POSITIVE_INFINITY
    // A channel that ends while others align counts as aligned.
    if (this.aligning >= 0) this.maybeAligned()
    this.advance()
    if (this.endedCount === this.channels && !this.done) {
      this.done = true
      this.handler.onEnd()
    }
  }

  barrier(channel: number, id: number): void {
    if (this.blocked[channel]) return void this.held[channel]!.push({ kind: 'barrier', id })
    if (this.channels === 1) {
      this.handler.onBarrier(id)
      return
    }
    if (this.aligning < 0) this.aligning = id
    this.blocked[channel] = 1
    this.blockedCount++
    this.maybeAligned()
  }

  private maybeAligned(): void {
    if (this.blockedCount + this.endedCount < this.channels) return
    const id = this.aligning
    this.aligning = -1
    this.handler.onBarrier(id)
    const held = this.held
    this.held = held.map(() => [])
    this.blocked.fill(0)
    this.blockedCount = 0
    for (let c = 0; c < held.length; c++) {
      for (const m of held[c]!) {
        switch (m.kind) {
          case 'records':
            this.records(c, m.records)
            break
          case 'values':
            this.values(c, m.values, m.times)
            break
          case 'watermark':
            this.watermark(c, m.time)
            break
          case 'idle':
            this.setIdle(c, m.idle)
            break
          case 'end':
            this.end(c)
            break
          case 'barrier':
            this.barrier(c, m.id)
            break
        }
      }
    }
  }

  private advance(): void {
    let min = Number.POSITIVE_INFINITY
    let active = 0
    for (let c = 0; c < this.channels; c++) {
      if (this.idle[c] && !this.ended[c]) continue
      active++
      const w = this.watermarks[c]!
      if (w < min) min = w
    }
    if (active === 0) return
    if (min > this.current) {
      this.current = min
      this.handler.onWatermark(min)
    }
  }
}

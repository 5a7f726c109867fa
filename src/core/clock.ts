// Processing time, injectable so that tests control it.

/** A source of processing time in ms since the epoch. */
export interface Clock {
  now(): number
}

/** The wall clock. */
export const systemClock: Clock = { now: () => Date.now() }

/** A clock that moves only when told to: tests advance it and timers fire deterministically. */
export class ManualClock implements Clock {
  constructor(private time = 0) {}
  now(): number {
    return this.time
  }
  /** Moves the clock forward by `ms` (never backwards). */
  advance(ms: number): void {
    if (ms > 0) this.time += ms
  }
  /** Sets the clock to `time` if it is later than now. */
  set(time: number): void {
    if (time > this.time) this.time = time
  }
}

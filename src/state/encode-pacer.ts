// Shares a thread between processing records and encoding checkpoints: all the snapshot files a
// thread writes take turns in short slices, with a pause for processing after each.

/** The longest stretch of encoding before a turn ends, in ms. */
export const ENCODE_SLICE_MS = 4
/** The time left to processing after each slice, whichever snapshot file ran it, in ms. */
export const ENCODE_PAUSE_MS = 12

/**
 * Hands out turns of encoding, one at a time, over every snapshot file being written on this
 * thread. A checkpoint writes one file per stateful task, and they encode concurrently: each
 * yielding to the event loop after its own slice still left the thread to encoding from the first
 * barrier to the last file (0.3–0.6 s in the demo), with processing waiting and latency rising.
 * With turns, encoding takes at most a quarter of the thread while it lasts (4 ms in 16), and
 * records are never held back by it for more than a slice. A quarter, not a half: a thread busy
 * three quarters of the time with records (the demo's) falls behind, and its latency climbs, for as
 * long as encoding takes more than what is left.
 */
export class EncodePacer {
  private readonly waiting: (() => void)[] = []
  /** A turn is held, or granted and about to start. */
  private busy = false
  private lastEnd = Number.NEGATIVE_INFINITY

  constructor(
    /** How long a turn may last, in ms. */
    readonly sliceMs = ENCODE_SLICE_MS,
    private readonly pauseMs = ENCODE_PAUSE_MS,
  ) {}

  /**
   * Resolves when the caller's turn starts: after every turn asked for before it, and at least
   * `pauseMs` after the previous turn ended. The caller must end it with `done()`, also on failure.
   */
  turn(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve)
      if (!this.busy) this.schedule()
    })
  }

  /** Ends the caller's turn; the next one starts `pauseMs` later. */
  done(): void {
    this.lastEnd = performance.now()
    this.busy = false
    if (this.waiting.length > 0) this.schedule()
  }

  private schedule(): void {
    this.busy = true
    const wait = this.lastEnd + this.pauseMs - performance.now()
    // Whole milliseconds: a fractional timeout makes Node's timer lists key on a non-integer, which
    // throws its optimized timer code (every setTimeout of the thread) back to the interpreter.
    if (wait > 0) setTimeout(() => this.grant(), Math.ceil(wait))
    else queueMicrotask(() => this.grant())
  }

  private grant(): void {
    // Node's timers may fire up to a millisecond early: wait out the rest of the pause.
    const rest = this.lastEnd + this.pauseMs - performance.now()
    if (rest > 0.05) {
      setTimeout(() => this.grant(), Math.max(1, Math.ceil(rest)))
      return
    }
    const next = this.waiting.shift()
    if (next === undefined) this.busy = false
    else next()
  }
}

/** The pacer of this thread's snapshot files. */
export const encodePacer = new EncodePacer()

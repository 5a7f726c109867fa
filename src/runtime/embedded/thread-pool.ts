// Worker threads kept between the jobs of one process, so that a job on threads starts on threads
// whose code is loaded and compiled already, as a Flink session cluster keeps its task managers.

import { SHARE_ENV, type TransferListItem, Worker } from 'node:worker_threads'

const WORKER_ENTRY = new URL('./worker-entry.mjs', import.meta.url)

/** Idle worker threads kept at most; a thread released past that ends. */
export const MAX_IDLE_THREADS = 8

/** An idle worker thread that no job takes within this long (ms) ends. */
export const IDLE_THREAD_MS = 30_000

interface IdleThread {
  readonly worker: Worker
  readonly timer: NodeJS.Timeout
  readonly gone: () => void
}

const idle: IdleThread[] = []

/**
 * A worker thread running a job: an idle one from the pool, else a new one. The thread starts the
 * job at once (`data` becomes its `workerData`, or comes in a `job` message). A kept thread keeps
 * the modules it imported, as this thread does (the job's owner builds its copy of the topology
 * from the same cached module, so both sides stay the same graph). Worker threads share this
 * process's environment variables (`SHARE_ENV`): a job reads them as they are when it runs.
 */
export function acquireThread(data: { readonly ports: object }, transferList: TransferListItem[]): Worker {
  const kept = idle.pop()
  if (kept === undefined) return new Worker(WORKER_ENTRY, { workerData: data, transferList, env: SHARE_ENV })
  clearTimeout(kept.timer)
  kept.worker.off('exit', kept.gone)
  kept.worker.off('error', kept.gone)
  kept.worker.ref()
  kept.worker.postMessage({ k: 'job', data }, transferList)
  return kept.worker
}

/**
 * Gives back a thread whose job finished cleanly (it answered `done`, its last message, and the
 * caller has removed its listeners): kept idle for the next job, or ended when the pool is full.
 * An idle thread does not keep the process alive.
 */
export function releaseThread(worker: Worker): void {
  if (idle.length >= MAX_IDLE_THREADS) {
    void worker.terminate()
    return
  }
  const gone = () => {
    const i = idle.findIndex((t) => t.worker === worker)
    if (i >= 0) {
      clearTimeout(idle[i]!.timer)
      idle.splice(i, 1)
    }
    void worker.terminate()
  }
  const timer = setTimeout(gone, IDLE_THREAD_MS)
  timer.unref()
  worker.on('exit', gone)
  worker.on('error', gone)
  worker.unref()
  idle.push({ worker, timer, gone })
}

/** Ends every idle thread (for tests and for a host that wants its threads back now). */
export async function endIdleThreads(): Promise<void> {
  const all = idle.splice(0, idle.length)
  for (const t of all) {
    clearTimeout(t.timer)
    t.worker.off('exit', t.gone)
    t.worker.off('error', t.gone)
  }
  await Promise.all(all.map((t) => t.worker.terminate()))
}

/** Idle threads the pool holds now. */
export function idleThreads(): number {
  return idle.length
}

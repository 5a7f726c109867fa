// Local services for output tests: is Redis or PostgreSQL listening on 127.0.0.1? Under CI=true a
// missing service fails the tests; elsewhere they are skipped with a message saying why.
import { connect } from 'node:net'

/** True under `CI=true`, where every service a test needs must be there. */
export const CI = process.env.CI === 'true'

/** Resolves true when something accepts TCP connections on 127.0.0.1:`port` within a second. */
export function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1000, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

/**
 * Checks a service once; returns whether its tests should run. Outside CI a missing service is
 * reported on stderr and its tests skip; under CI they run and fail on the missing service.
 */
export async function service(name: string, port: number): Promise<{ up: boolean; run: boolean }> {
  const up = await reachable(port)
  if (!up && !CI)
    console.warn(
      `skipping the ${name} tests: nothing listens on 127.0.0.1:${port} (set CI=true to fail instead)`,
    )
  return { up, run: up || CI }
}

// Debian's python3-fluent-logger, a real fluentd client the forward tests drive: where it is, and
// whether it can run here. Under CI=true its tests run and fail when it is missing; elsewhere they
// are skipped with the reason.
import { existsSync } from 'node:fs'
import { spawnSync } from 'node:child_process'

/** Debian's python3; the python3 on PATH may be another one without python3-fluent-logger. */
export const PYTHON = '/usr/bin/python3'

/** Why the python client cannot run here; `undefined` when `fluent.sender` imports. */
export const PYTHON_MISSING = !existsSync(PYTHON)
  ? `no ${PYTHON}`
  : spawnSync(PYTHON, ['-c', 'import fluent.sender'], { stdio: 'ignore', timeout: 10_000 }).status !== 0
    ? `${PYTHON} cannot import fluent.sender (install the Debian package python3-fluent-logger)`
    : undefined

/** True when the python client's tests are skipped (missing, and not under CI=true); warns why. */
export function skipPythonClient(what: string): boolean {
  if (PYTHON_MISSING === undefined || process.env.CI === 'true') return false
  console.warn(`skipping ${what}: ${PYTHON_MISSING} (set CI=true to fail instead)`)
  return true
}

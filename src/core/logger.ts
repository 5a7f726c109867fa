// A minimal structured logger: level, message and fields; JSON lines on stderr by default.

/** Log levels, most to least severe. */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug'

/** Structured logging: one message plus fields (node, file, line, …) that make it actionable. */
export type Logger = (level: LogLevel, message: string, fields?: { [field: string]: unknown }) => void

const RANK: { [level in LogLevel]: number } = { error: 0, warn: 1, info: 2, debug: 3 }

/**
 * A logger writing one line per message to stderr: `level message {fields}`. Messages below
 * `minLevel` (default `SQUALL_LOG` or `info`) are dropped.
 */
export function consoleLogger(minLevel: LogLevel = (process.env.SQUALL_LOG as LogLevel) ?? 'info'): Logger {
  const max = RANK[minLevel] ?? RANK.info
  return (level, message, fields) => {
    if (RANK[level] > max) return
    const suffix = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : ''
    process.stderr.write(`[squall] ${level} ${message}${suffix}\n`)
  }
}

/** A logger that keeps entries in memory, for tests and for the HTTP API's recent-log view. */
export function memoryLogger(): Logger & {
  entries: { level: LogLevel; message: string; fields?: object }[]
} {
  const entries: { level: LogLevel; message: string; fields?: object }[] = []
  const log = ((level: LogLevel, message: string, fields?: object) => {
    entries.push(fields === undefined ? { level, message } : { level, message, fields })
  }) as Logger & { entries: typeof entries }
  log.entries = entries
  return log
}

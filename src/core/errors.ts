// Every error Squall raises: one class hierarchy, one catalog of stable codes.
// docs/errors.md lists the same codes; test/core/errors.test.ts keeps the two in sync.

/** Who has to act: the user (fix the job or input), the outside world (retry), or Squall itself (a bug). */
export type ErrorDomain = 'user' | 'external' | 'internal'

interface CodeInfo {
  readonly domain: ErrorDomain
  readonly retryable: boolean
  readonly summary: string
}

/**
 * The catalog of error codes. Codes are stable: tests, logs and users match on them.
 * Add a code here and a line in docs/errors.md together.
 */
export const ERROR_CODES = {
  // --- topology and DSL ---
  ERR_TOPOLOGY_CYCLE: { domain: 'user', retryable: false, summary: 'The topology graph has a cycle.' },
  ERR_TOPOLOGY_UNKNOWN_INPUT: {
    domain: 'user',
    retryable: false,
    summary: 'A node reads from a node that is not in the topology.',
  },
  ERR_TOPOLOGY_DUPLICATE_NAME: { domain: 'user', retryable: false, summary: 'Two nodes share one name.' },
  ERR_TOPOLOGY_NOT_KEYED: {
    domain: 'user',
    retryable: false,
    summary: 'A keyed operator (reduce, aggregate, process with state, window) is used without keyBy.',
  },
  ERR_TOPOLOGY_EMPTY: { domain: 'user', retryable: false, summary: 'The topology has no source or no sink.' },
  ERR_ARGUMENT: { domain: 'user', retryable: false, summary: 'An argument has a wrong value or type.' },
  // --- runtime ---
  ERR_OPERATOR_FAILED: {
    domain: 'user',
    retryable: false,
    summary: "An operator threw while processing a record and its error policy is 'fail'.",
  },
  ERR_SOURCE_FAILED: { domain: 'external', retryable: true, summary: 'A source could not read its input.' },
  ERR_SINK_FAILED: { domain: 'external', retryable: true, summary: 'A sink could not write its output.' },
  ERR_WORKER_FAILED: {
    domain: 'internal',
    retryable: false,
    summary: 'A worker thread exited unexpectedly.',
  },
  ERR_JOB_CANCELLED: { domain: 'user', retryable: false, summary: 'The job was stopped before it finished.' },
  ERR_MODULE_LOAD: {
    domain: 'user',
    retryable: false,
    summary: 'A topology module could not be loaded or has no default export.',
  },
  ERR_BAD_RECORD: { domain: 'user', retryable: false, summary: 'A record could not be decoded or parsed.' },
  // --- time and windows ---
  ERR_WINDOW_SIZE: {
    domain: 'user',
    retryable: false,
    summary: 'A window size (or step, or maximum size) is zero or negative.',
  },
  ERR_WINDOW_SLIDE: {
    domain: 'user',
    retryable: false,
    summary: 'A hopping window slide is zero, negative or larger than its size.',
  },
  ERR_WINDOW_GAP: { domain: 'user', retryable: false, summary: 'A session window gap is zero or negative.' },
  ERR_WINDOW_GRACE: {
    domain: 'user',
    retryable: false,
    summary: 'A window grace period (allowed lateness) is negative.',
  },
  ERR_WINDOW_OFFSET: {
    domain: 'user',
    retryable: false,
    summary: 'A window offset is not smaller than its slide or size.',
  },
  ERR_WINDOW_TRIGGER: {
    domain: 'user',
    retryable: false,
    summary: 'A window trigger has a zero or negative interval or count.',
  },
  ERR_JOIN_BOUNDS: {
    domain: 'user',
    retryable: false,
    summary: 'An interval join has a lower bound above its upper bound.',
  },
  // --- state and checkpoints ---
  ERR_STATE_FORMAT: {
    domain: 'user',
    retryable: false,
    summary: 'A state directory or checkpoint was written in a format version this Squall cannot read.',
  },
  ERR_STATE_LOCKED: {
    domain: 'user',
    retryable: false,
    summary: 'A state directory is in use by another live job.',
  },
  ERR_CHECKPOINT_FAILED: {
    domain: 'external',
    retryable: true,
    summary: 'A checkpoint could not be taken or written; the job goes on and the next checkpoint retries.',
  },
  ERR_CHECKPOINT_NOT_FOUND: {
    domain: 'user',
    retryable: false,
    summary: 'No complete checkpoint was found where one was asked for (--from-checkpoint).',
  },
  ERR_JOURNAL_LOCKED: {
    domain: 'user',
    retryable: false,
    summary: 'A journal directory is already open in another live process.',
  },
  ERR_JOURNAL_CORRUPT: {
    domain: 'internal',
    retryable: false,
    summary: 'A journal segment holds a damaged entry before its end.',
  },
  ERR_JOURNAL_FAILED: {
    domain: 'external',
    retryable: false,
    summary: 'A journal could not write or sync, or was used after close.',
  },
  // --- plugins and config ---
  ERR_OUTPUT_REJECTED: {
    domain: 'external',
    retryable: false,
    summary:
      'The destination refused a chunk (a constraint, type or command error); sending it again would fail the same way.',
  },
  ERR_OUTPUT_UNDELIVERABLE: {
    domain: 'external',
    retryable: false,
    summary: 'An output could not deliver a chunk after its retries, and it has no secondary output.',
  },
  ERR_CONFIG: {
    domain: 'user',
    retryable: false,
    summary: 'A configuration has one or more invalid values.',
  },
  // --- parsers and formatters ---
  ERR_PARSE: { domain: 'user', retryable: false, summary: 'A line does not match the format of its parser.' },
  ERR_FORMAT: {
    domain: 'user',
    retryable: false,
    summary: 'A record cannot be written in the format of its formatter.',
  },
  // --- network inputs ---
  ERR_FORWARD_PROTOCOL: {
    domain: 'external',
    retryable: false,
    summary: 'A forward-protocol peer sent bytes that are not a valid request or response.',
  },
  ERR_FORWARD_AUTH: {
    domain: 'user',
    retryable: false,
    summary: 'A forward-protocol handshake failed: wrong shared key, user or password, or a bad PONG.',
  },
  ERR_FORWARD_CHUNK_TOO_LARGE: {
    domain: 'user',
    retryable: false,
    summary: 'A forward-protocol request is larger than maxChunkBytes.',
  },
  ERR_FORWARD_ACK_TIMEOUT: {
    domain: 'external',
    retryable: true,
    summary: 'A forward-protocol server did not acknowledge a chunk in time.',
  },
  ERR_FORWARD_CONNECTION: {
    domain: 'external',
    retryable: true,
    summary: 'No forward-protocol server could be reached, or the connection was lost before the ack.',
  },
  ERR_BAD_BODY: {
    domain: 'user',
    retryable: false,
    summary: 'A request body could not be decoded into records for its content type.',
  },
  // --- SQL and queries ---
  ERR_SQL_PLAN: {
    domain: 'user',
    retryable: false,
    summary: 'A valid SQL query that cannot run on streams as written.',
  },
  ERR_SQL_UNBOUNDED_STATE: {
    domain: 'user',
    retryable: false,
    summary: 'A query needs state that grows without bound, refused under strict mode.',
  },
  ERR_SQL_UPDATING_SINK: {
    domain: 'user',
    retryable: false,
    summary: 'An updating query was sent to a sink that takes only inserts.',
  },
  ERR_SQL_SYNTAX: { domain: 'user', retryable: false, summary: 'SQL text that cannot be parsed.' },
  ERR_SQL_TYPE: {
    domain: 'user',
    retryable: false,
    summary: 'A SQL expression combines types that do not fit.',
  },
  ERR_SQL_UNKNOWN_COLUMN: {
    domain: 'user',
    retryable: false,
    summary: 'A SQL name is not a column in scope.',
  },
  ERR_SQL_UNKNOWN_FUNCTION: {
    domain: 'user',
    retryable: false,
    summary: 'A SQL function name is not known.',
  },
  ERR_SQL_RUNTIME: { domain: 'user', retryable: false, summary: 'A SQL expression failed on a row.' },
  // --- kit ---
  ERR_KIT_SNAPSHOT: {
    domain: 'user',
    retryable: false,
    summary: 'A kit snapshot cannot be restored: wrong kind, version or shape.',
  },
  // --- server and CLI ---
  ERR_QUERY_EXISTS: {
    domain: 'user',
    retryable: false,
    summary: 'A query with this name is already registered.',
  },
  ERR_QUERY_NOT_FOUND: {
    domain: 'user',
    retryable: false,
    summary: 'No query with this name is registered.',
  },
  ERR_QUERY_INVALID: {
    domain: 'user',
    retryable: false,
    summary: 'A query definition is invalid: bad name, empty SQL, or a plan that cannot run.',
  },
  ERR_UNAUTHORIZED: {
    domain: 'user',
    retryable: false,
    summary: 'An HTTP API call lacks the bearer token or has a wrong one.',
  },
  ERR_HTTP_REQUEST: {
    domain: 'user',
    retryable: false,
    summary: 'An HTTP API request is malformed: unknown route, wrong method, bad JSON or too large a body.',
  },
  ERR_SERVER_UNREACHABLE: {
    domain: 'external',
    retryable: true,
    summary: 'The CLI could not reach the HTTP API of a running job.',
  },
  ERR_HTTP_BUSY: {
    domain: 'external',
    retryable: true,
    summary: 'The job cannot take more ingested records now; retry after the Retry-After delay.',
  },
  ERR_HTTP_INTERNAL: {
    domain: 'internal',
    retryable: false,
    summary: 'An HTTP API call failed with an unexpected error.',
  },
  ERR_CLI_USAGE: {
    domain: 'user',
    retryable: false,
    summary: 'A CLI command was called with wrong arguments.',
  },
} as const satisfies Record<string, CodeInfo>

export type ErrorCode = keyof typeof ERROR_CODES

/** Where an error happened; every field is optional, fill in what is known. */
export interface ErrorWhere {
  job?: string
  node?: string
  task?: number
  partition?: number | string
  file?: string
  line?: number
  path?: string
}

export interface SquallErrorOptions {
  where?: ErrorWhere
  cause?: unknown
}

/**
 * The base of every error Squall throws. `code` is stable; `domain` and `retryable` come from the
 * catalog; `where` says which job, node, partition, file or line it concerns.
 */
export class SquallError extends Error {
  readonly code: ErrorCode
  readonly domain: ErrorDomain
  readonly retryable: boolean
  readonly where: ErrorWhere

  constructor(code: ErrorCode, message: string, options: SquallErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'SquallError'
    this.code = code
    const info: CodeInfo = ERROR_CODES[code]
    this.domain = info.domain
    this.retryable = info.retryable
    this.where = options.where ?? {}
  }
}

/** A topology that cannot run: refused before anything starts. */
export class TopologyError extends SquallError {
  constructor(code: ErrorCode, message: string, options: SquallErrorOptions = {}) {
    super(code, message, options)
    this.name = 'TopologyError'
  }
}

/** One problem in a configuration, with the path of the bad value (`sources[0].parser.type`). */
export interface ConfigIssue {
  path: string
  message: string
}

/** A configuration with one or more problems, all reported together before anything starts. */
export class ConfigError extends SquallError {
  readonly issues: readonly ConfigIssue[]

  constructor(issues: readonly ConfigIssue[], options: SquallErrorOptions = {}) {
    super(
      'ERR_CONFIG',
      issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('\n'),
      options,
    )
    this.name = 'ConfigError'
    this.issues = issues
  }
}

/** Throws ERR_ARGUMENT naming the parameter unless `ok`. */
export function check(ok: boolean, parameter: string, expected: string, got?: unknown): asserts ok {
  if (!ok) {
    const shown = got === undefined ? '' : `, got ${describeValue(got)}`
    throw new SquallError('ERR_ARGUMENT', `${parameter}: expected ${expected}${shown}`)
  }
}

/** A short, safe rendering of a value for an error message. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value)
  if (typeof value === 'function') return 'a function'
  try {
    const s = JSON.stringify(value)
    if (s === undefined) return String(value)
    return s.length > 80 ? `${s.slice(0, 77)}...` : s
  } catch {
    return String(value)
  }
}

/** Wraps anything thrown into a SquallError with `code`, keeping the original as `cause`. */
export function wrapError(code: ErrorCode, message: string, cause: unknown, where?: ErrorWhere): SquallError {
  if (cause instanceof SquallError) return cause
  const detail = cause instanceof Error ? cause.message : String(cause)
  return new SquallError(code, `${message}: ${detail}`, { cause, ...(where ? { where } : {}) })
}

// Errors crossing from worker threads to the job's owner keep their code, place and message.

import { type ErrorCode, ERROR_CODES, SquallError, type ErrorWhere } from '../../core/errors.ts'

/** An error as plain data, safe to post between threads. */
export interface SerializedError {
  name: string
  message: string
  stack?: string
  code?: string
  where?: ErrorWhere
}

export function serializeError(e: unknown): SerializedError {
  if (e instanceof SquallError)
    return {
      name: e.name,
      message: e.message,
      code: e.code,
      where: e.where,
      ...(e.stack ? { stack: e.stack } : {}),
    }
  if (e instanceof Error) return { name: e.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}) }
  return { name: 'Error', message: String(e) }
}

/** Rebuilds a SquallError (with its code and place) or a plain Error. */
export function deserializeError(s: SerializedError): Error {
  if (s.code !== undefined && s.code in ERROR_CODES) {
    const e = new SquallError(s.code as ErrorCode, s.message, s.where ? { where: s.where } : {})
    if (s.stack) e.stack = s.stack
    return e
  }
  const e = new Error(s.message)
  e.name = s.name
  if (s.stack) e.stack = s.stack
  return e
}

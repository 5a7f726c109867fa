import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ERROR_CODES, SquallError, check } from '../../src/core/errors.ts'
import { toMillis } from '../../src/core/duration.ts'

describe('errors', () => {
  it('docs/errors.md lists exactly the codes of the catalog', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')
    const documented = new Set([...doc.matchAll(/^\| `(ERR_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]))
    const catalog = new Set(Object.keys(ERROR_CODES))
    expect([...catalog].filter((c) => !documented.has(c))).toEqual([])
    expect([...documented].filter((c) => !catalog.has(c as string))).toEqual([])
  })

  it('an error carries its code, domain, retry hint and place', () => {
    const e = new SquallError('ERR_SINK_FAILED', 'disk full', { where: { node: 'out' } })
    expect(e).toMatchObject({
      code: 'ERR_SINK_FAILED',
      domain: 'external',
      retryable: true,
      where: { node: 'out' },
    })
  })

  it('argument checks name the parameter, what was expected and what was given', () => {
    expect(() => check(false, 'threads', 'an integer ≥ 1', 0)).toThrowError(
      'threads: expected an integer ≥ 1, got 0',
    )
  })

  it('durations read "1m30s", "250ms" and numbers, and name the bad value', () => {
    expect(toMillis('1m30s')).toBe(90_000)
    expect(toMillis('250ms')).toBe(250)
    expect(toMillis(5)).toBe(5)
    expect(toMillis('2h')).toBe(7_200_000)
    expect(() => toMillis('soon', 'retry.maxInterval')).toThrowError(
      'retry.maxInterval: expected a duration like "30s", "5m" or a number of milliseconds, got "soon"',
    )
  })
})

import { z } from 'zod'
import { describe, expect, it } from 'vitest'
import { describeOptions, duration, size, toBytes, validate } from '../../src/plugins/config.ts'

const Schema = z.strictObject({
  port: z.number().int().default(24224).describe('TCP port'),
  rotateWait: duration('5s').describe('wait'),
  limit: size('8MiB').describe('limit'),
  mode: z.enum(['udp', 'tcp']).default('udp').describe('transport'),
})

describe('plugin config schemas', () => {
  it('fills in defaults and converts durations and sizes', () => {
    const r = validate(Schema, { rotateWait: '1m30s', limit: '512k' })
    expect(r).toEqual({
      ok: true,
      value: { port: 24224, rotateWait: 90_000, limit: 512 * 1024, mode: 'udp' },
    })
    const d = validate(Schema, {})
    expect(d.ok && d.value.rotateWait).toBe(5000)
    expect(d.ok && d.value.limit).toBe(8 * 1024 * 1024)
  })

  it('reports every problem together, each with its path, and suggests the key that was meant', () => {
    const r = validate(Schema, { prot: 1, rotateWait: 'soon', mode: 'tpc', limit: 'lots' }, 'sources[2]')
    expect(r.ok).toBe(false)
    const issues = r.ok ? [] : r.issues
    const byPath = Object.fromEntries(issues.map((i) => [i.path, i.message]))
    expect(byPath['sources[2].prot']).toContain('did you mean "port"?')
    expect(byPath['sources[2].rotateWait']).toContain('expected a duration like "30s"')
    expect(byPath['sources[2].rotateWait']).toContain('"soon"')
    expect(byPath['sources[2].mode']).toContain('did you mean "tcp"?')
    expect(byPath['sources[2].limit']).toContain('"lots"')
    expect(issues).toHaveLength(4)
  })

  it('reads sizes with binary units and refuses what is not a size', () => {
    expect(toBytes('1g')).toBe(1024 ** 3)
    expect(toBytes('2 MiB')).toBe(2 * 1024 ** 2)
    expect(toBytes(100)).toBe(100)
    expect(toBytes('10 parsecs')).toBeUndefined()
    expect(toBytes(-1)).toBeUndefined()
  })

  it('describes options with their type, default and description, for squall describe and the docs', () => {
    const options = describeOptions(Schema)
    expect(options.map((o) => o.name)).toEqual(['port', 'rotateWait', 'limit', 'mode'])
    expect(options[1]).toMatchObject({
      type: 'duration',
      default: '"5s"',
      description: 'wait',
      required: false,
    })
    expect(options[3]!.type).toBe('"udp" | "tcp"')
  })
})

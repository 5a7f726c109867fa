import { describe, expect, it } from 'vitest'
import { generate, generatedSource } from '../../src/core/generated.ts'

describe('generated functions', () => {
  it('compile the body with the parameters bound to the arguments', () => {
    const add = generate<(x: number) => number>(['n', 'scale'], 'return (x) => (x + n) * scale', [2, 10])
    expect(add(1)).toBe(30)
    expect(add(-2)).toBe(0)
    const loop = generate<(xs: number[]) => number>(
      ['f'],
      'return function sum(xs) { let s = 0; for (const x of xs) s += f(x); return s }',
      [(x: number) => x * x],
    )
    expect(loop([1, 2, 3])).toBe(14)
  })

  it('give every call a source text of its own, so no two share what V8 caches per text', () => {
    const body = 'return function run(xs, p) { for (const x of xs) p.f(x) }'
    const a = generatedSource(body)
    const b = generatedSource(body)
    expect(a).not.toBe(b)
    for (const s of [a, b]) expect(s.endsWith(`\n${body}`)).toBe(true)
  })

  it('reports a syntax error in the body as the SyntaxError it is', () => {
    expect(() => generate([], 'return function (', [])).toThrow(SyntaxError)
  })
})

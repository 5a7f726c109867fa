import { describe, expect, it } from 'vitest'
import { SquallError } from '../../src/core/errors.ts'
import { compileTagPattern, matchTag } from '../../src/core/tag-match.ts'

const cases: [pattern: string, matches: string[], rejects: string[]][] = [
  ['a', ['a'], ['b', 'a.b', 'ab', '']],
  ['a.b', ['a.b'], ['a', 'a.b.c', 'a.bb', 'axb']],
  ['a.*', ['a.b', 'a.c'], ['a', 'a.b.c', 'b.a']],
  ['*.b', ['a.b', 'x.b'], ['b', 'a.c.b', 'a.bc']],
  ['a.**', ['a', 'a.b', 'a.b.c'], ['ab', 'b.a', 'abc.d']],
  ['**', ['', 'a', 'a.b.c'], []],
  ['**.c', ['c', 'a.c', 'a.b.c'], ['a.cd', 'ac']],
  ['a.**.d', ['a.d', 'a.b.d', 'a.b.c.d'], ['a.bd', 'a.b.c']],
  ['{a,b}.c', ['a.c', 'b.c'], ['c.c', 'a.b.c', 'ab.c']],
  ['a.{b,c}.**', ['a.b', 'a.c', 'a.b.d', 'a.c.d.e'], ['a.d', 'a.bc', 'a']],
  ['{a.*,b}.c', ['a.x.c', 'b.c'], ['a.c', 'a.x.y.c']],
  ['web.*.{ok,err}', ['web.api.ok', 'web.api.err'], ['web.api.warn', 'web.ok']],
  ['a b', ['a', 'b'], ['c', 'a.b']],
  ['app.** system.*', ['app', 'app.x.y', 'system.log'], ['system', 'system.a.b']],
  ['a\\*b', ['a*b'], ['axb']],
  ['a-b.c_d', ['a-b.c_d'], ['a-b.cxd']],
]

describe('tag match patterns', () => {
  for (const [pattern, matches, rejects] of cases) {
    it(`"${pattern}" matches ${JSON.stringify(matches)} and not ${JSON.stringify(rejects)}`, () => {
      const m = compileTagPattern(pattern)
      for (const tag of matches) expect(m(tag), `${pattern} vs ${tag}`).toBe(true)
      for (const tag of rejects) expect(m(tag), `${pattern} vs ${tag}`).toBe(false)
    })
  }

  it('returns the same compiled matcher for the same pattern text', () => {
    expect(compileTagPattern('x.{y,z}.**')).toBe(compileTagPattern('x.{y,z}.**'))
  })

  it('matchTag compiles and tests in one call', () => {
    expect(matchTag('web.**', 'web.access')).toBe(true)
    expect(matchTag('web.**', 'db.access')).toBe(false)
  })

  it('treats regular-expression characters in a pattern literally', () => {
    expect(matchTag('a+b.(c)', 'a+b.(c)')).toBe(true)
    expect(matchTag('a+b.(c)', 'aab.c')).toBe(false)
  })

  it('refuses an empty pattern with ERR_ARGUMENT', () => {
    expect(() => compileTagPattern('  ')).toThrowError(SquallError)
    expect(() => compileTagPattern('')).toThrowError(/expected a tag pattern/)
  })
})

describe('regular-expression tag patterns', () => {
  it('a pattern between slashes is a regular expression over the whole tag', () => {
    const match = compileTagPattern('/web\\.(app|api)\\d+/')
    expect(match('web.app1')).toBe(true)
    expect(match('web.api22')).toBe(true)
    expect(match('web.app')).toBe(false)
    expect(match('xweb.app1')).toBe(false)
    expect(match('web.app1.x')).toBe(false)
    expect(compileTagPattern('/a\\.\\d+/ b.**')('b.c')).toBe(true)
    expect(() => compileTagPattern('/web(/')).toThrow(expect.objectContaining({ code: 'ERR_ARGUMENT' }))
  })
})

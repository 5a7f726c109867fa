import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../../src/core/errors.ts'
import { createParser, regexpParser } from '../../../src/plugins/parsers/index.ts'
import { compileRubyRegExp } from '../../../src/plugins/parsers/regexp.ts'

describe('regexp parser', () => {
  it("gives fluentd's documented record and time for its example", () => {
    const p = createParser({
      type: 'regexp',
      expression: '/^\\[(?<logtime>[^\\]]*)\\] (?<name>[^ ]*) (?<title>[^ ]*) (?<id>\\d*)$/',
      timeKey: 'logtime',
      timeFormat: '%Y-%m-%d %H:%M:%S %z',
      types: 'id:integer',
    })
    expect(p.parse('[2013-02-28 12:00:00 +0900] alice engineer 1')).toEqual({
      value: { name: 'alice', title: 'engineer', id: 1 },
      time: 1362020400 * 1000,
    })
  })

  it('leaves out groups that did not take part in the match', () => {
    const p = regexpParser({ expression: /^(?<a>\w+)(?: (?<b>\w+))?$/ })
    expect(p.parse('x')).toEqual({ value: { a: 'x' } })
    expect(p.parse('x y')).toEqual({ value: { a: 'x', b: 'y' } })
    expect(p.parse('x y z')).toBeUndefined()
  })

  it('applies every kind of types conversion', () => {
    const p = regexpParser({
      expression: '^(?<i>\\S*) (?<f>\\S*) (?<b>\\S*) (?<a>\\S*) (?<t>\\S*) (?<s>\\S*)$',
      types: { i: 'integer', f: 'float', b: 'bool', a: 'array:|', t: 'time:%d/%m/%Y', s: 'string' },
    })
    expect(p.parse('12abc 7.45 yes x|y|z 28/02/2013 007')?.value).toEqual({
      i: 12,
      f: 7.45,
      b: true,
      a: ['x', 'y', 'z'],
      t: Date.UTC(2013, 1, 28),
      s: '007',
    })
    expect(p.parse('nope x 0 q 28/02/2013 s')?.value).toMatchObject({ i: 0, f: 0, b: false, a: ['q'] })
    expect(p.parse('1 1 1 a 99/99/2013 s')).toBeUndefined()
  })

  it('honours the i and m flags, and Ruby anchors', () => {
    expect(regexpParser({ expression: '/^(?<w>hello)$/i' }).parse('HeLLo')?.value.w).toBe('HeLLo')
    expect(regexpParser({ expression: '/^(?<all>a.b)$/m' }).parse('a\nb')?.value.all).toBe('a\nb')
    expect(regexpParser({ expression: '/^(?<all>a.b)$/' }).parse('a\nb')).toBeUndefined()
    expect(regexpParser({ expression: '/\\A(?<x>\\h+)\\z/' }).parse('00ff')?.value.x).toBe('00ff')
    expect(regexpParser({ expression: '/\\A(?<x>\\h+)\\z/' }).parse('00fg')).toBeUndefined()
  })

  it('turns null values and empty strings into null when asked, keeping the time key when asked', () => {
    const p = regexpParser({
      expression: '^(?<time>\\S+) (?<a>\\S*) ?(?<b>\\S*)$',
      nullValuePattern: '-|none',
      nullEmptyString: true,
      keepTimeKey: true,
    })
    expect(p.parse('2020-01-01T00:00:00Z - ')).toEqual({
      value: { time: '2020-01-01T00:00:00Z', a: null, b: null },
      time: Date.parse('2020-01-01T00:00:00Z'),
    })
    expect(p.parse('2020-01-01T00:00:00Z a-b none')?.value).toMatchObject({ a: 'a-b', b: null })
  })

  it('numbers named groups without disturbing unnamed groups and lookbehinds', () => {
    const { re, names } = compileRubyRegExp('(a)(?<x>b)(?:c)(?<=c)(?<y>[(?<z>])')
    expect(names).toEqual(['', 'x', 'y'])
    expect(re.exec('abc(')?.slice(1)).toEqual(['a', 'b', '('])
  })

  it('reports every config problem at once with its path', () => {
    try {
      createParser({ type: 'regexp', expression: '/(?<a>[/', types: 'a:number' })
      expect.unreachable()
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError)
      const paths = (e as ConfigError).issues.map((i) => i.path)
      expect(paths).toEqual(['parser.expression', 'parser.types.a'])
    }
    expect(() => createParser({ type: 'regexp', expression: '^(\\w+)$' })).toThrowError(/named group/)
  })
})

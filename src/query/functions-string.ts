// String functions: case, trimming, substrings, padding, replacing, regular expressions.
// Positions are 1-based as in SQL; regular expressions use JavaScript syntax, compiled once.

import { SquallError } from '../core/errors.ts'
import { Arg, type ScalarFunction, scalar } from './function-def.ts'
import { SqlTypes } from './types.ts'

const S = SqlTypes.STRING
const regexCache = new Map<string, RegExp>()

/** The RegExp for `source` (global when `global`), compiled once; ERR_SQL_RUNTIME when invalid. */
export function cachedRegex(source: string, global = false): RegExp {
  const key = global ? `g:${source}` : source
  let re = regexCache.get(key)
  if (re) return re
  try {
    re = new RegExp(source, global ? 'gu' : 'u')
  } catch (e) {
    throw new SquallError(
      'ERR_SQL_RUNTIME',
      `invalid regular expression ${JSON.stringify(source)}: ${(e as Error).message}`,
    )
  }
  if (regexCache.size > 512) regexCache.clear()
  regexCache.set(key, re)
  return re
}

/** Renders any SQL value as a string the way CONCAT and `||` do. */
export function toText(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v)
}

function trimChars(s: string, chars: string, left: boolean, right: boolean): string {
  let a = 0
  let b = s.length
  if (left) while (a < b && chars.includes(s[a]!)) a++
  if (right) while (b > a && chars.includes(s[b - 1]!)) b--
  return s.slice(a, b)
}

function substring(s: string, start: number, length?: number): string {
  const from = start > 0 ? start - 1 : start === 0 ? 0 : Math.max(0, s.length + start)
  const len = length === undefined ? s.length : length
  if (len < 0) return ''
  return s.slice(from, from + (start === 0 && length !== undefined ? len - 1 : len))
}

function pad(s: string, length: number, fill: string, left: boolean): string | null {
  if (length < 0) return null
  if (s.length >= length) return s.slice(0, length)
  if (fill === '') return s
  let p = ''
  while (p.length < length - s.length) p += fill
  p = p.slice(0, length - s.length)
  return left ? p + s : s + p
}

/** The string functions, by name. */
export const STRING_FUNCTIONS: readonly ScalarFunction[] = [
  scalar('UPPER(s)', 'The string in upper case.', [Arg.string], S, (s: string) => s.toUpperCase()),
  scalar('LOWER(s)', 'The string in lower case.', [Arg.string], S, (s: string) => s.toLowerCase()),
  scalar(
    'INITCAP(s)',
    'Each word with its first letter upper case and the rest lower case.',
    [Arg.string],
    S,
    (s: string) =>
      s
        .toLowerCase()
        .replace(/(^|[^\p{L}\p{N}])(\p{L})/gu, (_m, a: string, b: string) => a + b.toUpperCase()),
  ),
  scalar(
    'TRIM(s [, chars])',
    'Removes spaces (or the given characters) at both ends.',
    [Arg.string],
    S,
    (s: string, c?: string) => (c === undefined ? s.replace(/^ +| +$/g, '') : trimChars(s, c, true, true)),
  ),
  scalar(
    'LTRIM(s [, chars])',
    'Removes spaces (or the given characters) at the start.',
    [Arg.string],
    S,
    (s: string, c?: string) => trimChars(s, c ?? ' ', true, false),
  ),
  scalar(
    'RTRIM(s [, chars])',
    'Removes spaces (or the given characters) at the end.',
    [Arg.string],
    S,
    (s: string, c?: string) => trimChars(s, c ?? ' ', false, true),
  ),
  scalar(
    'SUBSTRING(s, start [, length])',
    'The part of s from position start (1-based; negative counts from the end), length characters long. Also SUBSTR and SUBSTRING(s FROM start FOR length).',
    [Arg.string, Arg.integer, Arg.integer],
    S,
    substring,
  ),
  scalar('CHAR_LENGTH(s)', 'The number of characters.', [Arg.string], SqlTypes.INT, (s: string) => s.length),
  scalar('CHARACTER_LENGTH(s)', 'Same as CHAR_LENGTH.', [Arg.string], SqlTypes.INT, (s: string) => s.length),
  scalar('LENGTH(s)', 'Same as CHAR_LENGTH.', [Arg.string], SqlTypes.INT, (s: string) => s.length),
  scalar(
    'CONCAT(s, ...)',
    'The arguments joined; NULL if any is NULL.',
    [Arg.any],
    S,
    (...parts: unknown[]) => {
      let out = ''
      for (const p of parts) out += toText(p)
      return out
    },
  ),
  scalar(
    'CONCAT_WS(sep, s, ...)',
    'The non-NULL arguments after sep, joined with sep; NULL only when sep is NULL.',
    [Arg.string, Arg.any],
    S,
    (sep: string | null, ...parts: unknown[]) => {
      if (sep == null) return null
      let out = ''
      let first = true
      for (const p of parts) {
        if (p == null) continue
        out += first ? toText(p) : sep + toText(p)
        first = false
      }
      return out
    },
    { nullAware: true },
  ),
  scalar(
    'REPLACE(s, search, replacement)',
    'Every occurrence of search replaced.',
    [Arg.string],
    S,
    (s: string, a: string, b: string) => (a === '' ? s : s.split(a).join(b)),
  ),
  scalar(
    'REGEXP_EXTRACT(s, regex [, group])',
    'The text of group (default 0, the whole match) of the first match of regex; NULL when there is none.',
    [Arg.string, Arg.string, Arg.integer],
    S,
    (s: string, re: string, group = 0) => {
      const m = cachedRegex(re).exec(s)
      return m ? (m[group] ?? null) : null
    },
  ),
  scalar(
    'REGEXP_REPLACE(s, regex, replacement)',
    'Every match of regex replaced ($1 refers to a group).',
    [Arg.string],
    S,
    (s: string, re: string, rep: string) => s.replace(cachedRegex(re, true), rep),
  ),
  scalar(
    'REGEXP(s, regex)',
    'TRUE when regex matches somewhere in s.',
    [Arg.string],
    SqlTypes.BOOLEAN,
    (s: string, re: string) => cachedRegex(re).test(s),
  ),
  scalar(
    'SPLIT_INDEX(s, separator, index)',
    'The part at index (0-based) of s split by separator; NULL past the end.',
    [Arg.string, Arg.string, Arg.integer],
    S,
    (s: string, sep: string, i: number) => {
      if (i < 0) return null
      return s.split(sep)[i] ?? null
    },
  ),
  scalar(
    'POSITION(sub, s)',
    'The 1-based position of the first sub in s, 0 when absent. Also POSITION(sub IN s).',
    [Arg.string],
    SqlTypes.INT,
    (sub: string, s: string) => s.indexOf(sub) + 1,
  ),
  scalar(
    'LOCATE(sub, s [, from])',
    'Like POSITION, searching from position from.',
    [Arg.string, Arg.string, Arg.integer],
    SqlTypes.INT,
    (sub: string, s: string, from = 1) => s.indexOf(sub, Math.max(0, from - 1)) + 1,
  ),
  scalar(
    'LPAD(s, length, fill)',
    's padded on the left with fill to length characters (cut when longer).',
    [Arg.string, Arg.integer, Arg.string],
    S,
    (s: string, n: number, f: string) => pad(s, n, f, true),
  ),
  scalar(
    'RPAD(s, length, fill)',
    's padded on the right with fill to length characters (cut when longer).',
    [Arg.string, Arg.integer, Arg.string],
    S,
    (s: string, n: number, f: string) => pad(s, n, f, false),
  ),
  scalar('LEFT(s, n)', 'The first n characters.', [Arg.string, Arg.integer], S, (s: string, n: number) =>
    n <= 0 ? '' : s.slice(0, n),
  ),
  scalar('RIGHT(s, n)', 'The last n characters.', [Arg.string, Arg.integer], S, (s: string, n: number) =>
    n <= 0 ? '' : s.slice(-n),
  ),
  scalar('REPEAT(s, n)', 's repeated n times.', [Arg.string, Arg.integer], S, (s: string, n: number) =>
    s.repeat(Math.max(0, n)),
  ),
  scalar('REVERSE(s)', 'The characters in reverse order.', [Arg.string], S, (s: string) =>
    [...s].reverse().join(''),
  ),
  scalar(
    'ASCII(s)',
    'The code of the first character; 0 for the empty string.',
    [Arg.string],
    SqlTypes.INT,
    (s: string) => (s.length === 0 ? 0 : s.charCodeAt(0)),
  ),
  scalar('CHR(n)', 'The character with code n.', [Arg.integer], S, (n: number) => String.fromCharCode(n)),
]

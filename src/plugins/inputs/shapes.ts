// Record shapes the generator input can make from YAML (`shape: access-log`): deterministic given the
// seed and the sequence number, so tests and demos see the same data at any parallelism.

import type { Random } from './generator.ts'

/** Makes record `seq` from a seeded random stream; `time` is the record's event time in ms. */
export type ShapeFn = (seq: number, random: Random, time: number) => unknown

const PATHS = [
  '/',
  '/index.html',
  '/products',
  '/products/42',
  '/cart',
  '/checkout',
  '/search?q=shoes',
  '/api/items',
  '/login',
  '/about',
]
const METHODS = ['GET', 'GET', 'GET', 'GET', 'POST', 'GET', 'PUT', 'GET']
const CODES = [200, 200, 200, 200, 200, 304, 301, 404, 500, 200]
const AGENTS = ['Mozilla/5.0 (X11; Linux x86_64)', 'Mozilla/5.0 (Macintosh)', 'curl/8.5.0', 'Googlebot/2.1']
const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi']
const WORDS = ['storm', 'squall', 'stream', 'window', 'state', 'nats', 'fluent', 'query', 'graph', 'event']
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

function ip(random: Random): string {
  return `10.${random.int(4)}.${random.int(16)}.${1 + random.int(200)}`
}

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n)
}

/** Apache's `%d/%b/%Y:%H:%M:%S +0000` for a time in ms (UTC). */
export function apacheTime(ms: number): string {
  const d = new Date(ms)
  return `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`
}

function access(random: Random) {
  return {
    host: ip(random),
    user: '-',
    method: random.pick(METHODS),
    path: random.pick(PATHS),
    code: random.pick(CODES),
    size: 200 + random.int(5000),
    referer: '-',
    agent: random.pick(AGENTS),
  }
}

/** The built-in shapes, by name. */
export const SHAPES: {
  readonly [name: string]: {
    readonly summary: string
    readonly make: ShapeFn
    /** True when the shape makes text lines (for a parser); the others make structured records. */
    readonly text?: boolean
  }
} = {
  counter: { summary: '`{ seq }`: the sequence number.', make: (seq) => ({ seq }) },
  'access-log': {
    summary: 'Web access records `{ host, user, method, path, code, size, referer, agent, time }`.',
    make: (_seq, random, time) => ({ ...access(random), time: new Date(time).toISOString() }),
  },
  'access-log-line': {
    summary: 'Apache combined log lines (text, for the `apache2` parser).',
    text: true,
    make: (_seq, random, time) => {
      const a = access(random)
      return `${a.host} - - [${apacheTime(time)}] "${a.method} ${a.path} HTTP/1.1" ${a.code} ${a.size} "${a.referer}" "${a.agent}"`
    },
  },
  login: {
    summary: 'Login attempts `{ user, ip, success }`; about one in five fails.',
    make: (_seq, random) => ({ user: random.pick(USERS), ip: ip(random), success: random.next() > 0.2 }),
  },
  words: {
    summary: 'Short messages `{ user, text }` of a few words with a hashtag, for trending topics.',
    make: (_seq, random) => {
      const n = 3 + random.int(4)
      const words: string[] = []
      for (let i = 0; i < n; i++) words.push(random.pick(WORDS))
      words.push(`#${random.pick(WORDS)}`)
      return { user: random.pick(USERS), text: words.join(' ') }
    },
  },
}

/** The shape names, for schemas and docs. */
export const SHAPE_NAMES = Object.keys(SHAPES) as [string, ...string[]]

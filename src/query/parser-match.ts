// Parses MATCH_RECOGNIZE: partitioning, ordering, measures, the output mode, the skip strategy,
// the row pattern (a small regular expression over pattern variables), WITHIN, SUBSET and DEFINE.

import type {
  AfterMatch,
  FromItem,
  IntervalLiteral,
  MatchRecognize,
  NamedExpr,
  OrderItem,
  PatternTerm,
} from './ast.ts'
import type { Cursor } from './parser-cursor.ts'
import { parseExpr, parseExprList, parseInterval, parseOrderList } from './parser-expr.ts'

/**
 * Parses `MATCH_RECOGNIZE ( ... )` applied to `input` (the cursor is on MATCH_RECOGNIZE). The
 * alias after the closing parenthesis is read by the caller. Checks that every variable in
 * DEFINE, AFTER MATCH SKIP TO and SUBSET occurs in the pattern.
 */
export function parseMatchRecognize(c: Cursor, input: FromItem): MatchRecognize {
  const at = c.expectWord('MATCH_RECOGNIZE').offset
  c.expectOp('(')
  const partitionBy = c.acceptWords('PARTITION', 'BY') ? parseExprList(c) : []
  const orderBy: OrderItem[] = c.acceptWords('ORDER', 'BY') ? parseOrderList(c) : []
  const measures: NamedExpr[] = []
  if (c.acceptWord('MEASURES')) {
    do {
      const expr = parseExpr(c)
      c.expectWord('AS')
      measures.push({ expr, name: c.name('a measure name after AS') })
    } while (c.acceptOp(','))
  }
  let rowsPerMatch: 'one' | 'all' = 'one'
  if (c.acceptWords('ONE', 'ROW', 'PER', 'MATCH')) rowsPerMatch = 'one'
  else if (c.acceptWords('ALL', 'ROWS', 'PER', 'MATCH')) rowsPerMatch = 'all'
  let afterMatch: AfterMatch = { kind: 'pastLastRow' }
  let skipAt = -1
  if (c.acceptWord('AFTER')) {
    c.expectWord('MATCH')
    c.expectWord('SKIP')
    skipAt = c.peek().offset
    if (c.acceptWords('PAST', 'LAST', 'ROW')) afterMatch = { kind: 'pastLastRow' }
    else if (c.acceptWords('TO', 'NEXT', 'ROW')) afterMatch = { kind: 'toNextRow' }
    else if (c.acceptWords('TO', 'FIRST'))
      afterMatch = { kind: 'toFirst', variable: c.name('a pattern variable') }
    else if (c.acceptWords('TO', 'LAST'))
      afterMatch = { kind: 'toLast', variable: c.name('a pattern variable') }
    else if (c.acceptWord('TO')) afterMatch = { kind: 'toLast', variable: c.name('a pattern variable') }
    else c.failExpected('PAST LAST ROW, TO NEXT ROW, TO FIRST <var> or TO LAST <var>', ['PAST', 'TO'])
  }
  if (!c.isWord('PATTERN')) c.failExpected('PATTERN', ['PATTERN', 'MEASURES', 'AFTER', 'ONE', 'ALL'])
  c.next()
  c.expectOp('(')
  const pattern = parseAlternation(c)
  c.expectOp(')')
  let within: IntervalLiteral | undefined
  if (c.acceptWord('WITHIN')) {
    within = parseInterval(c)
    if (within.yearMonth || within.value <= 0)
      c.failAt(within.at, 'WITHIN: expected a positive day-time interval')
  }
  const variables = new Set<string>()
  collectVariables(pattern, variables)
  const subsets: { name: string; variables: string[] }[] = []
  if (c.acceptWord('SUBSET')) {
    do {
      const name = c.name('a subset name')
      c.expectOp('=')
      const vars = c.nameList('a pattern variable')
      for (const v of vars)
        if (!variables.has(v)) c.fail(`SUBSET ${name}: ${v} is not a variable of the PATTERN`)
      subsets.push({ name, variables: vars })
    } while (c.acceptOp(','))
  }
  if (!c.isWord('DEFINE')) c.failExpected('DEFINE', ['DEFINE', 'WITHIN', 'SUBSET'])
  c.next()
  const define: NamedExpr[] = []
  do {
    const t = c.peek()
    const name = c.name('a pattern variable')
    if (!variables.has(name)) {
      c.fail(`DEFINE ${name}: ${name} is not a variable of the PATTERN (${[...variables].join(', ')})`, t)
    }
    c.expectWord('AS')
    define.push({ name, expr: parseExpr(c) })
  } while (c.acceptOp(','))
  c.expectOp(')')
  if (
    (afterMatch.kind === 'toFirst' || afterMatch.kind === 'toLast') &&
    !variables.has(afterMatch.variable)
  ) {
    c.failAt(skipAt, `AFTER MATCH SKIP: ${afterMatch.variable} is not a variable of the PATTERN`)
  }
  return {
    kind: 'matchRecognize',
    at,
    input,
    partitionBy,
    orderBy,
    measures,
    rowsPerMatch,
    afterMatch,
    pattern,
    subsets,
    define,
    ...(within ? { within } : {}),
  }
}

/** Adds every variable name of `term` to `into`. */
export function collectVariables(term: PatternTerm, into: Set<string>): void {
  switch (term.kind) {
    case 'var':
      into.add(term.name)
      return
    case 'seq':
      for (const t of term.items) collectVariables(t, into)
      return
    case 'alt':
      for (const t of term.options) collectVariables(t, into)
      return
    case 'repeat':
      collectVariables(term.body, into)
  }
}

function parseAlternation(c: Cursor): PatternTerm {
  const first = parseSequence(c)
  if (!c.isOp('|')) return first
  const options = [first]
  while (c.acceptOp('|')) options.push(parseSequence(c))
  return { kind: 'alt', options }
}

function parseSequence(c: Cursor): PatternTerm {
  const items: PatternTerm[] = []
  while (!c.isOp(')') && !c.isOp('|') && !c.atEnd()) items.push(parseQuantified(c))
  if (items.length === 0) c.failExpected('a pattern variable or "("')
  return items.length === 1 ? items[0]! : { kind: 'seq', items }
}

function parseQuantified(c: Cursor): PatternTerm {
  let body: PatternTerm
  if (c.acceptOp('(')) {
    body = parseAlternation(c)
    c.expectOp(')')
  } else {
    body = { kind: 'var', name: c.name('a pattern variable') }
  }
  let min: number
  let max: number | null
  if (c.acceptOp('*')) {
    min = 0
    max = null
  } else if (c.acceptOp('+')) {
    min = 1
    max = null
  } else if (c.acceptOp('?')) {
    min = 0
    max = 1
  } else if (c.isOp('{')) {
    const open = c.next()
    min = c.peek().kind === 'number' ? Number(c.next().text) : 0
    max = min
    if (c.acceptOp(',')) max = c.peek().kind === 'number' ? Number(c.next().text) : null
    c.expectOp('}')
    if ((max !== null && max < min) || (max === 0 && min === 0)) {
      c.fail(
        `pattern quantifier {${min},${max}}: the upper bound must be at least the lower bound and above 0`,
        open,
      )
    }
  } else {
    return body
  }
  const reluctant = c.acceptOp('?')
  return { kind: 'repeat', body, min, max, reluctant }
}

// Parses SQL expressions (precedence climbing), ORDER BY items and the window specs of OVER and
// WINDOW clauses. Types and interval literals are read by parser-type.ts.

import type {
  BinaryOp,
  Call,
  Expr,
  Frame,
  FrameBound,
  Literal,
  OrderItem,
  TimeUnit,
  WindowSpec,
} from './ast.ts'
import type { Cursor } from './parser-cursor.ts'
import { readFromItem, readQuery } from './parser.ts'
import { parseTimeOfDay, parseTimestamp } from './sql-time.ts'
import { parseInterval, parseTimeUnit, parseType } from './parser-type.ts'
import { type SqlType, SqlTypes } from './types.ts'

export { parseInterval, parseTimeUnit, parseType } from './parser-type.ts'

/** Operator precedence, loosest first. */
const PREC_OR = 1
const PREC_AND = 2
const PREC_NOT = 3
const PREC_COMPARE = 4
const PREC_ADD = 5
const PREC_MUL = 6

const COMPARE_OPS = new Set(['=', '<>', '<', '<=', '>', '>='])

/** Parses one expression at the cursor. Throws ERR_SQL_SYNTAX on malformed input. */
export function parseExpr(c: Cursor): Expr {
  return parseBinary(c, PREC_OR)
}

function parseBinary(c: Cursor, minPrec: number): Expr {
  let left = parsePrefix(c, minPrec)
  for (;;) {
    const t = c.peek()
    const at = left.at
    if (t.kind === 'word' && t.upper === 'OR' && minPrec <= PREC_OR) {
      c.next()
      left = { kind: 'binary', at, op: 'OR', left, right: parseBinary(c, PREC_OR + 1) }
    } else if (t.kind === 'word' && t.upper === 'AND' && minPrec <= PREC_AND) {
      c.next()
      left = { kind: 'binary', at, op: 'AND', left, right: parseBinary(c, PREC_AND + 1) }
    } else if (minPrec <= PREC_COMPARE && isCompareStart(c)) {
      left = parseComparison(c, left)
    } else if (
      t.kind === 'op' &&
      (t.text === '+' || t.text === '-' || t.text === '||') &&
      minPrec <= PREC_ADD
    ) {
      c.next()
      left = { kind: 'binary', at, op: t.text as BinaryOp, left, right: parseBinary(c, PREC_ADD + 1) }
    } else if (
      t.kind === 'op' &&
      (t.text === '*' || t.text === '/' || t.text === '%') &&
      minPrec <= PREC_MUL
    ) {
      c.next()
      left = { kind: 'binary', at, op: t.text as BinaryOp, left, right: parseBinary(c, PREC_MUL + 1) }
    } else {
      return left
    }
  }
}

function isCompareStart(c: Cursor): boolean {
  const t = c.peek()
  if (t.kind === 'op') return COMPARE_OPS.has(t.text)
  if (t.kind !== 'word') return false
  if (t.upper === 'IS' || t.upper === 'IN' || t.upper === 'BETWEEN' || t.upper === 'LIKE') return true
  if (t.upper === 'SIMILAR') return c.isWord('TO', 1)
  if (t.upper === 'NOT') {
    const n = c.peek(1)
    return (
      n.kind === 'word' &&
      (n.upper === 'IN' || n.upper === 'BETWEEN' || n.upper === 'LIKE' || n.upper === 'SIMILAR')
    )
  }
  return false
}

function parseComparison(c: Cursor, left: Expr): Expr {
  const at = left.at
  const t = c.next()
  if (t.kind === 'op') {
    return { kind: 'binary', at, op: t.text as BinaryOp, left, right: parseBinary(c, PREC_COMPARE + 1) }
  }
  if (t.upper === 'IS') {
    const not = c.acceptWord('NOT')
    if (c.acceptWord('NULL')) return { kind: 'is', at, not, test: 'NULL', operand: left }
    if (c.acceptWord('TRUE')) return { kind: 'is', at, not, test: 'TRUE', operand: left }
    if (c.acceptWord('FALSE')) return { kind: 'is', at, not, test: 'FALSE', operand: left }
    if (c.acceptWords('DISTINCT', 'FROM')) {
      return { kind: 'is', at, not, test: 'DISTINCT', operand: left, other: parseBinary(c, PREC_COMPARE + 1) }
    }
    c.failExpected('NULL, TRUE, FALSE or DISTINCT FROM after IS', ['NULL', 'TRUE', 'FALSE', 'DISTINCT'])
  }
  const not = t.upper === 'NOT'
  const word = not ? c.next().upper : t.upper
  if (word === 'IN') {
    c.expectOp('(')
    if (c.isWord('SELECT') || c.isWord('WITH')) {
      const query = readQuery(c)
      c.expectOp(')')
      return { kind: 'in', at, not, operand: left, query }
    }
    const list = parseExprList(c)
    c.expectOp(')')
    return { kind: 'in', at, not, operand: left, list }
  }
  if (word === 'BETWEEN') {
    c.acceptWord('ASYMMETRIC')
    const low = parseBinary(c, PREC_ADD)
    c.expectWord('AND')
    const high = parseBinary(c, PREC_ADD)
    return { kind: 'between', at, not, operand: left, low, high }
  }
  const similar = word === 'SIMILAR'
  if (similar) c.expectWord('TO')
  const pattern = parseBinary(c, PREC_ADD)
  const escapeChar = c.acceptWord('ESCAPE') ? parseBinary(c, PREC_ADD) : undefined
  return {
    kind: 'like',
    at,
    not,
    similar,
    operand: left,
    pattern,
    ...(escapeChar ? { escape: escapeChar } : {}),
  }
}

function parsePrefix(c: Cursor, minPrec: number): Expr {
  const t = c.peek()
  if (t.kind === 'word' && t.upper === 'NOT' && minPrec <= PREC_NOT) {
    c.next()
    return { kind: 'unary', at: t.offset, op: 'NOT', operand: parseBinary(c, PREC_NOT) }
  }
  if (t.kind === 'op' && (t.text === '-' || t.text === '+')) {
    c.next()
    const operand = parseBinary(c, PREC_MUL + 1)
    if (t.text === '-' && operand.kind === 'literal' && typeof operand.value === 'number') {
      return { ...operand, at: t.offset, value: -operand.value, text: `-${operand.text}` }
    }
    return { kind: 'unary', at: t.offset, op: t.text, operand }
  }
  return parsePostfix(c, parsePrimary(c))
}

function parsePostfix(c: Cursor, expr: Expr): Expr {
  for (;;) {
    if (c.acceptOp('[')) {
      const index = parseExpr(c)
      c.expectOp(']')
      expr = { kind: 'index', at: expr.at, target: expr, index }
    } else if (c.isOp('.') && c.isName(1)) {
      c.next()
      expr = { kind: 'field', at: expr.at, target: expr, field: c.next().text }
    } else {
      return expr
    }
  }
}

/** Reads `expr, expr, ...` (at least one). */
export function parseExprList(c: Cursor): Expr[] {
  const list = [parseExpr(c)]
  while (c.acceptOp(',')) list.push(parseExpr(c))
  return list
}

function numberLiteral(text: string, at: number): Literal {
  const value = Number(text)
  if (/[eE]/.test(text)) return { kind: 'literal', at, type: SqlTypes.DOUBLE, value, text }
  const dot = text.indexOf('.')
  if (dot >= 0) {
    const digits = text.replace('.', '').replace(/^0+/, '')
    const scale = text.length - dot - 1
    return {
      kind: 'literal',
      at,
      type: SqlTypes.decimal(Math.max(digits.length, scale, 1), scale),
      value,
      text,
    }
  }
  const type = Number.isSafeInteger(value) && Math.abs(value) <= 2147483647 ? SqlTypes.INT : SqlTypes.BIGINT
  return { kind: 'literal', at, type, value, text }
}

function parsePrimary(c: Cursor): Expr {
  const t = c.peek()
  const at = t.offset
  switch (t.kind) {
    case 'number':
      c.next()
      return numberLiteral(t.text, at)
    case 'string':
      c.next()
      return {
        kind: 'literal',
        at,
        type: SqlTypes.varchar(Math.max(1, t.text.length)),
        value: t.text,
        text: t.text,
      }
    case 'ident':
      return parseName(c)
    case 'op':
      if (t.text === '(') {
        c.next()
        if (c.isWord('SELECT') || c.isWord('WITH')) {
          const query = readQuery(c)
          c.expectOp(')')
          return { kind: 'subquery', at, exists: false, query }
        }
        const inner = parseExpr(c)
        if (c.isOp(',')) {
          const items = [inner]
          while (c.acceptOp(',')) items.push(parseExpr(c))
          c.expectOp(')')
          return { kind: 'constructor', at, type: 'ROW', items }
        }
        c.expectOp(')')
        return inner
      }
      if (t.text === '*') {
        c.next()
        return { kind: 'star', at }
      }
      return c.failExpected('an expression')
    case 'word':
      return parseWordPrimary(c)
    default:
      return c.failExpected('an expression')
  }
}

function parseWordPrimary(c: Cursor): Expr {
  const t = c.peek()
  const at = t.offset
  const w = t.upper
  const next = c.peek(1)
  switch (w) {
    case 'TRUE':
    case 'FALSE':
      c.next()
      return { kind: 'literal', at, type: SqlTypes.BOOLEAN, value: w === 'TRUE', text: w }
    case 'NULL':
      c.next()
      return { kind: 'literal', at, type: SqlTypes.NULL, value: null, text: 'NULL' }
    case 'INTERVAL':
      return parseInterval(c)
    case 'CASE':
      return parseCase(c)
    case 'CAST':
    case 'TRY_CAST': {
      c.next()
      c.expectOp('(')
      const operand = parseExpr(c)
      c.expectWord('AS')
      const type = parseType(c)
      c.expectOp(')')
      return { kind: 'cast', at, operand, type, safe: w === 'TRY_CAST' }
    }
    case 'EXTRACT': {
      c.next()
      c.expectOp('(')
      const unit = parseTimeUnit(c)
      c.expectWord('FROM')
      const operand = parseExpr(c)
      c.expectOp(')')
      return { kind: 'extract', at, unit, operand }
    }
    case 'EXISTS': {
      c.next()
      c.expectOp('(')
      const query = readQuery(c)
      c.expectOp(')')
      return { kind: 'subquery', at, exists: true, query }
    }
    case 'TABLE': {
      c.next()
      const table = readFromItem(c, false)
      let partitionBy: Expr[] = []
      if (c.acceptWords('PARTITION', 'BY')) {
        if (c.acceptOp('(')) {
          partitionBy = parseExprList(c)
          c.expectOp(')')
        } else partitionBy = [parseExpr(c)]
      }
      return { kind: 'tableArg', at, table, partitionBy }
    }
    case 'CURRENT_TIMESTAMP':
    case 'CURRENT_DATE':
    case 'CURRENT_TIME':
    case 'LOCALTIMESTAMP':
    case 'LOCALTIME':
    case 'CURRENT_ROW_TIMESTAMP':
      if (!(next.kind === 'op' && next.text === '(')) {
        c.next()
        return { kind: 'call', at, name: w, args: [], distinct: false }
      }
      break
  }
  if (next.kind === 'string' && (w === 'TIMESTAMP' || w === 'DATE' || w === 'TIME')) {
    c.next()
    c.next()
    const value = w === 'TIME' ? parseTimeOfDay(next.text) : parseTimestamp(next.text)
    if (value === undefined) {
      c.fail(
        `${w} literal: expected ${w === 'TIME' ? "'HH:mm:ss'" : w === 'DATE' ? "'yyyy-MM-dd'" : "'yyyy-MM-dd HH:mm:ss'"}, got '${next.text}'`,
        next,
      )
    }
    const type = w === 'TIMESTAMP' ? SqlTypes.TIMESTAMP3 : w === 'DATE' ? SqlTypes.DATE : SqlTypes.time(0)
    return { kind: 'literal', at, type, value, text: `${w} '${next.text}'` }
  }
  if ((w === 'ARRAY' || w === 'MAP') && next.kind === 'op' && next.text === '[') {
    c.next()
    c.next()
    const items = c.isOp(']') ? [] : parseExprList(c)
    c.expectOp(']')
    return { kind: 'constructor', at, type: w, items }
  }
  if (w === 'ROW' && next.kind === 'op' && next.text === '(') {
    c.next()
    c.next()
    const items = c.isOp(')') ? [] : parseExprList(c)
    c.expectOp(')')
    return { kind: 'constructor', at, type: 'ROW', items }
  }
  if (next.kind === 'op' && next.text === '(' && (!c.isName() ? w === 'LEFT' || w === 'RIGHT' : true)) {
    return parseCall(c)
  }
  return parseName(c)
}

function parseName(c: Cursor): Expr {
  const t = c.peek()
  if (!c.isName()) c.failExpected('an expression')
  c.next()
  if (c.isOp('.') && c.isOp('*', 1)) {
    c.next()
    c.next()
    return { kind: 'star', at: t.offset, qualifier: t.text }
  }
  if (c.isOp('.') && c.isName(1)) {
    c.next()
    const name = c.next().text
    return { kind: 'column', at: t.offset, qualifier: t.text, name }
  }
  return { kind: 'column', at: t.offset, name: t.text }
}

function parseCall(c: Cursor): Expr {
  const t = c.next()
  const at = t.offset
  const name = t.upper
  c.expectOp('(')
  let distinct = false
  let unit: TimeUnit | undefined
  let args: Expr[] = []
  if (
    name === 'TRIM' &&
    (c.isWord('BOTH') || c.isWord('LEADING') || c.isWord('TRAILING') || c.isWord('FROM'))
  ) {
    return parseTrim(c, at)
  }
  if (name === 'JSON_OBJECT' || name === 'JSON_ARRAY') return parseJsonConstructor(c, name, at)
  if (name === 'TIMESTAMPADD' || name === 'TIMESTAMPDIFF') {
    unit = parseTimeUnit(c)
    c.expectOp(',')
    args = parseExprList(c)
  } else if (!c.isOp(')')) {
    if (c.acceptWord('DISTINCT')) distinct = true
    else c.acceptWord('ALL')
    args.push(name === 'POSITION' ? parseBinary(c, PREC_ADD) : parseArg(c))
    if ((name === 'FLOOR' || name === 'CEIL' || name === 'CEILING') && c.acceptWord('TO')) {
      unit = parseTimeUnit(c)
    } else if (name === 'POSITION' && c.acceptWord('IN')) {
      args.push(parseExpr(c))
    } else if (name === 'JSON_VALUE' && c.acceptOp(',')) {
      args.push(parseExpr(c))
      return parseJsonValueClauses(c, at, args)
    } else if ((name === 'SUBSTRING' || name === 'SUBSTR' || name === 'OVERLAY') && c.isWord('FROM')) {
      c.next()
      args.push(parseExpr(c))
      if (c.acceptWord('FOR')) args.push(parseExpr(c))
    } else {
      while (c.acceptOp(',')) args.push(parseArg(c))
    }
  }
  c.expectOp(')')
  let filter: Expr | undefined
  if (c.isWord('FILTER') && c.isOp('(', 1)) {
    c.next()
    c.next()
    c.expectWord('WHERE')
    filter = parseExpr(c)
    c.expectOp(')')
  }
  let over: WindowSpec | string | undefined
  if (c.acceptWord('OVER')) {
    if (c.acceptOp('(')) {
      over = parseWindowSpec(c)
      c.expectOp(')')
    } else {
      over = c.name('a window name or "(" after OVER')
    }
  }
  const call: Call = {
    kind: 'call',
    at,
    name: name === 'CEILING' ? 'CEIL' : name === 'SUBSTR' ? 'SUBSTRING' : name,
    args,
    distinct,
    ...(unit ? { unit } : {}),
    ...(filter ? { filter } : {}),
    ...(over !== undefined ? { over } : {}),
  }
  return call
}

/** A string literal made by the parser (for the hidden first argument of JSON constructors). */
function text(at: number, value: string): Expr {
  return { kind: 'literal', at, type: SqlTypes.varchar(Math.max(1, value.length)), value, text: value }
}

/**
 * `JSON_OBJECT([KEY] k VALUE v, ... [NULL | ABSENT ON NULL])` (NULL ON NULL unless told) and
 * `JSON_ARRAY(v, ... [NULL | ABSENT ON NULL])` (ABSENT ON NULL unless told), as Flink writes them.
 * The call's first argument is a hidden mode, `NULL:` or `ABSENT:` followed by one digit a value,
 * 1 where the value is itself a JSON constructor call, whose text is inserted as JSON, not as a
 * string.
 */
function parseJsonConstructor(c: Cursor, name: string, at: number): Expr {
  const args: Expr[] = []
  let raw = ''
  const value = (): void => {
    const v = parseExpr(c)
    raw += v.kind === 'call' && (v.name === 'JSON_OBJECT' || v.name === 'JSON_ARRAY') ? '1' : '0'
    args.push(v)
  }
  let onNull = name === 'JSON_OBJECT' ? 'NULL' : 'ABSENT'
  const atOnNull = (): boolean => (c.isWord('NULL') || c.isWord('ABSENT')) && c.isWord('ON', 1)
  while (!c.isOp(')') && !atOnNull()) {
    if (name === 'JSON_OBJECT') {
      if (c.isWord('KEY') && !c.isWord('VALUE', 1)) c.next()
      args.push(parseExpr(c))
      c.expectWord('VALUE')
    }
    value()
    if (!c.acceptOp(',')) break
  }
  if (atOnNull()) {
    onNull = c.next().upper
    c.expectWord('ON')
    c.expectWord('NULL')
  }
  c.expectOp(')')
  return { kind: 'call', at, name, args: [text(at, `${onNull}:${raw}`), ...args], distinct: false }
}

/**
 * The clauses after `JSON_VALUE(json, path`: `[RETURNING type] [NULL | DEFAULT x ON EMPTY]
 * [NULL | ERROR | DEFAULT x ON ERROR]`, as Flink has them. The value is then a cast of the path's
 * text (a TRY_CAST unless ERROR ON ERROR, with the ON ERROR default where it gives NULL), and a
 * path that finds nothing gives the ON EMPTY default.
 */
function parseJsonValueClauses(c: Cursor, at: number, args: Expr[]): Expr {
  let type: SqlType | undefined
  if (c.acceptWord('RETURNING')) type = parseType(c)
  let onEmpty: Expr | undefined
  let onError: Expr | 'ERROR' | undefined
  while (!c.isOp(')')) {
    let behaviour: Expr | 'ERROR' | 'NULL'
    if (c.acceptWord('NULL')) behaviour = 'NULL'
    else if (c.acceptWord('ERROR')) behaviour = 'ERROR'
    else {
      c.expectWord('DEFAULT')
      behaviour = parseExpr(c)
    }
    c.expectWord('ON')
    if (c.acceptWord('EMPTY')) {
      if (behaviour === 'ERROR')
        c.fail('ERROR ON EMPTY is not supported: write NULL ON EMPTY or DEFAULT value ON EMPTY')
      onEmpty = behaviour === 'NULL' ? undefined : behaviour
    } else {
      c.expectWord('ERROR')
      onError = behaviour === 'NULL' ? undefined : behaviour
    }
  }
  c.expectOp(')')
  let value: Expr = { kind: 'call', at, name: 'JSON_VALUE', args, distinct: false }
  if (type !== undefined) value = { kind: 'cast', at, operand: value, type, safe: onError !== 'ERROR' }
  if (onError !== undefined && onError !== 'ERROR')
    value = { kind: 'call', at, name: 'COALESCE', args: [value, onError], distinct: false }
  if (onEmpty !== undefined) {
    const exists: Expr = { kind: 'call', at, name: 'JSON_EXISTS', args, distinct: false }
    value = {
      kind: 'case',
      at,
      whens: [{ when: { kind: 'unary', at, op: 'NOT', operand: exists }, result: onEmpty }],
      else: value,
    }
  }
  return value
}

function parseArg(c: Cursor): Expr {
  if (c.isWord('DESCRIPTOR') && c.isOp('(', 1)) {
    const at = c.next().offset
    return { kind: 'descriptor', at, columns: c.nameList() }
  }
  if ((c.isName() || c.peek().kind === 'word') && c.isOp('=>', 1)) {
    const t = c.next()
    c.next()
    return { kind: 'named', at: t.offset, name: t.upper, value: parseArg(c) }
  }
  return parseExpr(c)
}

function parseTrim(c: Cursor, at: number): Expr {
  let name = 'TRIM'
  if (c.acceptWord('LEADING')) name = 'LTRIM'
  else if (c.acceptWord('TRAILING')) name = 'RTRIM'
  else c.acceptWord('BOTH')
  let chars: Expr | undefined
  if (!c.isWord('FROM')) chars = parseExpr(c)
  c.expectWord('FROM')
  const operand = parseExpr(c)
  c.expectOp(')')
  return { kind: 'call', at, name, args: chars ? [operand, chars] : [operand], distinct: false }
}

function parseCase(c: Cursor): Expr {
  const at = c.next().offset
  const operand = c.isWord('WHEN') ? undefined : parseExpr(c)
  const whens: { when: Expr; result: Expr }[] = []
  while (c.acceptWord('WHEN')) {
    const when = parseExpr(c)
    c.expectWord('THEN')
    whens.push({ when, result: parseExpr(c) })
  }
  if (whens.length === 0) c.failExpected('WHEN', ['WHEN'])
  const otherwise = c.acceptWord('ELSE') ? parseExpr(c) : undefined
  c.expectWord('END')
  return {
    kind: 'case',
    at,
    whens,
    ...(operand ? { operand } : {}),
    ...(otherwise ? { else: otherwise } : {}),
  }
}

/** Reads `expr [ASC|DESC] [NULLS FIRST|LAST]`. */
export function parseOrderItem(c: Cursor): OrderItem {
  const expr = parseExpr(c)
  let desc = false
  if (c.acceptWord('DESC')) desc = true
  else c.acceptWord('ASC')
  let nulls: 'FIRST' | 'LAST' | undefined
  if (c.acceptWord('NULLS')) {
    if (c.acceptWord('FIRST')) nulls = 'FIRST'
    else if (c.acceptWord('LAST')) nulls = 'LAST'
    else c.failExpected('FIRST or LAST after NULLS', ['FIRST', 'LAST'])
  }
  return { expr, desc, ...(nulls ? { nulls } : {}) }
}

/** Reads `item, item, ...` after ORDER BY. */
export function parseOrderList(c: Cursor): OrderItem[] {
  const list = [parseOrderItem(c)]
  while (c.acceptOp(',')) list.push(parseOrderItem(c))
  return list
}

/** Reads the inside of `OVER (...)`: `[base] [PARTITION BY ...] [ORDER BY ...] [ROWS|RANGE ...]`. */
export function parseWindowSpec(c: Cursor): WindowSpec {
  const at = c.peek().offset
  let base: string | undefined
  if (c.isName() && !c.isWord('PARTITION') && !c.isWord('ORDER') && !c.isWord('ROWS') && !c.isWord('RANGE')) {
    base = c.next().text
  }
  const partitionBy = c.acceptWords('PARTITION', 'BY') ? parseExprList(c) : []
  const orderBy = c.acceptWords('ORDER', 'BY') ? parseOrderList(c) : []
  let frame: Frame | undefined
  if (c.isWord('ROWS') || c.isWord('RANGE')) {
    const unit = c.next().upper as 'ROWS' | 'RANGE'
    if (c.acceptWord('BETWEEN')) {
      const start = parseBound(c)
      c.expectWord('AND')
      frame = { unit, start, end: parseBound(c) }
    } else {
      frame = { unit, start: parseBound(c), end: { kind: 'currentRow' } }
    }
  }
  return { at, partitionBy, orderBy, ...(base ? { base } : {}), ...(frame ? { frame } : {}) }
}

function parseBound(c: Cursor): FrameBound {
  if (c.acceptWords('CURRENT', 'ROW')) return { kind: 'currentRow' }
  if (c.acceptWord('UNBOUNDED')) {
    if (c.acceptWord('PRECEDING')) return { kind: 'unboundedPreceding' }
    if (c.acceptWord('FOLLOWING')) return { kind: 'unboundedFollowing' }
    c.failExpected('PRECEDING or FOLLOWING', ['PRECEDING', 'FOLLOWING'])
  }
  if (!(c.peek().kind === 'number' || c.isWord('INTERVAL'))) {
    c.failExpected('UNBOUNDED, CURRENT ROW, a number or an INTERVAL', ['UNBOUNDED', 'CURRENT', 'INTERVAL'])
  }
  const offset = c.isWord('INTERVAL') ? parseInterval(c) : parsePrimary(c)
  if (c.acceptWord('PRECEDING')) return { kind: 'preceding', offset }
  if (c.acceptWord('FOLLOWING')) return { kind: 'following', offset }
  return c.failExpected('PRECEDING or FOLLOWING', ['PRECEDING', 'FOLLOWING'])
}

// The SQL parser: statements (query, INSERT INTO, statement sets, CREATE VIEW, CREATE TABLE, SET), queries
// (WITH, SELECT, UNION, ORDER BY, LIMIT) and FROM items (tables, subqueries, window TVFs, joins).
// Expressions live in parser-expr.ts, MATCH_RECOGNIZE in parser-match.ts.

import type {
  ColumnDef,
  CommonTable,
  CreateTable,
  Expr,
  FromItem,
  Insert,
  IntervalLiteral,
  JoinType,
  NamedWindow,
  Query,
  QueryBody,
  Select,
  SelectItem,
  Statement,
  StatementSet,
  WindowTvf,
} from './ast.ts'
import { describeToken } from './lexer.ts'
import { CLAUSE_WORDS, Cursor } from './parser-cursor.ts'
import { parseExpr, parseExprList, parseOrderList, parseType, parseWindowSpec } from './parser-expr.ts'
import { parseMatchRecognize } from './parser-match.ts'
import { positionAt } from './sql-error.ts'

/**
 * Parses a script of statements separated by `;` (a trailing `;` is allowed; comments are skipped).
 * Throws ERR_SQL_SYNTAX, naming line and column with a caret under the bad token, at the first error.
 */
export function parseScript(sql: string): Statement[] {
  const c = new Cursor(sql)
  const out: Statement[] = []
  while (c.acceptOp(';')) {}
  while (!c.atEnd()) {
    out.push(parseStatementAt(c))
    if (!c.atEnd()) {
      if (!c.isOp(';')) failEnd(c, 'a ";" between statements')
      while (c.acceptOp(';')) {}
    }
  }
  return out
}

/** Parses exactly one statement (a trailing `;` is allowed). Throws ERR_SQL_SYNTAX. */
export function parseStatement(sql: string): Statement {
  const c = new Cursor(sql)
  const s = parseStatementAt(c)
  c.acceptOp(';')
  if (!c.atEnd()) failEnd(c, 'the end of the statement')
  return s
}

/** Parses one query (`SELECT ...`, `WITH ...`, `... UNION ALL ...`). Throws ERR_SQL_SYNTAX. */
export function parseQuery(sql: string): Query {
  const c = new Cursor(sql)
  const q = readQuery(c)
  c.acceptOp(';')
  if (!c.atEnd()) failEnd(c, 'the end of the query')
  return q
}

/** Parses one expression, such as a filter written in a config file. Throws ERR_SQL_SYNTAX. */
export function parseExpression(sql: string): Expr {
  const c = new Cursor(sql)
  const e = parseExpr(c)
  if (!c.atEnd()) failEnd(c, 'the end of the expression')
  return e
}

function failEnd(c: Cursor, what: string): never {
  const t = c.peek()
  c.failExpected(t.kind === 'word' ? `${what} or a clause keyword` : what, CLAUSE_WORDS)
}

const STATEMENT_WORDS = ['SELECT', 'WITH', 'INSERT', 'CREATE', 'SET', 'EXECUTE', 'BEGIN']

function parseStatementAt(c: Cursor): Statement {
  const t = c.peek()
  const at = t.offset
  if (c.isWord('SELECT') || c.isWord('WITH') || c.isOp('(')) {
    return { kind: 'queryStatement', at, query: readQuery(c) }
  }
  if (c.isWord('INSERT')) return parseInsert(c)
  if (c.acceptWord('EXECUTE')) {
    if (c.isWord('INSERT')) return parseInsert(c, at)
    c.expectWord('STATEMENT')
    c.expectWord('SET')
    c.expectWord('BEGIN')
    return parseStatementSet(c, at)
  }
  if (c.isWord('BEGIN') && c.isWord('STATEMENT', 1)) {
    c.next()
    c.next()
    c.expectWord('SET')
    c.expectOp(';')
    return parseStatementSet(c, at)
  }
  if (c.acceptWord('CREATE')) {
    c.acceptWords('OR', 'REPLACE')
    c.acceptWord('TEMPORARY')
    if (c.acceptWord('VIEW')) {
      const ifNotExists = c.acceptWords('IF', 'NOT', 'EXISTS')
      const name = c.dottedName('a view name')
      const columns = c.isOp('(') ? c.nameList() : undefined
      c.expectWord('AS')
      return {
        kind: 'createView',
        at,
        name,
        ifNotExists,
        query: readQuery(c),
        ...(columns ? { columns } : {}),
      }
    }
    if (c.acceptWord('TABLE')) return parseCreateTable(c, at)
    c.failExpected('VIEW or TABLE after CREATE', ['VIEW', 'TABLE', 'TEMPORARY'])
  }
  if (c.acceptWord('SET')) {
    const key = c.peek()
    if (key.kind !== 'string') c.failExpected("a quoted key such as 'table.exec.mini-batch.enabled'")
    c.next()
    c.expectOp('=')
    const value = c.peek()
    if (value.kind !== 'string') c.failExpected("a quoted value such as 'true'")
    c.next()
    return { kind: 'set', at, key: key.text, value: value.text }
  }
  return c.failExpected(
    'a statement (SELECT, WITH, INSERT INTO, CREATE VIEW, CREATE TABLE or SET)',
    STATEMENT_WORDS,
  )
}

/** Parses `INSERT INTO|OVERWRITE table [(columns)] query` at the cursor; `at` where it starts (EXECUTE). */
function parseInsert(c: Cursor, at = c.peek().offset): Insert {
  c.expectWord('INSERT')
  if (!c.acceptWord('INTO')) c.expectWord('OVERWRITE')
  const targetAt = c.peek().offset
  const target = c.dottedName('a table name after INSERT INTO')
  const columns = c.isOp('(') && !c.isWord('SELECT', 1) && !c.isWord('WITH', 1) ? c.nameList() : undefined
  return { kind: 'insert', at, target, targetAt, query: readQuery(c), ...(columns ? { columns } : {}) }
}

/**
 * Parses the INSERTs of a statement set after its `BEGIN` (or `BEGIN STATEMENT SET;`) up to its
 * `END`: only INSERT statements, separated by `;` (one before END is allowed), at least one.
 */
function parseStatementSet(c: Cursor, at: number): StatementSet {
  const inserts: Insert[] = []
  const unclosed = () => `END to close the statement set of line ${positionAt(c.sql, at).line}`
  for (;;) {
    while (c.acceptOp(';')) {}
    if (c.isWord('END')) break
    if (c.atEnd()) c.failExpected(unclosed())
    if (!c.isWord('INSERT')) {
      c.failExpected('INSERT INTO or END (a statement set holds only INSERT statements)', ['INSERT', 'END'])
    }
    inserts.push(parseInsert(c))
    if (c.atEnd()) c.failExpected(unclosed())
    if (!c.isWord('END') && !c.isOp(';')) failEnd(c, 'a ";" or END after the INSERT')
  }
  const end = c.expectWord('END')
  if (inserts.length === 0) c.fail('a statement set holds at least one INSERT INTO statement', end)
  return { kind: 'statementSet', at, inserts }
}

function parseCreateTable(c: Cursor, at: number): CreateTable {
  const ifNotExists = c.acceptWords('IF', 'NOT', 'EXISTS')
  const name = c.dottedName('a table name')
  const columns: ColumnDef[] = []
  let watermark: CreateTable['watermark']
  let primaryKey: string[] | undefined
  c.expectOp('(')
  do {
    if (c.acceptWord('WATERMARK')) {
      c.expectWord('FOR')
      const column = c.name('the time column of WATERMARK FOR')
      c.expectWord('AS')
      watermark = { column, expr: parseExpr(c) }
    } else if (c.isWord('PRIMARY') || c.isWord('CONSTRAINT')) {
      if (c.acceptWord('CONSTRAINT')) c.name('a constraint name')
      c.expectWord('PRIMARY')
      c.expectWord('KEY')
      primaryKey = c.nameList()
      if (c.acceptWord('NOT')) c.expectWord('ENFORCED')
    } else {
      const colName = c.name('a column name')
      if (c.acceptWord('AS')) {
        columns.push({ name: colName, computed: parseExpr(c) })
      } else {
        const type = parseType(c)
        if (c.acceptWord('METADATA')) {
          const from = c.acceptWord('FROM') ? c.next().text : undefined
          const virtual = c.acceptWord('VIRTUAL')
          columns.push({
            name: colName,
            type,
            metadata: { virtual, ...(from !== undefined ? { key: from } : {}) },
          })
        } else {
          if (c.acceptWords('PRIMARY', 'KEY')) {
            primaryKey = [colName]
            if (c.acceptWord('NOT')) c.expectWord('ENFORCED')
          }
          columns.push({ name: colName, type })
        }
      }
    }
    if (c.peek().kind === 'word' && c.isWord('COMMENT')) {
      c.next()
      c.next()
    }
  } while (c.acceptOp(','))
  c.expectOp(')')
  const options: { [key: string]: string } = {}
  if (c.acceptWord('WITH')) {
    c.expectOp('(')
    if (!c.isOp(')')) {
      do {
        const k = c.peek()
        if (k.kind !== 'string' && k.kind !== 'word' && k.kind !== 'ident')
          c.failExpected("a quoted option name such as 'connector'")
        c.next()
        c.expectOp('=')
        const v = c.peek()
        if (v.kind !== 'string' && v.kind !== 'number' && v.kind !== 'word')
          c.failExpected("a quoted option value such as 'kafka'")
        c.next()
        options[k.text] = v.text
      } while (c.acceptOp(','))
    }
    c.expectOp(')')
  }
  return {
    kind: 'createTable',
    at,
    name,
    ifNotExists,
    columns,
    options,
    ...(watermark ? { watermark } : {}),
    ...(primaryKey ? { primaryKey } : {}),
  }
}

/** Parses `[WITH ...] body [ORDER BY ...] [LIMIT n] [OFFSET n]` at the cursor. */
export function readQuery(c: Cursor): Query {
  const at = c.peek().offset
  const ctes: CommonTable[] = []
  if (c.acceptWord('WITH')) {
    do {
      const name = c.name('a name for the WITH query')
      const columns = c.isOp('(') ? c.nameList() : undefined
      c.expectWord('AS')
      c.expectOp('(')
      const query = readQuery(c)
      c.expectOp(')')
      ctes.push({ name, query, ...(columns ? { columns } : {}) })
    } while (c.acceptOp(','))
  }
  const body = parseSetOperations(c)
  const orderBy = c.acceptWords('ORDER', 'BY') ? parseOrderList(c) : []
  let limit: number | undefined
  let offset: number | undefined
  if (c.acceptWord('LIMIT')) limit = readCount(c, 'LIMIT')
  if (c.acceptWord('OFFSET')) {
    offset = readCount(c, 'OFFSET')
    if (!c.acceptWord('ROWS')) c.acceptWord('ROW')
  }
  if (c.acceptWord('FETCH')) {
    if (!c.acceptWord('FIRST')) c.expectWord('NEXT')
    limit = readCount(c, 'FETCH FIRST')
    if (!c.acceptWord('ROWS')) c.expectWord('ROW')
    c.expectWord('ONLY')
  }
  return {
    kind: 'query',
    at,
    with: ctes,
    body,
    orderBy,
    ...(limit !== undefined ? { limit } : {}),
    ...(offset !== undefined ? { offset } : {}),
  }
}

function readCount(c: Cursor, clause: string): number {
  const t = c.peek()
  if (t.kind !== 'number' || !/^\d+$/.test(t.text)) c.failExpected(`a whole number after ${clause}`)
  c.next()
  return Number(t.text)
}

function parseSetOperations(c: Cursor): QueryBody {
  let left = parseQueryPrimary(c)
  for (;;) {
    const t = c.peek()
    if (!(c.isWord('UNION') || c.isWord('INTERSECT') || c.isWord('EXCEPT'))) return left
    c.next()
    const all = c.acceptWord('ALL')
    if (!all) c.acceptWord('DISTINCT')
    const right = parseQueryPrimary(c)
    left = { kind: t.upper.toLowerCase() as 'union' | 'intersect' | 'except', at: t.offset, all, left, right }
  }
}

function parseQueryPrimary(c: Cursor): QueryBody {
  if (c.acceptOp('(')) {
    const q = readQuery(c)
    c.expectOp(')')
    return q.with.length === 0 && q.orderBy.length === 0 && q.limit === undefined ? q.body : q
  }
  if (!c.isWord('SELECT')) c.failExpected('SELECT', ['SELECT'])
  return parseSelect(c)
}

function parseSelect(c: Cursor): Select {
  const at = c.expectWord('SELECT').offset
  const distinct = c.acceptWord('DISTINCT')
  if (!distinct) c.acceptWord('ALL')
  const items: SelectItem[] = []
  do {
    const expr = parseExpr(c)
    const alias = expr.kind === 'star' ? undefined : c.alias()
    items.push(alias === undefined ? { expr } : { expr, alias })
  } while (c.acceptOp(','))
  let from: FromItem | undefined
  if (c.acceptWord('FROM')) from = parseFrom(c)
  else if (c.peek().kind === 'word' || c.peek().kind === 'ident') c.failExpected('FROM', CLAUSE_WORDS)
  const where = c.acceptWord('WHERE') ? parseExpr(c) : undefined
  const groupBy = c.acceptWords('GROUP', 'BY') ? parseExprList(c) : []
  const having = c.acceptWord('HAVING') ? parseExpr(c) : undefined
  const windows: NamedWindow[] = []
  if (c.acceptWord('WINDOW')) {
    do {
      const name = c.name('a window name')
      c.expectWord('AS')
      c.expectOp('(')
      windows.push({ name, spec: parseWindowSpec(c) })
      c.expectOp(')')
    } while (c.acceptOp(','))
  }
  return {
    kind: 'select',
    at,
    distinct,
    items,
    groupBy,
    windows,
    ...(from ? { from } : {}),
    ...(where ? { where } : {}),
    ...(having ? { having } : {}),
  }
}

/** Parses a FROM clause: items joined by commas and JOINs, left to right. */
export function parseFrom(c: Cursor): FromItem {
  let left = readFromItem(c, true)
  for (;;) {
    const at = c.peek().offset
    let type: JoinType
    if (c.acceptOp(',')) {
      left = { kind: 'join', at, type: 'comma', left, right: readFromItem(c, true) }
      continue
    }
    if (c.acceptWord('JOIN') || c.acceptWords('INNER', 'JOIN')) type = 'inner'
    else if (c.acceptWords('LEFT', 'JOIN') || c.acceptWords('LEFT', 'OUTER', 'JOIN')) type = 'left'
    else if (c.acceptWords('RIGHT', 'JOIN') || c.acceptWords('RIGHT', 'OUTER', 'JOIN')) type = 'right'
    else if (c.acceptWords('FULL', 'JOIN') || c.acceptWords('FULL', 'OUTER', 'JOIN')) type = 'full'
    else if (c.acceptWords('CROSS', 'JOIN')) type = 'cross'
    else if (c.isWord('LEFT') || c.isWord('RIGHT') || c.isWord('FULL') || c.isWord('INNER')) {
      c.next()
      c.failExpected('JOIN', ['JOIN', 'OUTER'])
    } else return left
    const right = readFromItem(c, true)
    if (type === 'cross') {
      left = { kind: 'join', at, type, left, right }
    } else if (c.acceptWord('ON')) {
      left = { kind: 'join', at, type, left, right, on: parseExpr(c) }
    } else if (c.acceptWord('USING')) {
      left = { kind: 'join', at, type, left, right, using: c.nameList() }
    } else {
      c.failExpected('ON or USING after the joined table', ['ON', 'USING'])
    }
  }
}

/**
 * Parses one FROM item without joins: a table, `(subquery)`, `TABLE(window TVF)`, each optionally
 * followed by MATCH_RECOGNIZE. With `withAlias` false (inside `TABLE t` arguments) no alias is read.
 */
export function readFromItem(c: Cursor, withAlias: boolean): FromItem {
  const t = c.peek()
  const at = t.offset
  let item: FromItem
  if (c.isOp('(')) {
    c.next()
    if (c.isWord('SELECT') || c.isWord('WITH') || c.isOp('(')) {
      const query = readQuery(c)
      c.expectOp(')')
      item = { kind: 'subquery', at, query }
    } else {
      item = parseFrom(c)
      c.expectOp(')')
    }
  } else if (c.isWord('TABLE') && c.isOp('(', 1)) {
    c.next()
    c.next()
    item = parseWindowTvf(c)
    c.expectOp(')')
  } else if (c.isName()) {
    const name = c.dottedName('a table name')
    let forSystemTime: Expr | undefined
    if (c.acceptWords('FOR', 'SYSTEM_TIME', 'AS', 'OF')) forSystemTime = parseExpr(c)
    item = { kind: 'table', at, name, ...(forSystemTime ? { forSystemTime } : {}) }
  } else {
    return c.failExpected('a table name, "(" or TABLE(...)')
  }
  if (!withAlias) return item
  item = withAliasOf(c, item)
  if (c.isWord('MATCH_RECOGNIZE')) {
    const mr = parseMatchRecognize(c, item)
    return withAliasOf(c, mr)
  }
  return item
}

function withAliasOf(c: Cursor, item: FromItem): FromItem {
  if (item.kind === 'join' || c.isWord('MATCH_RECOGNIZE')) return item
  const alias = c.alias()
  if (alias === undefined) return item
  const columnAliases =
    (item.kind === 'table' || item.kind === 'subquery') && c.isOp('(') ? c.nameList() : undefined
  if (
    item.kind === 'table' &&
    item.forSystemTime === undefined &&
    c.acceptWords('FOR', 'SYSTEM_TIME', 'AS', 'OF')
  ) {
    return { ...item, alias, forSystemTime: parseExpr(c) }
  }
  return { ...item, alias, ...(columnAliases ? { columnAliases } : {}) }
}

const TVF_PARAMS: { readonly [fn: string]: readonly string[] } = {
  TUMBLE: ['DATA', 'TIMECOL', 'SIZE', 'OFFSET'],
  HOP: ['DATA', 'TIMECOL', 'SLIDE', 'SIZE', 'OFFSET'],
  CUMULATE: ['DATA', 'TIMECOL', 'STEP', 'SIZE', 'OFFSET'],
  SESSION: ['DATA', 'TIMECOL', 'GAP'],
}

function parseWindowTvf(c: Cursor): WindowTvf {
  const t = c.peek()
  const expr = parseExpr(c)
  const fn = expr.kind === 'call' ? expr.name : ''
  const params = TVF_PARAMS[fn]
  if (expr.kind !== 'call' || !params) {
    return c.failAt(
      t.offset,
      `expected a window function TUMBLE, HOP, CUMULATE or SESSION inside TABLE(...), got ${describeToken(t)}`,
    )
  }
  const byName: { [p: string]: Expr } = {}
  expr.args.forEach((arg, i) => {
    if (arg.kind === 'named') {
      if (!params.includes(arg.name)) {
        c.failAt(arg.at, `${fn}: unknown parameter ${arg.name}; expected one of ${params.join(', ')}`)
      }
      byName[arg.name] = arg.value
    } else {
      if (i >= params.length) c.failAt(arg.at, `${fn}: too many arguments; expected ${params.join(', ')}`)
      byName[params[i]!] = arg
    }
  })
  const data = byName.DATA
  if (data?.kind !== 'tableArg') {
    return c.failAt(data?.at ?? expr.at, `${fn}: the first argument must be TABLE <name>`)
  }
  const timecol = byName.TIMECOL
  if (timecol?.kind !== 'descriptor' || timecol.columns.length !== 1) {
    return c.failAt(timecol?.at ?? expr.at, `${fn}: the second argument must be DESCRIPTOR(<time column>)`)
  }
  const interval = (p: string, required: boolean): IntervalLiteral | undefined => {
    const v = byName[p]
    if (!v) {
      if (required) c.failAt(expr.at, `${fn}: missing ${p} argument, such as INTERVAL '10' SECOND`)
      return undefined
    }
    if (v.kind !== 'interval' || v.yearMonth || v.value <= 0) {
      if (!(p === 'OFFSET' && v.kind === 'interval' && !v.yearMonth)) {
        c.failAt(v.at, `${fn}: ${p} must be a positive INTERVAL such as INTERVAL '10' SECOND`)
      }
    }
    return v as IntervalLiteral
  }
  const required = params.filter((p) => p !== 'DATA' && p !== 'TIMECOL' && p !== 'OFFSET')
  const values: { [p: string]: IntervalLiteral } = {}
  for (const p of [...required, ...(params.includes('OFFSET') ? ['OFFSET'] : [])]) {
    const v = interval(p, p !== 'OFFSET')
    if (v) values[p] = v
  }
  const table = data.table
  return {
    kind: 'windowTvf',
    at: expr.at,
    fn: fn as WindowTvf['fn'],
    input: table,
    timeColumn: timecol.columns[0]!,
    partitionBy: data.partitionBy,
    ...(values.SIZE ? { size: values.SIZE } : {}),
    ...(values.SLIDE ? { slide: values.SLIDE } : {}),
    ...(values.STEP ? { step: values.STEP } : {}),
    ...(values.GAP ? { gap: values.GAP } : {}),
    ...(values.OFFSET ? { offset: values.OFFSET } : {}),
  }
}

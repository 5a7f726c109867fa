// Prints expressions back as SQL text, for error messages and default column names
// (`path > 5`, `COUNT(*)`, `UPPER(name)`). The output parses back to the same tree.

import type { Expr, FrameBound, OrderItem, WindowSpec } from './ast.ts'
import { formatType } from './types.ts'

function quoteName(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_$]*$/.test(name) ? name : `\`${name.replace(/`/g, '``')}\``
}

function quoteString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`
}

const PRECEDENCE: { readonly [op: string]: number } = {
  OR: 1,
  AND: 2,
  '=': 4,
  '<>': 4,
  '<': 4,
  '<=': 4,
  '>': 4,
  '>=': 4,
  '+': 5,
  '-': 5,
  '||': 5,
  '*': 6,
  '/': 6,
  '%': 6,
}

function precedence(e: Expr): number {
  switch (e.kind) {
    case 'binary':
      return PRECEDENCE[e.op]!
    case 'unary':
      return e.op === 'NOT' ? 3 : 7
    case 'is':
    case 'in':
    case 'between':
    case 'like':
      return 4
    default:
      return 9
  }
}

function wrap(e: Expr, min: number): string {
  const s = formatExpr(e)
  return precedence(e) < min ? `(${s})` : s
}

/** One ORDER BY item as SQL: `expr [DESC] [NULLS FIRST | LAST]`. */
export function formatOrder(o: OrderItem): string {
  return `${formatExpr(o.expr)}${o.desc ? ' DESC' : ''}${o.nulls ? ` NULLS ${o.nulls}` : ''}`
}

function formatBound(b: FrameBound): string {
  switch (b.kind) {
    case 'unboundedPreceding':
      return 'UNBOUNDED PRECEDING'
    case 'unboundedFollowing':
      return 'UNBOUNDED FOLLOWING'
    case 'currentRow':
      return 'CURRENT ROW'
    case 'preceding':
      return `${formatExpr(b.offset!)} PRECEDING`
    case 'following':
      return `${formatExpr(b.offset!)} FOLLOWING`
  }
}

/** Prints a window spec without the surrounding parentheses. */
export function formatWindowSpec(w: WindowSpec): string {
  const parts: string[] = []
  if (w.base) parts.push(quoteName(w.base))
  if (w.partitionBy.length) parts.push(`PARTITION BY ${w.partitionBy.map(formatExpr).join(', ')}`)
  if (w.orderBy.length) parts.push(`ORDER BY ${w.orderBy.map(formatOrder).join(', ')}`)
  if (w.frame)
    parts.push(`${w.frame.unit} BETWEEN ${formatBound(w.frame.start)} AND ${formatBound(w.frame.end)}`)
  return parts.join(' ')
}

/** Prints an expression as SQL. Subqueries print as `(SELECT ...)`. */
export function formatExpr(e: Expr): string {
  switch (e.kind) {
    case 'literal':
      if (e.value === null) return 'NULL'
      if (
        typeof e.value === 'string' &&
        e.type.kind !== 'TIMESTAMP' &&
        e.type.kind !== 'DATE' &&
        e.type.kind !== 'TIME'
      ) {
        return quoteString(e.value)
      }
      return e.text
    case 'interval':
      return e.text
    case 'column':
      return e.qualifier ? `${quoteName(e.qualifier)}.${quoteName(e.name)}` : quoteName(e.name)
    case 'star':
      return e.qualifier ? `${quoteName(e.qualifier)}.*` : '*'
    case 'unary':
      return e.op === 'NOT' ? `NOT ${wrap(e.operand, 3)}` : `${e.op}${wrap(e.operand, 7)}`
    case 'binary': {
      const p = PRECEDENCE[e.op]!
      return `${wrap(e.left, p)} ${e.op} ${wrap(e.right, p + 1)}`
    }
    case 'is':
      return e.test === 'DISTINCT'
        ? `${wrap(e.operand, 5)} IS ${e.not ? 'NOT ' : ''}DISTINCT FROM ${wrap(e.other!, 5)}`
        : `${wrap(e.operand, 5)} IS ${e.not ? 'NOT ' : ''}${e.test}`
    case 'in':
      return `${wrap(e.operand, 5)} ${e.not ? 'NOT ' : ''}IN (${e.list ? e.list.map(formatExpr).join(', ') : 'SELECT ...'})`
    case 'between':
      return `${wrap(e.operand, 5)} ${e.not ? 'NOT ' : ''}BETWEEN ${wrap(e.low, 5)} AND ${wrap(e.high, 5)}`
    case 'like':
      return `${wrap(e.operand, 5)} ${e.not ? 'NOT ' : ''}${e.similar ? 'SIMILAR TO' : 'LIKE'} ${wrap(e.pattern, 5)}${e.escape ? ` ESCAPE ${formatExpr(e.escape)}` : ''}`
    case 'case': {
      let s = 'CASE'
      if (e.operand) s += ` ${formatExpr(e.operand)}`
      for (const w of e.whens) s += ` WHEN ${formatExpr(w.when)} THEN ${formatExpr(w.result)}`
      if (e.else) s += ` ELSE ${formatExpr(e.else)}`
      return `${s} END`
    }
    case 'cast':
      return `${e.safe ? 'TRY_CAST' : 'CAST'}(${formatExpr(e.operand)} AS ${formatType(e.type)})`
    case 'extract':
      return `EXTRACT(${e.unit} FROM ${formatExpr(e.operand)})`
    case 'call': {
      if ((e.name === 'JSON_OBJECT' || e.name === 'JSON_ARRAY') && e.args[0]?.kind === 'literal')
        return formatJsonConstructor(e.name, String(e.args[0].value), e.args.slice(1))
      let args: string
      if (e.unit && (e.name === 'FLOOR' || e.name === 'CEIL')) args = `${formatExpr(e.args[0]!)} TO ${e.unit}`
      else if (e.unit) args = [e.unit, ...e.args.map(formatExpr)].join(', ')
      else args = (e.distinct ? 'DISTINCT ' : '') + e.args.map(formatExpr).join(', ')
      let s = `${e.name}(${args})`
      if (e.filter) s += ` FILTER (WHERE ${formatExpr(e.filter)})`
      if (e.over !== undefined)
        s += typeof e.over === 'string' ? ` OVER ${quoteName(e.over)}` : ` OVER (${formatWindowSpec(e.over)})`
      return s
    }
    case 'index':
      return `${wrap(e.target, 8)}[${formatExpr(e.index)}]`
    case 'field':
      return `${wrap(e.target, 8)}.${quoteName(e.field)}`
    case 'constructor':
      return e.type === 'ROW'
        ? `ROW(${e.items.map(formatExpr).join(', ')})`
        : `${e.type}[${e.items.map(formatExpr).join(', ')}]`
    case 'subquery':
      return e.exists ? 'EXISTS (SELECT ...)' : '(SELECT ...)'
    case 'named':
      return `${e.name} => ${formatExpr(e.value)}`
    case 'tableArg':
      return 'TABLE ...'
    case 'descriptor':
      return `DESCRIPTOR(${e.columns.map(quoteName).join(', ')})`
  }
}

/** `JSON_OBJECT(KEY k VALUE v, ... x ON NULL)` or `JSON_ARRAY(v, ... x ON NULL)` from the parsed call. */
function formatJsonConstructor(name: string, mode: string, args: readonly Expr[]): string {
  const items: string[] = []
  if (name === 'JSON_OBJECT')
    for (let i = 0; i + 1 < args.length; i += 2)
      items.push(`KEY ${formatExpr(args[i]!)} VALUE ${formatExpr(args[i + 1]!)}`)
  else for (const a of args) items.push(formatExpr(a))
  items.push(`${mode.slice(0, mode.indexOf(':'))} ON NULL`)
  return `${name}(${items.join(', ').replace(/, (\w+ ON NULL)$/, ' $1')})`
}

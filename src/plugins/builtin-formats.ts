// The parsers and formatters as plugins: one schema each (shared fluentd `<parse>`, `<inject>` and
// `<format>` options plus their own), creating the parsers and formatters of parsers/ and formatters/.

import { z } from 'zod'
import { createFormatter, type FormatterConfig } from './formatters/index.ts'
import { defineFormatter, defineParser, type FormatterPlugin, type ParserPlugin } from './define.ts'
import { createParser, type ParserConfig } from './parsers/index.ts'

const timeFormat = z.union([z.string(), z.array(z.string())])

/** fluentd's `<parse>` options shared by most parsers. */
const parseOptions = {
  timeKey: z
    .string()
    .optional()
    .describe('Field holding the event time; removed from the record unless keepTimeKey.'),
  timeFormat: timeFormat
    .optional()
    .describe(
      'How the time field is written: strftime format, `iso8601`, `unix`, `unix_ms`; a list tries each.',
    ),
  timezone: z
    .string()
    .optional()
    .describe('Zone of times written without one: `UTC` (default), `+09:00` or an IANA name.'),
  keepTimeKey: z.boolean().optional().describe('Keep the time field in the record.'),
  types: z
    .union([z.string(), z.record(z.string(), z.string())])
    .optional()
    .describe('Field conversions: `"code:integer,size:integer"` or `{ code: integer }`.'),
  nullValuePattern: z.string().optional().describe('Values matching this pattern entirely become null.'),
  nullEmptyString: z.boolean().optional().describe('Empty string values become null.'),
}

const keys = z.union([z.string(), z.array(z.string())])

const PARSERS: { type: string; summary: string; options: z.ZodRawShape }[] = [
  { type: 'json', summary: 'Each line is one JSON object.', options: parseOptions },
  {
    type: 'ltsv',
    summary: 'Labeled tab-separated values (`host:1.2.3.4<TAB>code:200`).',
    options: {
      ...parseOptions,
      delimiter: z.string().optional().describe('Separator between pairs (default a tab).'),
      labelDelimiter: z.string().optional().describe('Separator between label and value (default `:`).'),
    },
  },
  {
    type: 'csv',
    summary: 'Comma-separated values with the given column names.',
    options: {
      ...parseOptions,
      keys: keys.describe('Column names in order (list or comma-separated).'),
      delimiter: z.string().optional().describe('Column separator (default `,`).'),
    },
  },
  {
    type: 'tsv',
    summary: 'Tab-separated values with the given column names.',
    options: {
      ...parseOptions,
      keys: keys.describe('Column names in order (list or comma-separated).'),
      delimiter: z.string().optional().describe('Column separator (default a tab).'),
    },
  },
  {
    type: 'regexp',
    summary: 'A regular expression with named groups (`/^(?<host>\\S+) (?<message>.*)$/`).',
    options: {
      ...parseOptions,
      expression: z.string().describe('The expression, fluentd style: `/.../` with optional `i`, `m` flags.'),
    },
  },
  {
    type: 'apache2',
    summary: 'Apache combined access log lines.',
    options: { keepTimeKey: parseOptions.keepTimeKey },
  },
  { type: 'apache_error', summary: 'Apache error log lines.', options: parseOptions },
  { type: 'nginx', summary: 'Nginx default access log lines.', options: parseOptions },
  {
    type: 'syslog',
    summary: 'Syslog lines, RFC 3164 or RFC 5424.',
    options: {
      messageFormat: z
        .enum(['rfc3164', 'rfc5424', 'auto'])
        .optional()
        .describe('`rfc3164` (default), `rfc5424` or `auto`.'),
      withPriority: z
        .boolean()
        .optional()
        .describe('`true`: the `<PRI>` prefix is required; `false`: absent; default: read when present.'),
      timeFormat: z.string().optional().describe('Time format of RFC 3164 lines (default `%b %d %H:%M:%S`).'),
      rfc5424TimeFormat: z.string().optional().describe('Time format of RFC 5424 lines.'),
      timezone: z.string().optional().describe('Zone of times written without one (default UTC).'),
      keepTimeKey: z.boolean().optional().describe('Keep the time text in the record as `time`.'),
    },
  },
  {
    type: 'multiline',
    summary: 'Records spanning several lines, started by `formatFirstline`.',
    options: {
      ...parseOptions,
      formatFirstline: z.string().optional().describe('Expression matching the first line of a record.'),
      format: z
        .union([z.string(), z.array(z.string())])
        .describe('Expression(s) with named groups, joined in order (fluentd `format1`…`formatN`).'),
    },
  },
  {
    type: 'none',
    summary: 'The whole line as one field.',
    options: {
      messageKey: z.string().optional().describe('The field receiving the line (default `message`).'),
    },
  },
]

const injectOptions = {
  includeTimeKey: z.boolean().optional().describe('Add the event time as `timeKey`.'),
  timeKey: z.string().optional().describe('Field for the time (default `time`).'),
  timeFormat: z
    .string()
    .optional()
    .describe('How the time is written: `unix` (default), `unix_ms`, `iso8601` or strftime.'),
  timezone: z.string().optional().describe('Zone of iso8601 and strftime times (default UTC).'),
  includeTagKey: z.boolean().optional().describe('Add the record tag as `tagKey`.'),
  tagKey: z.string().optional().describe('Field for the tag (default `tag`).'),
}
const addNewline = z.boolean().optional().describe('End each record with a newline (default true).')

const FORMATTERS: { type: string; summary: string; options: z.ZodRawShape }[] = [
  { type: 'json', summary: 'One JSON object per line.', options: { ...injectOptions, addNewline } },
  {
    type: 'ltsv',
    summary: 'Labeled tab-separated values.',
    options: {
      ...injectOptions,
      addNewline,
      delimiter: z.string().optional().describe('Separator between pairs (default a tab).'),
      labelDelimiter: z.string().optional().describe('Separator between label and value (default `:`).'),
      replacement: z
        .string()
        .optional()
        .describe('Written instead of a delimiter found in a value (default a space).'),
    },
  },
  {
    type: 'csv',
    summary: 'Comma-separated values of the given fields.',
    options: {
      ...injectOptions,
      addNewline,
      fields: keys.describe('Fields to write, in order (list or comma-separated).'),
      delimiter: z.string().optional().describe('Column separator (default `,`).'),
      forceQuotes: z.boolean().optional().describe('Quote every value (default true, as fluentd).'),
    },
  },
  { type: 'msgpack', summary: 'One MessagePack object per record.', options: injectOptions },
  {
    type: 'single_value',
    summary: 'One field of the record as a line of text.',
    options: {
      addNewline,
      messageKey: z.string().optional().describe('The field written (default `message`).'),
    },
  },
]

/** Every built-in parser as a plugin. */
export const parserPlugins: ParserPlugin[] = PARSERS.map((p) =>
  defineParser({
    type: p.type,
    summary: p.summary,
    config: z.strictObject({ type: z.literal(p.type).describe('The parser type.'), ...p.options }),
    create: (config, ctx) => createParser(config as ParserConfig, ctx.path),
  }),
)

/** Every built-in formatter as a plugin. */
export const formatterPlugins: FormatterPlugin[] = FORMATTERS.map((f) =>
  defineFormatter({
    type: f.type,
    summary: f.summary,
    config: z.strictObject({ type: z.literal(f.type).describe('The formatter type.'), ...f.options }),
    create: (config, ctx) => createFormatter(config as FormatterConfig, ctx.path),
  }),
)

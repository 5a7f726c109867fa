import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { jsonLines, type RunningPipeline, runPipelineYaml, until } from './pipeline-support.ts'

const LOGGER = ['/usr/bin/logger', '/bin/logger'].find((p) => existsSync(p))
const RUN = LOGGER !== undefined || process.env.CI === 'true'
if (!RUN) console.warn('skipping the syslog client test: no logger (util-linux) on this machine')

let running: RunningPipeline | undefined
afterEach(async () => {
  await running?.close()
  running = undefined
})

function logger(args: string[]): Promise<void> {
  if (LOGGER === undefined) return Promise.reject(new Error('logger (util-linux) is not installed'))
  return new Promise((resolve, reject) =>
    execFile(LOGGER, args, { timeout: 10_000 }, (e, _out, err) =>
      e ? reject(new Error(`logger failed: ${err || e.message}`)) : resolve(),
    ),
  )
}

describe.skipIf(!RUN)('pipeline with syslog inputs and the util-linux logger client', () => {
  it('RFC 5424 messages sent by logger over TCP and UDP are parsed with their host, app and message', async () => {
    running = await runPipelineYaml(`
name: syslogclient
sources:
  - name: tcp
    type: syslog
    protocol: tcp
    port: 0
    bind: 127.0.0.1
    tag: system
    parser: { type: syslog, messageFormat: rfc5424 }
  - name: udp
    type: syslog
    port: 0
    bind: 127.0.0.1
    tag: system
    parser: { type: syslog, messageFormat: auto }
outputs:
  - type: file
    path: $DIR/out.log
    buffer: { flushInterval: 30ms }
`)
    const tcp = await running.port('tcp')
    const udp = await running.port('udp')
    const common = ['--server', '127.0.0.1', '--rfc5424', '--tag', 'squalltest', '-p', 'auth.warning']
    await logger([...common, '--port', String(tcp), '--tcp', '--octet-count', 'over tcp, counted'])
    await logger([...common, '--port', String(tcp), '--tcp', 'over tcp, one line'])
    await logger([...common, '--port', String(udp), '--udp', '--msgid', 'M1', 'over udp'])
    const out = join(running.dir, 'out.log')
    await until(() => jsonLines(out).length === 3, 'three messages')
    const rows = jsonLines(out).sort((a, b) => String(a.message).localeCompare(String(b.message)))
    expect(rows.map((r) => r.message)).toEqual(['over tcp, counted', 'over tcp, one line', 'over udp'])
    for (const r of rows) expect(r.ident).toBe('squalltest')
    expect(rows[2]!.msgid).toBe('M1')
  })
})

import { spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const BIN = join(import.meta.dirname, '../../bin/squall.js')

function demo(stateDir: string, extra: string[] = []) {
  return spawnSync(
    process.execPath,
    [BIN, 'demo', '--duration', '12s', '--rate', '40000', '--plain', '--http', 'off', '--state-dir', stateDir, ...extra],
    // Checkpoints every 3 s, so one completes within the run even on a loaded machine.
    { encoding: 'utf8', timeout: 90_000, env: { ...process.env, SQUALL_DEMO_CHECKPOINT: '3s' } },
  )
}

describe('squall demo', () => {
  it('runs by itself for --duration, finds the planted attackers and crawler, and resumes from its checkpoint', () => {
    const stateDir = join(mkdtempSync(join(tmpdir(), 'squall-demo-')), 'state')
    const first = demo(stateDir)
    expect(first.status).toBe(0)
    const out = first.stdout
    // The traffic model plants three brute-force attackers and one crawler in every episode.
    for (const ip of ['203.0.113.10', '203.0.113.11', '203.0.113.12']) {
      expect(out).toMatch(new RegExp(`BLOCK\\s+${ip.replaceAll('.', '\\.')}\\s+8 failed logins within 60s followed by a success`))
    }
    expect(out).toMatch(/198\.51\.100\.7\s+.*crawler-like/)
    // No visitor of the normal traffic is blocked.
    const blocked = [...out.matchAll(/BLOCK\s+(\S+)/g)].map((m) => m[1])
    expect(new Set(blocked)).toEqual(new Set(['203.0.113.10', '203.0.113.11', '203.0.113.12', '198.51.100.7']))
    expect(out).toMatch(/Top pages by unique visitors/)
    expect(out).toMatch(/ {2}1 {2}\/articles\/\d+\s+[\d,]+/)
    expect(out).toMatch(/started fresh/)
    const last = /resume from checkpoint #(\d+)/.exec(out)
    expect(last).not.toBeNull()

    const second = demo(stateDir, ['--duration', '4s'])
    expect(second.status).toBe(0)
    expect(second.stdout).toMatch(new RegExp(`resumed from checkpoint #${last![1]}, not from zero`))
  }, 120_000)
})

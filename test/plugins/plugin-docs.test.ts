import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { pluginDocs } from '../../scripts/gen-plugin-docs.ts'

describe('plugin docs', () => {
  it('docs/plugins matches the plugin schemas (run npx tsx scripts/gen-plugin-docs.ts after changing one)', () => {
    const dir = join(import.meta.dirname, '../../docs/plugins')
    for (const [name, content] of pluginDocs()) {
      expect(existsSync(join(dir, name)), `docs/plugins/${name} is missing`).toBe(true)
      expect(readFileSync(join(dir, name), 'utf8'), `docs/plugins/${name} is out of date`).toBe(content)
    }
  })

  it('every option of every plugin has a description', () => {
    for (const [name, content] of pluginDocs()) {
      for (const row of content.split('\n').filter((l) => l.startsWith('| `'))) {
        expect(row.trim().endsWith('|  |'), `${name}: ${row}`).toBe(false)
      }
    }
  })
})

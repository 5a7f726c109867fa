// Driving an output plugin's delivery directly in tests: validate a config, create the delivery
// for one task, and hand it chunks, as the output buffer would.
import { ManualClock } from '../../../src/core/clock.ts'
import { memoryLogger } from '../../../src/core/logger.ts'
import type { Record } from '../../../src/core/record.ts'
import type { IoContext } from '../../../src/core/source.ts'
import { validate } from '../../../src/plugins/config.ts'
import type { Delivery, OutputPlugin } from '../../../src/plugins/define.ts'

/** The IoContext of task 0 of an output named `out`. */
export function ioContext(): IoContext {
  return {
    nodeName: 'out',
    partition: 0,
    partitions: 1,
    log: memoryLogger(),
    clock: new ManualClock(0),
    count: () => {},
    report: () => {},
    badRecord: () => {},
  }
}

/** Validates `config` for `plugin` and opens the delivery of one task; throws on a bad config. */
export async function openDelivery(plugin: OutputPlugin, config: object): Promise<Delivery> {
  const v = validate(plugin.config, config, 'outputs[0]')
  if (!v.ok) throw new Error(v.issues.map((i) => `${i.path}: ${i.message}`).join('; '))
  const target = plugin.create(v.value, {
    name: 'out',
    path: 'outputs[0]',
    baseDir: process.cwd(),
    stateDir: undefined,
    log: memoryLogger(),
  })
  if (!('delivery' in target)) throw new Error(`${plugin.type} does not deliver chunks`)
  const delivery = target.delivery.create(ioContext())
  await delivery.open?.()
  return delivery
}

/** A record with `value` and `tag`, at event time `time`. */
export const rec = (value: unknown, tag = 'web.access', time = 1_700_000_000_000): Record => ({
  value,
  key: undefined,
  time,
  tag,
})

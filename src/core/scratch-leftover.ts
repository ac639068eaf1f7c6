import type { Driver } from './driver.js';
import type { Leftover } from './leftover-journal.js';
import { SCRATCH_PREFIX } from './scratch-names.js';
import type { Service } from './service.js';

/**
 * `removeLeftover` for a driver whose restore test works on the source's own
 * server under the run's prefix and whose `scratchTarget` creates nothing
 * (it only names the scratch copies; its cleanup deletes everything with
 * the prefix): a 'scratch-prefix' leftover of a dead run is removed by that
 * same cleanup. Not for scratch targets that create containers or volumes.
 */
export function scratchPrefixRemover(scratchTarget: NonNullable<Driver['scratchTarget']>): NonNullable<Driver['removeLeftover']> {
  return async (service: Service, leftover: Leftover) => {
    if (leftover.kind !== 'scratch-prefix' || !leftover.name.startsWith(SCRATCH_PREFIX) || !leftover.data?.strategy) return false;
    const run = leftover.name.slice(SCRATCH_PREFIX.length).replace(/_$/, '');
    const target = await scratchTarget({ source: service, strategy: leftover.data.strategy, recorded: { details: {} }, prefix: leftover.name, run, signal: new AbortController().signal });
    if (!target) return false;
    await target.cleanup();
    return `removed the restore test's scratch copies ${leftover.name}*`;
  };
}

import type { Driver } from './driver.js';
import type { DriverRegistry } from './registry.js';
import { leftoverEndpoint } from './leftover-journal.js';
import { sweepLeftovers, type SweepLine, type SweepTarget } from './leftover-sweep.js';
import type { Service } from './service.js';

/**
 * Before a restore, a restore test or a backup touches its services:
 * removes what runs that died left on those services' servers (working
 * copies, scratch databases) and in HOLDFAST_TMPDIR, through each service's
 * driver, and returns one line per thing for the user. A backup would
 * otherwise also dump a leftover working copy.
 */
export async function cleanLeftovers(registry: DriverRegistry, touched: ReadonlyArray<{ driver: string; service: Service }>): Promise<SweepLine[]> {
  return cleanLeftoversWith(touched.map(({ driver, service }) => ({ driver: registry.get(driver), service })));
}

export async function cleanLeftoversWith(touched: ReadonlyArray<{ driver: Driver; service: Service }>): Promise<SweepLine[]> {
  const byTarget = new Map<SweepTarget, { driver: Driver; service: Service }>();
  for (const { driver, service } of touched) {
    if (!service.endpoint) continue;
    byTarget.set({ driver: driver.engine, endpoint: leftoverEndpoint(service.endpoint), service: service.name }, { driver, service });
  }
  return sweepLeftovers([...byTarget.keys()], async (target, leftover) => {
    const { driver, service } = byTarget.get(target)!;
    return driver.removeLeftover ? driver.removeLeftover(service, leftover) : false;
  });
}

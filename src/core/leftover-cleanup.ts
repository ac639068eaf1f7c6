import type { DriverRegistry } from './registry.js';
import { leftoverEndpoint } from './leftover-journal.js';
import { sweepLeftovers, type SweepLine, type SweepTarget } from './leftover-sweep.js';
import type { Service } from './service.js';

/**
 * Before a restore or a restore test touches its services: removes what
 * runs that died left on those services' servers (working copies, scratch
 * databases) and in HOLDFAST_TMPDIR, through each service's driver, and
 * returns one line per thing for the user.
 */
export async function cleanLeftovers(registry: DriverRegistry, touched: ReadonlyArray<{ driver: string; service: Service }>): Promise<SweepLine[]> {
  const byTarget = new Map<SweepTarget, Service>();
  for (const { driver, service } of touched) {
    if (!service.endpoint) continue;
    byTarget.set({ driver, endpoint: leftoverEndpoint(service.endpoint), service: service.name }, service);
  }
  return sweepLeftovers([...byTarget.keys()], async (target, leftover) => {
    const driver = registry.get(target.driver);
    if (!driver.removeLeftover) return false;
    return driver.removeLeftover(byTarget.get(target)!, leftover);
  });
}

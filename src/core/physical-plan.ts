import type { StrategyOffer } from './driver.js';
import type { PlanItem } from './planner.js';
import { passwordEnvPrefixes } from './secrets.js';
import { assertServiceName } from './service.js';

/** The tag that asks for a physical copy beside the logical one (`backup --tag pre-upgrade`). */
export const PRE_UPGRADE_TAG = 'pre-upgrade';

/** The manifest entry of a service's physical copy: `db` -> `db.physical`. */
export function physicalName(service: string): string {
  const name = `${service.slice(0, 63 - '.physical'.length)}.physical`;
  assertServiceName(name);
  return name;
}

const runnable = (o: StrategyOffer) => o.consistency !== 'inconsistent' && o.requirements.every((r) => r.met);

/**
 * `backup --physical`: beside each service whose chosen strategy is a
 * logical export (pg_dump, a dump), a second plan item that copies its files
 * too: the strongest physical offer that can run (the engine's own copy
 * with the server running: pg_basebackup, mariadb-backup in its container;
 * else the volume tar with its writers stopped); a stronger one that cannot
 * run is named in the reason, with why. It is recorded as its own manifest
 * entry (`db.physical`, with `physicalOf: db`), so a rollback can put the
 * files back in place and
 * every other command sees an ordinary service. A service that is already
 * copied physically (a volume, `tar`) gets none; one with no runnable
 * physical offer gets none either, and its reason says so.
 */
export function withPhysicalCopies(items: readonly PlanItem[]): PlanItem[] {
  const out: PlanItem[] = [];
  const taken = new Set(items.map((i) => i.service.name));
  for (const item of items) {
    if (item.error || !item.strategy) {
      out.push(item);
      continue;
    }
    const chosen = item.offers.find((o) => o.name === item.strategy);
    if (chosen?.physical) {
      out.push(item);
      continue;
    }
    const offer = item.offers.find((o) => o.physical && runnable(o));
    if (!offer) {
      const why = item.offers.filter((o) => o.physical).map((o) => `${o.name}: ${o.requirements.filter((r) => !r.met).map((r) => r.what).join('; ') || o.consistency}`);
      out.push({ ...item, reason: `${item.reason}; no physical copy: ${why.length ? why.join('; ') : 'the engine offers none here'}` });
      continue;
    }
    out.push(item);
    const name = physicalName(item.service.name);
    if (taken.has(name)) continue;
    taken.add(name);
    out.push({
      // Its credentials stay the service's own (HOLDFAST_DB_PASSWORD, not HOLDFAST_DB_PHYSICAL_PASSWORD).
      // physical_of: a volume copy of a database also takes the engine's fingerprint of the copied files (volume-physical-copy.ts).
      service: { ...item.service, name, strategy: offer.name, secretEnv: passwordEnvPrefixes(item.service), options: { ...item.service.options, physical_of: item.service.name } },
      ...(item.driver ? { driver: item.driver } : {}),
      ...(item.detectedBy ? { detectedBy: item.detectedBy } : {}),
      strategy: offer.name,
      consistency: offer.consistency,
      reason: `physical copy of ${item.service.name} for rollback: ${offer.summary} (${offer.consistency}), taken after its ${item.strategy}${passedOver(item.offers, offer)}`,
      offers: [offer],
      physicalOf: item.service.name,
    });
  }
  return out;
}

/** Why a stronger physical copy (the engine's own, with the server running) gave way to the one chosen: "; not physical: its image lacks mariadb-backup". */
function passedOver(offers: readonly StrategyOffer[], chosen: StrategyOffer): string {
  const before = offers.slice(0, offers.indexOf(chosen)).filter((o) => o.physical);
  // The first clause of each unmet requirement's detail: what is missing, not what the engine's default does instead.
  return before.map((o) => `; not ${o.name}: ${o.requirements.filter((r) => !r.met).map((r) => r.detail?.split('; ')[0] ?? r.what).join('; ') || o.consistency}`).join('');
}

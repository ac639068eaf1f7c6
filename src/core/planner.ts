import type { Consistency, Driver, OfferPlace, StrategyOffer } from './driver.js';
import { HoldfastError, toHoldfastError } from './errors.js';
import type { DriverRegistry } from './registry.js';
import type { Service } from './service.js';

/** The planner's decision for one service. */
export interface PlanItem {
  service: Service;
  driver?: Driver;
  detectedBy?: string;
  strategy?: string;
  consistency?: Consistency;
  /** Why this strategy (or why none). */
  reason: string;
  /** Where the chosen strategy's work runs, and why (when the driver says). */
  place?: OfferPlace;
  offers: StrategyOffer[];
  /** Set when no strategy can run: the executor records the service as failed. */
  error?: HoldfastError;
  /** This item copies the files of that service for rollback (see physical-plan.ts); it runs after the others. */
  physicalOf?: string;
}

const UNMET = (o: StrategyOffer) => o.requirements.filter((r) => !r.met);

/**
 * The hints of unmet requirements, each once: strategies of one engine often
 * share a requirement (the volume strategies all need the helper image), and
 * the same advice three times over reads as three problems.
 */
function joinHints(hints: (string | undefined)[]): string | undefined {
  return [...new Set(hints.filter(Boolean))].join('; ') || undefined;
}

function describeUnmet(offer: StrategyOffer): string {
  return UNMET(offer)
    .map((r) => `${r.what}${r.detail ? ` (${r.detail})` : ''}`)
    .join('; ');
}

/**
 * Picks, per service, the strongest strategy whose requirements hold, and
 * says why. Offers come strongest first from the driver. A pinned strategy is
 * used as pinned or fails with the unmet requirements. An `inconsistent`
 * strategy is never chosen unless pinned.
 */
export function chooseStrategy(service: Service, offers: StrategyOffer[]): Pick<PlanItem, 'strategy' | 'consistency' | 'reason' | 'error'> {
  if (service.strategy) {
    const pinned = offers.find((o) => o.name === service.strategy);
    if (!pinned) {
      return {
        reason: `pinned strategy ${service.strategy} is not offered`,
        error: new HoldfastError('config', `strategy ${JSON.stringify(service.strategy)} is not offered for this service`, {
          service: service.name,
          hint: `choose one of: ${offers.map((o) => o.name).join(', ')}`,
        }),
      };
    }
    const unmet = UNMET(pinned);
    if (unmet.length > 0) {
      return {
        strategy: pinned.name,
        consistency: pinned.consistency,
        reason: `pinned ${pinned.name}, but: ${describeUnmet(pinned)}`,
        error: new HoldfastError('tool', `strategy ${pinned.name} cannot run: ${describeUnmet(pinned)}`, {
          service: service.name,
          hint: joinHints(unmet.map((r) => r.hint)),
        }),
      };
    }
    return { strategy: pinned.name, consistency: pinned.consistency, reason: `pinned by configuration (${pinned.consistency})` };
  }
  const skipped: string[] = [];
  for (const offer of offers) {
    if (offer.consistency === 'inconsistent') {
      skipped.push(`${offer.name}: inconsistent (a live copy), used only when pinned`);
      continue;
    }
    const unmet = UNMET(offer);
    if (unmet.length === 0) {
      const because = skipped.length ? `; skipped ${skipped.join('; ')}` : '';
      return {
        strategy: offer.name,
        consistency: offer.consistency,
        reason: `strongest available: ${offer.summary} (${offer.consistency})${because}`,
      };
    }
    skipped.push(`${offer.name}: ${describeUnmet(offer)}`);
  }
  return {
    reason: `no strategy can run: ${skipped.join('; ') || 'none offered'}`,
    error: new HoldfastError('tool', `no backup strategy can run: ${skipped.join('; ') || 'none offered'}`, {
      service: service.name,
      hint: joinHints(offers.flatMap((o) => UNMET(o).map((r) => r.hint))),
    }),
  };
}

export async function planService(registry: DriverRegistry, service: Service, signal?: AbortSignal): Promise<PlanItem> {
  let driver: Driver;
  let detectedBy: string;
  try {
    const found = registry.forService(service);
    driver = found.driver;
    detectedBy = found.detection.signal;
  } catch (error) {
    const e = toHoldfastError(error, { service: service.name });
    return { service, reason: e.message, offers: [], error: e };
  }
  let offers: StrategyOffer[];
  try {
    offers = await driver.strategies(service, signal);
  } catch (error) {
    const e = toHoldfastError(error, { service: service.name, driver: driver.engine });
    return { service, driver, detectedBy, reason: e.message, offers: [], error: e };
  }
  const choice = chooseStrategy(service, offers);
  const place = offers.find((o) => o.name === choice.strategy)?.place;
  return { service, driver, detectedBy, offers, ...choice, ...(place ? { place } : {}) };
}

export async function plan(registry: DriverRegistry, services: Service[], signal?: AbortSignal): Promise<PlanItem[]> {
  return Promise.all(services.map((s) => planService(registry, s, signal)));
}

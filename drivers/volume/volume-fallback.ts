import type { Leftover } from '../../src/core/leftover-journal.js';
import type { Driver, OfferPlace, StrategyOffer } from '../../src/core/driver.js';
import { toHoldfastError } from '../../src/core/errors.js';
import type { Service } from '../../src/core/service.js';
import { stateMounts } from './volume-mounts.js';
import { fallingBackBecause, isVolumeStrategy, volumeOffers } from './volume-strategies.js';

/**
 * Gives an engine driver the volume strategies as its weakest offers, for
 * services that run in a container with read-write volumes: when the
 * engine's own method cannot run (unknown credentials, no tool, the
 * container stopped), the planner falls back to `tar` with the writers
 * stopped and says why. `tar-live` stays `inconsistent`, so the planner never
 * takes a live copy of a database unless it is pinned. Services reached by
 * URL are passed through untouched.
 */
export function withVolumeFallback(driver: Driver): Driver {
  if (driver.engine === 'volume') return driver;
  return {
    engine: driver.engine,
    title: driver.title,
    schemes: driver.schemes,
    detect: (candidate) => driver.detect(candidate),
    inspect: (service) => driver.inspect(service),
    fingerprint: (service, scope) => driver.fingerprint(service, scope),
    ...(driver.waitReady ? { waitReady: (service: Service, signal: AbortSignal) => driver.waitReady!(service, signal) } : {}),
    ...(driver.removeLeftover ? { removeLeftover: (service: Service, leftover: Leftover) => driver.removeLeftover!(service, leftover) } : {}),

    async strategies(service, signal) {
      if (!hasVolumes(service)) return driver.strategies(service, signal);
      // Asked beside the engine's own offers, not after them: the volume checks (docker API calls and this
      // machine's tar) take ~30 ms of a container backup's fixed cost (bench/postgres-place-bench.ts).
      const volume = volumeOffers(service);
      volume.catch(() => undefined);
      let own: StrategyOffer[];
      try {
        own = await driver.strategies(service, signal);
      } catch (error) {
        // A pinned engine strategy keeps its own error; otherwise the failure becomes an unmet requirement.
        if (service.strategy && !isVolumeStrategy(service.strategy)) throw error;
        const e = toHoldfastError(error);
        own = [
          {
            name: `${driver.engine}-native`,
            consistency: 'transactional',
            summary: `${driver.title}'s own backup method`,
            requirements: [{ what: `${driver.title} reachable with the known credentials`, met: false, detail: e.message, ...(e.hint ? { hint: e.hint } : {}) }],
            place: nativePlace(driver, service, e.message),
            restoresIntoNewer: true,
          },
        ];
      }
      const ownCanRun = own.some((o) => o.consistency !== 'inconsistent' && o.requirements.every((r) => r.met));
      const tar = await volume;
      return [...own, ...(ownCanRun ? tar : fallingBackBecause(tar, `${driver.title}'s own methods cannot run`))];
    },

    // The volume code (and Docker's) is loaded only when a volume strategy runs: planning needs none of it.
    async backup(ctx) {
      if (!isVolumeStrategy(ctx.strategy)) return driver.backup(ctx);
      // The physical copy of a database beside its dump (backup --physical): with the engine's fingerprint of the copied files.
      if (typeof ctx.service.options.physical_of === 'string') return (await import('./volume-physical-copy.js')).backupPhysicalCopy(driver, ctx, ctx.strategy);
      return (await import('./volume-backup.js')).backupVolumes(ctx, ctx.strategy);
    },

    async restore(ctx) {
      return isVolumeStrategy(ctx.strategy) ? (await import('./volume-restore.js')).restoreVolumes(ctx) : driver.restore(ctx);
    },

    async scratchTarget(ctx) {
      if (isVolumeStrategy(ctx.strategy)) return (await import('./volume-scratch.js')).volumeScratchTarget(ctx);
      return driver.scratchTarget ? driver.scratchTarget(ctx) : undefined;
    },

    async stageRestore(ctx) {
      return isVolumeStrategy(ctx.strategy) || !driver.stageRestore ? undefined : driver.stageRestore(ctx);
    },

    async restoreNeeds(ctx) {
      return isVolumeStrategy(ctx.strategy) || !driver.restoreNeeds ? [] : driver.restoreNeeds(ctx);
    },
  };
}

/**
 * The place of an engine's own method that could not even be planned: its
 * service's container (a fallback only happens for one), which the error is
 * about, with the reason it cannot run there.
 */
export function nativePlace(driver: Pick<Driver, 'title'>, service: Service, error: string): OfferPlace {
  const where = service.container ? `inside container ${service.container.name}` : 'on this host';
  return { kind: service.container ? 'container' : 'host', where, reason: `${driver.title}'s own method cannot run there: ${error.split('\n')[0]}` };
}

function hasVolumes(service: Service): boolean {
  if (!service.container) return false;
  try {
    return stateMounts(service).length > 0;
  } catch {
    return false;
  }
}

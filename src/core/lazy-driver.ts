import type { Driver } from './driver.js';

/**
 * A driver whose module is loaded on first use. Client libraries are heavy
 * (measured imports: @opensearch-project/opensearch 218 ms, dockerode 174 ms,
 * mongodb 99 ms, @qdrant/js-client-rest 90 ms, mysql2 52 ms, pg 46 ms): a
 * command that touches one engine should not pay for all of them. Detection
 * stays synchronous and light: each engine keeps it in a `<engine>-detect.ts`
 * that imports no client library.
 */
export function lazyDriver(meta: Pick<Driver, 'engine' | 'title' | 'schemes' | 'detect'>, load: () => Promise<Driver>): Driver {
  let loading: Promise<Driver> | undefined;
  const driver = () => (loading ??= load());
  return {
    engine: meta.engine,
    title: meta.title,
    schemes: meta.schemes,
    detect: meta.detect,
    strategies: async (service, signal) => (await driver()).strategies(service, signal),
    inspect: async (service) => (await driver()).inspect(service),
    fingerprint: async (service, scope) => (await driver()).fingerprint(service, scope),
    backup: async (ctx) => (await driver()).backup(ctx),
    restore: async (ctx) => (await driver()).restore(ctx),
    waitReady: async (service, signal) => (await driver()).waitReady?.(service, signal),
    // Always present here; undefined from a driver without it means "no restore test".
    scratchTarget: async (ctx) => {
      const loaded = await driver();
      return loaded.scratchTarget ? loaded.scratchTarget(ctx) : undefined;
    },
    // Always present here; a driver without it has nothing to check beforehand.
    restoreNeeds: async (ctx) => (await driver()).restoreNeeds?.(ctx) ?? [],
    stageRestore: async (ctx) => (await driver()).stageRestore?.(ctx),
    removeLeftover: async (service, leftover) => {
      const loaded = await driver();
      return loaded.removeLeftover ? loaded.removeLeftover(service, leftover) : false;
    },
  };
}

import { hostPlaceRecord } from '../../src/core/place-record.js';
import { waitUntilAnswering } from '../../src/core/wait-answering.js';
import type { Driver, ScratchContext } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import type { Leftover } from '../../src/core/leftover-journal.js';
import type { Service } from '../../src/core/service.js';
import { backupWithSnapshots } from './qdrant-backup.js';
import { backupFullSnapshot, clusterPeers } from './qdrant-full-backup.js';
import { restoreFullSnapshot } from './qdrant-full-restore.js';
import { connectQdrant } from './qdrant-connection.js';
import { detectQdrant, QDRANT_SCHEMES } from './qdrant-detect.js';
import { fingerprintCollections } from './qdrant-fingerprint.js';
import { inspectQdrant, qdrantVersion, selectCollections } from './qdrant-inspector.js';
import { withQdrantPlace } from './qdrant-place.js';
import { restoreSnapshots } from './qdrant-restore.js';
import { qdrantStrategies } from './qdrant-strategies.js';
import { qdrantScratchTarget } from './qdrant-scratch.js';
import { scratchPrefixRemover } from '../../src/core/scratch-leftover.js';

// Every entry point runs where the node is reached (qdrant-place.ts): by its URL, or through a tunnel into its container.
const removeScratchLeftover = scratchPrefixRemover(qdrantScratchTarget);

export const qdrantDriver: Driver = {
  engine: 'qdrant',
  title: 'Qdrant',
  schemes: QDRANT_SCHEMES,

  detect: detectQdrant,

  strategies: (service, signal) =>
    withQdrantPlace(service, signal ? { signal } : {}, async (s, reached) => {
      const node = connectQdrant(s);
      const offers = qdrantStrategies((await qdrantVersion(node)).version, await clusterPeers(node));
      return offers.map((o) => ({ ...o, place: reached?.record ?? hostPlaceRecord() }));
    }),

  // `restore --recreate` started its container: wait until the server answers through its place.
  waitReady(service, signal) {
    return waitUntilAnswering(qdrantDriver, service, signal);
  },

  inspect: (service) => withQdrantPlace(service, {}, (s) => inspectQdrant(connectQdrant(s))),

  fingerprint: (service, scope) =>
    withQdrantPlace(service, {}, async (s) => {
      const node = connectQdrant(s);
      return fingerprintCollections(node, await selectCollections(node, s), scope);
    }),

  backup: (ctx) =>
    withQdrantPlace(ctx.service, { signal: ctx.signal, note: ctx.note }, async (service, reached) => {
      const run = { ...ctx, service };
      const result = ctx.strategy === 'snapshot' ? await backupWithSnapshots(run) : ctx.strategy === 'full-snapshot' ? await backupFullSnapshot(run) : undefined;
      if (!result) throw new HoldfastError('config', `unknown strategy ${ctx.strategy}`, { service: ctx.service.name, driver: 'qdrant', hint: 'the qdrant driver offers: snapshot, full-snapshot' });
      result.details.place = reached?.record ?? hostPlaceRecord();
      return result;
    }),

  // The scratch copies live on the source's node; its cleanup runs later, through a place of its own.
  async scratchTarget(ctx: ScratchContext) {
    const target = await withQdrantPlace(ctx.source, { signal: ctx.signal }, (source) => qdrantScratchTarget({ ...ctx, source }));
    if (!target || target.target === ctx.source) return target;
    return {
      ...target,
      target: ctx.source,
      cleanup: () => withQdrantPlace(ctx.source, {}, async (source) => (await qdrantScratchTarget({ ...ctx, source }))?.cleanup()),
    };
  },
  removeLeftover: (service: Service, leftover: Leftover) => withQdrantPlace(service, {}, (s) => removeScratchLeftover(s, leftover)),

  restore: (ctx) =>
    withQdrantPlace(ctx.target, { signal: ctx.signal, note: ctx.note }, async (target, reached) => {
      const run = { ...ctx, target };
      const result = ctx.strategy === 'snapshot' ? await restoreSnapshots(run) : ctx.strategy === 'full-snapshot' ? await restoreFullSnapshot(run) : undefined;
      if (!result) throw new HoldfastError('integrity', `the snapshot names an unknown strategy ${ctx.strategy}`, { service: ctx.source.name, driver: 'qdrant' });
      result.details.place = reached?.record ?? hostPlaceRecord();
      return result;
    }),
};

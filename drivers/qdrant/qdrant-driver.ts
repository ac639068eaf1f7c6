import type { Driver } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { backupWithSnapshots } from './qdrant-backup.js';
import { backupFullSnapshot, clusterPeers } from './qdrant-full-backup.js';
import { restoreFullSnapshot } from './qdrant-full-restore.js';
import { connectQdrant } from './qdrant-connection.js';
import { detectQdrant, QDRANT_SCHEMES } from './qdrant-detect.js';
import { fingerprintCollections } from './qdrant-fingerprint.js';
import { inspectQdrant, qdrantVersion, selectCollections } from './qdrant-inspector.js';
import { restoreSnapshots } from './qdrant-restore.js';
import { qdrantStrategies } from './qdrant-strategies.js';
import { qdrantScratchTarget } from './qdrant-scratch.js';
import { scratchPrefixRemover } from '../../src/core/scratch-leftover.js';

export const qdrantDriver: Driver = {
  engine: 'qdrant',
  title: 'Qdrant',
  schemes: QDRANT_SCHEMES,

  detect: detectQdrant,

  async strategies(service) {
    const node = connectQdrant(service);
    return qdrantStrategies((await qdrantVersion(node)).version, await clusterPeers(node));
  },

  inspect: (service) => inspectQdrant(connectQdrant(service)),

  async fingerprint(service, scope) {
    const node = connectQdrant(service);
    return fingerprintCollections(node, await selectCollections(node, service), scope);
  },

  backup(ctx) {
    if (ctx.strategy === 'snapshot') return backupWithSnapshots(ctx);
    if (ctx.strategy === 'full-snapshot') return backupFullSnapshot(ctx);
    throw new HoldfastError('config', `unknown strategy ${ctx.strategy}`, { service: ctx.service.name, driver: 'qdrant', hint: 'the qdrant driver offers: snapshot, full-snapshot' });
  },

  scratchTarget: qdrantScratchTarget,
  removeLeftover: scratchPrefixRemover(qdrantScratchTarget),

  restore(ctx) {
    if (ctx.strategy === 'snapshot') return restoreSnapshots(ctx);
    if (ctx.strategy === 'full-snapshot') return restoreFullSnapshot(ctx);
    throw new HoldfastError('integrity', `the snapshot names an unknown strategy ${ctx.strategy}`, { service: ctx.source.name, driver: 'qdrant' });
  },
};

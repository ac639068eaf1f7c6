import type { Driver } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { detectMongo, MONGO_SCHEMES } from './mongodb-detect.js';
import { backupWithMongodump } from './mongodb-dump-backup.js';
import { restoreMongodump } from './mongodb-dump-restore.js';
import { backupWithExport } from './mongodb-export-backup.js';
import { restoreExport } from './mongodb-export-restore.js';
import { defineDatabase } from './mongodb-definitions.js';
import { fingerprintDatabase } from './mongodb-fingerprint.js';
import { inspectServer, selectDatabases, serverFacts } from './mongodb-inspector.js';
import { clientPlace, mongoStrategies } from './mongodb-strategies.js';
import { mongoScratchTarget } from './mongodb-scratch.js';
import { openMongo, withMongo } from './mongodb-place.js';
import { isMongoContainerService } from './mongodb-container.js';
import { containerRecord } from '../../src/core/container-record.js';
import { waitForMongoContainer } from './mongodb-container-ready.js';
import { scratchPrefixRemover } from '../../src/core/scratch-leftover.js';

export const mongoDriver: Driver = {
  engine: 'mongodb',
  title: 'MongoDB',
  schemes: MONGO_SCHEMES,

  detect: detectMongo,

  strategies(service, signal) {
    return withMongo(service, signal, async (c, at) => {
      const { whole } = await selectDatabases(c, at.t, service.options.databases);
      return mongoStrategies(await serverFacts(c), whole, at, await at.tool('mongodump'));
    });
  },

  async inspect(service) {
    const at = await openMongo(service);
    try {
      return await inspectServer(at.t, service.options.databases);
    } finally {
      await at.close();
    }
  },

  fingerprint(service, scope) {
    return withMongo(service, undefined, async (c, at) => {
      const items = {};
      const definitions = {};
      for (const db of (await selectDatabases(c, at.t, service.options.databases)).databases) {
        await fingerprintDatabase(c, db.name, scope, db.name, items);
        await defineDatabase(c, db.name, db.name, definitions);
      }
      return { scope, items, definitions };
    });
  },

  async backup(ctx) {
    if (ctx.strategy !== 'mongodump' && ctx.strategy !== 'export') {
      throw new HoldfastError('config', `unknown strategy ${ctx.strategy}`, { service: ctx.service.name, driver: 'mongodb', hint: 'choose mongodump or export' });
    }
    const at = await openMongo(ctx.service, ctx.signal, (text) => ctx.note(text));
    if (at.container?.cleaned.length) ctx.note(`removed helper containers left by a holdfast killed earlier: ${at.container.cleaned.join(', ')}`);
    try {
      const done = ctx.strategy === 'mongodump' ? await backupWithMongodump(ctx, at) : await backupWithExport(ctx, at.t);
      // mongodump records where it ran; an export ran where the node client did.
      const result = done.details.place ? done : { ...done, details: { ...done.details, place: clientPlace(at) } };
      if (!at.container) return result;
      // The container the service lives in: `restore --recreate` starts it again from this record on another Docker host.
      const container = ctx.service.container ? { container: containerRecord(ctx.service.container) } : {};
      return { ...result, details: { ...result.details, toolsRanIn: `container ${at.container.name}`, ...container } };
    } finally {
      await at.close();
    }
  },

  // After `restore --recreate` started the container again: its server must accept work before the restore.
  waitReady(service, signal) {
    return isMongoContainerService(service) ? waitForMongoContainer(service, signal) : Promise.resolve();
  },
  scratchTarget: mongoScratchTarget,
  removeLeftover: scratchPrefixRemover(mongoScratchTarget),

  restore(ctx) {
    switch (ctx.strategy) {
      case 'mongodump':
        return restoreMongodump(ctx);
      case 'export':
        return restoreExport(ctx);
      default:
        throw new HoldfastError('integrity', `the snapshot names an unknown strategy ${ctx.strategy}`, { service: ctx.source.name, driver: 'mongodb' });
    }
  },
};

import type { Driver } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { mongoTarget, withClient } from './mongodb-connection.js';
import { detectMongo, MONGO_SCHEMES } from './mongodb-detect.js';
import { backupWithMongodump } from './mongodb-dump-backup.js';
import { restoreMongodump } from './mongodb-dump-restore.js';
import { backupWithExport } from './mongodb-export-backup.js';
import { restoreExport } from './mongodb-export-restore.js';
import { defineDatabase } from './mongodb-definitions.js';
import { fingerprintDatabase } from './mongodb-fingerprint.js';
import { inspectServer, selectDatabases, serverFacts } from './mongodb-inspector.js';
import { mongoStrategies } from './mongodb-strategies.js';
import { mongoScratchTarget } from './mongodb-scratch.js';
import { scratchPrefixRemover } from '../../src/core/scratch-leftover.js';

export const mongoDriver: Driver = {
  engine: 'mongodb',
  title: 'MongoDB',
  schemes: MONGO_SCHEMES,

  detect: detectMongo,

  strategies(service) {
    const t = mongoTarget(service);
    return withClient(t, async (c) => {
      const { whole } = await selectDatabases(c, t, service.options.databases);
      return mongoStrategies(await serverFacts(c), whole);
    });
  },

  inspect(service) {
    return inspectServer(mongoTarget(service), service.options.databases);
  },

  fingerprint(service, scope) {
    const t = mongoTarget(service);
    return withClient(t, async (c) => {
      const items = {};
      const definitions = {};
      for (const db of (await selectDatabases(c, t, service.options.databases)).databases) {
        await fingerprintDatabase(c, db.name, scope, db.name, items);
        await defineDatabase(c, db.name, db.name, definitions);
      }
      return { scope, items, definitions };
    });
  },

  backup(ctx) {
    const t = mongoTarget(ctx.service);
    switch (ctx.strategy) {
      case 'mongodump':
        return backupWithMongodump(ctx, t);
      case 'export':
        return backupWithExport(ctx, t);
      default:
        throw new HoldfastError('config', `unknown strategy ${ctx.strategy}`, { service: ctx.service.name, driver: 'mongodb', hint: 'choose mongodump or export' });
    }
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

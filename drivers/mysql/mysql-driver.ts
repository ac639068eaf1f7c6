import { waitUntilAnswering } from '../../src/core/wait-answering.js';
import type { Driver } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { withConnection } from './mysql-connection.js';
import { withTarget } from './mysql-target.js';
import { detectMysql, MYSQL_SCHEMES } from './mysql-detect.js';
import { backupWithDump } from './mysql-dump-backup.js';
import { restoreDump } from './mysql-dump-restore.js';
import { fingerprintDatabase } from './mysql-fingerprint.js';
import { readDefinitions } from './mysql-definitions.js';
import { inspectServer, selectDatabases, serverFacts } from './mysql-inspector.js';
import { backupPhysical } from './mysql-physical-backup.js';
import { restorePhysical } from './mysql-physical-restore.js';
import { mysqlStrategies } from './mysql-strategies.js';
import { mysqlScratchTarget } from './mysql-scratch.js';
import { mysqlRestoreNeeds } from './mysql-privileges.js';
import { removeMysqlLeftover } from './mysql-leftovers.js';

/** One driver for MySQL and MariaDB: the family is read from the server, and each gets the tools of its own. */
export const mysqlDriver: Driver = {
  engine: 'mysql',
  title: 'MySQL / MariaDB',
  schemes: MYSQL_SCHEMES,

  detect: detectMysql,

  // A server in a container is reached through it (mysql-target.ts): its tools, its credentials, a tunnel.
  strategies(service, signal) {
    return withTarget(service, async (t) => mysqlStrategies(t, await withConnection(t, undefined, serverFacts)), signal);
  },

  // `restore --recreate` started its container: wait until the server answers through its place.
  waitReady(service, signal) {
    return waitUntilAnswering(mysqlDriver, service, signal);
  },

  inspect(service) {
    return withTarget(service, (t) => inspectServer(t, service.options.databases));
  },

  fingerprint(service, scope) {
    return withTarget(service, (t) =>
      withConnection(t, undefined, async (c) => {
        const items = {};
        const definitions = {};
        for (const db of await selectDatabases(c, t, service.options.databases)) {
          await fingerprintDatabase(c, db.name, scope, items);
          await readDefinitions(c, db.name, { scope }, definitions);
        }
        return { scope, items, definitions };
      }),
    );
  },

  backup(ctx) {
    return withTarget(
      ctx.service,
      (t) => {
        switch (ctx.strategy) {
          case 'dump':
            return backupWithDump(ctx, t);
          case 'physical':
            return backupPhysical(ctx, t);
          default:
            throw new HoldfastError('config', `unknown strategy ${ctx.strategy}`, { service: ctx.service.name, driver: 'mysql' });
        }
      },
      ctx.signal,
      (text) => ctx.note(text),
    );
  },

  scratchTarget: mysqlScratchTarget,
  restoreNeeds: mysqlRestoreNeeds,
  removeLeftover: removeMysqlLeftover,

  // A rollback's physical restore into its own container: this host's tools checked before the container is stopped.
  async stageRestore(ctx) {
    if (ctx.strategy !== 'physical' || ctx.target.endpoint?.scheme !== 'container') return undefined;
    return (await import('./mysql-physical-volume.js')).stagePhysicalIntoContainerVolume(ctx);
  },

  restore(ctx) {
    switch (ctx.strategy) {
      case 'dump':
        return restoreDump(ctx);
      case 'physical':
        return restorePhysical(ctx);
      default:
        throw new HoldfastError('integrity', `the snapshot names an unknown strategy ${ctx.strategy}`, { service: ctx.source.name, driver: 'mysql' });
    }
  },
};

import type { Driver } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { backupWithBasebackup, restoreBasebackup } from './postgres-basebackup.js';
import { backupWithPgDump } from './postgres-backup.js';
import { waitForContainerServer } from './postgres-container-ready.js';
import { isContainerService } from './postgres-container.js';
import { detectPostgres, POSTGRES_SCHEMES } from './postgres-detect.js';
import { inspectServer } from './postgres-inspector.js';
import { fingerprintOfSite } from './postgres-site-fingerprint.js';
import { removePostgresLeftover } from './postgres-leftovers.js';
import { postgresRestoreNeeds } from './postgres-privileges.js';
import { restorePgDump } from './postgres-restore.js';
import { postgresScratchTarget } from './postgres-scratch.js';
import { withSite } from './postgres-site.js';
import { postgresStrategies } from './postgres-strategies.js';

/**
 * PostgreSQL, one driver for every place (postgres-site.ts): a server
 * reached by URL gets this host's tools and a pg.Client; a server in a
 * container gets the image's own tools and psql through docker exec.
 */
export const postgresDriver: Driver = {
  engine: 'postgres',
  title: 'PostgreSQL',
  schemes: POSTGRES_SCHEMES,

  detect: detectPostgres,

  strategies: postgresStrategies,

  inspect(service) {
    return withSite(service, undefined, (site) => inspectServer(site, service.options.databases));
  },

  fingerprint(service, scope) {
    return withSite(service, undefined, (site) => fingerprintOfSite(site, service.options.databases, scope));
  },

  backup(ctx) {
    switch (ctx.strategy) {
      case 'pg_dump':
        return backupWithPgDump(ctx);
      case 'pg_basebackup':
        return backupWithBasebackup(ctx);
      default:
        throw new HoldfastError('config', `unknown strategy ${ctx.strategy}`, { service: ctx.service.name, driver: 'postgres' });
    }
  },

  waitReady(service, signal) {
    return isContainerService(service) ? waitForContainerServer(service, signal) : Promise.resolve();
  },
  scratchTarget: postgresScratchTarget,
  restoreNeeds: postgresRestoreNeeds,
  removeLeftover: removePostgresLeftover,

  restore(ctx) {
    switch (ctx.strategy) {
      case 'pg_dump':
        return restorePgDump(ctx);
      case 'pg_basebackup':
        return restoreBasebackup(ctx);
      default:
        throw new HoldfastError('integrity', `the snapshot names an unknown strategy ${ctx.strategy}`, { service: ctx.source.name, driver: 'postgres' });
    }
  },
};

import type { Driver } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { pgTarget, withClient } from './postgres-connection.js';
import { backupWithBasebackup, restoreBasebackup } from './postgres-basebackup.js';
import { isContainerService } from './postgres-container.js';
import { backupInContainer } from './postgres-container-backup.js';
import { fingerprintInContainer, inspectInContainer } from './postgres-container-inspect.js';
import { waitForContainerServer } from './postgres-container-ready.js';
import { restoreInContainer } from './postgres-container-restore.js';
import { containerStrategies } from './postgres-container-strategies.js';
import { detectPostgres, POSTGRES_SCHEMES } from './postgres-detect.js';
import { backupWithPgDump } from './postgres-dump-backup.js';
import { restorePgDump } from './postgres-dump-restore.js';
import { fingerprintDatabase } from './postgres-fingerprint.js';
import { readDatabaseProperties } from './postgres-database-properties.js';
import { definitionsOfDatabase, roleDefinitions } from './postgres-definitions.js';
import { inspectServer, selectDatabases, serverFacts } from './postgres-inspector.js';
import { postgresStrategies } from './postgres-strategies.js';
import { removePostgresLeftover } from './postgres-leftovers.js';
import { postgresScratchTarget } from './postgres-scratch.js';
import { postgresRestoreNeeds } from './postgres-privileges.js';

export const postgresDriver: Driver = {
  engine: 'postgres',
  title: 'PostgreSQL',
  schemes: POSTGRES_SCHEMES,

  detect: detectPostgres,

  async strategies(service, signal) {
    // In a container: the image's own tools through docker exec (they match the server).
    if (isContainerService(service)) return containerStrategies(service, signal);
    const t = pgTarget(service);
    return withClient(t, undefined, async (c) => {
      const tablespaces = (await c.query<{ n: string }>("SELECT spcname AS n FROM pg_tablespace WHERE spcname NOT IN ('pg_default', 'pg_global') ORDER BY 1")).rows.map((r) => r.n);
      return postgresStrategies(await serverFacts(c), tablespaces);
    });
  },

  inspect(service) {
    if (isContainerService(service)) return inspectInContainer(service);
    return inspectServer(pgTarget(service), service.options.databases);
  },

  async fingerprint(service, scope) {
    if (isContainerService(service)) return fingerprintInContainer(service, scope);
    const t = pgTarget(service);
    const { dbs, definitions } = await withClient(t, undefined, async (c) => ({ dbs: await selectDatabases(c, t, service.options.databases), definitions: await roleDefinitions(c) }));
    const items = {};
    for (const db of dbs) {
      await withClient(t, db.name, async (c) => {
        await fingerprintDatabase(c, db.name, scope, items);
        await definitionsOfDatabase(c, db.name, await readDatabaseProperties(c), definitions);
      });
    }
    return { scope, items, definitions };
  },

  backup(ctx) {
    if (isContainerService(ctx.service) && ctx.strategy === 'pg_dump') return backupInContainer(ctx);
    const t = pgTarget(ctx.service);
    switch (ctx.strategy) {
      case 'pg_dump':
        return backupWithPgDump(ctx, t);
      case 'pg_basebackup':
        return backupWithBasebackup(ctx, t);
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
        return isContainerService(ctx.target) ? restoreInContainer(ctx) : restorePgDump(ctx);
      case 'pg_basebackup':
        return restoreBasebackup(ctx);
      default:
        throw new HoldfastError('integrity', `the snapshot names an unknown strategy ${ctx.strategy}`, { service: ctx.source.name, driver: 'postgres' });
    }
  },
};

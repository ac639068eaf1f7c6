import type { Fingerprint, FingerprintScope } from '../../src/core/driver.js';
import { readDatabaseProperties } from './postgres-database-properties.js';
import { definitionsOfDatabase, roleDefinitions } from './postgres-definitions.js';
import { fingerprintDatabase } from './postgres-fingerprint.js';
import { selectDatabases } from './postgres-inspector.js';
import { withSession, type PgSite } from './postgres-site.js';

/**
 * Rows and definitions of a server's databases as they are now (the roles,
 * and per database its objects and properties): what a restore is compared
 * with. The driver's `fingerprint` and a physical copy's backup use it; a
 * logical dump takes the same from its snapshot instead.
 */
export async function fingerprintOfSite(site: PgSite, databases: unknown, scope: FingerprintScope, signal?: AbortSignal): Promise<Fingerprint> {
  const { dbs, definitions } = await withSession(site, undefined, async (c) => ({ dbs: await selectDatabases(c, site, databases), definitions: await roleDefinitions(c) }), signal);
  const items = {};
  for (const db of dbs) {
    await withSession(
      site,
      db.name,
      async (c) => {
        await fingerprintDatabase(c, db.name, scope, items);
        await definitionsOfDatabase(c, db.name, await readDatabaseProperties(c), definitions);
      },
      signal,
    );
  }
  return { scope, items, definitions };
}

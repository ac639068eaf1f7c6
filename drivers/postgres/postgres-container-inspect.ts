import type { Fingerprint, FingerprintScope, Inspection } from '../../src/core/driver.js';
import type { Service } from '../../src/core/service.js';
import { pgContainer } from './postgres-container.js';
import { readDatabaseProperties } from './postgres-database-properties.js';
import { definitionsOfDatabase, roleDefinitions } from './postgres-definitions.js';
import { fingerprintDatabase } from './postgres-fingerprint.js';
import { listDatabases, serverFacts } from './postgres-inspector.js';
import { PsqlSession } from './postgres-psql-session.js';

/** Version and databases of a PostgreSQL in a container, through psql inside it. */
export async function inspectInContainer(service: Service): Promise<Inspection> {
  const pc = await pgContainer(service);
  const session = await PsqlSession.open(pc, 'postgres');
  try {
    const facts = await serverFacts(session);
    const dbs = await listDatabases(session);
    const wanted = Array.isArray(service.options.databases) ? new Set(service.options.databases.map(String)) : undefined;
    return {
      version: facts.version,
      objects: dbs.filter((d) => !wanted || wanted.has(d.name)).map((d) => ({ name: d.name, kind: 'database', bytes: d.bytes })),
      details: { systemIdentifier: facts.systemIdentifier, container: pc.name },
    };
  } finally {
    await session.close();
  }
}

/** Counts (and checksums) per table of every database, and the definitions, as the host path computes them. */
export async function fingerprintInContainer(service: Service, scope: FingerprintScope): Promise<Fingerprint> {
  const inspection = await inspectInContainer(service);
  const pc = await pgContainer(service);
  const items: Fingerprint['items'] = {};
  const admin = await PsqlSession.open(pc, 'postgres');
  const definitions = await roleDefinitions(admin).finally(() => admin.close());
  for (const db of inspection.objects) {
    const session = await PsqlSession.open(pc, db.name);
    try {
      await fingerprintDatabase(session, db.name, scope, items);
      await definitionsOfDatabase(session, db.name, await readDatabaseProperties(session), definitions);
    } finally {
      await session.close();
    }
  }
  return { scope, items, definitions };
}

import type { BackupContext, BackupResult, Fingerprint } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import type { ToolExit } from '../../src/core/process.js';
import { artifactSlug, toolToArtifact } from '../../src/core/tool-artifact.js';
import { connect, toolEnv, withClient, type PgTarget } from './postgres-connection.js';
import type { PgQueryable } from './postgres-queryable.js';
import { fingerprintDatabase } from './postgres-fingerprint.js';
import { objectOwners, selectDatabases, serverFacts, type DatabaseFacts } from './postgres-inspector.js';
import { checkPgToolExit, requireTool } from './postgres-tools.js';
import { readDatabaseProperties, type DatabaseProperties } from './postgres-database-properties.js';
import { definitionsOfDatabase, roleDefinitions } from './postgres-definitions.js';
import { recordExtensions, type RecordedExtension } from './postgres-extensions.js';
import { tablespaceObjects, type TablespaceObject } from './postgres-tablespaces.js';

/**
 * Strategy `pg_dump`: `pg_dumpall --globals-only`, then one `pg_dump -Fc -Z0`
 * per database, each compressed by the repository (zstd: faster and smaller
 * than pg_dump's built-in gzip on PostgreSQL 15).
 *
 * Each database is dumped from a snapshot that holdfast exports in its own
 * REPEATABLE READ transaction; the fingerprint is computed in that same
 * transaction, so it describes exactly what the dump holds even under writes.
 */
export async function backupWithPgDump(ctx: BackupContext, t: PgTarget): Promise<BackupResult> {
  const { facts, databases, roles } = await withClient(t, undefined, async (c) => ({
    facts: await serverFacts(c),
    databases: await selectDatabases(c, t, ctx.service.options.databases),
    // Cluster-wide, like the globals dump beside it; compared when a restore applies the globals.
    roles: ctx.fingerprintScope === 'none' ? {} : await roleDefinitions(c),
  }));
  // The size on disk is what the progress line can promise: a dump is usually somewhat smaller (no indexes).
  ctx.progress.expect?.(databases.reduce((sum, d) => sum + (d.bytes ?? 0), 0), true);
  const pgDump = await requireTool('pg_dump', facts.major, t.service);
  const pgDumpAll = await requireTool('pg_dumpall', facts.major, t.service);

  const fingerprint: Fingerprint | undefined = ctx.fingerprintScope === 'none' ? undefined : { scope: ctx.fingerprintScope, items: {}, definitions: { ...roles } };
  // Roles and tablespaces come out beside the first database's dump.
  const globals = dumpGlobals(ctx, t, pgDumpAll.path);
  const perDatabase: DumpedDatabase[] = [];
  try {
    for (const [index, db] of databases.entries()) {
      perDatabase.push(await dumpDatabase(ctx, t, pgDump.path, db, index, fingerprint));
    }
  } finally {
    await globals.catch(() => undefined);
  }
  await globals;
  noteTablespaces(ctx, perDatabase);

  return {
    details: {
      serverVersion: facts.version,
      serverVersionNum: facts.versionNum,
      systemIdentifier: facts.systemIdentifier,
      toolVersion: pgDump.version,
      databases: perDatabase,
    },
    ...(fingerprint ? { fingerprint } : {}),
    inspection: {
      version: facts.version,
      objects: databases.map((d) => ({ name: d.name, kind: 'database', bytes: d.bytes })),
      details: {},
    },
  };
}

async function dumpGlobals(ctx: BackupContext, t: PgTarget, pgDumpAll: string): Promise<void> {
  const args = ['--globals-only', '--no-password'];
  const options = { env: toolEnv(t), secrets: [t.password], checkExit: (exit: ToolExit) => checkPgToolExit('pg_dumpall', exit, t.service) };
  try {
    await toolToArtifact(ctx.artifacts, { name: 'globals.sql', kind: 'globals' }, pgDumpAll, args, options);
  } catch (error) {
    if (!(error instanceof HoldfastError && /permission denied for (table|relation) pg_authid/.test(error.message))) throw error;
    // Non-superusers cannot read role passwords; the roles themselves still come out.
    ctx.note('roles were dumped without passwords (the user cannot read pg_authid)');
    await toolToArtifact(ctx.artifacts, { name: 'globals.sql', kind: 'globals' }, pgDumpAll, [...args, '--no-role-passwords'], options);
  }
}

type DumpedDatabase = DatabaseFacts & {
  lsn?: string;
  owners: string[];
  artifact: string;
  postData: string;
  properties: DatabaseProperties;
  extensions: RecordedExtension[];
  tablespaceObjects: TablespaceObject[];
};

/** Which tablespaces the snapshot uses, for `show` (a restore onto another server needs them, or a map). */
function noteTablespaces(ctx: BackupContext, dbs: readonly DumpedDatabase[]): void {
  const uses = dbs
    .map((d) => {
      const names = new Set(d.tablespaceObjects.map((o) => o.tablespace));
      if (d.properties.tablespace !== 'pg_default') names.add(d.properties.tablespace);
      return names.size ? `${d.name}: ${[...names].join(', ')}` : '';
    })
    .filter(Boolean);
  if (uses.length) ctx.note(`tablespaces in use (${uses.join('; ')}); a restore onto another server needs them there, or --tablespace-map OLD=NEW, or --no-tablespaces`);
}

/**
 * One database: export a snapshot in a held REPEATABLE READ transaction, then
 * from it, at the same time, the dump, its post-data section alone (indexes
 * and constraints, a few KB that pg_restore -j reads from a small seekable
 * file, so that the data restores streamed), the fingerprint and the owners.
 */
async function dumpDatabase(ctx: BackupContext, t: PgTarget, pgDump: string, db: DatabaseFacts, index: number, fingerprint: Fingerprint | undefined): Promise<DumpedDatabase> {
  const name = `${artifactSlug(db.name, index)}.pgdump`;
  const postData = `${artifactSlug(db.name, index)}.post-data.pgdump`;
  ctx.progress.phase(`dump ${db.name}`);
  const held = await connect(t, db.name);
  // An abort (SIGTERM, serve's grace period over) must also end a query that waits, e.g. the
  // fingerprint's count behind another session's lock: closing the connection fails it.
  const onAbort = () => void held.end().catch(() => undefined);
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    if (ctx.signal.aborted) throw new HoldfastError('interrupted', 'interrupted', { service: t.service });
    await held.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const snap = await held.query<{ id: string; lsn: string | null }>(
      'SELECT pg_export_snapshot() AS id, CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END::text AS lsn',
    );
    const { id, lsn } = snap.rows[0]!;
    const args = ['--format=custom', '--compress=0', `--snapshot=${id}`, '--no-password'];
    const options = { env: toolEnv(t, db.name), secrets: [t.password], checkExit: (exit: ToolExit) => checkPgToolExit('pg_dump', exit, t.service) };
    const results = await Promise.allSettled([
      toolToArtifact(ctx.artifacts, { name, kind: 'pg_dump', label: db.name }, pgDump, args, options),
      toolToArtifact(ctx.artifacts, { name: postData, kind: 'pg_dump-post-data', label: db.name }, pgDump, [...args, '--section=post-data'], options),
      describeInSnapshot(held, db.name, fingerprint),
    ]);
    const [, , described] = unwrapAll(results);
    await held.query('COMMIT');
    return { ...db, ...(lsn ? { lsn } : {}), ...(described as Described), artifact: name, postData };
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    await held.end().catch(() => undefined);
  }
}

type Described = Pick<DumpedDatabase, 'owners' | 'properties' | 'extensions' | 'tablespaceObjects'>;

/**
 * Everything read from the dump's snapshot in the held session, one query
 * after another (a session runs one at a time): the row fingerprint, the
 * definitions, the owners, the database-level properties, the extensions and
 * the relations outside the default tablespace.
 */
export async function describeInSnapshot(held: PgQueryable, database: string, fingerprint: Fingerprint | undefined): Promise<Described> {
  if (fingerprint) await fingerprintDatabase(held, database, fingerprint.scope, fingerprint.items);
  const properties = await readDatabaseProperties(held);
  if (fingerprint) await definitionsOfDatabase(held, database, properties, (fingerprint.definitions ??= {}));
  return { owners: await objectOwners(held), properties, extensions: await recordExtensions(held), tablespaceObjects: await tablespaceObjects(held) };
}

/** Like Promise.all over settled results, but only after every one has settled (no dangling work). */
function unwrapAll<T extends readonly PromiseSettledResult<unknown>[]>(results: T): unknown[] {
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value);
}

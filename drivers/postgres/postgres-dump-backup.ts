import type { BackupContext, BackupResult, Fingerprint } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import type { ToolExit } from '../../src/core/process.js';
import { artifactSlug, toolToArtifact } from '../../src/core/tool-artifact.js';
import { connect, toolEnv, withClient, type PgTarget } from './postgres-connection.js';
import { fingerprintDatabase } from './postgres-fingerprint.js';
import { objectOwners, selectDatabases, serverFacts, type DatabaseFacts } from './postgres-inspector.js';
import { checkPgToolExit, requireTool } from './postgres-tools.js';

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
  const { facts, databases } = await withClient(t, undefined, async (c) => ({
    facts: await serverFacts(c),
    databases: await selectDatabases(c, t, ctx.service.options.databases),
  }));
  const pgDump = await requireTool('pg_dump', facts.major, t.service);
  const pgDumpAll = await requireTool('pg_dumpall', facts.major, t.service);
  const secrets = [t.password];

  ctx.progress.phase('globals');
  let globalsArgs = ['--globals-only', '--no-password'];
  try {
    await toolToArtifact(ctx.artifacts, { name: 'globals.sql', kind: 'globals' }, pgDumpAll.path, globalsArgs, {
      env: toolEnv(t), secrets, checkExit: (exit) => checkPgToolExit('pg_dumpall', exit, t.service),
    });
  } catch (error) {
    if (!(error instanceof HoldfastError && /permission denied for (table|relation) pg_authid/.test(error.message))) throw error;
    // Non-superusers cannot read role passwords; the roles themselves still come out.
    globalsArgs = [...globalsArgs, '--no-role-passwords'];
    ctx.note('roles were dumped without passwords (the user cannot read pg_authid)');
    await toolToArtifact(ctx.artifacts, { name: 'globals-nopw.sql', kind: 'globals' }, pgDumpAll.path, globalsArgs, {
      env: toolEnv(t), secrets, checkExit: (exit) => checkPgToolExit('pg_dumpall', exit, t.service),
    });
  }

  const fingerprint: Fingerprint | undefined = ctx.fingerprintScope === 'none' ? undefined : { scope: ctx.fingerprintScope, items: {} };
  const perDatabase: Array<DatabaseFacts & { lsn?: string; owners: string[]; artifact: string; postData: string }> = [];
  for (const [index, db] of databases.entries()) {
    const name = `${artifactSlug(db.name, index)}.pgdump`;
    const postData = `${artifactSlug(db.name, index)}.post-data.pgdump`;
    ctx.progress.phase(`dump ${db.name}`);
    const held = await connect(t, db.name);
    try {
      await held.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const snap = await held.query<{ id: string; lsn: string | null }>(
        'SELECT pg_export_snapshot() AS id, CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END::text AS lsn',
      );
      const { id, lsn } = snap.rows[0]!;
      const dumpArgs = ['--format=custom', '--compress=0', `--snapshot=${id}`, '--no-password'];
      const checkExit = (exit: ToolExit) => checkPgToolExit('pg_dump', exit, t.service);
      // The post-data section (indexes, constraints) alone, from the same snapshot: a
      // few KB that pg_restore -j can read from a small seekable file, so the data
      // itself restores streamed, without a temporary copy of the whole dump.
      await toolToArtifact(ctx.artifacts, { name: postData, kind: 'pg_dump-post-data', label: db.name }, pgDump.path, [...dumpArgs, '--section=post-data'], {
        env: toolEnv(t, db.name),
        secrets,
        checkExit,
      });
      const dumping = toolToArtifact(
        ctx.artifacts,
        { name, kind: 'pg_dump', label: db.name },
        pgDump.path,
        dumpArgs,
        { env: toolEnv(t, db.name), secrets, checkExit },
      );
      const fingerprinting = fingerprint
        ? fingerprintDatabase(held, db.name, fingerprint.scope, fingerprint.items)
        : Promise.resolve(undefined);
      const owners = objectOwners(held);
      const [dumped, , ownerList] = await Promise.allSettled([dumping, fingerprinting, owners]).then(unwrapAll);
      void dumped;
      perDatabase.push({ ...db, ...(lsn ? { lsn } : {}), owners: ownerList as string[], artifact: name, postData });
      await held.query('COMMIT');
    } finally {
      await held.end().catch(() => undefined);
    }
  }

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

/** Like Promise.all over settled results, but only after every one has settled (no dangling work). */
function unwrapAll<T extends readonly PromiseSettledResult<unknown>[]>(results: T): unknown[] {
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value);
}

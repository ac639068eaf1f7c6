import type { BackupContext, BackupResult, Fingerprint } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import type { ToolExit } from '../../src/core/process.js';
import { artifactSlug } from '../../src/core/tool-artifact.js';
import { execToArtifact } from '../../src/docker/docker-artifact.js';
import { containerRecord } from '../volume/volume-record.js';
import { pgContainer, pgExec, type PgContainer } from './postgres-container.js';
import { containerToolVersion } from './postgres-container-strategies.js';
import { roleDefinitions } from './postgres-definitions.js';
import { describeInSnapshot } from './postgres-dump-backup.js';
import { listDatabases, serverFacts, type DatabaseFacts } from './postgres-inspector.js';
import { PsqlSession } from './postgres-psql-session.js';
import { checkPgToolExit } from './postgres-tools.js';

/**
 * Strategy `pg_dump` for a PostgreSQL in a container: the same artifacts and
 * manifest details as the host path (so either restore path reads them), but
 * every tool runs inside the container through docker exec and the SQL goes
 * through psql there. Per database: a psql session exports a snapshot in a
 * held REPEATABLE READ transaction; the dump, its post-data section, the
 * fingerprint and the owners all come from that snapshot.
 */
export async function backupInContainer(ctx: BackupContext): Promise<BackupResult> {
  const pc = await pgContainer(ctx.service, ctx.signal);
  const admin = await PsqlSession.open(pc, 'postgres', ctx.signal);
  let facts;
  let databases: DatabaseFacts[];
  let roles = {};
  try {
    facts = await serverFacts(admin);
    databases = pick(await listDatabases(admin), ctx.service.options.databases, pc);
    if (ctx.fingerprintScope !== 'none') roles = await roleDefinitions(admin);
  } finally {
    await admin.close();
  }
  const tool = await containerToolVersion(pc, 'pg_dump');
  if (!tool) throw new HoldfastError('tool', `pg_dump is not in the image of container ${pc.name}`, { service: pc.service, driver: 'postgres', hint: 'use an image with the PostgreSQL client tools' });

  const fingerprint: Fingerprint | undefined = ctx.fingerprintScope === 'none' ? undefined : { scope: ctx.fingerprintScope, items: {}, definitions: roles };
  const globals = dumpGlobals(ctx, pc);
  const dumped: Array<DatabaseFacts & { lsn?: string; artifact: string; postData: string }> = [];
  try {
    for (const [index, db] of databases.entries()) dumped.push(await dumpDatabase(ctx, pc, db, index, fingerprint));
  } finally {
    await globals.catch(() => undefined);
  }
  await globals;
  return {
    details: {
      serverVersion: facts.version,
      serverVersionNum: facts.versionNum,
      systemIdentifier: facts.systemIdentifier,
      toolVersion: tool.version,
      toolsRanIn: `container ${pc.name}`,
      databases: dumped,
      ...(ctx.service.container ? { container: containerRecord(ctx.service.container) } : {}),
    },
    ...(fingerprint ? { fingerprint } : {}),
    inspection: { version: facts.version, objects: databases.map((d) => ({ name: d.name, kind: 'database', bytes: d.bytes })), details: {} },
  };
}

function pick(all: DatabaseFacts[], option: unknown, pc: PgContainer): DatabaseFacts[] {
  if (!Array.isArray(option)) return all;
  return option.map(String).map((name) => {
    const found = all.find((d) => d.name === name);
    if (!found) throw new HoldfastError('not-found', `database ${JSON.stringify(name)} does not exist in container ${pc.name}`, { service: pc.service, driver: 'postgres', hint: `it has: ${all.map((d) => d.name).join(', ')}` });
    return found;
  });
}

function judge(pc: PgContainer, tool: string) {
  return (exit: ToolExit) => checkPgToolExit(tool, exit, pc.service);
}

async function dumpGlobals(ctx: BackupContext, pc: PgContainer): Promise<void> {
  const dump = (extra: string[]) =>
    execToArtifact(() => pgExec(pc, ['pg_dumpall', '--globals-only', '--no-password', ...extra], { database: 'postgres', signal: ctx.signal }), ctx.artifacts, { name: 'globals.sql', kind: 'globals' }, {
      tool: 'pg_dumpall',
      judge: judge(pc, 'pg_dumpall'),
    });
  try {
    await dump([]);
  } catch (error) {
    if (!(error instanceof HoldfastError && /permission denied for (table|relation) pg_authid/.test(error.message))) throw error;
    ctx.note('roles were dumped without passwords (the user cannot read pg_authid)');
    await dump(['--no-role-passwords']);
  }
}

async function dumpDatabase(ctx: BackupContext, pc: PgContainer, db: DatabaseFacts, index: number, fingerprint: Fingerprint | undefined) {
  const name = `${artifactSlug(db.name, index)}.pgdump`;
  const postData = `${artifactSlug(db.name, index)}.post-data.pgdump`;
  ctx.progress.phase(`dump ${db.name}`);
  const held = await PsqlSession.open(pc, db.name, ctx.signal);
  try {
    await held.command('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const snap = await held.query<{ id: string; lsn: string | null }>(
      'SELECT pg_export_snapshot() AS id, CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END::text AS lsn',
    );
    const { id, lsn } = snap.rows[0]!;
    const args = ['pg_dump', '--format=custom', '--compress=0', `--snapshot=${id}`, '--no-password'];
    const dump = (artifact: string, kind: string, extra: string[]) =>
      execToArtifact(() => pgExec(pc, [...args, ...extra], { database: db.name, signal: ctx.signal }), ctx.artifacts, { name: artifact, kind, label: db.name }, {
        tool: 'pg_dump',
        judge: judge(pc, 'pg_dump'),
      });
    const results = await Promise.allSettled([
      dump(name, 'pg_dump', []),
      dump(postData, 'pg_dump-post-data', ['--section=post-data']),
      describeInSnapshot(held, db.name, fingerprint),
    ]);
    // A failed session query ends the transaction that holds the snapshot, and pg_dump then fails on
    // "invalid snapshot identifier": the session's error is the cause, so it is reported first.
    const failed = [results[2], results[0], results[1]].find((r): r is PromiseRejectedResult => r!.status === 'rejected');
    if (failed) throw failed.reason;
    await held.command('COMMIT');
    const described = (results[2] as PromiseFulfilledResult<Awaited<ReturnType<typeof describeInSnapshot>>>).value;
    return { ...db, ...(lsn ? { lsn } : {}), ...described, artifact: name, postData };
  } finally {
    await held.close();
  }
}

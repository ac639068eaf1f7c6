import { statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { renameOption, type Fingerprint, type RestoreContext, type RestoreResult } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { runTool } from '../../src/core/process.js';
import { spoolDir, type SpoolDir } from '../../src/core/spool-dir.js';
import { formatEndpoint } from '../../src/core/service.js';
import type { ArtifactRecord } from '../../src/repository/manifest.js';
import { ident, pgTarget, toolEnv, withClient, type PgTarget } from './postgres-connection.js';
import { fingerprintDatabase } from './postgres-fingerprint.js';
import { forgetLeftover, recordWorkingCopy } from './postgres-leftovers.js';
import { serverFacts } from './postgres-inspector.js';
import { checkPgToolExit, requireTool } from './postgres-tools.js';
import { skipExistingRoles } from './postgres-globals-filter.js';

interface RecordedDatabase {
  name: string;
  encoding?: string;
  collate?: string;
  ctype?: string;
  owners?: string[];
  artifact: string;
  /** The post-data section alone (snapshots since 0.1.0). */
  postData?: string;
}

/** Archives above this size are restored with `pg_restore -j` from a temporary file. */
const PARALLEL_THRESHOLD = 64 * 1024 * 1024;

/**
 * Restores a `pg_dump` snapshot:
 * 1. checks every target first: a non-empty database is refused without --force;
 * 2. globals, when the target is another server (roles already there are skipped);
 * 3. each database into a scratch database `<name>__holdfast`, then swapped in by
 *    rename, so a failed restore leaves the target as it was;
 * 4. `--no-owner --no-acl` when a role that owns objects is missing on the target;
 * 5. fingerprints of the restored databases, keyed by the source names.
 */
export async function restorePgDump(ctx: RestoreContext): Promise<RestoreResult> {
  const t = pgTarget(ctx.target);
  const recordedDbs = (ctx.recorded.details.databases as RecordedDatabase[] | undefined) ?? [];
  const plan = mapDatabases(ctx, t, recordedDbs);
  const jobs = Math.max(1, Number(ctx.options.jobs ?? 2));

  return withClient(t, 'postgres', async (admin) => {
    const facts = await serverFacts(admin);
    const pgRestore = await requireTool('pg_restore', Math.max(facts.major, majorOf(ctx.recorded.details.toolVersion)), t.service);
    const psql = await requireTool('psql', 0, t.service);

    // 1. Check all targets before changing anything.
    for (const item of plan) {
      const exists = await databaseExists(admin, item.to);
      if (exists && !ctx.force && !(await isEmptyDatabase(t, item.to))) {
        throw new HoldfastError('target', `database ${JSON.stringify(item.to)} on ${t.host}:${t.port} is not empty`, {
          service: t.service,
          hint: 'restore into a new database (--target NAME=postgres://host:port/newdb), or pass --force to replace it',
        });
      }
      item.exists = exists;
    }

    // 2. Globals, for another server only: on the same server the roles are the live ones.
    const sameServer = facts.systemIdentifier === ctx.recorded.details.systemIdentifier;
    const globals = ctx.artifacts.records.find((r) => r.kind === 'globals');
    if (globals && !sameServer && ctx.options.globals !== false) {
      ctx.progress.phase('globals');
      const roles = new Set((await admin.query<{ rolname: string }>('SELECT rolname FROM pg_roles')).rows.map((r) => r.rolname));
      const errors = await applyGlobals(ctx, t, psql.path, globals, roles);
      if (errors > 0) ctx.note(`globals: ${errors} statements failed (see the server log); roles that existed were left as they were`);
    } else if (globals) {
      ctx.note(sameServer ? 'globals skipped: the target is the server the backup came from' : 'globals skipped (--no-globals)');
    }

    const existingRoles = new Set((await admin.query<{ rolname: string }>('SELECT rolname FROM pg_roles')).rows.map((r) => r.rolname));
    const fingerprint: Fingerprint = { scope: ctx.recorded.fingerprint?.scope ?? 'full', items: {} };
    for (const item of plan) {
      ctx.progress.phase(`restore ${item.to}`);
      const missing = (item.db.owners ?? []).filter((r) => !existingRoles.has(r));
      if (missing.length) ctx.note(`${item.to}: restored with --no-owner --no-acl; missing roles: ${missing.join(', ')}`);
      const scratch = scratchName(item.to);
      // In the leftover journal first: a kill -9 from here on leaves nothing the next command does not remove.
      const leftover = await recordWorkingCopy(ctx.target, scratch, item.to);
      await admin.query(`DROP DATABASE IF EXISTS ${ident(scratch)}`);
      await createDatabase(admin, scratch, item.db, ctx);
      try {
        await runPgRestore(ctx, t, pgRestore.path, scratch, item, missing.length > 0, jobs);
        await swapIn(admin, scratch, item.to, item.exists);
      } catch (error) {
        await admin.query(`DROP DATABASE IF EXISTS ${ident(scratch)}`).then(() => forgetLeftover(leftover), () => undefined);
        throw error;
      }
      await forgetLeftover(leftover);
      if (ctx.recorded.fingerprint) {
        ctx.progress.phase(`fingerprint ${item.to}`);
        const items = await withClient(t, item.to, (c) => fingerprintDatabase(c, item.to, fingerprint.scope));
        for (const [key, value] of Object.entries(items)) fingerprint.items[`${item.db.name}${key.slice(item.to.length)}`] = value;
      }
    }
    return {
      location: plan.map((p) => formatEndpoint({ ...ctx.target.endpoint!, path: p.to }, false)).join(', '),
      ...(ctx.recorded.fingerprint ? { fingerprint } : {}),
      details: { fingerprintPrefixes: plan.map((p) => p.db.name), databases: plan.map((p) => ({ from: p.db.name, to: p.to })) },
    };
  });
}

interface PlannedDatabase {
  db: RecordedDatabase;
  record: ArtifactRecord;
  to: string;
  exists?: boolean;
}

function mapDatabases(ctx: RestoreContext, t: PgTarget, recorded: RecordedDatabase[]): PlannedDatabase[] {
  const only = ctx.options.database === undefined ? undefined : String(ctx.options.database);
  let chosen = recorded;
  if (only !== undefined) {
    chosen = recorded.filter((d) => d.name === only);
    if (chosen.length === 0) {
      throw new HoldfastError('not-found', `the snapshot has no database ${JSON.stringify(only)}`, {
        service: t.service,
        hint: `it has: ${recorded.map((d) => d.name).join(', ')}`,
      });
    }
  }
  const rename = renameOption(ctx.options);
  if (!rename && !ctx.inPlace && t.database && chosen.length > 1) {
    throw new HoldfastError('usage', `the target names one database (${t.database}) but the snapshot holds ${chosen.length}: ${chosen.map((d) => d.name).join(', ')}`, {
      service: t.service,
      hint: 'pick one with --database NAME, or drop the database from the target URL to restore each under its own name',
    });
  }
  return chosen.map((db) => {
    const record = ctx.artifacts.records.find((r) => r.name === db.artifact);
    if (!record) throw new HoldfastError('integrity', `the snapshot lacks the artifact ${db.artifact} of database ${db.name}`, { service: t.service });
    return { db, record, to: rename?.[db.name] ?? (!ctx.inPlace && t.database ? t.database : db.name) };
  });
}

function majorOf(version: unknown): number {
  return typeof version === 'string' ? Number(version.split('.')[0]) || 0 : 0;
}

function scratchName(name: string): string {
  const suffix = '__holdfast';
  return Buffer.byteLength(name) + suffix.length <= 63 ? name + suffix : `${Buffer.from(name).subarray(0, 40).toString()}_${Date.now()}${suffix}`;
}

async function databaseExists(c: pg.Client, name: string): Promise<boolean> {
  return (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount! > 0;
}

async function isEmptyDatabase(t: PgTarget, name: string): Promise<boolean> {
  return withClient(t, name, async (c) => {
    const { rows } = await c.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`,
    );
    return rows[0]!.n === '0';
  });
}

async function createDatabase(c: pg.Client, name: string, db: RecordedDatabase, ctx: RestoreContext): Promise<void> {
  const base = `CREATE DATABASE ${ident(name)} TEMPLATE template0`;
  if (db.encoding && db.collate && db.ctype) {
    const q = (s: string) => `'${s.replace(/'/g, "''")}'`;
    try {
      await c.query(`${base} ENCODING ${q(db.encoding)} LC_COLLATE ${q(db.collate)} LC_CTYPE ${q(db.ctype)}`);
      return;
    } catch (error) {
      ctx.note(`${db.name}: created with the server's default locale: ${(error as Error).message}`);
    }
  }
  await c.query(base);
}

async function swapIn(c: pg.Client, scratch: string, final: string, exists: boolean | undefined): Promise<void> {
  if (exists) {
    const old = `${scratchName(final)}_old`;
    await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [final]);
    await c.query(`ALTER DATABASE ${ident(final)} RENAME TO ${ident(old)}`);
    await c.query(`ALTER DATABASE ${ident(scratch)} RENAME TO ${ident(final)}`);
    await c.query(`DROP DATABASE ${ident(old)}`);
  } else {
    await c.query(`ALTER DATABASE ${ident(scratch)} RENAME TO ${ident(final)}`);
  }
}

async function applyGlobals(ctx: RestoreContext, t: PgTarget, psql: string, record: ArtifactRecord, existingRoles: ReadonlySet<string>): Promise<number> {
  const run = runTool(psql, ['--no-psqlrc', '--quiet', '--set', 'ON_ERROR_STOP=0', '--no-password', '--dbname', 'postgres'], {
    env: toolEnv(t, 'postgres'),
    stdin: 'pipe',
    stdout: 'ignore',
    signal: ctx.signal,
    secrets: [t.password],
  });
  await pipeline(ctx.artifacts.open(record.name), skipExistingRoles(existingRoles), run.stdin!);
  const exit = await run.done;
  checkPgToolExit('psql', exit, t.service);
  return (exit.stderr.match(/ERROR:/g) ?? []).length;
}

async function runPgRestore(ctx: RestoreContext, t: PgTarget, pgRestore: string, database: string, item: PlannedDatabase, noOwner: boolean, jobs: number): Promise<void> {
  const base = ['--exit-on-error', '--no-password', '--dbname', database, ...(noOwner ? ['--no-owner', '--no-acl'] : [])];
  const spec = (extra: string[]) => ({ command: pgRestore, args: [...base, ...extra], env: toolEnv(t, database), secrets: [t.password] });
  const run = async (extra: string[]) => checkPgToolExit('pg_restore', await runTool(pgRestore, [...base, ...extra], { env: toolEnv(t, database), stdout: 'ignore', signal: ctx.signal, secrets: [t.password] }).done, t.service);
  const postData = item.db.postData ? ctx.artifacts.records.find((r) => r.name === item.db.postData) : undefined;

  if (jobs > 1 && postData) {
    // Data streamed straight from the repository (no temporary copy), then
    // indexes and constraints with -j from the few-KB post-data archive.
    checkPgToolExit('pg_restore', await ctx.artifacts.pipeToCommand(item.record.name, spec(['--section=pre-data', '--section=data'])), t.service);
    ctx.progress.phase(`indexes ${item.to}`);
    const spool = await spoolDir('holdfast-restore-');
    try {
      const file = join(spool.path, 'post-data.pgdump');
      await ctx.artifacts.extractToFile(postData.name, file);
      await run(['--jobs', String(jobs), '--section=post-data', file]);
    } finally {
      await spool.remove();
    }
    return;
  }
  // Snapshots without a post-data archive: -j needs the whole dump as a file.
  const spool = jobs > 1 && item.record.rawBytes >= PARALLEL_THRESHOLD ? await scratchDirFor(item.record.rawBytes) : undefined;
  if (!spool) {
    checkPgToolExit('pg_restore', await ctx.artifacts.pipeToCommand(item.record.name, spec([])), t.service);
    return;
  }
  try {
    const file = join(spool.path, 'archive.pgdump');
    await ctx.artifacts.extractToFile(item.record.name, file);
    await run(['--jobs', String(jobs), file]);
  } finally {
    await spool.remove();
  }
}

/** A private temporary directory with room for `bytes`, or undefined (then the restore streams). */
async function scratchDirFor(bytes: number): Promise<SpoolDir | undefined> {
  const base = process.env.HOLDFAST_TMPDIR ?? tmpdir();
  try {
    const fs = await statfs(base);
    if (fs.bavail * fs.bsize < bytes * 1.1) return undefined;
    return await spoolDir('holdfast-restore-', base);
  } catch {
    return undefined;
  }
}

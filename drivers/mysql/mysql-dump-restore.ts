import { renameOption, type Fingerprint, type RestoreContext, type RestoreResult } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { formatEndpoint } from '../../src/core/service.js';
import type { ArtifactRecord } from '../../src/repository/manifest.js';
import { ACCOUNTS_ARTIFACT, restoreAccounts, retryAccounts, type AccountsOutcome } from './mysql-accounts.js';
import { connect, ident, mysqlTarget, rows, where, withConnection, type Connection, type MyTarget } from './mysql-connection.js';
import { defaultsFiles, type DefaultsFiles } from './mysql-defaults-file.js';
import type { DumpedDatabase } from './mysql-dump-backup.js';
import { fingerprintDatabase } from './mysql-fingerprint.js';
import { serverFacts } from './mysql-inspector.js';
import { swapIn } from './mysql-swap.js';
import { checkMysqlToolExit, FAMILY_TITLE, requireTool, type Family, type ToolInfo } from './mysql-tools.js';
import type { Service } from '../../src/core/service.js';
import { forgetMysqlLeftover, recordMysqlLeftover } from './mysql-leftovers.js';

/**
 * Restores a `dump` snapshot:
 * 1. checks every target first: a non-empty database is refused without --force;
 * 2. accounts and grants, on another server only, never touching an account
 *    that exists there;
 * 3. each database: a missing or empty target is loaded directly (and put
 *    back as it was if the load fails); a non-empty one (--force) through a
 *    scratch database `<name>__holdfast` swapped in at the end (mysql-swap.ts),
 *    so a failed load leaves it untouched;
 * 4. fingerprints of the restored databases, keyed by the source names.
 */
export async function restoreDump(ctx: RestoreContext): Promise<RestoreResult> {
  const t = mysqlTarget(ctx.target);
  const plan = mapDatabases(ctx, t, (ctx.recorded.details.databases as DumpedDatabase[] | undefined) ?? []);
  const admin = await connect(t);
  const files = await defaultsFiles(t);
  try {
    const facts = await serverFacts(admin);
    const from = ctx.recorded.details.family as Family | undefined;
    if (from && from !== facts.family) {
      throw new HoldfastError('target', `the snapshot holds a ${FAMILY_TITLE[from]} dump and the target is ${FAMILY_TITLE[facts.family]} ${facts.versionNumber}: dumps do not load across the two (collations, GTIDs, the sandbox line of mariadb-dump)`, {
        service: t.service,
        driver: 'mysql',
        hint: `restore into a ${FAMILY_TITLE[from]} server`,
      });
    }
    const client = await requireTool('client', facts.family, t.service);

    // 1. Check all targets before changing anything.
    for (const item of plan) {
      const found = await rows<{ charset: string; collation: string }>(admin, 'SELECT DEFAULT_CHARACTER_SET_NAME AS charset, DEFAULT_COLLATION_NAME AS collation FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [item.to]);
      item.existing = found[0];
      item.empty = !item.existing || (await isEmptyDatabase(admin, item.to));
      if (!item.empty && !ctx.force) {
        throw new HoldfastError('target', `database ${JSON.stringify(item.to)} on ${where(t)} is not empty`, {
          service: t.service,
          driver: 'mysql',
          hint: `restore into a new database (--target ${ctx.source.name}=mysql://host:port/newdb), or pass --force to replace it`,
        });
      }
    }

    // 2. Accounts, on another server only: on the same server they are the live ones.
    const sameServer = facts.identity === ctx.recorded.details.serverIdentity;
    const hasAccounts = ctx.artifacts.records.some((r) => r.name === ACCOUNTS_ARTIFACT);
    let accounts: AccountsOutcome | undefined;
    if (hasAccounts && !sameServer && ctx.options.globals !== false) {
      ctx.progress.phase('accounts');
      accounts = await restoreAccounts(admin, ctx.artifacts);
    } else if (hasAccounts) {
      ctx.note(sameServer ? 'accounts skipped: the target is the server the backup came from' : 'accounts skipped (--no-globals)');
    }

    const fingerprint: Fingerprint = { scope: ctx.recorded.fingerprint?.scope ?? 'full', items: {} };
    for (const [index, item] of plan.entries()) {
      ctx.progress.phase(`restore ${item.to}`);
      const load = (database: string) => loadDump(ctx, t, client, files, item.record, database, index);
      if (item.empty) await loadDirect(ctx.target, admin, item, load);
      else await loadThroughScratch(ctx.target, t, admin, item, load);
      if (ctx.recorded.fingerprint) {
        ctx.progress.phase(`fingerprint ${item.to}`);
        const items = await withConnection(t, item.to, (c) => fingerprintDatabase(c, item.to, fingerprint.scope));
        for (const [key, value] of Object.entries(items)) fingerprint.items[`${item.db.name}${key.slice(item.to.length)}`] = value;
      }
    }
    if (accounts) {
      // Grants on tables and routines could not apply before their databases existed.
      if (accounts.failed.length > 0) accounts = await retryAccounts(admin, accounts);
      ctx.note(`accounts: ${accounts.applied} statements applied, ${accounts.skipped} skipped (accounts that exist on the target are left as they are)${accounts.failed.length ? `, ${accounts.failed.length} failed: ${accounts.firstError}` : ''}`);
    }
    return {
      location: plan.map((p) => formatEndpoint({ ...ctx.target.endpoint!, path: p.to }, false)).join(', '),
      ...(ctx.recorded.fingerprint ? { fingerprint } : {}),
      details: { fingerprintPrefixes: plan.map((p) => p.db.name), databases: plan.map((p) => ({ from: p.db.name, to: p.to })) },
    };
  } finally {
    await files.dispose();
    await admin.end().catch(() => admin.destroy());
  }
}

interface PlannedDatabase {
  db: DumpedDatabase;
  record: ArtifactRecord;
  to: string;
  existing?: { charset: string; collation: string };
  empty?: boolean;
}

function mapDatabases(ctx: RestoreContext, t: MyTarget, recorded: DumpedDatabase[]): PlannedDatabase[] {
  const only = ctx.options.database === undefined ? undefined : String(ctx.options.database);
  let chosen = recorded;
  if (only !== undefined) {
    chosen = recorded.filter((d) => d.name === only);
    if (chosen.length === 0) {
      throw new HoldfastError('not-found', `the snapshot has no database ${JSON.stringify(only)}`, {
        service: t.service,
        driver: 'mysql',
        hint: `it has: ${recorded.map((d) => d.name).join(', ')}`,
      });
    }
  }
  const rename = renameOption(ctx.options);
  if (!rename && !ctx.inPlace && t.database && chosen.length > 1) {
    throw new HoldfastError('usage', `the target names one database (${t.database}) but the snapshot holds ${chosen.length}: ${chosen.map((d) => d.name).join(', ')}`, {
      service: t.service,
      driver: 'mysql',
      hint: 'pick one with --database NAME, or drop the database from the target URL to restore each under its own name',
    });
  }
  return chosen.map((db) => {
    const record = ctx.artifacts.records.find((r) => r.name === db.artifact);
    if (!record) throw new HoldfastError('integrity', `the snapshot lacks the artifact ${db.artifact} of database ${db.name}`, { service: t.service, driver: 'mysql' });
    return { db, record, to: rename?.[db.name] ?? (!ctx.inPlace && t.database ? t.database : db.name) };
  });
}

async function isEmptyDatabase(c: Connection, name: string): Promise<boolean> {
  const [row] = await rows<{ n: string }>(
    c,
    `SELECT (SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?)
          + (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?)
          + (SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?) AS n`,
    [name, name, name],
  );
  return Number(row!.n) === 0;
}

/** Missing or empty target: load into it; on failure put it back as it was (absent, or empty). */
async function loadDirect(service: Service, c: Connection, item: PlannedDatabase, load: (db: string) => Promise<void>): Promise<void> {
  const settings = item.existing ?? item.db;
  // A database made here holds part of the data until the load ends: a kill -9 leaves it to the next command to drop.
  const leftover = item.existing ? undefined : await recordMysqlLeftover(service, 'partial-load', item.to);
  if (!item.existing) await createDatabase(c, item.to, settings);
  try {
    await load(item.to);
  } catch (error) {
    await c.query(`DROP DATABASE IF EXISTS ${ident(item.to)}`).catch(() => undefined);
    if (item.existing) await createDatabase(c, item.to, item.existing).catch(() => undefined);
    throw error;
  } finally {
    if (leftover) await forgetMysqlLeftover(leftover);
  }
}

async function loadThroughScratch(service: Service, t: MyTarget, c: Connection, item: PlannedDatabase, load: (db: string) => Promise<void>): Promise<void> {
  const scratch = scratchName(item.to);
  const leftover = await recordMysqlLeftover(service, 'working-copy', scratch);
  await c.query(`DROP DATABASE IF EXISTS ${ident(scratch)}`);
  await createDatabase(c, scratch, item.db);
  try {
    await load(scratch);
  } catch (error) {
    await c.query(`DROP DATABASE IF EXISTS ${ident(scratch)}`).catch(() => undefined);
    throw error;
  } finally {
    await forgetMysqlLeftover(leftover);
  }
  // Killed during the swap, the target may hold part of the data: the next command says so (mysql-leftovers.ts).
  const swapping = await recordMysqlLeftover(service, 'swap', scratch, item.to);
  try {
    await withConnection(t, undefined, (s) => swapIn(s, scratch, item.to, item.db));
  } catch (error) {
    // Left for the user to finish by hand, as the hint says: not the next command's to drop.
    throw new HoldfastError('internal', `moving the restored database from ${scratch} into ${item.to} failed half-way: ${(error as Error).message}`, {
      service: t.service,
      driver: 'mysql',
      hint: `the restored data is in ${scratch} (or already in ${item.to}); run the restore again into a new database, or finish by hand`,
      cause: error,
    });
  } finally {
    await forgetMysqlLeftover(swapping);
  }
}

async function createDatabase(c: Connection, name: string, settings: { charset: string; collation: string }): Promise<void> {
  await c.query(`CREATE DATABASE ${ident(name)} CHARACTER SET ? COLLATE ?`, [settings.charset, settings.collation]);
}

/** `<name>__holdfast`, within the 64-character limit of database names. */
export function scratchName(name: string): string {
  const suffix = '__holdfast';
  const chars = [...name];
  return chars.length + suffix.length <= 64 ? name + suffix : `${chars.slice(0, 40).join('')}_${Date.now()}${suffix}`;
}

/** The dump decompressed straight into the client's stdin, with the target database selected. */
async function loadDump(ctx: RestoreContext, t: MyTarget, client: ToolInfo, files: DefaultsFiles, record: ArtifactRecord, database: string, index: number): Promise<void> {
  const optionFile = await files.create(`load-${index}`);
  const exit = await ctx.artifacts.pipeToCommand(record.name, {
    command: client.path,
    // --binary-mode: a dump is not typed input (no \r\n rewriting, NUL bytes pass).
    args: [`--defaults-file=${optionFile}`, '--binary-mode', '--default-character-set=utf8mb4', '--max-allowed-packet=1073741824', `--database=${database}`],
    secrets: [t.password],
  });
  checkMysqlToolExit(client.name, exit, t.service, 'the target was left as it was');
}

import { type Fingerprint, type RestoreContext, type RestoreResult } from '../../src/core/driver.js';
import { mapDatabases as mapRecordedDatabases } from '../../src/core/restore-databases.js';
import { HoldfastError } from '../../src/core/errors.js';
import { formatEndpoint } from '../../src/core/service.js';
import type { ArtifactRecord } from '../../src/repository/manifest.js';
import { ACCOUNTS_ARTIFACT, applyDeferred, restoreAccounts, type AccountsOutcome } from './mysql-accounts.js';
import { alterDatabase, createDatabase, readDatabaseProperties, type DatabaseProperties } from './mysql-database-properties.js';
import { readDefinitions } from './mysql-definitions.js';
import { borrowDatabaseGrants } from './mysql-grants.js';
import { loadOrder } from './mysql-load-order.js';
import { accountsNote, partialFailure, selfReferences, trimmedToolExit } from './mysql-server-restore.js';
import { connect, ident, rows, where, withConnection, type Connection, type MyTarget } from './mysql-connection.js';
import { defaultsFiles, type DefaultsFiles } from './mysql-defaults-file.js';
import type { DumpedDatabase } from './mysql-dump-backup.js';
import { fingerprintDatabase } from './mysql-fingerprint.js';
import { serverFacts } from './mysql-inspector.js';
import { swapIn } from './mysql-swap.js';
import { checkMysqlToolExit, FAMILY_TITLE, type Family, type ToolInfo } from './mysql-tools.js';
import { prepareRun, requirePlacedTool } from './mysql-tool-place.js';
import { withTarget } from './mysql-target.js';
import type { Service } from '../../src/core/service.js';
import { forgetMysqlLeftover, recordMysqlLeftover } from './mysql-leftovers.js';

/**
 * Restores a `dump` snapshot:
 * 1. checks every target first: a non-empty database is refused without --force;
 * 2. accounts and global grants on another server (mysql-accounts.ts: an
 *    account that exists there is left alone unless it is the snapshot's own);
 * 3. each database, after those its views read (mysql-load-order.ts), with
 *    its recorded charset, collation and comment: a missing or empty target
 *    is loaded directly (and put back as it was if the load fails); a
 *    non-empty one (--force) through a scratch database `<name>__holdfast`
 *    swapped in at the end (mysql-swap.ts), so a failed load leaves it untouched;
 * 4. grants on tables, columns and routines once every database is there,
 *    rewritten to the new name of a database restored under another name;
 * 5. a failure part-way says which databases were replaced and which not,
 *    and removes the accounts this restore created (mysql-server-restore.ts);
 * 6. fingerprints (rows and definitions) of the restored databases, keyed by the source names.
 */
export function restoreDump(ctx: RestoreContext): Promise<RestoreResult> {
  return withTarget(ctx.target, (t) => restoreInto(ctx, t), ctx.signal, (text) => ctx.note(text));
}

async function restoreInto(ctx: RestoreContext, t: MyTarget): Promise<RestoreResult> {
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
    const client = await requirePlacedTool(t, 'client', facts.family);

    // 1. Check all targets before changing anything.
    for (const item of plan) {
      const found = await readDatabaseProperties(admin, item.to);
      if (found) item.existing = found;
      item.empty = !item.existing || (await isEmptyDatabase(admin, item.to));
      if (!item.empty && !ctx.force) {
        throw new HoldfastError('target', `database ${JSON.stringify(item.to)} on ${where(t)} is not empty`, {
          service: t.service,
          driver: 'mysql',
          hint: `restore into a new database (--target ${ctx.source.name}=mysql://host:port/newdb), or pass --force to replace it`,
        });
      }
    }

    // Views that read other databases: those must be in this restore or already on the target.
    for (const item of plan) {
      for (const other of item.db.reads ?? []) {
        if (plan.some((p) => p.to === other)) continue;
        const [there] = await rows(admin, 'SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [other]);
        if (!there) {
          throw new HoldfastError('target', `views of database ${JSON.stringify(item.db.name)} read database ${JSON.stringify(other)}, which is neither on ${where(t)} nor restored with it`, {
            service: t.service,
            driver: 'mysql',
            hint: `restore ${JSON.stringify(other)} first (or both together: drop --database)`,
          });
        }
      }
    }
    const ordered = loadOrder(plan, t.service);

    // 2. Accounts and global grants before loading (definers exist then); grants on objects once every database is there.
    const sameServer = facts.identity === ctx.recorded.details.serverIdentity;
    const hasAccounts = ctx.artifacts.records.some((r) => r.name === ACCOUNTS_ARTIFACT);
    const renamed = plan.some((p) => p.to !== p.db.name);
    let accounts: AccountsOutcome | undefined;
    if (hasAccounts && ctx.options.globals !== false && (!sameServer || renamed)) {
      ctx.progress.phase('accounts');
      const recordedNames = ((ctx.recorded.details.databases as DumpedDatabase[] | undefined) ?? []).map((d) => d.name);
      accounts = await restoreAccounts(admin, ctx.artifacts, { restored: new Map(plan.map((p) => [p.db.name, p.to])), recorded: recordedNames, sameServer });
    } else if (hasAccounts) {
      ctx.note(sameServer ? 'accounts skipped: the target is the server the backup came from' : 'accounts and grants skipped (--no-globals)');
      if (renamed && ctx.recorded.fingerprint?.definitions) {
        ctx.note('grants were not given on the new database names, so the definitions comparison lists them; a restore test checks them on a throwaway server when a mariadbd of the backup\'s series is installed');
      }
    }

    const fingerprint: Fingerprint = { scope: ctx.recorded.fingerprint?.scope ?? 'full', items: {}, ...(ctx.recorded.fingerprint?.definitions ? { definitions: {} } : {}) };
    const replaced: string[] = [];
    try {
      for (const item of ordered) {
        const index = plan.indexOf(item);
        ctx.progress.phase(`restore ${item.to}`);
        const load = (database: string) => loadDump(ctx, t, client, files, item.record, database, index);
        if (item.empty) await loadDirect(ctx.target, admin, item, load);
        else await loadThroughScratch(ctx.target, t, admin, item, load);
        replaced.push(item.to);
      }
      if (accounts) await applyDeferred(admin, accounts);
    } catch (error) {
      throw await partialFailure(ctx, t, admin, { error, replaced, plan: ordered.map((p) => p.to), accounts });
    }
    if (accounts) ctx.note(accountsNote(accounts, sameServer));
    for (const item of plan.filter((p) => p.to !== p.db.name)) {
      const named = selfReferences(ctx.recorded.fingerprint?.definitions, item.db.name);
      if (named.length > 0) ctx.note(`${item.to}: ${named.length} objects name ${item.db.name} in their code and still act on it, not on ${item.to}: ${named.join(', ')}`);
    }
    const rename = Object.fromEntries(plan.map((p) => [p.to, p.db.name]));
    for (const item of plan) {
      if (!ctx.recorded.fingerprint) break;
      ctx.progress.phase(`fingerprint ${item.to}`);
      await withConnection(t, item.to, async (c) => {
        const items = await fingerprintDatabase(c, item.to, fingerprint.scope);
        for (const [key, value] of Object.entries(items)) fingerprint.items[`${item.db.name}${key.slice(item.to.length)}`] = value;
        if (fingerprint.definitions) await readDefinitions(c, item.to, { scope: fingerprint.scope, rename, grants: hasAccounts }, fingerprint.definitions);
      });
    }
    return {
      location: plan.map((p) => (t.container ? `container:${t.container.name}/${p.to}` : formatEndpoint({ ...ctx.target.endpoint!, path: p.to }, false))).join(', '),
      ...(ctx.recorded.fingerprint ? { fingerprint } : {}),
      // Where the client loaded the dumps and why, in the shape the backup records (place-record.ts).
      details: { fingerprintPrefixes: plan.map((p) => p.db.name), databases: plan.map((p) => ({ from: p.db.name, to: p.to })), place: client.place },
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
  existing?: DatabaseProperties;
  empty?: boolean;
}

function mapDatabases(ctx: RestoreContext, t: MyTarget, recorded: DumpedDatabase[]): PlannedDatabase[] {
  return mapRecordedDatabases(ctx, { service: t.service, database: t.database, driver: 'mysql' }, recorded);
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
  // A database made here holds part of the data until the load ends: a kill -9 leaves it to the next command to drop.
  const leftover = item.existing ? undefined : await recordMysqlLeftover(service, 'partial-load', item.to);
  if (!item.existing) await createDatabase(c, item.to, item.db);
  else await alterDatabase(c, item.to, item.db);
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
  const giveBack = await borrowDatabaseGrants(c, item.to, scratch);
  try {
    await load(scratch);
  } catch (error) {
    await c.query(`DROP DATABASE IF EXISTS ${ident(scratch)}`).catch(() => undefined);
    await giveBack();
    throw error;
  } finally {
    await forgetMysqlLeftover(leftover);
  }
  // Killed during the swap, the target may hold part of the data: the next command says so (mysql-leftovers.ts).
  const swapping = await recordMysqlLeftover(service, 'swap', scratch, item.to);
  try {
    await withConnection(t, undefined, (s) => swapIn(s, scratch, item.to, item.db));
    await giveBack();
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

/** `<name>__holdfast`, within the 64-character limit of database names. */
export function scratchName(name: string): string {
  const suffix = '__holdfast';
  const chars = [...name];
  return chars.length + suffix.length <= 64 ? name + suffix : `${chars.slice(0, 40).join('')}_${Date.now()}${suffix}`;
}

/** The dump decompressed straight into the client's stdin, with the target database selected. */
async function loadDump(ctx: RestoreContext, t: MyTarget, client: ToolInfo, files: DefaultsFiles, record: ArtifactRecord, database: string, index: number): Promise<void> {
  const run = await prepareRun(t, client, files, `load-${index}`);
  // --binary-mode: a dump is not typed input (no \r\n rewriting, NUL bytes pass).
  const exit = await run.load(ctx.artifacts, record.name, ['--binary-mode', '--default-character-set=utf8mb4', '--max-allowed-packet=1073741824', `--database=${database}`]);
  checkMysqlToolExit(client.name, trimmedToolExit(exit), t.service, 'the target was left as it was');
}

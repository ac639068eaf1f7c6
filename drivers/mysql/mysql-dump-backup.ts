import type { BackupContext, BackupResult, Fingerprint } from '../../src/core/driver.js';
import { artifactSlug } from '../../src/core/tool-artifact.js';
import type { ArtifactRecord } from '../../src/repository/manifest.js';
import { backupAccounts } from './mysql-accounts.js';
import type { BinlogPosition } from './mysql-binlog.js';
import { connect, qualified, type Connection, type MyTarget } from './mysql-connection.js';
import { defaultsFiles, type DefaultsFiles } from './mysql-defaults-file.js';
import { fingerprintDatabase } from './mysql-fingerprint.js';
import { readDefinitions } from './mysql-definitions.js';
import { describeDatabases, type DatabaseDumpFacts } from './mysql-load-order.js';
import { atOneMoment, type HoldResult } from './mysql-hold.js';
import { describeTables, nonTransactionalTables, selectDatabases, serverFacts, type DatabaseFacts, type ServerFacts, type TableEngine } from './mysql-inspector.js';
import { prepareRun, requirePlacedTool } from './mysql-tool-place.js';
import { checkMysqlToolExit, type ToolInfo } from './mysql-tools.js';

/** What the manifest records per database; the restore reads it back. */
export interface DumpedDatabase {
  name: string;
  charset: string;
  collation: string;
  /** The database's comment (MariaDB), applied when the restore creates it. */
  comment?: string;
  /** Dumped with `--dump-history`: its system-versioned tables carry every version. */
  history?: boolean;
  /** Other databases its views read: the restore loads those first (mysql-load-order.ts). */
  reads?: string[];
  bytes: number;
  artifact: string;
  binlog?: BinlogPosition;
  /** How long commits were held to line the dump and the fingerprint up, ms. */
  heldMs: number;
  /** How the dump's snapshot was seen inside the hold (undefined: it was not). */
  snapshotConfirmedBy?: HoldResult['confirmedBy'];
}

/**
 * Options: `--single-transaction` (InnoDB at one point in time, no locks),
 * routines and events (off by default), triggers, blobs as hex (the file
 * stays text), no tablespaces (MySQL 8 would want the PROCESS privilege),
 * a packet size that lets any row through. MySQL: no SET @@GLOBAL.GTID_PURGED
 * in the dump, which a plain restore into a server with GTIDs rejects.
 */
export function dumpArgs(tool: ToolInfo, o: { history?: boolean } = {}): string[] {
  const args = ['--single-transaction', '--routines', '--events', '--triggers', '--hex-blob', '--no-tablespaces', '--default-character-set=utf8mb4', '--max-allowed-packet=1073741824'];
  if (tool.family === 'mysql') args.push('--set-gtid-purged=OFF');
  // The history of system-versioned tables (MariaDB); without it only current rows come back.
  if (o.history && tool.family === 'mariadb') args.push('--dump-history');
  return args;
}

/** For a dump that fails on a privilege: what a backup user needs. */
export const DUMP_PRIVILEGES_HINT =
  'the backup user needs SELECT, SHOW VIEW, TRIGGER, EVENT and LOCK TABLES on the databases, SELECT on mysql.* (routines, accounts; MySQL 8: SHOW_ROUTINE), and RELOAD for the consistent fingerprint';

/**
 * Strategy `dump`: one artifact per database from the tool of the server's
 * family, plus the accounts. Each database's dump and fingerprint are lined
 * up on one moment (mysql-hold.ts); tables outside InnoDB are named, and
 * locked for the dump when `lock_non_transactional: true`.
 */
export async function backupWithDump(ctx: BackupContext, t: MyTarget): Promise<BackupResult> {
  const admin = await connect(t);
  const files = await defaultsFiles(t);
  let accountsSaved: Promise<boolean> | undefined;
  try {
    const facts = await serverFacts(admin);
    const databases = await selectDatabases(admin, t, ctx.service.options.databases);
    // The tables' size on disk is what the progress line can promise (an estimate: a dump is text, without indexes).
    ctx.progress.expect?.(databases.reduce((sum, d) => sum + d.bytes, 0), true);
    const dump = await requirePlacedTool(t, 'dump', facts.family);
    const outside = await nonTransactionalTables(admin, databases.map((d) => d.name));
    const lockOutside = ctx.service.options.lock_non_transactional === true;
    if (outside.length > 0) {
      ctx.note(
        lockOutside
          ? `tables outside InnoDB, held with LOCK TABLES ... READ from the snapshot until their database's dump ended (writers of those tables waited): ${describeTables(outside)}`
          : `tables outside InnoDB are not covered by the dump's transaction and may have changed while it ran: ${describeTables(outside)}; set lock_non_transactional: true in the service options to hold a READ lock on them during the dump (their writers wait)`,
      );
    }
    // The accounts' dump runs while the databases are described and the first dump is made ready (in a container its
    // exec alone is 50-100 ms); it has ended before the first commit hold (dumpDatabase waits for it).
    accountsSaved = backupAccounts(ctx, t, facts, dump, await prepareRun(t, dump, files, 'accounts'), admin);
    accountsSaved.catch(() => undefined);
    const fingerprint: Fingerprint | undefined = ctx.fingerprintScope === 'none' ? undefined : { scope: ctx.fingerprintScope, items: {}, definitions: {} };
    const more = await describeDatabases(admin, databases.map((d) => d.name));
    for (const db of databases) if (more.get(db.name)?.versionedByTrxId) ctx.note(`${db.name}: system-versioned tables with transaction-precise history (${more.get(db.name)!.versionedByTrxId}) keep only current rows: mariadb-dump --dump-history dumps timestamp-based history only`);
    const dumped: DumpedDatabase[] = [];
    for (const [index, db] of databases.entries()) {
      const mine = outside.filter((x) => x.database === db.name);
      dumped.push(await dumpDatabase(ctx, t, { facts, dump, files, db, index, fingerprint, lockTables: lockOutside ? mine : [], more: more.get(db.name)!, grants: accountsSaved, admin }));
    }
    const accounts = await accountsSaved;
    const exact = dumped.every((d) => d.snapshotConfirmedBy !== undefined) && (outside.length === 0 || lockOutside);
    return {
      details: {
        family: facts.family,
        serverVersion: facts.version,
        serverVersionNumber: facts.versionNumber,
        serverIdentity: facts.identity,
        tool: dump.name,
        toolVersion: dump.version,
        // Where the tool ran and why ({ kind, where, reason }): the manifest and `show` say it.
        place: dump.place,
        // A dump in a container: its output through a named pipe read on this host, or the exec stream (mysql-container-fifo.ts).
        ...(dump.inContainer && t.container?.output ? { output: t.container.output } : {}),
        ...(t.container ? { sqlTunnel: t.container.tunnel } : {}),
        binlogEnabled: facts.binlog,
        accounts,
        databases: dumped,
        nonTransactionalTables: outside,
        nonTransactionalLocked: lockOutside && outside.length > 0,
        fingerprintExact: exact,
      },
      ...(fingerprint ? { fingerprint } : {}),
      inspection: { version: facts.version, objects: databases.map((d) => ({ name: d.name, kind: 'database', bytes: d.bytes })), details: { family: facts.family } },
    };
  } finally {
    // No tool left running, and its option file kept until it ended.
    await accountsSaved?.catch(() => undefined);
    await files.dispose();
    await admin.end().catch(() => admin.destroy());
  }
}

interface DumpJob {
  facts: ServerFacts;
  dump: ToolInfo;
  files: DefaultsFiles;
  db: DatabaseFacts;
  index: number;
  fingerprint: Fingerprint | undefined;
  lockTables: TableEngine[];
  more: DatabaseDumpFacts;
  /** Whether the accounts were saved: without them grants cannot come back, and the definitions leave them out. */
  grants: Promise<boolean>;
  /** The backup's own connection, idle while a database is dumped: the hold runs on it. */
  admin: Connection;
}

async function dumpDatabase(ctx: BackupContext, t: MyTarget, job: DumpJob): Promise<DumpedDatabase> {
  const { db, dump, fingerprint } = job;
  const name = `${artifactSlug(db.name, job.index)}.sql`;
  ctx.progress.phase(`dump ${db.name}`);
  const run = await prepareRun(t, dump, job.files, `dump-${job.index}`);
  // Made ready before the hold (in a container the dump's exec and its pipe, 50-100 ms), started inside it.
  const staged = run.stage(ctx.artifacts, { name, kind: 'dump', label: db.name }, [...dumpArgs(dump, { history: job.more.history }), '--', db.name], (exit) =>
    checkMysqlToolExit(dump.name, exit, t.service, DUMP_PRIVILEGES_HINT),
  );
  staged.catch(() => undefined);
  let snapshot: Connection | undefined;
  let locker: Connection | undefined;
  let artifact: Promise<ArtifactRecord> | undefined;
  let exited = false;
  try {
    snapshot = fingerprint ? await connect(t, db.name) : undefined;
    locker = job.lockTables.length > 0 ? await connect(t) : undefined;
    const ready = await staged;
    const grants = await job.grants;
    const hold = await atOneMoment(t, {
      facts: job.facts,
      lockWaitSeconds: Number(ctx.service.options.hold_timeout ?? 10),
      connection: job.admin,
      marker: run.marker,
      database: db.name,
      signal: ctx.signal,
      inside: async () => {
        if (snapshot) await openSnapshot(snapshot);
        if (locker) await locker.query(`LOCK TABLES ${job.lockTables.map((x) => `${qualified(x.database, x.table)} READ`).join(', ')}`);
      },
      startTool: () => {
        artifact = ready.start();
        artifact.then(
          () => (exited = true),
          () => (exited = true),
        );
      },
      exited: () => exited,
    });
    for (const problem of hold.problems) ctx.note(`${db.name}: ${problem}`);
    const [, fingerprinted] = await Promise.allSettled([artifact!, snapshot ? fingerprintInSnapshot(snapshot, db.name, fingerprint!, grants) : Promise.resolve()]);
    await artifact!;
    if (fingerprinted.status === 'rejected') throw fingerprinted.reason;
    return {
      name: db.name,
      charset: db.charset,
      collation: db.collation,
      ...(job.more.properties?.comment !== undefined ? { comment: job.more.properties.comment } : {}),
      ...(job.more.history && dump.family === 'mariadb' ? { history: true } : {}),
      ...(job.more.reads.length > 0 ? { reads: job.more.reads } : {}),
      bytes: db.bytes,
      artifact: name,
      ...(hold.binlog ? { binlog: hold.binlog } : {}),
      heldMs: hold.heldMs,
      ...(hold.confirmedBy ? { snapshotConfirmedBy: hold.confirmedBy } : {}),
    };
  } finally {
    // A tool started before a failure is waited for: no dump left running; one not started is not.
    await artifact?.catch(() => undefined);
    if (!artifact) await (await staged.catch(() => undefined))?.cancel().catch(() => undefined);
    for (const c of [snapshot, locker]) if (c) await c.end().catch(() => c.destroy());
  }
}

/** Rows and definitions, both in the snapshot lined up with the dump's. */
async function fingerprintInSnapshot(c: Connection, database: string, fingerprint: Fingerprint, grants: boolean): Promise<void> {
  await fingerprintDatabase(c, database, fingerprint.scope, fingerprint.items);
  await readDefinitions(c, database, { scope: fingerprint.scope, grants }, fingerprint.definitions);
}

async function openSnapshot(c: Connection): Promise<void> {
  await c.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
  await c.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
}

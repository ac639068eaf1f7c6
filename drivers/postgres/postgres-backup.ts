import type { BackupContext, BackupResult, Fingerprint } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import type { ToolExit } from '../../src/core/process.js';
import { artifactSlug } from '../../src/core/tool-artifact.js';
import { containerRecord } from '../../src/core/container-record.js';
import { fingerprintDatabase } from './postgres-fingerprint.js';
import { objectOwners, selectDatabases, serverFacts, type DatabaseFacts } from './postgres-inspector.js';
import type { PgQueryable, PgSession } from './postgres-queryable.js';
import type { StagedArtifact } from '../../src/place/place.js';
import { requireSiteTool, withSession, withSite, type PgSite } from './postgres-site.js';
import { checkPgToolExit, type ToolVersion } from './postgres-tools.js';
import { readDatabaseProperties, type DatabaseProperties } from './postgres-database-properties.js';
import { definitionsOfDatabase, roleDefinitions } from './postgres-definitions.js';
import { recordExtensions, type RecordedExtension } from './postgres-extensions.js';
import { tablespaceObjects, type TablespaceObject } from './postgres-tablespaces.js';

/**
 * Strategy `pg_dump`, wherever the server is (postgres-site.ts: the host's
 * tools for a URL, the image's own inside its container): `pg_dumpall
 * --globals-only`, then one `pg_dump -Fc -Z0` per database, each compressed
 * by the repository (zstd: faster and smaller than pg_dump's built-in gzip
 * on PostgreSQL 15).
 *
 * Each database is dumped from a snapshot that holdfast exports in its own
 * REPEATABLE READ transaction; the fingerprint is computed in that same
 * transaction, so it describes exactly what the dump holds even under writes.
 */
export function backupWithPgDump(ctx: BackupContext): Promise<BackupResult> {
  return withSite(ctx.service, ctx.signal, (site) => backupAt(ctx, site), (t) => ctx.note(t));
}

async function backupAt(ctx: BackupContext, site: PgSite): Promise<BackupResult> {
  // Asked while the inspection runs (in a container each is an exec): checked against the server's major below.
  site.probe(['pg_dump', 'pg_dumpall']);
  // In a container, the execs of the globals' dump and of the first database's two dumps are made (and their pipes
  // checked) while the inspection runs: 50-100 ms each off the critical path. Cancelled if not used as made.
  const first = firstDatabase(ctx, site);
  const early = stageEarly(ctx, site, first);
  let inspected: Awaited<ReturnType<typeof inspectForBackup>>;
  try {
    inspected = await inspectForBackup(ctx, site, first);
  } catch (error) {
    await early.cancel();
    throw error;
  }
  const { facts, databases, roles } = inspected;
  let kept = inspected.kept;
  // The size on disk is what the progress line can promise: a dump is usually somewhat smaller (no indexes).
  ctx.progress.expect?.(databases.reduce((sum, d) => sum + (d.bytes ?? 0), 0), true);
  let pgDump: ToolVersion;
  let pgDumpAll: ToolVersion;
  try {
    pgDump = await requireSiteTool(site, 'pg_dump', facts.major);
    pgDumpAll = await requireSiteTool(site, 'pg_dumpall', facts.major);
  } catch (error) {
    await kept?.session.close().catch(() => undefined);
    await early.cancel();
    throw error;
  }
  // Made with the tools' names: used only if those are the tools found (in a container a tool's path is its name).
  const stagedGlobals = pgDumpAll.path === 'pg_dumpall' ? early.take('globals') : (await early.cancelOne('globals'), undefined);
  let stagedFirst = pgDump.path === 'pg_dump' && kept && databases[0]?.name === kept.database ? early.take('first') : (await early.cancelOne('first'), undefined);

  const fingerprint: Fingerprint | undefined = ctx.fingerprintScope === 'none' ? undefined : { scope: ctx.fingerprintScope, items: {}, definitions: { ...roles } };
  // Roles and tablespaces come out beside the first database's dump.
  const globals = dumpGlobals(ctx, site, pgDumpAll.path, stagedGlobals);
  const perDatabase: DumpedDatabase[] = [];
  // The session of the database just dumped, handed on (psql's \connect in a container: an exec fewer per database).
  let carried: PgSession | undefined;
  try {
    for (const [index, db] of databases.entries()) {
      // The inspection's session, when it is in this database, holds the snapshot; else the last database's, moved here.
      let given = kept?.database === db.name ? kept.session : undefined;
      if (given) kept = undefined;
      else if (carried) {
        const moving = carried;
        carried = undefined;
        given = moving.moveTo && (await moving.moveTo(db.name)) ? moving : (await moving.close().catch(() => undefined), undefined);
      }
      const staged = index === 0 ? stagedFirst : undefined;
      stagedFirst = undefined;
      const last = index === databases.length - 1 && !kept;
      perDatabase.push(await dumpDatabase(ctx, site, pgDump.path, db, index, fingerprint, given, staged, last ? undefined : (s) => (carried = s)));
    }
  } finally {
    await carried?.close().catch(() => undefined);
    await kept?.session.close().catch(() => undefined);
    await cancelDumps(stagedFirst);
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
      ...site.record(pgDump),
      databases: perDatabase,
      ...(ctx.service.container ? { container: containerRecord(ctx.service.container) } : {}),
    },
    ...(fingerprint ? { fingerprint } : {}),
    inspection: {
      version: facts.version,
      objects: databases.map((d) => ({ name: d.name, kind: 'database', bytes: d.bytes })),
      details: {},
    },
  };
}

/**
 * The server's facts, the databases to dump and the roles, read in one session. It is opened in the first database
 * the service names, when it names one, and kept for that database's dump: in a container each session is an exec.
 */
/** The database the inspection's session opens in: the first the service names, else the site's own (usually dumped too). */
function firstDatabase(ctx: BackupContext, site: PgSite): string {
  const option = ctx.service.options.databases;
  return Array.isArray(option) && option.length ? String(option[0]) : (site.database ?? 'postgres');
}

/** The dump's fixed arguments (the snapshot follows when it is exported). */
const DUMP_ARGS = ['--format=custom', '--compress=0'];
const POST_DATA = ['--section=post-data'];

type Staged = Promise<StagedArtifact | undefined>;
interface StagedDumps {
  dump: Staged;
  postData: Staged;
}

/** Execs made ahead in a container (see backupAt), each taken once or cancelled. */
function stageEarly(ctx: BackupContext, site: PgSite, first: string) {
  const made: { globals?: Staged; first?: StagedDumps } = {};
  if (site.place.stageArtifact) {
    made.globals = stage(site.place.stageArtifact([`pg_dumpall`, '--globals-only', '--no-password'], ctx.artifacts, GLOBALS, { env: site.env(), secrets: site.secrets, signal: ctx.signal, judge: judge(site, 'pg_dumpall') }));
    made.first = stageDumps(ctx, site, 'pg_dump', first, 0);
  }
  const cancelOne = async (which: 'globals' | 'first') => {
    const m = made[which];
    made[which] = undefined;
    if (!m) return;
    await ('dump' in m ? cancelDumps(m) : (await m.catch(() => undefined))?.cancel());
  };
  return {
    take<K extends 'globals' | 'first'>(which: K): NonNullable<(typeof made)[K]> | undefined {
      const m = made[which];
      made[which] = undefined;
      return m as NonNullable<(typeof made)[K]> | undefined;
    },
    cancelOne,
    cancel: async () => {
      await cancelOne('globals');
      await cancelOne('first');
    },
  };
}

/**
 * A staged run whose staging failed is no staged run: the caller then runs the tool as usual. Except a pipe found
 * replaced (integrity): that fails the dump, as it did unstaged. Handled meanwhile (awaited later, or cancelled).
 */
function stage(p: Promise<StagedArtifact | undefined> | undefined): Staged {
  const staged = (p ?? Promise.resolve(undefined)).catch((error: unknown) => {
    if (error instanceof HoldfastError && error.code === 'integrity') throw error;
    return undefined;
  });
  staged.catch(() => undefined);
  return staged;
}

async function cancelDumps(d: StagedDumps | undefined): Promise<void> {
  if (d) await Promise.all([d.dump, d.postData].map(async (p) => (await p.catch(() => undefined))?.cancel()));
}

function artifactNames(name: string, index: number) {
  return { dump: `${artifactSlug(name, index)}.pgdump`, postData: `${artifactSlug(name, index)}.post-data.pgdump` };
}

/** The two dumps of a database, staged in a container (undefined elsewhere). */
function stageDumps(ctx: BackupContext, site: PgSite, pgDump: string, database: string, index: number): StagedDumps | undefined {
  const place = site.place;
  if (!place.stageArtifact) return undefined;
  const names = artifactNames(database, index);
  const options = { env: site.env(database), secrets: site.secrets, signal: ctx.signal, judge: judge(site, 'pg_dump') };
  const args = [pgDump, ...DUMP_ARGS, '--no-password'];
  return {
    dump: stage(place.stageArtifact(args, ctx.artifacts, { name: names.dump, kind: 'pg_dump', label: database }, options)),
    postData: stage(place.stageArtifact([...args, ...POST_DATA], ctx.artifacts, { name: names.postData, kind: 'pg_dump-post-data', label: database }, options)),
  };
}

const GLOBALS = { name: 'globals.sql', kind: 'globals' };

async function inspectForBackup(ctx: BackupContext, site: PgSite, first: string) {
  const read = async (c: PgQueryable) => ({
    facts: await serverFacts(c),
    databases: await selectDatabases(c, site, ctx.service.options.databases),
    // Cluster-wide, like the globals dump beside it; compared when a restore applies the globals.
    roles: ctx.fingerprintScope === 'none' ? {} : await roleDefinitions(c),
  });
  const c = await site.session(first, ctx.signal).catch(() => undefined);
  if (c) {
    try {
      return { ...(await read(c)), kept: { database: first, session: c } as { database: string; session: PgSession } | undefined };
    } catch {
      // E.g. that database does not exist: read where the error is said clearly (selectDatabases names the others).
      await c.close().catch(() => undefined);
    }
  }
  return { ...(await withSession(site, undefined, read, ctx.signal)), kept: undefined as { database: string; session: PgSession } | undefined };
}

function judge(site: PgSite, tool: string) {
  return (exit: ToolExit) => checkPgToolExit(tool, exit, site.service);
}

async function dumpGlobals(ctx: BackupContext, site: PgSite, pgDumpAll: string, staged?: Staged): Promise<void> {
  const dump = (extra: string[]) =>
    site.place.toArtifact([pgDumpAll, '--globals-only', '--no-password', ...extra], ctx.artifacts, GLOBALS, {
      env: site.env(),
      secrets: site.secrets,
      signal: ctx.signal,
      judge: judge(site, 'pg_dumpall'),
    });
  try {
    const ready = await staged;
    await (ready ? ready.go() : dump([]));
  } catch (error) {
    if (!(error instanceof HoldfastError && /permission denied for (table|relation) pg_authid/.test(error.message))) throw error;
    // Non-superusers cannot read role passwords; the roles themselves still come out.
    ctx.note('roles were dumped without passwords (the user cannot read pg_authid)');
    await dump(['--no-role-passwords']);
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
async function dumpDatabase(
  ctx: BackupContext,
  site: PgSite,
  pgDump: string,
  db: DatabaseFacts,
  index: number,
  fingerprint: Fingerprint | undefined,
  given?: PgSession,
  early?: StagedDumps,
  handOn?: (session: PgSession) => void,
): Promise<DumpedDatabase> {
  const { dump: name, postData } = artifactNames(db.name, index);
  ctx.progress.phase(`dump ${db.name}`);
  // In a container the dumps' execs are made while the snapshot is exported (made earlier for the first database).
  const staged = early ?? stageDumps(ctx, site, pgDump, db.name, index);
  let started = false;
  let reusable = false;
  let held: PgSession;
  try {
    held = given ?? (await site.session(db.name, ctx.signal));
  } catch (error) {
    await cancelDumps(staged);
    throw error;
  }
  // An abort (SIGTERM, serve's grace period over) must also end a query that waits, e.g. the
  // fingerprint's count behind another session's lock: closing the session fails it.
  const onAbort = () => void held.close().catch(() => undefined);
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    if (ctx.signal.aborted) throw new HoldfastError('interrupted', 'interrupted', { service: site.service });
    await held.exec('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const snap = await held.query<{ id: string; lsn: string | null }>(
      'SELECT pg_export_snapshot() AS id, CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END::text AS lsn',
    );
    const { id, lsn } = snap.rows[0]!;
    const args = [pgDump, ...DUMP_ARGS, `--snapshot=${id}`, '--no-password'];
    const dump = async (artifact: string, kind: string, extra: string[], ready: Staged | undefined) => {
      const made = await ready;
      if (made) return made.go([`--snapshot=${id}`]);
      return site.place.toArtifact([...args, ...extra], ctx.artifacts, { name: artifact, kind, label: db.name }, {
        env: site.env(db.name),
        secrets: site.secrets,
        signal: ctx.signal,
        judge: judge(site, 'pg_dump'),
      });
    };
    started = true;
    const results = await Promise.allSettled([dump(name, 'pg_dump', [], staged?.dump), dump(postData, 'pg_dump-post-data', POST_DATA, staged?.postData), describeInSnapshot(held, db.name, fingerprint)]);
    // A failed session query ends the transaction that holds the snapshot, and pg_dump then fails on
    // "invalid snapshot identifier": the session's error is the cause, so it is reported first.
    const failed = [results[2], results[0], results[1]].find((r): r is PromiseRejectedResult => r!.status === 'rejected');
    if (failed) throw failed.reason;
    await held.exec('COMMIT');
    reusable = !!handOn && !!held.moveTo && !ctx.signal.aborted;
    const described = (results[2] as PromiseFulfilledResult<Described>).value;
    return { ...db, ...(lsn ? { lsn } : {}), ...described, artifact: name, postData };
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    if (!started) await cancelDumps(staged);
    // Outside its transaction after COMMIT: handed on to the next database, else closed.
    if (reusable) handOn!(held);
    else await held.close().catch(() => undefined);
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

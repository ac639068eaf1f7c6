import { type Fingerprint, type RestoreContext, type RestoreResult } from '../../src/core/driver.js';
import { mapDatabases as mapRecordedDatabases } from '../../src/core/restore-databases.js';
import { HoldfastError } from '../../src/core/errors.js';
import type { ArtifactRecord } from '../../src/repository/manifest.js';
import { ident } from './postgres-connection.js';
import { fingerprintDatabase } from './postgres-fingerprint.js';
import { forgetLeftover, recordWorkingCopy } from './postgres-leftovers.js';
import { serverFacts } from './postgres-inspector.js';
import { literal, type PgSession } from './postgres-queryable.js';
import { applyDatabaseProperties, createDatabaseLike, readDatabaseProperties, type DatabaseProperties } from './postgres-database-properties.js';
import { definitionsOfDatabase, roleDefinitions, type Definitions } from './postgres-definitions.js';
import { preCreateExtensions, updateExtensions, type RecordedExtension } from './postgres-extensions.js';
import { inStep, partialFailure, withRolesUndone } from './postgres-restore-steps.js';
import { applyGlobals, runPgRestore } from './postgres-restore-tools.js';
import { cannotCreateDatabase, checkRestorePrivileges, isEmptyDatabase } from './postgres-privileges.js';
import { endedNote, endSessions, sessionPolicy, type EndedSessions } from './postgres-sessions.js';
import { requireSiteTool, withSession, withSite, type PgSite } from './postgres-site.js';
import { planTablespaces, targetTablespaces, type TablespaceObject, type TablespacePlan } from './postgres-tablespaces.js';

interface RecordedDatabase {
  name: string;
  encoding?: string;
  collate?: string;
  ctype?: string;
  owners?: string[];
  artifact: string;
  /** The post-data section alone (snapshots since 0.1.0). */
  postData?: string;
  /** Database-level properties (owner, ACL, locale, settings...), applied after the restore. */
  properties?: DatabaseProperties;
  extensions?: RecordedExtension[];
  tablespaceObjects?: TablespaceObject[];
}

/**
 * Restores a `pg_dump` snapshot, wherever the target server is (a URL: this
 * host's tools; a container: the image's own, the archives streamed into
 * them through docker exec):
 * 1. checks every target first: a non-empty database is refused without --force;
 * 2. globals, when the target is another server (roles already there are skipped);
 * 3. owners and tablespaces the target lacks are refused before any database
 *    changes, unless --no-owner, --tablespace-map or --no-tablespaces say otherwise;
 * 4. each database into a working copy `<name>__holdfast` created with the
 *    recorded encoding, locale provider and ICU locale (falling back, with a
 *    note, when the target refuses them), its extensions at their recorded
 *    versions, then its database-level properties (owner, ACL, comment,
 *    connection limit, settings), then swapped in by rename, so a failed
 *    restore leaves that database as it was; the admin session sits in a
 *    database that is not being replaced (template1 when `postgres` is);
 * 5. fingerprints (rows and definitions) of the restored databases, keyed by
 *    the source names.
 */
export function restorePgDump(ctx: RestoreContext): Promise<RestoreResult> {
  return withSite(ctx.target, ctx.signal, (site) => restoreAt(ctx, site), (t) => ctx.note(t));
}

async function restoreAt(ctx: RestoreContext, site: PgSite): Promise<RestoreResult> {
  const recordedDbs = (ctx.recorded.details.databases as RecordedDatabase[] | undefined) ?? [];
  const plan = mapDatabases(ctx, site, recordedDbs);
  const jobs = Math.max(1, Number(ctx.options.jobs ?? 2));
  const withOwner = ctx.options.owner !== false;
  const withAcl = ctx.options.acl !== false;
  const adminDb = adminDatabase(plan);
  // Asked while psql gets in (in a container: one exec for both), checked below.
  site.probe(['pg_restore', 'psql']);

  return withSession(site, adminDb, async (admin) => {
    const facts = await serverFacts(admin);
    const pgRestore = await requireSiteTool(site, 'pg_restore', Math.max(facts.major, majorOf(ctx.recorded.details.toolVersion)));
    const psql = await requireSiteTool(site, 'psql', 0);

    // 1. Check all targets before changing anything.
    for (const item of plan) {
      const exists = await databaseExists(admin, item.to);
      if (exists && !ctx.force && !(await isEmptyDatabase(site, item.to, ctx.signal))) {
        throw new HoldfastError('target', `database ${JSON.stringify(item.to)} ${site.where} is not empty`, {
          service: site.service,
          hint:
            site.place.kind === 'host'
              ? 'restore into a new database (--target NAME=postgres://host:port/newdb), or pass --force to replace it'
              : 'restore into another container (--target NAME=container:OTHER), pick one with --database, or pass --force to replace it',
        });
      }
      item.exists = exists;
    }

    // 2. Globals, for another server only: on the same server the roles are the live ones.
    const sameServer = facts.systemIdentifier === ctx.recorded.details.systemIdentifier;
    const globals = ctx.artifacts.records.find((r) => r.kind === 'globals');
    const applyTheGlobals = Boolean(globals && !sameServer && ctx.options.globals !== false);
    // What the role may do, checked before anything changes (postgres-privileges.ts).
    const direct = await checkRestorePrivileges(admin, site, plan.map((p) => p.to), { globals: applyTheGlobals, force: ctx.force });
    let globalsErrors = '';
    let rolesBefore: Set<string> | undefined;
    if (globals && applyTheGlobals) {
      ctx.progress.phase('globals');
      const roles = await roleNames(admin);
      rolesBefore = roles;
      const { count, text } = await applyGlobals(ctx, site, psql.path, globals.name, roles, adminDb);
      globalsErrors = text;
      if (count > 0) ctx.note(`globals: ${count} statement${count > 1 ? 's' : ''} failed: ${text}; roles that existed were left as they were`);
    } else if (globals) {
      ctx.note(sameServer ? 'globals skipped: the target is the server the backup came from' : 'globals skipped (--no-globals)');
    }

    // 3. Roles and tablespaces the restore needs, before any database changes.
    const replaced: string[] = [];
    const restoreAll = async (): Promise<RestoreResult> => {
      const existingRoles = await roleNames(admin);
      const missingOwners = [...new Set(plan.flatMap((p) => (p.db.owners ?? []).filter((r) => !existingRoles.has(r))))];
      if (missingOwners.length && withOwner) {
        throw new HoldfastError('target', `the target lacks role${missingOwners.length > 1 ? 's' : ''} ${missingOwners.join(', ')}, which own${missingOwners.length > 1 ? '' : 's'} objects in the snapshot`, {
          service: site.service,
          driver: 'postgres',
          hint: 'restore the globals too (leave out --no-globals), create the roles on the target, or pass --no-owner (objects then belong to the restoring user; add --no-acl if grants name those roles)',
        });
      }
      const used = new Set(plan.flatMap((p) => [...(p.db.tablespaceObjects ?? []).map((o) => o.tablespace), ...(p.db.properties && p.db.properties.tablespace !== 'pg_default' ? [p.db.properties.tablespace] : [])]));
      const tablespaces = planTablespaces(ctx.options, used, await targetTablespaces(admin), site.service, globalsErrors);

      const fingerprint: Fingerprint = { scope: ctx.recorded.fingerprint?.scope ?? 'full', items: {} };
      const wantDefinitions = !!ctx.recorded.fingerprint?.definitions;
      const definitions: Definitions = {};
      const ended: EndedSessions[] = [];
      for (const item of plan) {
        try {
          await restoreOne(ctx, site, admin, item, { pgRestore: pgRestore.path, jobs, withOwner, withAcl, roles: existingRoles, tablespaces, major: facts.major, direct: direct.has(item.to), ended });
          replaced.push(item.to);
          if (ctx.recorded.fingerprint) {
            ctx.progress.phase(`fingerprint ${item.to}`);
            await inStep(site.service, item.to, 'fingerprint', () =>
              withSession(site, item.to, async (c) => {
                const items = await fingerprintDatabase(c, item.to, fingerprint.scope);
                for (const [key, value] of Object.entries(items)) fingerprint.items[`${item.db.name}${key.slice(item.to.length)}`] = value;
                if (wantDefinitions) await definitionsOfDatabase(c, item.db.name, await readDatabaseProperties(c), definitions);
              }, ctx.signal),
            );
          }
        } catch (error) {
          throw partialFailure(error, site.service, replaced, plan.map((p) => p.to).filter((n) => !replaced.includes(n)));
        }
      }
      const prefixes = plan.map((p) => p.db.name);
      if (wantDefinitions) {
        tablespaces.renameBack(definitions);
        // Roles are compared when this restore applied the globals: those the backup recorded, as recorded.
        const recordedRoles = Object.keys(ctx.recorded.fingerprint!.definitions!).filter((k) => k.startsWith('role '));
        if (rolesBefore && recordedRoles.length) {
          Object.assign(definitions, await roleDefinitions(admin, recordedRoles.map((k) => k.slice(5))));
          prefixes.push(...recordedRoles);
        }
        fingerprint.definitions = definitions;
      }
      return {
        location: plan.map((p) => site.location(p.to)).join(', '),
        ...(ctx.recorded.fingerprint ? { fingerprint } : {}),
        details: { fingerprintPrefixes: prefixes, databases: plan.map((p) => ({ from: p.db.name, to: p.to })), terminatedSessions: ended, ...site.record() },
      };
    };
    try {
      return await restoreAll();
    } catch (error) {
      throw await withRolesUndone(error, admin, site.service, rolesBefore, replaced.length > 0, ctx.options.keep_roles === true || ctx.options.keep_roles === 'true');
    }
  }, ctx.signal);
}

interface RestoreSettings {
  pgRestore: string;
  jobs: number;
  withOwner: boolean;
  withAcl: boolean;
  roles: ReadonlySet<string>;
  tablespaces: TablespacePlan;
  major: number;
  /** The role cannot create the working copy, and owns the existing empty target: restore straight into it (postgres-privileges.ts). */
  direct: boolean;
  /** Sessions the swap ended, named in the output (postgres-sessions.ts). */
  ended: EndedSessions[];
}

/** One database: a working copy with the recorded locale, extensions, pg_restore, properties, tablespace moves, then the swap. */
async function restoreOne(ctx: RestoreContext, site: PgSite, admin: PgSession, item: PlannedDatabase, s: RestoreSettings): Promise<void> {
  const step = <T>(name: string, work: () => Promise<T>) => inStep(site.service, item.to, name, work);
  ctx.progress.phase(`restore ${item.to}`);
  const label = item.to === item.db.name ? item.to : `${item.to} (${item.db.name} in the snapshot)`;
  const props = item.db.properties;
  if (s.direct) ctx.note(`${item.to}: restored straight into the existing empty database (the role cannot create the working copy it would swap in)`);
  const scratch = s.direct ? item.to : scratchName(item.to);
  // In the leftover journal first (by URL or in a container alike): a kill -9 from here on leaves nothing the next command does not remove.
  // A restore test's throwaway container goes as a whole (docker-scratch.ts): nothing to journal there.
  const leftover = s.direct || ctx.options.throwaway === true ? undefined : await recordWorkingCopy(ctx.target, scratch, item.to);
  if (!s.direct) {
    await step('drop a leftover working copy', () => admin.exec(`DROP DATABASE IF EXISTS ${ident(scratch)}`));
    const dbTablespace = props && props.tablespace !== 'pg_default' ? s.tablespaces.target(props.tablespace) : undefined;
    await step('create the database', () =>
      createDatabaseLike(admin, scratch, props ?? item.db, s.major, dbTablespace, ctx.note, label).catch((error: unknown) => {
        throw cannotCreateDatabase(error, site.user, scratch, site.service) ?? error;
      }),
    );
  }
  try {
    if (item.db.extensions) await withSession(site, scratch, (c) => step('create extensions at their recorded versions', () => preCreateExtensions(c, item.db.extensions!, ctx.note, label)), ctx.signal);
    await step('pg_restore', () => runPgRestore(ctx, site, s.pgRestore, scratch, { artifact: item.record.name, ...(item.db.postData ? { postData: item.db.postData } : {}), rawBytes: item.record.rawBytes, label: item.to }, { noOwner: !s.withOwner, noAcl: !s.withAcl, noTablespaces: s.tablespaces.noTablespaces }, s.jobs));
    await withSession(site, scratch, async (c) => {
      if (item.db.extensions) await step('update extensions', () => updateExtensions(c, item.db.extensions!, ctx.note, label));
      for (const move of s.tablespaces.moves(item.db.tablespaceObjects ?? [])) {
        await step(`move ${move.what}`, () => c.exec(move.sql));
      }
    }, ctx.signal);
    if (props) {
      await step('apply database properties', () => applyDatabaseProperties(admin, scratch, props, { owner: s.withOwner, acl: s.withAcl, roles: s.roles, note: ctx.note, label }));
      await step('compare the collation version', () => noteCollationVersion(admin, scratch, props, ctx.note, label));
    }
    if (!s.direct) await step('swap the restored copy in', () => swapIn(admin, scratch, item.to, item.exists, ctx, s.ended));
  } catch (error) {
    if (!s.direct) await admin.exec(`DROP DATABASE IF EXISTS ${ident(scratch)}`).then(() => leftover && forgetLeftover(leftover), () => undefined);
    throw error;
  }
  if (leftover) await forgetLeftover(leftover);
}

/** The admin session's database: one that is not being replaced (a session cannot rename the database it sits in). */
function adminDatabase(plan: readonly PlannedDatabase[]): string {
  return ['postgres', 'template1'].find((d) => !plan.some((p) => p.to === d))!;
}

async function roleNames(c: PgSession): Promise<Set<string>> {
  return new Set((await c.query<{ rolname: string }>('SELECT rolname FROM pg_roles')).rows.map((r) => r.rolname));
}

/** The ICU or libc collation version of the new database against the recorded one: text indexes may need a REINDEX when they differ. */
async function noteCollationVersion(c: PgSession, name: string, p: DatabaseProperties, note: (t: string) => void, label: string): Promise<void> {
  if (!p.collversion) return;
  const now = (await c.query<{ v: string | null }>(`SELECT datcollversion AS v FROM pg_database WHERE datname = ${literal(name)}`)).rows[0]?.v;
  if (now && now !== p.collversion) note(`${label}: collation version ${now} on the target, ${p.collversion} at backup: text sort order may differ; REINDEX indexes on text and run ALTER DATABASE ... REFRESH COLLATION VERSION`);
}

interface PlannedDatabase {
  db: RecordedDatabase;
  record: ArtifactRecord;
  to: string;
  exists?: boolean;
}

function mapDatabases(ctx: RestoreContext, site: PgSite, recorded: RecordedDatabase[]): PlannedDatabase[] {
  return mapRecordedDatabases(ctx, { service: site.service, database: site.database, driver: 'postgres' }, recorded);
}

function majorOf(version: unknown): number {
  return typeof version === 'string' ? Number(version.split('.')[0]) || 0 : 0;
}

function scratchName(name: string): string {
  const suffix = '__holdfast';
  return Buffer.byteLength(name) + suffix.length <= 63 ? name + suffix : `${Buffer.from(name).subarray(0, 40).toString()}_${Date.now()}${suffix}`;
}

async function databaseExists(c: PgSession, name: string): Promise<boolean> {
  return (await c.query(`SELECT 1 AS x FROM pg_database WHERE datname = ${literal(name)}`)).rows.length > 0;
}

async function swapIn(c: PgSession, scratch: string, final: string, exists: boolean | undefined, ctx: RestoreContext, ended: EndedSessions[]): Promise<void> {
  if (exists) {
    const old = `${scratchName(final)}_old`;
    // Sessions on the database it replaces are terminated and named, or waited for (postgres-sessions.ts).
    const sessions = await endSessions(c, final, sessionPolicy(ctx.options, ctx.target.name));
    const note = endedNote(sessions);
    if (note) {
      ctx.note(note);
      ended.push(sessions);
    }
    await c.exec(`ALTER DATABASE ${ident(final)} RENAME TO ${ident(old)}`);
    await c.exec(`ALTER DATABASE ${ident(scratch)} RENAME TO ${ident(final)}`);
    await c.exec(`DROP DATABASE ${ident(old)}`);
  } else {
    await c.exec(`ALTER DATABASE ${ident(scratch)} RENAME TO ${ident(final)}`);
  }
}

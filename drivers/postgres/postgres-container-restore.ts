import type { Readable } from 'node:stream';
import { applyPropertiesInContainer, withExtensionSession } from './postgres-container-properties.js';
import { readDatabaseProperties, type DatabaseProperties } from './postgres-database-properties.js';
import { definitionsOfDatabase, roleDefinitions, type Definitions } from './postgres-definitions.js';
import { preCreateExtensions, updateExtensions, type RecordedExtension } from './postgres-extensions.js';
import type { Fingerprint, RestoreContext, RestoreResult } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import type { ToolExit } from '../../src/core/process.js';
import { conninfoFor, pgContainer, pgExec, type PgContainer } from './postgres-container.js';
import { containerToolVersion } from './postgres-container-strategies.js';
import { ident } from './postgres-connection.js';
import { fingerprintDatabase } from './postgres-fingerprint.js';
import { skipExistingRoles } from './postgres-globals-filter.js';
import { serverFacts } from './postgres-inspector.js';
import { PsqlSession } from './postgres-psql-session.js';
import { partialFailure, psqlErrors } from './postgres-restore-steps.js';
import { checkPgToolExit } from './postgres-tools.js';

interface RecordedDatabase {
  name: string;
  encoding?: string;
  collate?: string;
  ctype?: string;
  owners?: string[];
  artifact: string;
  postData?: string;
  properties?: DatabaseProperties;
  extensions?: RecordedExtension[];
}

/**
 * Restores a `pg_dump` snapshot into a PostgreSQL container (the one backed
 * up, or another with --target NAME=container:OTHER), with the tools of that
 * container and the archives streamed into pg_restore's stdin through docker
 * exec. The same rules as the host path: every target database is checked
 * first (non-empty refused without --force); globals only into another
 * server; each database restored into a scratch database and swapped in by
 * rename; owning roles the target lacks are refused unless --no-owner; the
 * database-level properties and extension versions are applied as on the
 * host path (postgres-container-properties.ts); fingerprints with definitions.
 */
export async function restoreInContainer(ctx: RestoreContext): Promise<RestoreResult> {
  const pc = await pgContainer(ctx.target, ctx.signal);
  const recorded = (ctx.recorded.details.databases as RecordedDatabase[] | undefined) ?? [];
  const only = ctx.options.database === undefined ? undefined : String(ctx.options.database);
  const plan = only === undefined ? recorded : recorded.filter((d) => d.name === only);
  if (plan.length === 0) {
    throw new HoldfastError('not-found', `the snapshot has no database ${JSON.stringify(only)}`, { service: pc.service, hint: `it has: ${recorded.map((d) => d.name).join(', ')}` });
  }
  if (ctx.options.tablespace_map !== undefined) {
    throw new HoldfastError('usage', '--tablespace-map is not supported for a restore into a container yet', { service: pc.service, driver: 'postgres', hint: 'use --no-tablespaces, or create the tablespaces in the container first' });
  }
  const pgRestore = await containerToolVersion(pc, 'pg_restore');
  if (!pgRestore) throw new HoldfastError('tool', `pg_restore is not in the image of container ${pc.name}`, { service: pc.service, driver: 'postgres' });
  // Never connected to a database it replaces: `postgres` itself may be in the snapshot.
  const adminDb = plan.some((d) => d.name === 'postgres') ? 'template1' : 'postgres';
  const admin = await PsqlSession.open(pc, adminDb, ctx.signal);
  try {
    const facts = await serverFacts(admin);
    const recordedMajor = Number(String(ctx.recorded.details.toolVersion ?? '0').split('.')[0]) || 0;
    if (pgRestore.major < Math.max(facts.major, recordedMajor)) {
      throw new HoldfastError('tool', `pg_restore ${pgRestore.version} in ${pc.name} is older than the dump (${String(ctx.recorded.details.toolVersion)}) or the server (${facts.version})`, {
        service: pc.service,
        hint: 'restore into a container of the same or a newer PostgreSQL major',
      });
    }
    const exists = new Map<string, boolean>();
    for (const db of plan) {
      const there = (await admin.query<{ n: number }>(`SELECT 1 AS n FROM pg_database WHERE datname = ${literal(db.name)}`)).rows.length > 0;
      exists.set(db.name, there);
      if (there && !ctx.force && !(await isEmpty(pc, db.name, ctx.signal))) {
        throw new HoldfastError('target', `database ${JSON.stringify(db.name)} in container ${pc.name} is not empty`, {
          service: pc.service,
          hint: 'restore into another container (--target NAME=container:OTHER), pick one with --database, or pass --force to replace it',
        });
      }
    }
    const sameServer = facts.systemIdentifier === ctx.recorded.details.systemIdentifier;
    const globals = ctx.artifacts.records.find((r) => r.kind === 'globals');
    const globalsApplied = !!globals && !sameServer && ctx.options.globals !== false;
    if (globals && globalsApplied) {
      ctx.progress.phase('globals');
      const roles = new Set((await admin.query<{ rolname: string }>('SELECT rolname FROM pg_roles')).rows.map((r) => r.rolname));
      const exit = await feed(pc, ['psql', '--no-psqlrc', '--quiet', '--set', 'ON_ERROR_STOP=0', '--no-password'], 'postgres', ctx.artifacts.open(globals.name).pipe(skipExistingRoles(roles)), ctx.signal);
      checkPgToolExit('psql', exit, pc.service);
      const errors = (exit.stderr.match(/ERROR:/g) ?? []).length;
      if (errors > 0) ctx.note(`globals: ${errors} statements failed: ${psqlErrors(exit.stderr)}; roles that existed were left as they were`);
    }
    const roles = new Set((await admin.query<{ rolname: string }>('SELECT rolname FROM pg_roles')).rows.map((r) => r.rolname));
    const withOwner = ctx.options.owner !== false;
    const withAcl = ctx.options.acl !== false;
    const missingOwners = [...new Set(plan.flatMap((d) => (d.owners ?? []).filter((r) => !roles.has(r))))];
    if (missingOwners.length && withOwner) {
      throw new HoldfastError('target', `container ${pc.name} lacks role${missingOwners.length > 1 ? 's' : ''} ${missingOwners.join(', ')}, which own objects in the snapshot`, {
        service: pc.service,
        driver: 'postgres',
        hint: 'restore the globals too (leave out --no-globals), create the roles, or pass --no-owner (add --no-acl if grants name those roles)',
      });
    }
    const fingerprint: Fingerprint = { scope: ctx.recorded.fingerprint?.scope ?? 'full', items: {} };
    const wantDefinitions = !!ctx.recorded.fingerprint?.definitions;
    const definitions: Definitions = {};
    const replaced: string[] = [];
    for (const db of plan) {
      try {
        ctx.progress.phase(`restore ${db.name}`);
        const scratch = `${db.name.slice(0, 40)}__holdfast`;
        await admin.command(`DROP DATABASE IF EXISTS ${ident(scratch)}`);
        await createScratch(admin, scratch, db);
        try {
          if (db.extensions) await withExtensionSession(pc, scratch, ctx.signal, (c) => preCreateExtensions(c, db.extensions!, ctx.note, db.name));
          const no = [...(withOwner ? [] : ['--no-owner']), ...(withAcl ? [] : ['--no-acl']), ...(ctx.options.tablespaces === false ? ['--no-tablespaces'] : [])];
          const base = ['pg_restore', '--exit-on-error', '--no-password', `--dbname=${conninfoFor(scratch)}`, ...no];
          const sections = db.postData ? [['--section=pre-data', '--section=data'], ['--section=post-data']] : [[]];
          for (const [i, extra] of sections.entries()) {
            const artifact = i === 1 ? db.postData! : db.artifact;
            checkPgToolExit('pg_restore', await feed(pc, [...base, ...extra], scratch, ctx.artifacts.open(artifact), ctx.signal), pc.service);
          }
          if (db.extensions) await withExtensionSession(pc, scratch, ctx.signal, (c) => updateExtensions(c, db.extensions!, ctx.note, db.name));
          if (db.properties) {
            const runScript = (script: Readable) => feed(pc, ['psql', '--no-psqlrc', '--quiet', '--set', 'ON_ERROR_STOP=0', '--no-password'], adminDb, script, ctx.signal);
            await applyPropertiesInContainer(scratch, db.properties, { owner: withOwner, acl: withAcl, roles, note: ctx.note, label: db.name }, runScript);
          }
          if (exists.get(db.name)) {
            await admin.query(`SELECT pg_terminate_backend(pid) AS t FROM pg_stat_activity WHERE datname = ${literal(db.name)} AND pid <> pg_backend_pid()`);
            await admin.command(`DROP DATABASE ${ident(db.name)}`);
          }
          await admin.command(`ALTER DATABASE ${ident(scratch)} RENAME TO ${ident(db.name)}`);
        } catch (error) {
          await admin.command(`DROP DATABASE IF EXISTS ${ident(scratch)}`).catch(() => undefined);
          throw error;
        }
        replaced.push(db.name);
        if (ctx.recorded.fingerprint) {
          const session = await PsqlSession.open(pc, db.name, ctx.signal);
          try {
            await fingerprintDatabase(session, db.name, fingerprint.scope, fingerprint.items);
            if (wantDefinitions) await definitionsOfDatabase(session, db.name, await readDatabaseProperties(session), definitions);
          } finally {
            await session.close();
          }
        }
      } catch (error) {
        throw partialFailure(error, pc.service, replaced, plan.map((d) => d.name).filter((n) => !replaced.includes(n)));
      }
    }
    const prefixes = plan.map((d) => d.name);
    if (wantDefinitions) {
      // Roles are compared when this restore applied the globals: those the backup recorded.
      const recordedRoles = Object.keys(ctx.recorded.fingerprint!.definitions!).filter((k) => k.startsWith('role '));
      if (globalsApplied && recordedRoles.length) {
        Object.assign(definitions, await roleDefinitions(admin, recordedRoles.map((k) => k.slice(5))));
        prefixes.push(...recordedRoles);
      }
      fingerprint.definitions = definitions;
    }
    return {
      location: plan.map((d) => `container:${pc.name}/${d.name}`).join(', '),
      ...(ctx.recorded.fingerprint ? { fingerprint } : {}),
      details: { fingerprintPrefixes: prefixes, toolsRanIn: `container ${pc.name}` },
    };
  } finally {
    await admin.close();
  }
}

async function createScratch(admin: PsqlSession, scratch: string, db: RecordedDatabase): Promise<void> {
  const base = `CREATE DATABASE ${ident(scratch)} TEMPLATE template0`;
  // psql stops at an error and the session with it: no second try with the default locale here.
  const p = db.properties;
  const icu = p?.localeProvider === 'i' && p.icuLocale ? ` LOCALE_PROVIDER icu ICU_LOCALE ${literal(p.icuLocale)}` : '';
  const locale = db.encoding && db.collate && db.ctype ? ` ENCODING ${literal(db.encoding)} LC_COLLATE ${literal(db.collate)} LC_CTYPE ${literal(db.ctype)}${icu}` : '';
  try {
    await admin.command(base + locale);
  } catch (error) {
    throw new HoldfastError('target', `cannot create database ${db.name} (${db.encoding}, ${db.collate}) in the target: ${(error as Error).message}`, {
      hint: 'restore into a server whose image has that locale',
      cause: error,
    });
  }
}

async function isEmpty(pc: PgContainer, database: string, signal: AbortSignal): Promise<boolean> {
  const session = await PsqlSession.open(pc, database, signal);
  try {
    const { rows } = await session.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`,
    );
    return rows[0]?.n === '0';
  } finally {
    await session.close();
  }
}

/** Streams `source` into a tool's stdin inside the container; resolves with its exit. */
async function feed(pc: PgContainer, argv: string[], database: string, source: Readable, signal: AbortSignal): Promise<ToolExit> {
  const run = await pgExec(pc, argv, { database, stdin: true, signal });
  run.stdout.resume();
  const fed = new Promise<void>((resolve, reject) => {
    source.once('error', (e) => {
      run.abort();
      reject(e);
    });
    run.stdin!.once('error', () => resolve()); // the tool quit early; its exit says why
    source.pipe(run.stdin!).once('finish', resolve);
  });
  const [feeding, exit] = await Promise.allSettled([fed, run.done]);
  if (feeding.status === 'rejected') throw feeding.reason;
  if (exit.status === 'rejected') throw exit.reason;
  return { code: exit.value.exitCode, signal: null, stderr: exit.value.stderr };
}

function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

import { renameOption, type RestoreNeed, type RestoreNeedsContext } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { ident } from './postgres-connection.js';
import { literal, type PgSession } from './postgres-queryable.js';
import { withSession, withSite, type PgSite } from './postgres-site.js';
import { selectDatabases, serverFacts } from './postgres-inspector.js';

/**
 * What a `pg_dump` restore needs from the role it connects as, checked
 * before anything changes: `plan`, `restore --dry-run` and the restore
 * itself list each need with the statement that meets it, naming the role.
 *
 * - a database that does not exist yet: CREATEDB (or superuser);
 * - an existing database: the role owns it (it is renamed away and dropped
 *   when replaced), or is superuser. One that is empty and the role's own is
 *   restored into directly when the role cannot create databases;
 * - replacing a non-empty database (--force): CREATEDB too, for the copy
 *   that is built beside it and swapped in;
 * - roles and tablespaces (globals, onto another server): superuser.
 */
export interface RolePowers {
  role: string;
  superuser: boolean;
  createdb: boolean;
}

export interface TargetDatabase {
  name: string;
  exists: boolean;
  owner?: string;
  /** Only known when it exists. */
  empty?: boolean;
}

export async function rolePowers(c: PgSession): Promise<RolePowers> {
  const { rows } = await c.query<{ role: string; superuser: boolean; createdb: boolean }>(
    'SELECT rolname AS role, rolsuper AS superuser, rolcreatedb AS createdb FROM pg_roles WHERE rolname = current_user',
  );
  return rows[0] ?? { role: 'current_user', superuser: false, createdb: false };
}

export async function targetDatabases(c: PgSession, t: PgSite, names: readonly string[]): Promise<TargetDatabase[]> {
  const out: TargetDatabase[] = [];
  for (const name of names) {
    const { rows } = await c.query<{ owner: string }>(`SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = ${literal(name)}`);
    if (!rows[0]) {
      out.push({ name, exists: false });
      continue;
    }
    const empty = await isEmptyDatabase(t, name).catch(() => undefined);
    out.push({ name, exists: true, owner: rows[0].owner, ...(empty !== undefined ? { empty } : {}) });
  }
  return out;
}

/** Has the database no relations of its own? */
export async function isEmptyDatabase(site: PgSite, name: string, signal?: AbortSignal): Promise<boolean> {
  return withSession(site, name, async (c) => {
    const { rows } = await c.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`,
    );
    return rows[0]!.n === '0';
  }, signal);
}

export interface RestorePlanOfRole {
  needs: RestoreNeed[];
  /** Existing, empty databases of the role that it restores into directly (it cannot create the working copy). */
  direct: Set<string>;
}

export function restoreNeeds(role: RolePowers, databases: readonly TargetDatabase[], options: { globals: boolean; force: boolean }): RestorePlanOfRole {
  const needs: RestoreNeed[] = [];
  const direct = new Set<string>();
  const r = ident(role.role);
  const canCreate = role.superuser || role.createdb;
  for (const db of databases) {
    const d = ident(db.name);
    if (!db.exists) {
      needs.push({
        need: `create database ${db.name} (role ${role.role} needs CREATEDB)`,
        met: canCreate,
        fix: `ALTER ROLE ${r} CREATEDB;   -- or, as a superuser: CREATE DATABASE ${d} OWNER ${r}; (restored into as the role's own empty database)`,
      });
      continue;
    }
    const owns = role.superuser || db.owner === role.role;
    if (db.empty !== false) {
      needs.push({
        need: `restore into the existing empty database ${db.name} (role ${role.role} must own it; it belongs to ${db.owner})`,
        met: owns,
        fix: `ALTER DATABASE ${d} OWNER TO ${r};`,
      });
      if (owns && !canCreate) direct.add(db.name);
      continue;
    }
    if (!options.force) continue; // refused anyway, with its own message: not empty without --force
    needs.push({ need: `replace database ${db.name} (role ${role.role} must own it; it belongs to ${db.owner})`, met: owns, fix: `ALTER DATABASE ${d} OWNER TO ${r};` });
    needs.push({ need: `build the replacement of ${db.name} beside it (role ${role.role} needs CREATEDB)`, met: canCreate, fix: `ALTER ROLE ${r} CREATEDB;` });
  }
  if (options.globals) {
    needs.push({
      need: `recreate roles and tablespaces on this server (role ${role.role} must be superuser)`,
      met: role.superuser,
      fix: `ALTER ROLE ${r} SUPERUSER;   -- or restore with --no-globals and create the roles by hand`,
    });
  }
  return { needs, direct };
}

/** Throws one error listing every unmet need, each with its fix, before the restore changes anything. */
export function assertNeedsMet(needs: readonly RestoreNeed[], role: string, where: string, service?: string): void {
  const unmet = needs.filter((n) => !n.met);
  if (unmet.length === 0) return;
  throw new HoldfastError('target', `role ${role} cannot restore here (${where}): ${unmet.map((n) => n.need).join('; ')}`, {
    ...(service ? { service } : {}),
    driver: 'postgres',
    hint: `as a superuser, run: ${unmet.map((n) => n.fix).join('  ')}`,
  });
}

/** The server refused CREATE DATABASE: say so with the role and the fix, never as a locale note. */
export function cannotCreateDatabase(error: unknown, role: string, name: string, service?: string): HoldfastError | undefined {
  if ((error as { code?: string }).code !== '42501') return undefined;
  return new HoldfastError('target', `role ${role} may not create databases, and the restore needs one (${name})`, {
    ...(service ? { service } : {}),
    driver: 'postgres',
    hint: `as a superuser, run ALTER ROLE ${ident(role)} CREATEDB; or create the target database empty and owned by the role (CREATE DATABASE ... OWNER ${ident(role)};), which it then restores into directly`,
    cause: error,
  });
}

/**
 * Driver.restoreNeeds for PostgreSQL: the databases the restore would
 * write (the recorded ones, mapped as the restore maps them; for `plan`,
 * the live ones, replaced in place), and globals when they would be applied.
 */
export async function postgresRestoreNeeds(ctx: RestoreNeedsContext): Promise<RestoreNeed[]> {
  if (ctx.strategy !== 'pg_dump') return [];
  return withSite(ctx.target, undefined, (t) => withSession(t, 'postgres', async (c) => {
    const facts = await serverFacts(c);
    let names: string[];
    let force = ctx.force;
    let globals = false;
    if (ctx.recorded) {
      const recorded = ((ctx.recorded.details.databases as Array<{ name: string }> | undefined) ?? []).map((d) => d.name);
      const only = ctx.options.database === undefined ? recorded : recorded.filter((n) => n === String(ctx.options.database));
      const rename = renameOption(ctx.options);
      names = only.map((n) => rename?.[n] ?? (!ctx.inPlace && t.database ? t.database : n));
      globals = ctx.options.globals !== false && facts.systemIdentifier !== ctx.recorded.details.systemIdentifier;
    } else {
      // plan: the live databases, restored over themselves (which takes --force).
      names = (await selectDatabases(c, t, ctx.target.options.databases)).map((d) => d.name);
      force = true;
    }
    const role = await rolePowers(c);
    return restoreNeeds(role, await targetDatabases(c, t, names), { globals, force }).needs;
  }));
}

/**
 * The check the restore runs first: every unmet need at once, with the
 * fixes; returns the databases to restore into directly.
 */
export async function checkRestorePrivileges(c: PgSession, t: PgSite, names: readonly string[], options: { globals: boolean; force: boolean }): Promise<Set<string>> {
  const role = await rolePowers(c);
  const { needs, direct } = restoreNeeds(role, await targetDatabases(c, t, names), options);
  assertNeedsMet(needs, role.role, t.where.replace(/^(on|in) /, ''), t.service);
  return direct;
}

import { ident } from './postgres-connection.js';
import type { PgQueryable, PgSession } from './postgres-queryable.js';

/**
 * The properties of a PostgreSQL database that `pg_restore` without
 * `--create` leaves behind (owner, ACL, comment, connection limit, `ALTER
 * DATABASE ... SET`, `ALTER ROLE ... IN DATABASE ... SET`) and those only
 * `CREATE DATABASE` can give (encoding, locale provider, ICU locale,
 * collations, default tablespace): read at backup inside the dump's
 * snapshot, recorded in the manifest, applied to the restored database
 * before it is swapped in. What cannot be applied is said in a note.
 */
export interface DatabaseProperties {
  owner: string;
  /** The ACL entries, or null for the default ACL (never changed). */
  acl: AclEntry[] | null;
  comment: string | null;
  connlimit: number;
  encoding: string;
  /** `c` libc, `i` ICU (PostgreSQL 15+). */
  localeProvider: string;
  collate: string;
  ctype: string;
  icuLocale: string | null;
  collversion: string | null;
  tablespace: string;
  /** `ALTER DATABASE ... SET` (role null) and `ALTER ROLE ... IN DATABASE ... SET`: `name=value` as the catalog holds them. */
  settings: Array<{ role: string | null; settings: string[] }>;
}

export interface AclEntry {
  /** '' is PUBLIC. */
  grantee: string;
  grantor: string;
  privilege: string;
  grantable: boolean;
}

/** Reads the current database's properties (run it in the dump's snapshot transaction). */
export async function readDatabaseProperties(c: PgQueryable): Promise<DatabaseProperties> {
  const v15 = Number((await c.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]!.v) >= 150000;
  const { rows } = await c.query<Record<string, unknown>>(
    `SELECT pg_get_userbyid(d.datdba) AS owner,
            (SELECT json_agg(json_build_object('grantee', CASE WHEN a.grantee = 0 THEN '' ELSE pg_get_userbyid(a.grantee) END,
                                               'grantor', pg_get_userbyid(a.grantor), 'privilege', a.privilege_type, 'grantable', a.is_grantable))
               FROM aclexplode(d.datacl) a) AS acl,
            d.datacl IS NULL AS default_acl,
            shobj_description(d.oid, 'pg_database') AS comment,
            d.datconnlimit AS connlimit, pg_encoding_to_char(d.encoding) AS encoding,
            ${v15 ? 'd.datlocprovider::text' : "'c'"} AS provider, d.datcollate AS collate, d.datctype AS ctype,
            ${v15 ? 'd.daticulocale' : 'NULL::text'} AS icu_locale, ${v15 ? 'd.datcollversion' : 'NULL::text'} AS collversion,
            t.spcname AS tablespace,
            (SELECT json_agg(json_build_object('role', CASE WHEN s.setrole = 0 THEN NULL ELSE pg_get_userbyid(s.setrole) END, 'settings', s.setconfig) ORDER BY s.setrole)
               FROM pg_db_role_setting s WHERE s.setdatabase = d.oid) AS settings
       FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace
      WHERE d.datname = current_database()`,
  );
  const r = rows[0]!;
  const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));
  return {
    owner: String(r.owner),
    acl: r.default_acl ? null : (json<AclEntry[] | null>(r.acl) ?? []),
    comment: (r.comment as string | null) ?? null,
    connlimit: Number(r.connlimit),
    encoding: String(r.encoding),
    localeProvider: String(r.provider),
    collate: String(r.collate),
    ctype: String(r.ctype),
    icuLocale: (r.icu_locale as string | null) ?? null,
    collversion: (r.collversion as string | null) ?? null,
    tablespace: String(r.tablespace),
    settings: json<DatabaseProperties['settings'] | null>(r.settings) ?? [],
  };
}

const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

/**
 * `CREATE DATABASE` with the recorded encoding, locale provider, ICU locale
 * and collations (and tablespace, when given). When the target cannot (an
 * ICU locale or a libc locale it lacks), it tries without ICU, then with the
 * server's defaults, and says what it dropped and why.
 */
export async function createDatabaseLike(c: Pick<PgSession, 'exec'>, name: string, p: Partial<DatabaseProperties>, targetMajor: number, tablespace: string | undefined, note: (t: string) => void, label: string): Promise<void> {
  const base = `CREATE DATABASE ${ident(name)} TEMPLATE template0${tablespace ? ` TABLESPACE ${ident(tablespace)}` : ''}`;
  const libc = p.encoding && p.collate && p.ctype ? ` ENCODING ${literal(p.encoding)} LC_COLLATE ${literal(p.collate)} LC_CTYPE ${literal(p.ctype)}` : '';
  const attempts: Array<{ sql: string; lost?: string }> = [];
  if (p.localeProvider === 'i' && p.icuLocale) {
    const icu = `${libc} LOCALE_PROVIDER icu ICU_LOCALE ${literal(p.icuLocale)}`;
    if (targetMajor >= 15) attempts.push({ sql: base + icu });
    attempts.push({ sql: base + libc, lost: `locale provider icu (ICU locale ${p.icuLocale})` });
  } else if (libc) {
    attempts.push({ sql: base + libc });
  }
  attempts.push({ sql: base, lost: `${libc ? `encoding ${p.encoding}, LC_COLLATE ${p.collate}, LC_CTYPE ${p.ctype}` : 'the recorded locale'}` });
  let failure = '';
  for (const [i, attempt] of attempts.entries()) {
    try {
      await c.exec(attempt.sql);
      if (attempt.lost && i > 0) note(`${label}: created without ${attempt.lost}: the target refused it (${failure}); its sort order may differ from the source`);
      return;
    } catch (error) {
      failure = (error as Error).message;
      if (i === attempts.length - 1) throw error;
    }
  }
}

/** One statement, made as `asRole` when set (a grant by someone other than the owner). */
export interface PropertyStatement {
  what: string;
  sql: string;
  asRole?: string;
}

export interface ApplyOptions {
  /** --no-owner: the database keeps the restoring user as owner. */
  owner: boolean;
  /** --no-acl: the database keeps the default ACL. */
  acl: boolean;
  roles: ReadonlySet<string>;
  note(text: string): void;
  /** The database as the user knows it, for notes. */
  label: string;
}

/**
 * Applies owner, ACL, comment, connection limit and settings to `name`
 * (the restored copy, before it is swapped in). Each statement on its own:
 * one that fails (a missing role, an unknown setting) becomes a note naming
 * the property, the value and the server's reason; the rest still apply.
 */
export async function applyDatabaseProperties(c: Pick<PgSession, 'exec'>, name: string, p: DatabaseProperties, o: ApplyOptions): Promise<void> {
  for (const { what, sql, asRole } of databasePropertyStatements(name, p, o)) {
    try {
      // One statement a call: psql in a container runs each on its own, and SET ROLE must not outlive a failed grant.
      if (asRole) await c.exec(`SET ROLE ${ident(asRole)}`);
      await c.exec(sql);
    } catch (error) {
      o.note(`${o.label}: ${what} not applied: ${(error as Error).message}`);
    }
    if (asRole) await c.exec('RESET ROLE').catch(() => undefined);
  }
}

/**
 * The statements that give `name` the recorded properties, each with what it
 * applies (for a note when it fails). What cannot be applied at all (a role
 * the target lacks, --no-owner, --no-acl) is said through `o.note` here.
 */
export function databasePropertyStatements(name: string, p: DatabaseProperties, o: ApplyOptions): PropertyStatement[] {
  const db = ident(name);
  const out: PropertyStatement[] = [];
  const missing = (role: string) => role !== '' && !o.roles.has(role);
  if (!o.owner) o.note(`${o.label}: owner ${p.owner} not applied (--no-owner)`);
  else if (missing(p.owner)) o.note(`${o.label}: owner ${p.owner} not applied: the role does not exist on the target`);
  else out.push({ what: `owner ${p.owner}`, sql: `ALTER DATABASE ${db} OWNER TO ${ident(p.owner)}` });

  if (p.acl && !o.acl) o.note(`${o.label}: ACL not applied (--no-acl): the database has the default privileges (PUBLIC may connect)`);
  else if (p.acl) out.push(...aclStatements(db, p, o));

  if (p.comment !== null) out.push({ what: 'comment', sql: `COMMENT ON DATABASE ${db} IS ${literal(p.comment)}` });
  if (p.connlimit !== -1) out.push({ what: `connection limit ${p.connlimit}`, sql: `ALTER DATABASE ${db} CONNECTION LIMIT ${Number(p.connlimit)}` });
  for (const { role, settings } of p.settings) {
    if (role !== null && missing(role)) {
      o.note(`${o.label}: settings of role ${role} in this database (${settings.join(', ')}) not applied: the role does not exist on the target`);
      continue;
    }
    for (const setting of settings) {
      const at = setting.indexOf('=');
      const key = setting.slice(0, at);
      const target = role === null ? `ALTER DATABASE ${db}` : `ALTER ROLE ${ident(role)} IN DATABASE ${db}`;
      out.push({ what: `setting ${setting}${role === null ? '' : ` for role ${role}`}`, sql: `${target} SET ${ident(key)} TO ${settingValue(key, setting.slice(at + 1))}` });
    }
  }
  return out;
}

/** Revokes what a fresh database grants, then grants exactly the recorded entries (as their grantor when it is not the owner). */
function aclStatements(db: string, p: DatabaseProperties, o: ApplyOptions): PropertyStatement[] {
  const owner = o.owner && o.roles.has(p.owner) ? p.owner : undefined;
  const out: PropertyStatement[] = [{ what: 'ACL (revoking the defaults)', sql: `REVOKE ALL ON DATABASE ${db} FROM PUBLIC${owner ? `, ${ident(owner)}` : ''}` }];
  for (const e of p.acl!) {
    const who = e.grantee === '' ? 'PUBLIC' : ident(e.grantee);
    if (e.grantee !== '' && !o.roles.has(e.grantee)) {
      o.note(`${o.label}: ACL entry ${e.privilege} for ${e.grantee} not applied: the role does not exist on the target`);
      continue;
    }
    const grant = `GRANT ${e.privilege} ON DATABASE ${db} TO ${who}${e.grantable ? ' WITH GRANT OPTION' : ''}`;
    // A grant by someone other than the owner is recorded under that grantor: made as that role, it comes back the same.
    const asGrantor = e.grantor !== p.owner && o.roles.has(e.grantor);
    out.push({ what: `ACL entry ${e.privilege} for ${e.grantee || 'PUBLIC'}`, sql: grant, ...(asGrantor ? { asRole: e.grantor } : {}) });
  }
  return out;
}

/** Settings that hold a list, written as the server would re-read them (as pg_dump does). */
const LIST_SETTINGS = new Set(['search_path', 'temp_tablespaces', 'session_preload_libraries', 'shared_preload_libraries', 'local_preload_libraries']);

export function settingValue(key: string, value: string): string {
  if (!LIST_SETTINGS.has(key.toLowerCase())) return literal(value);
  return splitList(value).map(literal).join(', ');
}

/** Splits `"$user", public` into its elements, unquoting double-quoted ones. */
export function splitList(value: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < value.length) {
    while (value[i] === ' ' || value[i] === ',') i++;
    if (i >= value.length) break;
    let item = '';
    if (value[i] === '"') {
      i++;
      while (i < value.length) {
        if (value[i] === '"' && value[i + 1] === '"') {
          item += '"';
          i += 2;
        } else if (value[i] === '"') {
          i++;
          break;
        } else item += value[i++];
      }
      while (i < value.length && value[i] !== ',') i++;
    } else {
      while (i < value.length && value[i] !== ',') item += value[i++];
      item = item.trim();
    }
    out.push(item);
  }
  return out;
}

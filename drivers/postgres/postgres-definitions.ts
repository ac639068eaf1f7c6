import type { Fingerprint } from '../../src/core/driver.js';
import type { DatabaseProperties } from './postgres-database-properties.js';
import type { PgQueryable } from './postgres-queryable.js';

/**
 * The definitions half of a PostgreSQL fingerprint: a normalized catalog
 * description of one database, read in ONE query (inside the dump's snapshot
 * at backup, on the restored copy after a restore). Object paths are
 * `<db>` (database-level properties, extensions with versions, default
 * privileges, event triggers), `<db>.<schema>`, `<db>.<schema>.<relation or
 * type>` and `<db>.<schema>.<function>(<arguments>)`. Per relation: kind,
 * owner, ACL, comment, tablespace, each column (type, NOT NULL, default,
 * collation, identity, ACL, comment), constraints, indexes, triggers, rules,
 * policies, row security, options, view and matview definitions, and for
 * sequences their parameters and value. Nothing depends on OIDs, attribute
 * numbers or the order of history. Objects that belong to an extension are
 * covered by the extension's version. Long texts (function bodies, view
 * definitions) are kept as an md5 so that the manifest stays small.
 */

/** Long texts become `md5:<hex>` (a difference still shows the property that changed). */
const short = (expr: string) => `CASE WHEN length(${expr}) > 200 THEN 'md5:' || md5(${expr}) ELSE ${expr} END`;
/** An ACL without its order of history: entries sorted; NULL (the default) stays NULL and is left out. */
const acl = (col: string) => `CASE WHEN ${col} IS NULL THEN NULL ELSE array_to_string(ARRAY(SELECT x::text FROM unnest(${col}) x ORDER BY 1), ' ') END`;
const notExt = (catalog: string, oid: string) => `NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.deptype = 'e' AND e.classid = '${catalog}'::regclass AND e.objid = ${oid})`;

const CATALOG_QUERY = `
WITH ns AS (
  SELECT n.oid, n.nspname, n.nspowner, n.nspacl FROM pg_namespace n
   WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' AND ${notExt('pg_namespace', 'n.oid')}),
rel AS (
  SELECT c.oid, c.relkind, c.relowner, c.relacl, c.reltablespace, c.relpersistence, c.relrowsecurity, c.relforcerowsecurity,
         c.reloptions, c.relispartition, c.relpartbound, n.nspname || '.' || c.relname AS k
    FROM pg_class c JOIN ns n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND ${notExt('pg_class', 'c.oid')}),
fn AS (
  SELECT p.oid, p.prokind, p.proowner, p.proacl, n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS k
    FROM pg_proc p JOIN ns n ON n.oid = p.pronamespace WHERE ${notExt('pg_proc', 'p.oid')}),
typ AS (
  SELECT t.oid, t.typtype, t.typowner, t.typacl, t.typbasetype, t.typtypmod, t.typnotnull, t.typdefault, t.typrelid, n.nspname || '.' || t.typname AS k
    FROM pg_type t JOIN ns n ON n.oid = t.typnamespace
   WHERE t.typtype IN ('e', 'd', 'r', 'c') AND (t.typtype <> 'c' OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
     AND ${notExt('pg_type', 't.oid')})
SELECT k, p, v FROM (
  SELECT nspname::text AS k, 'kind'::text AS p, 'schema'::text AS v FROM ns
  UNION ALL SELECT nspname, 'owner', pg_get_userbyid(nspowner) FROM ns
  UNION ALL SELECT nspname, 'acl', ${acl('nspacl')} FROM ns
  UNION ALL SELECT nspname, 'comment', obj_description(oid, 'pg_namespace') FROM ns

  UNION ALL SELECT k, 'kind', CASE relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' ELSE 'foreign table' END FROM rel
  UNION ALL SELECT k, 'owner', pg_get_userbyid(relowner) FROM rel
  UNION ALL SELECT k, 'acl', ${acl('relacl')} FROM rel
  UNION ALL SELECT k, 'comment', obj_description(oid, 'pg_class') FROM rel
  UNION ALL SELECT k, 'tablespace', (SELECT spcname FROM pg_tablespace WHERE oid = reltablespace) FROM rel WHERE reltablespace <> 0
  UNION ALL SELECT k, 'persistence', 'unlogged' FROM rel WHERE relpersistence = 'u'
  UNION ALL SELECT k, 'row security', CASE WHEN relforcerowsecurity THEN 'enabled, forced' ELSE 'enabled' END FROM rel WHERE relrowsecurity
  UNION ALL SELECT k, 'options', array_to_string(ARRAY(SELECT o FROM unnest(reloptions) o ORDER BY 1), ', ') FROM rel WHERE reloptions IS NOT NULL
  UNION ALL SELECT k, 'partition key', pg_get_partkeydef(oid) FROM rel WHERE relkind = 'p'
  UNION ALL SELECT r.k, 'partition of', (SELECT string_agg(i.inhparent::regclass::text, ', ') FROM pg_inherits i WHERE i.inhrelid = r.oid) || ' ' || pg_get_expr(r.relpartbound, r.oid) FROM rel r WHERE r.relispartition
  UNION ALL SELECT r.k, 'inherits', (SELECT string_agg(i.inhparent::regclass::text, ', ' ORDER BY i.inhseqno) FROM pg_inherits i WHERE i.inhrelid = r.oid) FROM rel r WHERE NOT r.relispartition
  UNION ALL SELECT r.k, 'definition', ${short('pg_get_viewdef(r.oid)')} FROM rel r WHERE r.relkind IN ('v', 'm')
  UNION ALL SELECT r.k, 'column ' || a.attname,
         format_type(a.atttypid, a.atttypmod)
         || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
         || CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN ' COLLATE ' || a.attcollation::regcollation::text ELSE '' END
         || CASE a.attidentity WHEN 'a' THEN ' GENERATED ALWAYS AS IDENTITY' WHEN 'd' THEN ' GENERATED BY DEFAULT AS IDENTITY' ELSE '' END
         || CASE WHEN a.attgenerated = 's' THEN ' GENERATED ALWAYS AS (' || pg_get_expr(d.adbin, d.adrelid) || ') STORED'
                 WHEN d.adbin IS NOT NULL THEN ' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid) ELSE '' END
         || CASE WHEN a.attstorage <> t.typstorage THEN ' STORAGE ' || a.attstorage::text ELSE '' END
         || CASE WHEN a.attstattarget >= 0 THEN ' STATISTICS ' || a.attstattarget ELSE '' END
       FROM rel r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
       JOIN pg_type t ON t.oid = a.atttypid LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE r.relkind <> 'S'
  UNION ALL SELECT r.k, 'column ' || a.attname || ' acl', ${acl('a.attacl')} FROM rel r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL SELECT r.k, 'column ' || a.attname || ' comment', col_description(r.oid, a.attnum) FROM rel r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL SELECT r.k, 'constraint ' || c.conname, pg_get_constraintdef(c.oid) || coalesce(' -- ' || obj_description(c.oid, 'pg_constraint'), '')
       FROM rel r JOIN pg_constraint c ON c.conrelid = r.oid
  UNION ALL SELECT r.k, 'index ' || ic.relname, pg_get_indexdef(i.indexrelid)
         || coalesce(' TABLESPACE ' || (SELECT spcname FROM pg_tablespace WHERE oid = ic.reltablespace AND ic.reltablespace <> 0), '')
         || CASE WHEN i.indisclustered THEN ' CLUSTER' ELSE '' END || CASE WHEN i.indisvalid THEN '' ELSE ' INVALID' END
       FROM rel r JOIN pg_index i ON i.indrelid = r.oid JOIN pg_class ic ON ic.oid = i.indexrelid
  UNION ALL SELECT r.k, 'trigger ' || g.tgname, pg_get_triggerdef(g.oid) || CASE g.tgenabled WHEN 'O' THEN '' WHEN 'D' THEN ' DISABLED' WHEN 'R' THEN ' ENABLE REPLICA' ELSE ' ENABLE ALWAYS' END
       FROM rel r JOIN pg_trigger g ON g.tgrelid = r.oid WHERE NOT g.tgisinternal
  UNION ALL SELECT r.k, 'rule ' || w.rulename, ${short('pg_get_ruledef(w.oid)')} FROM rel r JOIN pg_rewrite w ON w.ev_class = r.oid WHERE w.rulename <> '_RETURN'
  UNION ALL SELECT r.k, 'policy ' || p.polname,
         p.polcmd::text || CASE WHEN p.polpermissive THEN ' permissive' ELSE ' restrictive' END
         || ' to ' || (SELECT string_agg(CASE WHEN x = 0 THEN 'public' ELSE pg_get_userbyid(x) END, ', ' ORDER BY 1) FROM unnest(p.polroles) x)
         || coalesce(' using (' || pg_get_expr(p.polqual, p.polrelid) || ')', '') || coalesce(' check (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')', '')
       FROM rel r JOIN pg_policy p ON p.polrelid = r.oid
  UNION ALL SELECT r.k, 'sequence', format_type(s.seqtypid, NULL) || ' start ' || s.seqstart || ' increment ' || s.seqincrement || ' min ' || s.seqmin
         || ' max ' || s.seqmax || ' cache ' || s.seqcache || CASE WHEN s.seqcycle THEN ' cycle' ELSE '' END
       FROM rel r JOIN pg_sequence s ON s.seqrelid = r.oid
  UNION ALL SELECT r.k, 'value', CASE WHEN has_sequence_privilege(r.oid, 'SELECT, USAGE') THEN coalesce(pg_sequence_last_value(r.oid)::text, 'not called') ELSE 'unreadable' END
       FROM rel r WHERE r.relkind = 'S'
  UNION ALL SELECT r.k, 'owned by', (SELECT d.refobjid::regclass::text || '.' || quote_ident(a.attname) FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
          WHERE d.classid = 'pg_class'::regclass AND d.objid = r.oid AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i') LIMIT 1)
       FROM rel r WHERE r.relkind = 'S'

  UNION ALL SELECT k, 'kind', CASE prokind WHEN 'f' THEN 'function' WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'window function' END FROM fn
  UNION ALL SELECT k, 'owner', pg_get_userbyid(proowner) FROM fn
  UNION ALL SELECT k, 'acl', ${acl('proacl')} FROM fn
  UNION ALL SELECT k, 'comment', obj_description(oid, 'pg_proc') FROM fn
  UNION ALL SELECT f.k, 'definition', CASE WHEN f.prokind = 'a'
         THEN (SELECT g.aggtransfn::text || ' ' || g.aggtranstype::regtype::text || coalesce(' final ' || nullif(g.aggfinalfn::oid, 0)::regproc::text, '') || coalesce(' init ' || g.agginitval, '')
                 FROM pg_aggregate g WHERE g.aggfnoid = f.oid)
         ELSE ${short('pg_get_functiondef(f.oid)')} END FROM fn f

  UNION ALL SELECT k, 'kind', CASE typtype WHEN 'e' THEN 'enum' WHEN 'd' THEN 'domain' WHEN 'r' THEN 'range' ELSE 'composite type' END FROM typ
  UNION ALL SELECT k, 'owner', pg_get_userbyid(typowner) FROM typ
  UNION ALL SELECT k, 'acl', ${acl('typacl')} FROM typ
  UNION ALL SELECT k, 'comment', obj_description(oid, 'pg_type') FROM typ
  UNION ALL SELECT t.k, 'labels', (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) FROM typ t WHERE t.typtype = 'e'
  UNION ALL SELECT t.k, 'base', format_type(t.typbasetype, t.typtypmod) || CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END || coalesce(' DEFAULT ' || t.typdefault, '') FROM typ t WHERE t.typtype = 'd'
  UNION ALL SELECT t.k, 'constraint ' || c.conname, pg_get_constraintdef(c.oid) FROM typ t JOIN pg_constraint c ON c.contypid = t.oid
  UNION ALL SELECT t.k, 'subtype', format_type(r.rngsubtype, NULL) FROM typ t JOIN pg_range r ON r.rngtypid = t.oid
  UNION ALL SELECT t.k, 'attributes', (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum) FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped)
       FROM typ t WHERE t.typtype = 'c'

  UNION ALL SELECT n.nspname || '.' || c.collname, 'collation', c.collprovider::text || ' ' || coalesce(c.collcollate, '') || ' ' || coalesce(c.collctype, '') || CASE WHEN c.collisdeterministic THEN '' ELSE ' nondeterministic' END
       FROM pg_collation c JOIN ns n ON n.oid = c.collnamespace WHERE ${notExt('pg_collation', 'c.oid')}

  UNION ALL SELECT '', 'extension ' || x.extname, x.extversion || ' in ' || x.extnamespace::regnamespace::text FROM pg_extension x
  UNION ALL SELECT '', 'default privileges of ' || pg_get_userbyid(d.defaclrole) || coalesce(' in ' || d.defaclnamespace::regnamespace::text || '', '')
         || ' on ' || CASE d.defaclobjtype WHEN 'r' THEN 'tables' WHEN 'S' THEN 'sequences' WHEN 'f' THEN 'functions' WHEN 'T' THEN 'types' ELSE 'schemas' END,
         ${acl('d.defaclacl')} FROM (SELECT defaclrole, nullif(defaclnamespace, 0) AS defaclnamespace, defaclobjtype, defaclacl FROM pg_default_acl) d
  UNION ALL SELECT '', 'event trigger ' || evtname, evtevent || ' ' || evtfoid::regproc::text || ' ' || evtenabled::text || coalesce(' ' || array_to_string(evttags, ','), '') FROM pg_event_trigger
) d WHERE v IS NOT NULL`;

export type Definitions = NonNullable<Fingerprint['definitions']>;

/**
 * Adds the definitions of the connected database to `out`, under the
 * recorded name `database` (after a rename too), with its database-level
 * properties (read by readDatabaseProperties).
 */
export async function definitionsOfDatabase(c: PgQueryable, database: string, properties: DatabaseProperties, out: Definitions = {}): Promise<Definitions> {
  // Object names in expressions (pg_get_constraintdef, regclass) depend on search_path: pg_catalog alone qualifies them all.
  const before = (await c.query<{ p: string }>("SELECT current_setting('search_path') AS p")).rows[0]!.p;
  await c.query("SELECT set_config('search_path', 'pg_catalog', false) AS s");
  let rows: Array<{ k: string; p: string; v: string }>;
  try {
    rows = (await c.query<{ k: string; p: string; v: string }>(CATALOG_QUERY)).rows;
  } finally {
    await c.query(`SELECT set_config('search_path', '${before.replace(/'/g, "''")}', false) AS s`).catch(() => undefined);
  }
  out[database] = databaseDefinition(properties);
  for (const { k, p, v } of rows) {
    const key = k === '' ? database : `${database}.${k}`;
    (out[key] ??= {})[p] = v;
  }
  return out;
}

/** The database-level half, as values a difference can show. */
export function databaseDefinition(p: DatabaseProperties): Record<string, string> {
  const d: Record<string, string> = {
    owner: p.owner,
    acl: p.acl === null ? '(default)' : p.acl.map((e) => `${e.grantee || 'PUBLIC'}=${e.privilege}${e.grantable ? '*' : ''}/${e.grantor}`).sort().join(' '),
    'connection limit': String(p.connlimit),
    encoding: p.encoding,
    'locale provider': p.localeProvider === 'i' ? 'icu' : 'libc',
    collate: p.collate,
    ctype: p.ctype,
    tablespace: p.tablespace,
  };
  if (p.comment !== null) d.comment = p.comment;
  if (p.icuLocale) d['icu locale'] = p.icuLocale;
  if (p.collversion) d['collation version'] = p.collversion;
  for (const s of p.settings) d[s.role === null ? 'settings' : `settings of role ${s.role}`] = [...s.settings].sort().join('; ');
  return d;
}

/**
 * Roles, their attributes, memberships, settings and comments (never their
 * passwords), keyed `role <name>`: compared when a restore applied the
 * globals. `names` limits it to the roles the backup recorded.
 */
export async function roleDefinitions(c: PgQueryable, names?: readonly string[]): Promise<Definitions> {
  const { rows } = await c.query<{ name: string; attrs: string; member_of: string | null; settings: string | null; comment: string | null }>(
    `SELECT r.rolname AS name,
            concat_ws(' ', CASE WHEN r.rolsuper THEN 'superuser' END, CASE WHEN r.rolcanlogin THEN 'login' END, CASE WHEN r.rolcreatedb THEN 'createdb' END,
              CASE WHEN r.rolcreaterole THEN 'createrole' END, CASE WHEN NOT r.rolinherit THEN 'noinherit' END, CASE WHEN r.rolreplication THEN 'replication' END,
              CASE WHEN r.rolbypassrls THEN 'bypassrls' END, CASE WHEN r.rolconnlimit <> -1 THEN 'connection limit ' || r.rolconnlimit END,
              CASE WHEN r.rolvaliduntil IS NOT NULL THEN 'valid until ' || r.rolvaliduntil::text END) AS attrs,
            (SELECT string_agg(g.rolname || CASE WHEN m.admin_option THEN ' with admin' ELSE '' END, ', ' ORDER BY g.rolname)
               FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid) AS member_of,
            (SELECT array_to_string(ARRAY(SELECT x FROM unnest(s.setconfig) x ORDER BY 1), '; ') FROM pg_db_role_setting s WHERE s.setrole = r.oid AND s.setdatabase = 0) AS settings,
            shobj_description(r.oid, 'pg_authid') AS comment
       FROM pg_roles r WHERE r.rolname NOT LIKE 'pg\\_%'`,
  );
  const out: Definitions = {};
  for (const r of rows) {
    if (names && !names.includes(r.name)) continue;
    const d: Record<string, string> = { attributes: r.attrs };
    if (r.member_of) d['member of'] = r.member_of;
    if (r.settings) d.settings = r.settings;
    if (r.comment) d.comment = r.comment;
    out[`role ${r.name}`] = d;
  }
  return out;
}

import type { Fingerprint, FingerprintScope } from '../../src/core/driver.js';
import { ident, qualified, rows, type Connection } from './mysql-connection.js';
import { readCodeDefinitions } from './mysql-definitions-code.js';
import { readGrantDefinitions } from './mysql-grants.js';

export type Definitions = NonNullable<Fingerprint['definitions']>;

/**
 * The definitions half of a MySQL / MariaDB fingerprint: what a DBA would
 * check by hand, read from information_schema (and mysql.procs_priv for
 * routine grants) in a few queries per database, so it runs inside the
 * dump's consistent snapshot at backup (mysql-dump-backup.ts) and again
 * after a restore.
 *
 * Object paths (keys stay the recorded names under a rename):
 *   `db`                       charset, collation, comment, grants
 *   `db.table` / `db.view`     kind, engine, collation, comment, options,
 *                              `column <c>`, `index <i>`, `fk <f>`,
 *                              `check <c>`, grants, column grants,
 *                              history rows (system-versioned tables)
 *   `db.function.f`, `db.procedure.p`, `db.trigger.t`, `db.event.e`
 *
 * `rename` maps a database's name on this server to its recorded name:
 * values that quote the restored name (a view's `shop2`.`t`, a grant on
 * `shop2`) are read as the recorded name, so a restore under a new name
 * compares equal when the name was the only difference.
 */
export interface DefinitionsOptions {
  scope: FingerprintScope;
  /** This server's database name → the recorded name. */
  rename?: Record<string, string>;
  /** False when the snapshot holds no accounts (the backup user could not read them): grants are left out on both sides. */
  grants?: boolean;
}

export async function readDefinitions(c: Connection, database: string, o: DefinitionsOptions, defs: Definitions = {}): Promise<Definitions> {
  const recorded = o.rename?.[database] ?? database;
  const norm = normalizer(o.rename ?? {});
  const put = (path: string, property: string, value: unknown) => {
    if (value === undefined || value === null) return;
    (defs[path] ??= {})[property] = norm(String(value));
  };
  const at = (name: string) => `${recorded}.${name}`;

  const [schema] = await rows<{ cs: string; co: string; cm: string | null }>(
    c,
    'SELECT DEFAULT_CHARACTER_SET_NAME AS cs, DEFAULT_COLLATION_NAME AS co, SCHEMA_COMMENT AS cm FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?',
    [database],
  ).catch(async () => rows<{ cs: string; co: string; cm: string | null }>(c, 'SELECT DEFAULT_CHARACTER_SET_NAME AS cs, DEFAULT_COLLATION_NAME AS co, NULL AS cm FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [database]));
  if (!schema) return defs;
  put(recorded, 'charset', schema.cs);
  put(recorded, 'collation', schema.co);
  put(recorded, 'comment', schema.cm ?? '');

  const tables = await rows<{ t: string; type: string; engine: string | null; co: string | null; cm: string | null; opts: string | null; rf: string | null }>(
    c,
    `SELECT TABLE_NAME AS t, TABLE_TYPE AS type, ENGINE AS engine, TABLE_COLLATION AS co, TABLE_COMMENT AS cm, CREATE_OPTIONS AS opts, ROW_FORMAT AS rf
       FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?`,
    [database],
  );
  const versioned: string[] = [];
  for (const t of tables) {
    const view = t.type === 'VIEW';
    put(at(t.t), 'kind', view ? 'view' : t.type === 'SYSTEM VERSIONED' ? 'system-versioned table' : t.type === 'SEQUENCE' ? 'sequence' : 'table');
    if (view) continue;
    put(at(t.t), 'engine', t.engine);
    put(at(t.t), 'collation', t.co);
    put(at(t.t), 'comment', t.cm ?? '');
    put(at(t.t), 'options', t.opts ?? '');
    put(at(t.t), 'row format', t.rf);
    if (t.type === 'SYSTEM VERSIONED') versioned.push(t.t);
  }
  const views = new Set(tables.filter((t) => t.type === 'VIEW').map((t) => t.t));

  const columns = await rows<{ t: string; c: string; type: string; nul: string; def: string | null; extra: string; co: string | null; cm: string; gen: string | null }>(
    c,
    `SELECT TABLE_NAME AS t, COLUMN_NAME AS c, COLUMN_TYPE AS type, IS_NULLABLE AS nul, COLUMN_DEFAULT AS def, EXTRA AS extra,
            COLLATION_NAME AS co, COLUMN_COMMENT AS cm, GENERATION_EXPRESSION AS gen
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, ORDINAL_POSITION`,
    [database],
  );
  const position = new Map<string, number>();
  for (const col of columns) {
    if (views.has(col.t)) continue;
    const n = (position.get(col.t) ?? 0) + 1;
    position.set(col.t, n);
    const parts = [`#${n}`, col.type, col.nul === 'YES' ? 'NULL' : 'NOT NULL'];
    if (col.def !== null) parts.push(`DEFAULT ${col.def}`);
    if (col.extra) parts.push(col.extra);
    if (col.gen) parts.push(`AS (${col.gen})`);
    if (col.co) parts.push(`COLLATE ${col.co}`);
    if (col.cm) parts.push(`COMMENT ${JSON.stringify(col.cm)}`);
    put(at(col.t), `column ${col.c}`, parts.join(' '));
  }

  const indexes = await rows<{ t: string; i: string; nu: number; c: string | null; sub: number | null; type: string; cm: string | null; ic: string | null }>(
    c,
    `SELECT TABLE_NAME AS t, INDEX_NAME AS i, NON_UNIQUE AS nu, COLUMN_NAME AS c, SUB_PART AS sub, INDEX_TYPE AS type, COMMENT AS cm, INDEX_COMMENT AS ic
       FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
    [database],
  );
  const grouped = new Map<string, { head: string; cols: string[] }>();
  for (const ix of indexes) {
    const key = `${ix.t}\u0000${ix.i}`;
    const entry = grouped.get(key) ?? { head: `${Number(ix.nu) === 0 ? 'UNIQUE ' : ''}${ix.type}${ix.ic ? ` COMMENT ${JSON.stringify(ix.ic)}` : ''}`, cols: [] };
    entry.cols.push(`${ix.c ?? '?'}${ix.sub ? `(${ix.sub})` : ''}`);
    grouped.set(key, entry);
  }
  for (const [key, ix] of grouped) {
    const [t, i] = key.split('\u0000') as [string, string];
    put(at(t), `index ${i}`, `${ix.head} (${ix.cols.join(', ')})`);
  }

  await readConstraints(c, database, (t, property, value) => put(at(t), property, value));
  await readCodeDefinitions(c, database, (path, property, value) => put(at(path), property, value));
  if (o.grants !== false) await readGrantDefinitions(c, database, (path, property, value) => put(path === '' ? recorded : at(path), property, value));
  for (const t of versioned) put(at(t), 'history rows', await historyRows(c, database, t, o.scope));
  return defs;
}

async function readConstraints(c: Connection, database: string, put: (table: string, property: string, value: string) => void): Promise<void> {
  const fks = await rows<{ t: string; n: string; c: string; rs: string; rt: string; rc: string; upd: string; del: string }>(
    c,
    `SELECT k.TABLE_NAME AS t, k.CONSTRAINT_NAME AS n, k.COLUMN_NAME AS c, k.REFERENCED_TABLE_SCHEMA AS rs, k.REFERENCED_TABLE_NAME AS rt,
            k.REFERENCED_COLUMN_NAME AS rc, r.UPDATE_RULE AS upd, r.DELETE_RULE AS del
       FROM information_schema.KEY_COLUMN_USAGE k
       JOIN information_schema.REFERENTIAL_CONSTRAINTS r ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME
      WHERE k.TABLE_SCHEMA = ? AND k.REFERENCED_TABLE_NAME IS NOT NULL
      ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION`,
    [database],
  );
  const grouped = new Map<string, { t: string; n: string; cols: string[]; refs: string[]; to: string; rules: string }>();
  for (const fk of fks) {
    const key = `${fk.t}\u0000${fk.n}`;
    const entry = grouped.get(key) ?? { t: fk.t, n: fk.n, cols: [], refs: [], to: qualified(fk.rs, fk.rt), rules: `ON UPDATE ${fk.upd} ON DELETE ${fk.del}` };
    entry.cols.push(ident(fk.c));
    entry.refs.push(ident(fk.rc));
    grouped.set(key, entry);
  }
  for (const fk of grouped.values()) put(fk.t, `fk ${fk.n}`, `(${fk.cols.join(', ')}) REFERENCES ${fk.to} (${fk.refs.join(', ')}) ${fk.rules}`);
  const checks = await rows<{ t: string; n: string; clause: string }>(
    c,
    'SELECT TABLE_NAME AS t, CONSTRAINT_NAME AS n, CHECK_CLAUSE AS clause FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ?',
    [database],
  ).catch(() => []); // MySQL before 8.0.16 has no CHECK_CONSTRAINTS
  for (const ck of checks) put(ck.t, `check ${ck.n}`, ck.clause);
}

/**
 * Every version of a system-versioned table: the count, and for scope
 * `full` a sum of the SHA-1 of each version's row text with its period
 * (ROW_START / ROW_END), so a lost or altered history row is seen.
 */
async function historyRows(c: Connection, database: string, table: string, scope: FingerprintScope): Promise<string> {
  const from = `${qualified(database, table)} FOR SYSTEM_TIME ALL`;
  if (scope !== 'full') {
    const [row] = await rows<{ n: string }>(c, `SELECT COUNT(*) AS n FROM ${from}`);
    return String(row!.n);
  }
  const found = await rows<{ c: string; extra: string }>(c, 'SELECT COLUMN_NAME AS c, EXTRA AS extra FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION', [database, table]);
  const cols = found.map((r) => ident(r.c));
  // Implicit periods are the hidden ROW_START / ROW_END; explicit ones are ordinary columns already listed.
  const period = found.some((r) => /ROW START/i.test(r.extra)) ? [] : ['ROW_START', 'ROW_END'];
  const text = `CONCAT_WS(0x1f, ${[...cols, ...period].join(', ')}, CONCAT(${cols.map((col) => `ISNULL(${col})`).join(', ')}))`;
  const [row] = await rows<{ n: string; s: string }>(c, `SELECT COUNT(*) AS n, COALESCE(SUM(CAST(CONV(SUBSTRING(SHA1(${text}), 1, 15), 16, 10) AS UNSIGNED)), 0) AS s FROM ${from}`);
  return `${row!.n} (checksum ${row!.s})`;
}

/** Replaces each quoted restored name (`shop2`, 'shop2') by the recorded one. */
function normalizer(rename: Record<string, string>): (value: string) => string {
  const pairs = Object.entries(rename).filter(([to, from]) => to !== from);
  if (pairs.length === 0) return (v) => v;
  return (value) => {
    let out = value;
    for (const [to, from] of pairs) out = out.split(ident(to)).join(ident(from));
    return out;
  };
}

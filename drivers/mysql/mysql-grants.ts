import { ident, rows, type Connection } from './mysql-connection.js';
import { grantOn, literal } from './mysql-sql-text.js';

/**
 * Grants on one database's objects for the definitions fingerprint: on the
 * database (`db.*`), on tables and views, on columns, on routines. Each is a
 * sorted list `grantee: PRIVILEGE, ...` (`+grant option` when grantable),
 * so an added, lost or changed grant names its object. information_schema
 * shows every account's grants to a user with SELECT on mysql.*; routine
 * grants come from mysql.procs_priv and are left out without that right.
 * Paths: `''` for the database, the table's name, `function.f` / `procedure.p`.
 */
export async function readGrantDefinitions(c: Connection, database: string, put: (path: string, property: string, value: string) => void): Promise<void> {
  const lists = new Map<string, Map<string, string[]>>();
  const add = (path: string, property: string, grantee: string, privilege: string) => {
    const key = `${path}\u0000${property}`;
    const byGrantee = lists.get(key) ?? new Map<string, string[]>();
    byGrantee.set(grantee, [...(byGrantee.get(grantee) ?? []), privilege]);
    lists.set(key, byGrantee);
  };
  const grantable = (g: string) => (g === 'YES' ? ' +grant option' : '');

  const schema = await rows<{ g: string; p: string; y: string }>(c, 'SELECT GRANTEE AS g, PRIVILEGE_TYPE AS p, IS_GRANTABLE AS y FROM information_schema.SCHEMA_PRIVILEGES WHERE TABLE_SCHEMA = ?', [database]);
  for (const r of schema) add('', 'grants', r.g, `${r.p}${grantable(r.y)}`);
  const tables = await rows<{ t: string; g: string; p: string; y: string }>(c, 'SELECT TABLE_NAME AS t, GRANTEE AS g, PRIVILEGE_TYPE AS p, IS_GRANTABLE AS y FROM information_schema.TABLE_PRIVILEGES WHERE TABLE_SCHEMA = ?', [database]);
  for (const r of tables) add(r.t, 'grants', r.g, `${r.p}${grantable(r.y)}`);
  const columns = await rows<{ t: string; c: string; g: string; p: string; y: string }>(
    c,
    'SELECT TABLE_NAME AS t, COLUMN_NAME AS c, GRANTEE AS g, PRIVILEGE_TYPE AS p, IS_GRANTABLE AS y FROM information_schema.COLUMN_PRIVILEGES WHERE TABLE_SCHEMA = ?',
    [database],
  );
  for (const r of columns) add(r.t, 'column grants', r.g, `${r.p}(${r.c})${grantable(r.y)}`);
  const routines = await rows<{ n: string; type: string; u: string; h: string; p: string }>(
    c,
    'SELECT Routine_name AS n, Routine_type AS type, User AS u, Host AS h, Proc_priv AS p FROM mysql.procs_priv WHERE Db = ?',
    [database],
  ).catch(() => []);
  for (const r of routines) {
    for (const p of String(r.p).split(',').filter(Boolean)) add(`${String(r.type).toLowerCase()}.${r.n}`, 'grants', `'${r.u}'@'${r.h}'`, p.toUpperCase());
  }

  for (const [key, byGrantee] of lists) {
    const [path, property] = key.split('\u0000') as [string, string];
    const text = [...byGrantee.entries()]
      .map(([grantee, privileges]) => `${grantee}: ${[...privileges].sort().join(', ')}`)
      .sort()
      .join('; ');
    put(path, property, text);
  }
}

/**
 * While a database is loaded under a scratch name (`<name>__holdfast`), the
 * accounts with database-level grants on `<name>` hold the same on the
 * scratch name: a SQL SECURITY DEFINER view or routine is checked against
 * its definer's rights when it is created, and a definer whose rights name
 * the database would otherwise make the load fail. Returns the undo, run
 * once the scratch database is gone or swapped in.
 */
export async function borrowDatabaseGrants(c: Connection, from: string, to: string): Promise<() => Promise<void>> {
  const holders = await rows<{ u: string; h: string }>(c, 'SELECT DISTINCT User AS u, Host AS h FROM mysql.db WHERE Db = ?', [from]).catch(() => []);
  const granted: string[] = [];
  for (const { u, h } of holders) {
    const account = h === '' ? literal(u) : `${literal(u)}@${literal(h)}`;
    for (const g of await rows<Record<string, string>>(c, `SHOW GRANTS FOR ${account}`).catch(() => [])) {
      const on = grantOn(String(Object.values(g)[0]));
      if (!on || !on.wholeDatabase || on.database !== from) continue;
      // Best effort: without GRANT OPTION the load goes on and fails, if it must, with the server's own words.
      if (await c.query(on.rewrite(to)).then(() => true, () => false)) granted.push(account);
    }
  }
  return async () => {
    for (const account of granted) {
      await c.query(`REVOKE ALL PRIVILEGES ON ${ident(to)}.* FROM ${account}`).catch(() => undefined);
      await c.query(`REVOKE GRANT OPTION ON ${ident(to)}.* FROM ${account}`).catch(() => undefined);
    }
  };
}

/**
 * Grants on databases whose names start with a restore test's prefix, which
 * DROP DATABASE leaves behind in the grant tables: removed, so that a later
 * database of that name gives nobody anything. Without the right to do so
 * the restore could not have granted them either.
 */
export async function revokeScratchGrants(c: Connection, prefix: string): Promise<void> {
  let removed = 0;
  for (const table of ['db', 'tables_priv', 'columns_priv', 'procs_priv']) {
    const [result] = await c.query(`DELETE FROM mysql.${table} WHERE LEFT(Db, CHAR_LENGTH(?)) = ?`, [prefix, prefix]).catch(() => [{ affectedRows: 0 }]);
    removed += Number((result as { affectedRows?: number }).affectedRows ?? 0);
  }
  if (removed > 0) await c.query('FLUSH PRIVILEGES').catch(() => undefined);
}

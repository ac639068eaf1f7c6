import { HoldfastError } from '../../src/core/errors.js';
import { rows, type Connection } from './mysql-connection.js';
import { readDatabaseProperties, type DatabaseProperties } from './mysql-database-properties.js';

/**
 * What a dump of one database needs beyond its name, read at backup, and
 * the order a restore loads databases in. A view that reads another
 * database's table cannot be created before that table exists, so a
 * database whose views read others is loaded after them; grants wait for
 * every database (mysql-accounts.ts).
 */
export interface DatabaseDumpFacts {
  properties?: DatabaseProperties;
  /** Has system-versioned tables with timestamp periods: dump with --dump-history. */
  history: boolean;
  /** Tables whose history is by transaction id, which mariadb-dump cannot dump. */
  versionedByTrxId?: string;
  /** Other databases of this server named in its views. */
  reads: string[];
}

export async function describeDatabases(c: Connection, names: readonly string[]): Promise<Map<string, DatabaseDumpFacts>> {
  const all = (await rows<{ n: string }>(c, 'SELECT SCHEMA_NAME AS n FROM information_schema.SCHEMATA')).map((r) => r.n);
  const out = new Map<string, DatabaseDumpFacts>();
  for (const name of names) {
    const versioned = await rows<{ t: string; trx: number }>(
      c,
      `SELECT t.TABLE_NAME AS t, EXISTS (SELECT 1 FROM information_schema.COLUMNS c WHERE c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME
                AND c.EXTRA LIKE '%ROW START%' AND c.DATA_TYPE = 'bigint') AS trx
         FROM information_schema.TABLES t WHERE t.TABLE_SCHEMA = ? AND t.TABLE_TYPE = 'SYSTEM VERSIONED'`,
      [name],
    );
    const byTrx = versioned.filter((v) => Number(v.trx) === 1).map((v) => v.t);
    const views = await rows<{ d: string }>(c, 'SELECT VIEW_DEFINITION AS d FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?', [name]);
    const reads = all.filter((other) => other !== name && views.some((v) => v.d.includes(`\`${other.replace(/`/g, '``')}\`.`)));
    const properties = await readDatabaseProperties(c, name);
    out.set(name, {
      ...(properties ? { properties } : {}),
      history: versioned.length > byTrx.length,
      ...(byTrx.length > 0 ? { versionedByTrxId: byTrx.join(', ') } : {}),
      reads,
    });
  }
  return out;
}

/**
 * Databases in an order where each comes after the databases its views read
 * (name order otherwise, as before). A cycle of views across databases
 * cannot be loaded database by database: it is named.
 */
export function loadOrder<T extends { db: { name: string; reads?: string[] } }>(plan: readonly T[], service: string): T[] {
  const byName = new Map(plan.map((p) => [p.db.name, p]));
  const done = new Set<string>();
  const visiting = new Set<string>();
  const out: T[] = [];
  const visit = (item: T, path: string[]) => {
    if (done.has(item.db.name)) return;
    if (visiting.has(item.db.name)) {
      throw new HoldfastError('target', `views read across databases in a cycle (${[...path, item.db.name].join(' → ')}): no database can be loaded first`, {
        service,
        driver: 'mysql',
        hint: 'restore into a server that has these databases already, or break the cycle of views at the source',
      });
    }
    visiting.add(item.db.name);
    for (const other of item.db.reads ?? []) {
      const dep = byName.get(other);
      if (dep) visit(dep, [...path, item.db.name]);
    }
    visiting.delete(item.db.name);
    done.add(item.db.name);
    out.push(item);
  };
  for (const item of plan) visit(item, []);
  return out;
}

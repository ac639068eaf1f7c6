import type { Inspection } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { rows, where, withConnection, type Connection, type MyTarget } from './mysql-connection.js';
import type { Family } from './mysql-tools.js';

export interface ServerFacts {
  family: Family;
  /** `10.11.19-MariaDB-0+deb12u1-log`, `8.0.36` */
  version: string;
  /** `10.11.19`, `8.0.36` */
  versionNumber: string;
  versionComment: string;
  /** Tells whether a restore target is the server the backup came from (accounts are restored on another server only). */
  identity: string;
  dataDir: string;
  binlog: boolean;
  gtidMode: boolean;
  user: string;
}

export async function serverFacts(c: Connection): Promise<ServerFacts> {
  const [row] = await rows<{ v: string; c: string; h: string; p: number; d: string; sid: string; lb: number | string; u: string }>(
    c,
    'SELECT VERSION() AS v, @@version_comment AS c, @@hostname AS h, @@port AS p, @@datadir AS d, @@server_id AS sid, @@log_bin AS lb, CURRENT_USER() AS u',
  );
  const r = row!;
  const family: Family = /mariadb/i.test(`${r.v} ${r.c}`) ? 'mariadb' : 'mysql';
  let identity: string;
  let gtidMode = false;
  if (family === 'mysql') {
    const [m] = await rows<{ uuid: string; gtid: string }>(c, 'SELECT @@server_uuid AS uuid, @@gtid_mode AS gtid');
    identity = `mysql:${m!.uuid}`;
    gtidMode = m!.gtid === 'ON';
  } else {
    // MariaDB has no server UUID: host name, port, data directory and server id together.
    identity = `mariadb:${r.h}:${r.p}:${r.d}:${r.sid}`;
    gtidMode = true; // MariaDB GTIDs are always on (domain-server-sequence)
  }
  return {
    family,
    version: r.v,
    versionNumber: /^(\d+\.\d+\.\d+)/.exec(r.v)?.[1] ?? r.v,
    versionComment: r.c,
    identity,
    dataDir: r.d,
    binlog: Number(r.lb) === 1,
    gtidMode,
    user: r.u,
  };
}

/** Schemas of the server itself, never backed up as user data. */
export const SYSTEM_SCHEMAS = ['mysql', 'information_schema', 'performance_schema', 'sys'];

export interface DatabaseFacts {
  name: string;
  charset: string;
  collation: string;
  bytes: number;
}

export async function listDatabases(c: Connection): Promise<DatabaseFacts[]> {
  const list = await rows<{ name: string; charset: string; collation: string; bytes: string | null }>(
    c,
    `SELECT s.SCHEMA_NAME AS name, s.DEFAULT_CHARACTER_SET_NAME AS charset, s.DEFAULT_COLLATION_NAME AS collation,
            (SELECT SUM(t.DATA_LENGTH + t.INDEX_LENGTH) FROM information_schema.TABLES t WHERE t.TABLE_SCHEMA = s.SCHEMA_NAME) AS bytes
       FROM information_schema.SCHEMATA s
      WHERE s.SCHEMA_NAME NOT IN (?)
      ORDER BY s.SCHEMA_NAME`,
    [SYSTEM_SCHEMAS],
  );
  return list.map((d) => ({ ...d, bytes: Number(d.bytes ?? 0) }));
}

/** The databases a service covers: the `databases` option, the URL's, or every non-system one. */
export async function selectDatabases(c: Connection, t: MyTarget, option: unknown): Promise<DatabaseFacts[]> {
  const all = await listDatabases(c);
  const wanted = Array.isArray(option) ? option.map(String) : t.database ? [t.database] : undefined;
  if (!wanted) return all;
  return wanted.map((name) => {
    const found = all.find((d) => d.name === name);
    if (!found) {
      throw new HoldfastError('not-found', `database ${JSON.stringify(name)} does not exist on ${where(t)}`, {
        service: t.service,
        driver: 'mysql',
        hint: all.length ? `it has: ${all.map((d) => d.name).join(', ')}` : 'the server has no user database',
      });
    }
    return found;
  });
}

export interface TableEngine {
  database: string;
  table: string;
  engine: string;
}

/**
 * Tables a single-transaction dump does not cover: anything not InnoDB
 * (MyISAM, Aria, MEMORY, CSV, ...) is read at whatever moment the dump
 * reaches it, not at the snapshot.
 */
export async function nonTransactionalTables(c: Connection, databases: readonly string[]): Promise<TableEngine[]> {
  if (databases.length === 0) return [];
  return rows<TableEngine>(
    c,
    `SELECT TABLE_SCHEMA AS \`database\`, TABLE_NAME AS \`table\`, ENGINE AS engine FROM information_schema.TABLES
      WHERE TABLE_SCHEMA IN (?) AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') AND ENGINE IS NOT NULL AND ENGINE <> 'InnoDB'
      ORDER BY 1, 2`,
    [databases],
  );
}

/** `shop.legacy (MyISAM), shop.cache (MEMORY)` */
export function describeTables(tables: readonly TableEngine[]): string {
  return tables.map((t) => `${t.database}.${t.table} (${t.engine})`).join(', ');
}

export async function inspectServer(t: MyTarget, databasesOption: unknown): Promise<Inspection> {
  return withConnection(t, undefined, async (c) => {
    const facts = await serverFacts(c);
    const dbs = await selectDatabases(c, t, databasesOption);
    return {
      version: facts.version,
      objects: dbs.map((d) => ({ name: d.name, kind: 'database', bytes: d.bytes })),
      details: {
        family: facts.family,
        versionComment: facts.versionComment,
        binlog: facts.binlog,
        nonTransactionalTables: await nonTransactionalTables(c, dbs.map((d) => d.name)),
      },
    };
  });
}

import type { PgQueryable } from './postgres-queryable.js';
import type { Inspection } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import type { PgSite } from './postgres-site.js';

export interface ServerFacts {
  version: string;
  versionNum: number;
  major: number;
  systemIdentifier: string;
  inRecovery: boolean;
  canReplicate: boolean;
  superuser: boolean;
  maxWalSenders: number;
}

export async function serverFacts(c: PgQueryable): Promise<ServerFacts> {
  const { rows } = await c.query<{
    version: string;
    num: string;
    sysid: string;
    recovery: boolean;
    repl: boolean;
    su: boolean;
    senders: string;
  }>(`SELECT current_setting('server_version') AS version,
            current_setting('server_version_num') AS num,
            (SELECT system_identifier::text FROM pg_control_system()) AS sysid,
            pg_is_in_recovery() AS recovery,
            r.rolreplication AS repl, r.rolsuper AS su,
            current_setting('max_wal_senders') AS senders
       FROM pg_roles r WHERE r.rolname = current_user`);
  const row = rows[0]!;
  const versionNum = Number(row.num);
  return {
    version: row.version.split(' ')[0]!,
    versionNum,
    major: Math.floor(versionNum / 10000),
    systemIdentifier: row.sysid,
    inRecovery: row.recovery,
    canReplicate: row.repl || row.su,
    superuser: row.su,
    maxWalSenders: Number(row.senders),
  };
}

export interface DatabaseFacts {
  name: string;
  bytes: number;
  encoding: string;
  collate: string;
  ctype: string;
  owner: string;
}

export async function listDatabases(c: PgQueryable): Promise<DatabaseFacts[]> {
  const { rows } = await c.query<{ name: string; bytes: string; encoding: string; collate: string; ctype: string; owner: string }>(
    `SELECT datname AS name, pg_database_size(oid)::text AS bytes, pg_encoding_to_char(encoding) AS encoding,
            datcollate AS collate, datctype AS ctype, pg_get_userbyid(datdba) AS owner
       FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname`,
  );
  return rows.map((r) => ({ ...r, bytes: Number(r.bytes) }));
}

/** The databases a service covers: the URL's, the `databases` option, or all that accept connections. */
export async function selectDatabases(c: PgQueryable, t: Pick<PgSite, 'service' | 'where' | 'database'>, option: unknown): Promise<DatabaseFacts[]> {
  const all = await listDatabases(c);
  const wanted = Array.isArray(option) ? option.map(String) : t.database ? [t.database] : undefined;
  if (!wanted) return all;
  return wanted.map((name) => {
    const found = all.find((d) => d.name === name);
    if (!found) {
      throw new HoldfastError('not-found', `database ${JSON.stringify(name)} does not exist ${t.where}`, {
        service: t.service,
        driver: 'postgres',
        hint: `it has: ${all.map((d) => d.name).join(', ')}`,
      });
    }
    return found;
  });
}

/** Roles that own objects in the current database (restore needs them, or --no-owner). */
export async function objectOwners(c: PgQueryable): Promise<string[]> {
  const { rows } = await c.query<{ owner: string }>(
    `SELECT DISTINCT pg_get_userbyid(relowner) AS owner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
     UNION SELECT DISTINCT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'`,
  );
  return rows.map((r) => r.owner).sort();
}

/** Version and databases of the server, wherever it is. */
export async function inspectServer(site: PgSite, databasesOption: unknown): Promise<Inspection> {
  const c = await site.session();
  try {
    const facts = await serverFacts(c);
    const dbs = await selectDatabases(c, site, databasesOption);
    return {
      version: facts.version,
      objects: dbs.map((d) => ({ name: d.name, kind: 'database', bytes: d.bytes })),
      details: { systemIdentifier: facts.systemIdentifier, inRecovery: facts.inRecovery, ...(site.place.containerName ? { container: site.place.containerName } : {}) },
    };
  } finally {
    await c.close();
  }
}

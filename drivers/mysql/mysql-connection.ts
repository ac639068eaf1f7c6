import { createConnection as createCoreConnection } from 'mysql2';
import mysql from 'mysql2/promise';
import { connectOrNameProtocol } from '../../src/core/protocol-probe.js';
import { HoldfastError } from '../../src/core/errors.js';
import { lookupPassword, passwordEnvPrefixes } from '../../src/core/secrets.js';
import type { Service } from '../../src/core/service.js';
import type { MyContainer } from './mysql-container.js';
import { MYSQL_SCHEMES } from './mysql-detect.js';

export type Connection = mysql.Connection;

/** How to reach one MySQL / MariaDB server, resolved from a service; the password stays in memory only. */
export interface MyTarget {
  service: string;
  host: string;
  port: number;
  user: string;
  password?: string;
  /** A Unix socket (`?socket=/run/mysqld/mysqld.sock`), used instead of TCP. */
  socket?: string;
  /** The database named in the URL, if any. */
  database?: string;
  /** Where the password is looked up, for messages. */
  passwordFrom: string[];
  /** The server runs in this container: host and port are a tunnel to it, its tools run there (mysql-container.ts). */
  container?: MyContainer;
}

export function mysqlTarget(service: Service): MyTarget {
  const e = service.endpoint;
  if (!e || !(MYSQL_SCHEMES as readonly string[]).includes(e.scheme)) {
    throw new HoldfastError('config', 'a MySQL / MariaDB service needs a mysql:// or mariadb:// URL, or container:NAME', {
      service: service.name,
      hint: 'for example mysql://root@127.0.0.1:3306/shop, or container:shop-db-1 for a server in a container',
    });
  }
  const target: MyTarget = {
    service: service.name,
    host: e.host || '127.0.0.1',
    port: e.port ?? 3306,
    user: e.user ?? 'root',
    passwordFrom: passwordEnvPrefixes(service).map((p) => `${p}_PASSWORD[_FILE]`),
  };
  const password = lookupPassword(service) ?? process.env.MYSQL_PWD;
  if (password !== undefined) target.password = password;
  if (e.path) target.database = e.path;
  if (e.params.socket) target.socket = e.params.socket;
  return target;
}

/** `host:port` (or the socket) for messages. */
export function where(t: MyTarget): string {
  if (t.container) return `container ${t.container.name}`;
  return t.socket ? `${t.socket}` : `${t.host}:${t.port}`;
}

/**
 * A connected client. Session settings make row text stable across servers
 * (UTC for TIMESTAMP columns) and numbers exact (big numbers as strings).
 */
export async function connect(t: MyTarget, database?: string): Promise<Connection> {
  let conn: Connection;
  try {
    const core = createCoreConnection({
      ...(t.socket ? { socketPath: t.socket } : { host: t.host, port: t.port }),
      user: t.user,
      ...(t.password !== undefined ? { password: t.password } : {}),
      ...(database !== undefined ? { database } : {}),
      connectTimeout: 10_000,
      charset: 'utf8mb4',
      dateStrings: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
      multipleStatements: false,
    });
    // What mysql2/promise's createConnection does, with a handle on the attempt to stop it.
    const connecting = new Promise<Connection>((resolve, reject) => {
      core.once('connect', () => resolve(core.promise()));
      core.once('error', reject);
    });
    // A port that answers another protocol is named within a second, not after the 10 s timeout.
    conn = t.socket
      ? await connecting
      : await connectOrNameProtocol(connecting, { host: t.host, port: t.port, expected: 'MySQL / MariaDB', service: t.service, driver: 'mysql' }, () => core.destroy());
  } catch (error) {
    throw describeConnectError(error, t, database);
  }
  conn.on('error', () => undefined); // surfaced through the failing query instead
  await conn.query("SET time_zone = '+00:00'");
  return conn;
}

export async function withConnection<T>(t: MyTarget, database: string | undefined, work: (c: Connection) => Promise<T>): Promise<T> {
  const conn = await connect(t, database);
  try {
    return await work(conn);
  } finally {
    await conn.end().catch(() => conn.destroy());
  }
}

/** Rows of a query, typed by the caller. */
export async function rows<T>(c: Connection, sql: string, values?: unknown[]): Promise<T[]> {
  const [result] = await c.query(sql, values);
  return result as T[];
}

export function describeConnectError(error: unknown, t: MyTarget, database?: string): HoldfastError {
  if (error instanceof HoldfastError) return error;
  const err = error as { code?: string; errno?: number; message?: string };
  const base = { service: t.service, driver: 'mysql', cause: error };
  switch (err.code) {
    case 'ER_ACCESS_DENIED_ERROR':
    case 'ER_DBACCESS_DENIED_ERROR':
    case 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR':
      return new HoldfastError('auth', `the server at ${where(t)} refused user ${t.user}: ${err.message}`, {
        ...base,
        hint: t.container
          ? `the credentials came from ${t.container.credentials}; set the password holdfast should use in ${t.passwordFrom.join(' or ')} (and user: NAME in the service options)`
          : `check the user in the URL and the password in ${t.passwordFrom.join(' or ')}`,
      });
    case 'ER_BAD_DB_ERROR':
      return new HoldfastError('not-found', `database ${JSON.stringify(database)} does not exist on ${where(t)}`, {
        ...base,
        hint: 'check the database name in the URL (list them with SHOW DATABASES)',
      });
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EHOSTUNREACH':
    case 'ENOENT':
    case 'ETIMEDOUT':
      return new HoldfastError('connect', `cannot reach MySQL / MariaDB at ${where(t)} (${err.code})`, {
        ...base,
        hint: 'check the host and port (or socket) in the URL, and that the server is running and accepts connections',
      });
    default:
      return new HoldfastError('connect', `cannot connect to MySQL / MariaDB at ${where(t)}: ${err.message ?? String(error)}`, {
        ...base,
        ...(t.container ? { hint: `check that the server in ${t.container.name} listens on its 127.0.0.1:${t.container.port} (the port option of the service)` } : {}),
      });
  }
}

/** Quotes an identifier for SQL text. */
export function ident(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

/** `db`.`table` */
export function qualified(database: string, table: string): string {
  return `${ident(database)}.${ident(table)}`;
}

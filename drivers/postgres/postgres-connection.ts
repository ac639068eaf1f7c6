import type pg from 'pg';
import { connectOrNameProtocol } from '../../src/core/protocol-probe.js';
import { HoldfastError } from '../../src/core/errors.js';
import { lookupPassword, passwordEnvPrefixes } from '../../src/core/secrets.js';
import type { Service } from '../../src/core/service.js';

/** How to reach one PostgreSQL server, resolved from a service; the password stays in memory only. */
export interface PgTarget {
  service: string;
  host: string;
  port: number;
  user: string;
  password?: string;
  /** The database named in the URL, if any. */
  database?: string;
  sslmode?: string;
  /** Where the password is looked up, for messages. */
  passwordFrom: string[];
}

export function pgTarget(service: Service): PgTarget {
  const e = service.endpoint;
  if (!e || !['postgres', 'postgresql'].includes(e.scheme)) {
    throw new HoldfastError('config', 'a PostgreSQL service needs a postgres:// URL', {
      service: service.name,
      hint: 'for example postgres://app@127.0.0.1:5432/app',
    });
  }
  const target: PgTarget = {
    service: service.name,
    host: e.host || '127.0.0.1',
    port: e.port ?? 5432,
    user: e.user ?? process.env.PGUSER ?? 'postgres',
    passwordFrom: passwordEnvPrefixes(service).map((p) => `${p}_PASSWORD[_FILE]`),
  };
  const password = lookupPassword(service) ?? process.env.PGPASSWORD;
  if (password !== undefined) target.password = password;
  if (e.path) target.database = e.path;
  if (e.params.sslmode) target.sslmode = e.params.sslmode;
  return target;
}

/** Environment for pg_dump & co: the connection without anything on argv. */
export function toolEnv(t: PgTarget, database?: string): Record<string, string | undefined> {
  return {
    PGHOST: t.host,
    PGPORT: String(t.port),
    PGUSER: t.user,
    PGPASSWORD: t.password,
    PGDATABASE: database ?? t.database ?? 'postgres',
    PGSSLMODE: t.sslmode,
    PGAPPNAME: 'holdfast',
    PGCONNECT_TIMEOUT: '10',
  };
}

/** A connected client with session settings that make row text stable across servers. */
export async function connect(t: PgTarget, database?: string): Promise<pg.Client> {
  const dbName = database ?? t.database ?? 'postgres';
  // Loaded on first use: a server in a container is reached through its own psql, and loading pg took ~30 ms of
  // that backup's fixed cost (a CPU profile of `holdfast backup` of container:NAME, bench/postgres-place-bench.ts).
  const { default: pgModule } = await import('pg');
  const client = new pgModule.Client({
    host: t.host,
    port: t.port,
    user: t.user,
    password: t.password,
    database: dbName,
    application_name: 'holdfast',
    connectionTimeoutMillis: 10_000,
    ...(t.sslmode && t.sslmode !== 'disable' ? { ssl: { rejectUnauthorized: t.sslmode === 'verify-full' } } : {}),
  });
  client.on('error', () => undefined); // surfaced through the failing query instead
  try {
    // A port that answers another protocol is named within a second, not after the 10 s timeout.
    await connectOrNameProtocol(client.connect(), { host: t.host, port: t.port, expected: 'PostgreSQL', service: t.service, driver: 'postgres' });
    await client.query("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 1; SET bytea_output = 'hex'");
  } catch (error) {
    await client.end().catch(() => undefined);
    throw describeConnectError(error, t, dbName);
  }
  return client;
}

export async function withClient<T>(t: PgTarget, database: string | undefined, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(t, database);
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export function describeConnectError(error: unknown, t: PgTarget, database: string): HoldfastError {
  if (error instanceof HoldfastError) return error;
  const err = error as { code?: string; message?: string };
  const where = `${t.host}:${t.port}`;
  if (/client password must be a string/.test(err.message ?? '')) {
    return new HoldfastError('auth', `PostgreSQL at ${where} asks user ${t.user} for a password and none was given`, {
      service: t.service,
      driver: 'postgres',
      hint: `set ${t.passwordFrom.join(' or ')} (or PGPASSWORD, ~/.pgpass)`,
      cause: error,
    });
  }
  switch (err.code) {
    case '28P01':
    case '28000':
      return new HoldfastError('auth', `PostgreSQL at ${where} refused user ${t.user}: ${err.message}`, {
        service: t.service,
        driver: 'postgres',
        hint: `check the user in the URL and the password in ${t.passwordFrom.join(' or ')} (or PGPASSWORD, ~/.pgpass)`,
        cause: error,
      });
    case '3D000':
      return new HoldfastError('not-found', `database ${JSON.stringify(database)} does not exist on ${where}`, {
        service: t.service,
        driver: 'postgres',
        hint: 'check the database name in the URL (list them with psql -l)',
        cause: error,
      });
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EHOSTUNREACH':
    case 'ETIMEDOUT':
      return new HoldfastError('connect', `cannot reach PostgreSQL at ${where} (${err.code})`, {
        service: t.service,
        driver: 'postgres',
        hint: 'check the host and port in the URL, and that the server is running and accepts TCP connections',
        cause: error,
      });
    default:
      if (/timeout/i.test(err.message ?? '')) {
        return new HoldfastError('connect', `PostgreSQL at ${where} did not answer within 10s`, {
          service: t.service,
          driver: 'postgres',
          hint: 'check the host, port and firewall',
          cause: error,
        });
      }
      return new HoldfastError('connect', `cannot connect to PostgreSQL at ${where}: ${err.message ?? String(error)}`, {
        service: t.service,
        driver: 'postgres',
        cause: error,
      });
  }
}

/** Quotes an identifier for SQL text. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

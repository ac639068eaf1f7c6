import { MongoClient, MongoServerError, type MongoClientOptions } from 'mongodb';
import { connectOrNameProtocol, refuseGreetingServer } from '../../src/core/protocol-probe.js';
import { HoldfastError } from '../../src/core/errors.js';
import { lookupPassword, passwordEnvPrefixes } from '../../src/core/secrets.js';
import type { Service } from '../../src/core/service.js';
import { MONGO_SCHEMES } from './mongodb-detect.js';

/** How to reach one MongoDB server, resolved from a service; the password stays in memory only. */
export interface MongoTarget {
  service: string;
  host: string;
  port: number;
  user?: string;
  password?: string;
  /** The database named in the URL: the one to back up or restore into (not the auth database). */
  database?: string;
  /** URL parameters passed on to the driver and the tools (authSource, tls, replicaSet, ...). */
  params: Record<string, string>;
  /** Where the password is looked up, for messages. */
  passwordFrom: string[];
  /** How messages name the server when host:port is not what the user knows (a tunnel to a container). */
  display?: string;
  /** What to do when the server requires credentials and none are known (a container's own settings). */
  authHint?: string;
  /** What to check when the server cannot be reached (a container's port, its sidecar). */
  connectHint?: string;
}

/** host:port, or what the target says it is for the user. */
export function serverName(t: Pick<MongoTarget, 'host' | 'port' | 'display'>): string {
  return t.display ?? `${t.host}:${t.port}`;
}

export function mongoTarget(service: Service): MongoTarget {
  const e = service.endpoint;
  if (!e || !(MONGO_SCHEMES as readonly string[]).includes(e.scheme)) {
    throw new HoldfastError('config', 'a MongoDB service needs a mongodb:// URL', {
      service: service.name,
      hint: 'for example mongodb://admin@127.0.0.1:27017/app (no database: every database but admin, local and config)',
    });
  }
  const target: MongoTarget = {
    service: service.name,
    host: e.host || '127.0.0.1',
    port: e.port ?? 27017,
    params: { ...e.params },
    passwordFrom: passwordEnvPrefixes(service).map((p) => `${p}_PASSWORD[_FILE]`),
  };
  if (e.user) target.user = e.user;
  const password = lookupPassword(service);
  if (password !== undefined) target.password = password;
  if (e.path) target.database = e.path;
  return target;
}

/**
 * The connection string without a password, for the driver and for the tools'
 * --uri. In holdfast URLs the path is the database to back up, so the path of
 * this URI stays empty and the credentials are checked against `authSource`
 * (admin unless the URL says otherwise), as mongosh and the tools would.
 */
export function connectionUri(t: MongoTarget): string {
  const params = new URLSearchParams(t.params);
  if (t.user && !params.has('authSource')) params.set('authSource', 'admin');
  // One host and no replica set named: talk to that member itself, whatever its role.
  if (!params.has('replicaSet') && !params.has('directConnection')) params.set('directConnection', 'true');
  const user = t.user ? `${encodeURIComponent(t.user)}@` : '';
  const host = t.host.includes(':') ? `[${t.host}]` : t.host;
  return `mongodb://${user}${host}:${t.port}/?${params.toString()}`;
}

export function clientOptions(t: MongoTarget): MongoClientOptions {
  return {
    appName: 'holdfast',
    serverSelectionTimeoutMS: 10_000,
    connectTimeoutMS: 10_000,
    ...(t.user && t.password !== undefined ? { auth: { username: t.user, password: t.password } } : {}),
  };
}

/** A connected client; the first command proves the credentials, so errors surface here and not mid-backup. */
export async function connect(t: MongoTarget): Promise<MongoClient> {
  // Before the client exists: it cannot be trusted with a port where another engine greets (protocol-probe.ts).
  await refuseGreetingServer({ host: t.host, port: t.port, expected: 'MongoDB', service: t.service, driver: 'mongodb' });
  const client = new MongoClient(connectionUri(t), clientOptions(t));
  try {
    // A port that answers another protocol is named within a second, not after server selection's 10 s.
    await connectOrNameProtocol(client.connect(), { host: t.host, port: t.port, expected: 'MongoDB', service: t.service, driver: 'mongodb' }, () => void client.close().catch(() => undefined));
    // `listDatabases` needs authentication where `ping` does not: it proves the user may read.
    await client.db('admin').command({ listDatabases: 1, nameOnly: true });
  } catch (error) {
    await client.close().catch(() => undefined);
    throw describeMongoError(error, t);
  }
  return client;
}

export async function withClient<T>(t: MongoTarget, work: (c: MongoClient) => Promise<T>): Promise<T> {
  const client = await connect(t);
  try {
    return await work(client);
  } catch (error) {
    throw describeMongoError(error, t);
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** Names connection and credential failures as such; other errors keep their message, prefixed by the service. */
export function describeMongoError(error: unknown, t: MongoTarget): HoldfastError {
  if (error instanceof HoldfastError) return error.forService(t.service, 'mongodb');
  const where = serverName(t);
  const err = error as { code?: number | string; codeName?: string; message?: string; name?: string };
  const message = err.message ?? String(error);
  const base = { service: t.service, driver: 'mongodb', cause: error };
  if (error instanceof MongoServerError && (err.code === 18 || err.codeName === 'AuthenticationFailed')) {
    return new HoldfastError('auth', `MongoDB at ${where} refused user ${t.user ?? '(none)'}: ${message}`, {
      ...base,
      hint: `check the user in the URL and the password in ${t.passwordFrom.join(' or ')}; the user is checked against authSource=${t.params.authSource ?? 'admin'}`,
    });
  }
  if (error instanceof MongoServerError && (err.code === 13 || err.codeName === 'Unauthorized')) {
    return new HoldfastError('auth', `MongoDB at ${where} refused the command: ${message}`, {
      ...base,
      hint: t.user
        ? `give ${t.user} the backup/restore roles (or root), or use another user`
        : t.authHint ?? `the server requires authentication: put the user in the URL (mongodb://USER@${where}/...) and its password in ${t.passwordFrom.join(' or ')}`,
    });
  }
  if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|Server selection timed out|connect ECONN/i.test(message) || err.name === 'MongoServerSelectionError') {
    return new HoldfastError('connect', `cannot reach MongoDB at ${where}: ${message.split('\n')[0]}`, {
      ...base,
      hint: t.connectHint ?? 'check the host and port in the service URL, and that the server is running and accepts TCP connections',
    });
  }
  return new HoldfastError('internal', `MongoDB at ${where}: ${message}`, base);
}

import type { MongoClient } from 'mongodb';
import type { Inspection } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { withClient, type MongoTarget } from './mongodb-connection.js';

/** Databases that hold the server's own state, never user data. */
export const SYSTEM_DATABASES = ['admin', 'local', 'config'] as const;

export interface ServerFacts {
  /** What the server reports in buildInfo (FerretDB reports the MongoDB version it imitates). */
  version: string;
  /** Set when the server is FerretDB, which speaks the wire protocol on another storage. */
  ferretdb?: string;
  /** The replica set name from `hello`; undefined for a standalone. */
  replicaSet?: string;
  writablePrimary: boolean;
  /** `local.oplog.rs` can be read and holds an entry: mongodump --oplog can run. */
  oplog: boolean;
  mongos: boolean;
}

/** What the server can do that a restore reaches for; FerretDB lacks these (measured, v1.24). */
export interface ServerAbilities {
  /** `applyOps`: replay an oplog with the server's own semantics. */
  applyOps: boolean;
  /** mongorestore's index specs (they carry `ns`) are accepted. */
  toolIndexRestore: boolean;
  /** renameCollection with dropTarget (an atomic replacement). */
  renameDropTarget: boolean;
}

export function abilities(facts: ServerFacts): ServerAbilities {
  const full = !facts.ferretdb;
  return { applyOps: full, toolIndexRestore: full, renameDropTarget: full };
}

export function describeServer(facts: ServerFacts): string {
  const role = facts.mongos ? 'mongos' : facts.replicaSet ? `replica set ${facts.replicaSet} ${facts.writablePrimary ? 'primary' : 'member'}` : 'standalone';
  return facts.ferretdb ? `FerretDB ${facts.ferretdb} (MongoDB wire ${facts.version}), ${role}` : `MongoDB ${facts.version}, ${role}`;
}

export async function serverFacts(c: MongoClient): Promise<ServerFacts> {
  const admin = c.db('admin');
  const [hello, build] = await Promise.all([admin.command({ hello: 1 }), admin.command({ buildInfo: 1 })]);
  const facts: ServerFacts = {
    version: String(build.version ?? 'unknown'),
    writablePrimary: Boolean(hello.isWritablePrimary ?? hello.ismaster),
    oplog: false,
    mongos: hello.msg === 'isdbgrid',
  };
  if (typeof build.ferretdbVersion === 'string') facts.ferretdb = build.ferretdbVersion;
  if (typeof hello.setName === 'string') facts.replicaSet = hello.setName;
  if (facts.replicaSet) {
    // Reading local needs privileges a backup user may lack; without them there is no --oplog.
    // mongodump --oplog also fails on an empty oplog (it starts from the newest entry).
    facts.oplog = await c
      .db('local')
      .collection('oplog.rs')
      .findOne({}, { sort: { $natural: -1 }, projection: { ts: 1 } })
      .then((newest) => newest !== null)
      .catch(() => false);
  }
  return facts;
}

export interface DatabaseInfo {
  name: string;
  bytes: number;
}

export async function listUserDatabases(c: MongoClient): Promise<DatabaseInfo[]> {
  const { databases } = (await c.db('admin').command({ listDatabases: 1 })) as { databases: Array<{ name: string; sizeOnDisk?: number }> };
  return databases
    .filter((d) => !(SYSTEM_DATABASES as readonly string[]).includes(d.name))
    .map((d) => ({ name: d.name, bytes: Number(d.sizeOnDisk ?? 0) }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The databases a service covers: the `databases` option, the URL's database,
 * or every database but admin, local and config. `whole` is true in the last
 * case only: mongodump --oplog needs a dump of the whole server.
 */
export async function selectDatabases(c: MongoClient, t: MongoTarget, option: unknown): Promise<{ databases: DatabaseInfo[]; whole: boolean }> {
  const all = await listUserDatabases(c);
  const wanted = Array.isArray(option) ? option.map(String) : t.database ? [t.database] : undefined;
  if (!wanted) return { databases: all, whole: true };
  const databases = wanted.map((name) => {
    const found = all.find((d) => d.name === name);
    if (!found) {
      throw new HoldfastError('not-found', `database ${JSON.stringify(name)} does not exist on ${t.host}:${t.port}`, {
        service: t.service,
        driver: 'mongodb',
        hint: all.length ? `it has: ${all.map((d) => d.name).join(', ')}` : 'the server holds no user database yet',
      });
    }
    return found;
  });
  return { databases, whole: false };
}

/** User collections of a database with their type and options (system.* and holdfast's scratch ones left out). */
export async function listUserCollections(c: MongoClient, database: string): Promise<Array<{ name: string; type: string; options: Record<string, unknown> }>> {
  const list = await c.db(database).listCollections({}, { nameOnly: false }).toArray();
  return list
    .filter((x) => !x.name.startsWith('system.') && !x.name.startsWith(SCRATCH_PREFIX))
    .map((x) => ({ name: x.name, type: x.type ?? 'collection', options: (x as { options?: Record<string, unknown> }).options ?? {} }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Restores land in collections named with this prefix first, then are renamed into place. */
export const SCRATCH_PREFIX = '__holdfast_restore_';

export async function inspectServer(t: MongoTarget, databasesOption: unknown): Promise<Inspection> {
  return withClient(t, async (c) => {
    const facts = await serverFacts(c);
    const { databases } = await selectDatabases(c, t, databasesOption);
    const objects: Inspection['objects'] = [];
    for (const db of databases) {
      objects.push({ name: db.name, kind: 'database', bytes: db.bytes });
      for (const coll of await listUserCollections(c, db.name)) objects.push({ name: `${db.name}.${coll.name}`, kind: coll.type });
    }
    return {
      version: facts.ferretdb ? `${facts.version} (FerretDB ${facts.ferretdb})` : facts.version,
      objects,
      details: { server: describeServer(facts), ...facts },
    };
  });
}

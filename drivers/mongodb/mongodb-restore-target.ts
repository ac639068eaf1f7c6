import { BSON, type Document, type MongoClient } from 'mongodb';
import { renameOption, type RestoreContext } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { listUserCollections, SCRATCH_PREFIX, type ServerAbilities } from './mongodb-inspector.js';
import type { MongoTarget } from './mongodb-connection.js';
import { EXACT_TYPES } from './mongodb-oplog-replay.js';

/** One database of the snapshot and the database it is restored into. */
export interface DatabaseMapping {
  from: string;
  to: string;
}

/**
 * Which recorded databases go where: `--database NAME` picks one; a target
 * URL that names a database takes the (single) chosen one under that name;
 * otherwise each keeps its name.
 */
export function mapDatabases(ctx: RestoreContext, t: MongoTarget, recorded: string[]): DatabaseMapping[] {
  const only = ctx.options.database === undefined ? undefined : String(ctx.options.database);
  let chosen = recorded;
  if (only !== undefined) {
    chosen = recorded.filter((d) => d === only);
    if (chosen.length === 0) {
      throw new HoldfastError('not-found', `the snapshot has no database ${JSON.stringify(only)}`, { service: t.service, driver: 'mongodb', hint: `it has: ${recorded.join(', ')}` });
    }
  }
  if (chosen.length === 0) {
    throw new HoldfastError('not-found', 'the snapshot holds no database', { service: t.service, driver: 'mongodb', hint: 'the server held no user database when it was backed up' });
  }
  const rename = renameOption(ctx.options);
  const named = !ctx.inPlace && !rename ? t.database : undefined;
  if (named && chosen.length > 1) {
    throw new HoldfastError('usage', `the target names one database (${named}) but the snapshot holds ${chosen.length}: ${chosen.join(', ')}`, {
      service: t.service,
      driver: 'mongodb',
      hint: 'pick one with --database NAME, or drop the database from the target URL to restore each under its own name',
    });
  }
  return chosen.map((from) => ({ from, to: rename?.[from] ?? named ?? from }));
}

/**
 * Refuses, before anything changes, a target database that holds collections
 * unless --force. Returns the databases that exist (and will be replaced).
 */
export async function checkTargets(c: MongoClient, t: MongoTarget, plan: DatabaseMapping[], force: boolean): Promise<Set<string>> {
  const replaced = new Set<string>();
  for (const { to } of plan) {
    const existing = await listUserCollections(c, to);
    if (existing.length === 0) continue;
    if (!force) {
      throw new HoldfastError('target', `database ${JSON.stringify(to)} on ${t.host}:${t.port} is not empty (${existing.length} collections)`, {
        service: t.service,
        driver: 'mongodb',
        hint: 'restore into a new database (--target NAME=mongodb://host:port/newdb), or pass --force to replace it',
      });
    }
    replaced.add(to);
  }
  return replaced;
}

export const scratchName = (collection: string) => `${SCRATCH_PREFIX}${collection}`;

/** Drops what an earlier, interrupted restore left in a database. */
export async function dropScratch(c: MongoClient, database: string): Promise<void> {
  const left = await c.db(database).listCollections({}, { nameOnly: true }).toArray();
  for (const coll of left) if (coll.name.startsWith(SCRATCH_PREFIX)) await c.db(database).collection(coll.name).drop().catch(() => undefined);
}

/**
 * Moves the restored scratch collections to their names. With
 * renameCollection's dropTarget (mongod) each replacement is atomic; FerretDB
 * has no dropTarget, so the old collection is dropped just before the rename.
 * When a database is replaced, collections the snapshot does not hold are
 * dropped too: afterwards it holds what the backup held, nothing else.
 */
export async function swapIn(c: MongoClient, database: string, abilities: ServerAbilities, replace: boolean): Promise<string[]> {
  const db = c.db(database);
  const scratch = (await db.listCollections({}, { nameOnly: false }).toArray()).filter((x) => x.name.startsWith(SCRATCH_PREFIX));
  const finals: string[] = [];
  for (const s of scratch) {
    const final = s.name.slice(SCRATCH_PREFIX.length);
    finals.push(final);
    const exists = (await db.listCollections({ name: final }, { nameOnly: true }).toArray()).length > 0;
    if (s.type === 'view') {
      // A view cannot be renamed: create it under its name, pointing at the final collection.
      const options = ((s as { options?: Document }).options ?? {}) as Document;
      if (exists) await db.collection(final).drop();
      const viewOn = String(options.viewOn ?? '').replace(SCRATCH_PREFIX, '');
      await db.createCollection(final, { ...options, viewOn });
      await db.collection(s.name).drop();
      continue;
    }
    const from = `${database}.${s.name}`;
    const to = `${database}.${final}`;
    if (exists && abilities.renameDropTarget) {
      await c.db('admin').command({ renameCollection: from, to, dropTarget: true });
      continue;
    }
    if (exists) await db.collection(final).drop();
    try {
      await c.db('admin').command({ renameCollection: from, to });
    } catch (error) {
      // FerretDB renames no collection whose name holds a dot (InvalidNamespace): copy it instead.
      if ((error as { code?: number }).code !== 73) throw error;
      await copyCollection(c, database, s.name, final, ((s as { options?: Document }).options ?? {}) as Document);
    }
  }
  if (replace) {
    for (const coll of await listUserCollections(c, database)) if (!finals.includes(coll.name)) await db.collection(coll.name).drop();
  }
  return finals;
}

/** Index definitions as listIndexes or a dump's metadata give them, made acceptable to createIndexes. */
export async function createIndexes(c: MongoClient, database: string, collection: string, specs: Document[]): Promise<void> {
  // `ns` (old dumps) is refused by newer servers and FerretDB; `v` and `background` are the server's business.
  const indexes = specs.filter((s) => s.name !== '_id_').map(({ ns: _ns, v: _v, background: _bg, ...rest }) => rest);
  if (indexes.length === 0) return;
  try {
    await c.db(database).command({ createIndexes: collection, indexes });
  } catch (error) {
    throw new HoldfastError('target', `cannot create the indexes of ${database}.${collection.replace(SCRATCH_PREFIX, '')} on the target: ${(error as Error).message}`, {
      hint: 'the target server does not support one of these indexes; restore onto a server that does',
      cause: error,
    });
  }
}

/** Copies a scratch collection to its final name, documents with their exact types, then its indexes. */
async function copyCollection(c: MongoClient, database: string, from: string, to: string, options: Document): Promise<void> {
  const db = c.db(database);
  await db.command({ create: to, ...options });
  const target = db.collection(to);
  let batch: Document[] = [];
  for await (const raw of db.collection(from).find({}, { raw: true, batchSize: 1000 })) {
    batch.push(BSON.deserialize(raw as unknown as Uint8Array, EXACT_TYPES));
    if (batch.length >= 1000) {
      await target.insertMany(batch, { ordered: true });
      batch = [];
    }
  }
  if (batch.length) await target.insertMany(batch, { ordered: true });
  await createIndexes(c, database, to, await db.collection(from).listIndexes().toArray());
  await db.collection(from).drop();
}

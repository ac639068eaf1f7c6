import { Binary, Double, Int32, Long, MongoClient, ObjectId, Timestamp } from 'mongodb';
import { mongoBinDir, startMongo, type MongoServer, type StartMongoOptions } from '../servers/mongodb.js';

/**
 * MongoDB test servers are FerretDB v1.24 (SQLite), built with the Database
 * Tools by scripts/install/mongodb.sh: see test/servers/mongodb.ts for what
 * it lacks. The CLI finds those tools through HOLDFAST_MONGO_BINDIR.
 */
/** Test documents carry numbers and strings as _id too (the driver's typings assume ObjectId). */
export type AnyDoc = { _id?: number | string | ObjectId | Int32; [field: string]: unknown };

export const mongoToolsEnv = (): Record<string, string> => ({ HOLDFAST_MONGO_BINDIR: mongoBinDir() });

export interface MongoFixture {
  server: MongoServer;
  client: MongoClient;
  /** mongodb://root@127.0.0.1:PORT/<db> (user only: the password travels in the environment). */
  url(database?: string): string;
  password?: string;
  stop(): Promise<void>;
}

/** A server and a connected client; with `password`, authentication is on (user root). */
export async function startMongoFixture(options: { password?: string } & StartMongoOptions = {}): Promise<MongoFixture> {
  const { password, ...rest } = options;
  const server = await startMongo(password ? { ...rest, auth: { user: 'root', password } } : rest);
  const client = new MongoClient(server.url, password ? { auth: { username: 'root', password }, authSource: 'admin' } : {});
  await client.connect();
  const user = password ? 'root@' : '';
  return {
    server,
    client,
    ...(password ? { password } : {}),
    url: (database = '') => `mongodb://${user}127.0.0.1:${server.port}${database ? `/${database}` : ''}`,
    async stop() {
      await client.close().catch(() => undefined);
      await server.stop();
    },
  };
}

/**
 * Starts the oplog now (startMongo({ oplog: false }) first). FerretDB scans
 * its oplog for every mongodump --oplog query: seeding before this keeps the
 * seed's inserts out of it, and the dump fast.
 */
export async function enableOplog(client: MongoClient, sizeBytes = 64 * 1024 * 1024): Promise<void> {
  await client.db('local').createCollection('oplog.rs', { capped: true, size: sizeBytes });
}

/**
 * A shop with the BSON types a backup must carry (int32, int64, double,
 * dates, binary, ObjectId, timestamps, regexes, nested arrays, nulls), a
 * unique, a compound and a descending index, a capped collection and a
 * collection whose name holds a dot. No Decimal128 / MinKey / MaxKey / NaN:
 * FerretDB drops the connection on them.
 */
export async function seedShop(client: MongoClient, database: string, orders = 2000): Promise<void> {
  const db = client.db(database);
  const customers = Array.from({ length: Math.ceil(orders / 4) }, (_, i) => ({
    _id: new Int32(i + 1),
    name: `customer ${i + 1} ✓ "quoted"`,
    email: `c${i + 1}@example.test`,
    tier: i % 5,
    tags: ['a', String(i % 7), { nested: [1, 2, null] }],
    photo: i % 7 === 0 ? null : new Binary(Buffer.from(`photo-${i}`)),
    pattern: /^c\d+$/i,
  }));
  await db.collection<AnyDoc>('customers').insertMany(customers);
  await db.collection<AnyDoc>('orders').insertMany(
    Array.from({ length: orders }, (_, i) => ({
      _id: new ObjectId(),
      customer: new Int32(1 + (i % customers.length)),
      total: new Double(i / 3),
      cents: Long.fromNumber(i * 1_000_000_007),
      placed: new Date(Date.UTC(2024, 0, 1) + i * 60_000),
      seen: new Timestamp({ t: 1_700_000_000 + i, i: 1 }),
      lines: Array.from({ length: 1 + (i % 4) }, (_, j) => ({ sku: `SKU-${(i + j) % 97}`, qty: j + 1 })),
      note: i % 3 === 0 ? null : 'x'.repeat(i % 50),
    })),
  );
  await db.collection<AnyDoc>('orders').createIndex({ customer: 1, placed: -1 }, { name: 'customer_placed' });
  await db.collection<AnyDoc>('customers').createIndex({ email: 1 }, { unique: true, name: 'email_unique' });
  await db.createCollection('events', { capped: true, size: 1024 * 1024 });
  await db.collection<AnyDoc>('events').insertMany(Array.from({ length: 100 }, (_, i) => ({ at: new Date(1e12 + i), what: `event ${i}` })));
  await db.collection<AnyDoc>('audit.log').insertMany(Array.from({ length: 50 }, (_, i) => ({ _id: i, what: `audit ${i}` })));
}

/** Index names and keys per collection, to compare a restore with its source. */
export async function indexesOf(client: MongoClient, database: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const c of await client.db(database).listCollections({}, { nameOnly: true }).toArray()) {
    const list = await client.db(database).collection<AnyDoc>(c.name).listIndexes().toArray();
    out[c.name] = list.map((i) => `${i.name} ${JSON.stringify(i.key)}${i.unique ? ' unique' : ''}`).sort();
  }
  return out;
}

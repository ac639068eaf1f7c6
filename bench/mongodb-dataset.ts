import { Binary, Double, Int32, Long, ObjectId, type MongoClient } from 'mongodb';

/**
 * A realistic MongoDB dataset of mixed shapes: events (nested payloads,
 * session ids, free text), orders (arrays of line items, longs, doubles)
 * and users (addresses, tags, small binaries), in 6 : 3 : 1. Values are
 * neither all-random nor all-repeated, so compression ratios mean something.
 * A seeded generator makes runs comparable. No Decimal128 (FerretDB drops
 * the connection on it).
 */
export async function createDataset(client: MongoClient, database: string, documents: number, log: (text: string) => void): Promise<void> {
  // mulberry32: a seeded 32-bit generator (a float LCG loses its low bits and cycles early)
  let seed = 42;
  const rand = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const pick = <T>(list: readonly T[]) => list[Math.floor(rand() * list.length)]!;
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join('');
  const db = client.db(database);
  const kinds = ['login', 'purchase', 'view', 'search', 'logout', 'refund', 'signup'] as const;
  const agents = ['Mozilla/5.0 (X11; Linux x86_64)', 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5)', 'curl/8.5.0', 'okhttp/4.12'] as const;
  const notes = ['great', 'slow delivery', 'wrong size', 'thanks', 'will order again', 'package damaged'] as const;
  const cities = ['Lyon', 'Porto', 'Gdansk', 'Turku', 'Ghent', 'Graz', 'Brno'] as const;
  const users = Math.ceil(documents / 10);
  const plan: Array<[string, number, (i: number) => Record<string, unknown>]> = [
    ['users', users, (i) => ({
      _id: new Int32(i),
      email: `user${i}@example.test`,
      name: { first: pick(['Ada', 'Linus', 'Grace', 'Ken', 'Barbara', 'Edsger']), last: `N${Math.floor(rand() * 5000)}` },
      address: { city: pick(cities), street: `${Math.floor(rand() * 200)} ${pick(['Rue', 'Via', 'Ulica', 'Katu'])} ${hex(4)}`, zip: String(10000 + Math.floor(rand() * 89999)) },
      tags: Array.from({ length: Math.floor(rand() * 4) }, () => pick(['vip', 'new', 'churn-risk', 'b2b', 'newsletter'])),
      created: new Date(Date.UTC(2020, 0, 1) + Math.floor(rand() * 5 * 365 * 86400_000)),
      avatar: rand() < 0.2 ? new Binary(Buffer.from(hex(64), 'hex')) : null,
    })],
    ['events', Math.round(documents * 0.6), (i) => ({
      _id: new ObjectId(),
      at: new Date(Date.UTC(2026, 0, 1) + Math.floor(rand() * 300 * 86400_000)),
      kind: pick(kinds),
      user: new Int32(Math.floor(rand() * users)),
      payload: { agent: pick(agents), path: `/shop/${pick(['cart', 'item', 'search', 'account'])}/${Math.floor(rand() * 50000)}`, session: hex(32), items: Math.floor(rand() * 9), ok: rand() > 0.1 },
      note: rand() < 0.3 ? null : `customer says: ${pick(notes)} #${Math.floor(rand() * 1e6)}`,
      score: new Double(rand() * 1000),
      seq: Long.fromNumber(i),
    })],
    ['orders', Math.round(documents * 0.3), (i) => ({
      _id: new Int32(i),
      user: new Int32(Math.floor(rand() * users)),
      placed: new Date(Date.UTC(2025, 0, 1) + Math.floor(rand() * 400 * 86400_000)),
      status: pick(['new', 'paid', 'shipped', 'delivered', 'returned']),
      lines: Array.from({ length: 1 + Math.floor(rand() * 5) }, () => ({ sku: `SKU-${Math.floor(rand() * 5000)}`, qty: 1 + Math.floor(rand() * 3), price: new Double(Math.round(rand() * 20000) / 100) })),
      cents: Long.fromNumber(Math.floor(rand() * 10_000_000)),
      shipTo: { city: pick(cities), express: rand() < 0.2 },
    })],
  ];
  for (const [name, count, make] of plan) {
    log(`inserting ${count} ${name}`);
    for (let at = 0; at < count; at += 10_000) {
      await db.collection(name).insertMany(Array.from({ length: Math.min(10_000, count - at) }, (_, k) => make(at + k)), { ordered: false });
    }
  }
  await db.collection('events').createIndex({ user: 1, at: -1 }, { name: 'user_at' });
  await db.collection('users').createIndex({ email: 1 }, { unique: true, name: 'email_unique' });
  await db.collection('orders').createIndex({ status: 1, placed: -1 }, { name: 'status_placed' });
}

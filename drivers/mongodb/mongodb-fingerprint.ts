import { createHash } from 'node:crypto';
import type { MongoClient } from 'mongodb';
import type { Fingerprint, FingerprintScope } from '../../src/core/driver.js';
import { listUserCollections } from './mongodb-inspector.js';

const MASK = (1n << 64n) - 1n;

/**
 * An order-independent checksum of a collection: the sum (mod 2^64) of a
 * 64-bit hash of each document's BSON bytes. The bytes hold `_id` and every
 * field with its BSON type and in its order, so a long that came back as a
 * double, or a reordered field, changes it; the order documents are read in
 * does not.
 */
export class CollectionDigest {
  count = 0;
  private sum = 0n;

  add(doc: Uint8Array): void {
    this.count++;
    this.sum = (this.sum + createHash('md5').update(doc).digest().readBigUInt64LE(0)) & MASK;
  }

  get checksum(): string {
    return this.sum.toString(16).padStart(16, '0');
  }

  entry(scope: FingerprintScope): { count: number; checksum?: string } {
    return scope === 'full' ? { count: this.count, checksum: this.checksum } : { count: this.count };
  }
}

/**
 * Per collection of a database: the document count and, for `full`, the
 * checksum above (read as raw BSON, never decoded). Keys are `<db>.<collection>`
 * with `keyDatabase` in place of the database name (a restore into another
 * name reports under the source's).
 */
export async function fingerprintDatabase(c: MongoClient, database: string, scope: FingerprintScope, keyDatabase = database, items: Fingerprint['items'] = {}): Promise<Fingerprint['items']> {
  for (const coll of await listUserCollections(c, database)) {
    if (coll.type !== 'collection') continue; // views hold no documents of their own
    const collection = c.db(database).collection(coll.name);
    if (scope === 'counts') {
      items[`${keyDatabase}.${coll.name}`] = { count: await collection.countDocuments({}) };
      continue;
    }
    const digest = new CollectionDigest();
    for await (const doc of collection.find({}, { raw: true, batchSize: 2000 })) digest.add(doc as unknown as Uint8Array);
    items[`${keyDatabase}.${coll.name}`] = digest.entry(scope);
  }
  return items;
}

/**
 * The definitions half of the MongoDB fingerprint (issue 11, item 6): a backup records each
 * collection's options and indexes; a restore compares them property by property; and an index
 * or option changed on the restored database afterwards is named in the comparison (the
 * collection, the property, the values). Against FerretDB, which has no validators, collations or
 * TTL indexes (MONGO_KNOWN_GAPS): unique and compound indexes and capped collections stand in.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Fingerprint } from '../../src/core/driver.js';
import { compareFingerprints } from '../../src/core/fingerprint.js';
import { defineDatabase } from '../../drivers/mongodb/mongodb-definitions.js';
import { fingerprintDatabase } from '../../drivers/mongodb/mongodb-fingerprint.js';
import { mongoAvailable } from '../servers/mongodb.js';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { mongoToolsEnv, startMongoFixture, type MongoFixture } from '../support/mongo-fixture.js';

describe.runIf(mongoAvailable())('MongoDB definitions: collection options and indexes (FerretDB)', () => {
  let m: MongoFixture;
  let work: string;
  let env: Record<string, string>;
  let snapshot: string;
  let recorded: Fingerprint;

  beforeAll(async () => {
    m = await startMongoFixture({ oplog: false });
    const shop = m.client.db('shop');
    await shop.createCollection('events', { capped: true, size: 1 << 20 });
    await shop.collection('orders').insertMany(Array.from({ length: 50 }, (_, i) => ({ _id: i, customer: `c${i % 7}`, at: i })));
    await shop.collection('orders').createIndex({ customer: 1, at: -1 }, { name: 'by_customer' });
    await shop.collection('orders').createIndex({ at: 1 }, { name: 'at_unique', unique: true });
    work = await mkdtemp(join(tmpdir(), 'holdfast-mongodef-'));
    env = { ...mongoToolsEnv(), HOLDFAST_REPO: join(work, 'repo') };
    snapshot = savedSnapshot(await holdfast(['backup', '--json', '--service', `src=${m.url('shop')}`], env));
    recorded = (await holdfast(['show', snapshot, '--json'], env)).json<{ services: { src: { fingerprint: Fingerprint } } }>().services.src.fingerprint;
  });
  afterAll(async () => {
    await m?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('the backup records options and indexes per collection', () => {
    const orders = recorded.definitions?.['shop.orders'] ?? {};
    expect(orders.type).toBe('collection');
    expect(orders['index.by_customer']).toBe('{"key":{"customer":1,"at":-1}}');
    expect(orders['index.at_unique']).toBe('{"key":{"at":1},"unique":true}');
    expect(orders['index._id_']).toBe('{"key":{"_id":1}}');
    expect(recorded.definitions?.['shop.events']).toMatchObject({ 'option.capped': 'true' });
  });

  test('a restore compares them equal; an index changed on the target afterwards is named', async () => {
    const restore = await holdfast(['restore', snapshot, '--json', '--target', `src=${m.url('shop_copy')}`], env);
    expect(restore.code, restore.stderr + restore.stdout).toBe(0);
    expect(restore.json<{ services: Array<{ fingerprint: { equal: boolean; differences: string[] } }> }>().services[0]!.fingerprint).toMatchObject({ equal: true, differences: [] });

    const copy = m.client.db('shop_copy').collection('orders');
    await copy.dropIndex('at_unique');
    await copy.createIndex({ at: 1 }, { name: 'at_unique' });
    const now: Fingerprint = { scope: recorded.scope, items: await fingerprintDatabase(m.client, 'shop_copy', recorded.scope, 'shop'), definitions: await defineDatabase(m.client, 'shop_copy', 'shop') };
    const comparison = compareFingerprints(recorded, now);
    expect(comparison.equal).toBe(false);
    const [after, before] = [JSON.stringify('{"key":{"at":1}}'), JSON.stringify('{"key":{"at":1},"unique":true}')];
    expect(comparison.differences).toEqual([`shop.orders: index.at_unique is ${after} after restore, ${before} at backup`]);
  });
});

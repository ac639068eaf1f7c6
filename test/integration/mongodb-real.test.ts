import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Decimal128, MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { type AnyDoc, indexesOf, mongoToolsEnv, seedShop } from '../support/mongo-fixture.js';

const url = process.env.HOLDFAST_TEST_MONGODB_URL;

/**
 * Opt-in: a real mongod, when HOLDFAST_TEST_MONGODB_URL is set (the one of
 * docker-compose.test.yml: mongodb://127.0.0.1:17017, a one-member replica
 * set; a password, if any, in HOLDFAST_TEST_MONGODB_PASSWORD). CI has no
 * mongod and runs everything else against FerretDB, which lacks what these
 * paths use: mongorestore's own index restore, renameCollection with
 * dropTarget, oplog replay through applyOps, Decimal128, partial and TTL
 * indexes. The databases it creates carry a random suffix and are dropped.
 */
describe.runIf(!!url)('mongodb against a real mongod (HOLDFAST_TEST_MONGODB_URL)', () => {
  const suffix = randomBytes(3).toString('hex');
  const db = `holdfast_real_${suffix}`;
  const parsed = new URL(url ?? 'mongodb://127.0.0.1:17017');
  // The service URL without a database: the tests add their own.
  const base = `mongodb://${parsed.username ? `${parsed.username}@` : ''}${parsed.host}`;
  let client: MongoClient;
  let work: string;
  let env: Record<string, string | undefined>;

  beforeAll(async () => {
    client = new MongoClient(`mongodb://${parsed.host}/?directConnection=true`, parsed.username ? { auth: { username: decodeURIComponent(parsed.username), password: process.env.HOLDFAST_TEST_MONGODB_PASSWORD ?? '' }, authSource: 'admin' } : {});
    await client.connect();
    await seedShop(client, db, 2000);
    await client.db(db).collection<AnyDoc>('money').insertMany([{ _id: 1, amount: Decimal128.fromString('12.345') }, { _id: 2, amount: Decimal128.fromString('-0.001') }]);
    await client.db(db).collection<AnyDoc>('orders').createIndex({ placed: 1 }, { name: 'ttl', expireAfterSeconds: 10 * 365 * 86400 });
    await client.db(db).collection<AnyDoc>('customers').createIndex({ tier: 1 }, { name: 'partial', partialFilterExpression: { tier: { $gt: 2 } } });
    work = await mkdtemp(join(tmpdir(), 'holdfast-mongo-real-'));
    env = { ...mongoToolsEnv(), HOLDFAST_REPO: join(work, 'repo'), HOLDFAST_REAL_PASSWORD: process.env.HOLDFAST_TEST_MONGODB_PASSWORD };
  });
  afterAll(async () => {
    for (const name of [db, `${db}_dump`, `${db}_export`, `${db}_pit`]) await client?.db(name).dropDatabase().catch(() => undefined);
    await client?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  for (const strategy of ['mongodump', 'export'] as const) {
    test(`${strategy}: a database restores under a new name with equal fingerprints and every index`, async () => {
      const backup = await holdfast(['backup', '--json', '--fingerprint', 'full', '--strategy', `real=${strategy}`, '--service', `real=${base}/${db}`], env);
      const id = savedSnapshot(backup);
      const copy = `${db}_${strategy === 'mongodump' ? 'dump' : 'export'}`;
      const restore = await holdfast(['restore', id, '--json', '--target', `real=${base}/${copy}`], env);
      expect(restore.code, restore.stderr + restore.stdout).toBe(0);
      expect(restore.json<{ services: Array<{ fingerprint: { equal: boolean } }> }>().services[0]!.fingerprint.equal).toBe(true);
      expect(await indexesOf(client, copy)).toEqual(await indexesOf(client, db));
    });
  }

  test('a whole-server dump with --oplog, writes going on, restores one database with applyOps', async () => {
    let stop = false;
    let writes = 0;
    const load = (async () => {
      while (!stop) {
        await client.db(db).collection<AnyDoc>('events').insertOne({ at: new Date(), what: `live ${writes}` });
        writes++;
      }
    })();
    try {
      const backup = await holdfast(['backup', '--json', '--fingerprint', 'none', '--service', `real=${base}`], env);
      expect(backup.code, backup.stderr + backup.stdout).toBe(0);
      const doc = backup.json<{ snapshot: string; services: Array<{ consistency: string }> }>();
      expect(doc.services[0]!.consistency).toBe('transactional');
      const restore = await holdfast(['restore', doc.snapshot, '--json', '--database', db, '--target', `real=${base}/${db}_pit`], env);
      expect(restore.code, restore.stderr + restore.stdout).toBe(0);
      expect(restore.json<{ services: Array<{ notes: string[] }> }>().services[0]!.notes.join(' ')).toMatch(/oplog replayed .* with applyOps/);
    } finally {
      stop = true;
      await load;
    }
  });
});

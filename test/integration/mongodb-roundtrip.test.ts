import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast } from '../support/cli.js';
import { type AnyDoc, enableOplog, indexesOf, type MongoFixture, mongoToolsEnv, seedShop, startMongoFixture } from '../support/mongo-fixture.js';

interface BackupDoc {
  snapshot: string;
  services: Array<{ strategy: string; consistency: string; status: string; notes: string[] }>;
}
interface RestoreDoc {
  services: Array<{ status: string; location: string; notes: string[]; fingerprint?: { equal: boolean; compared: number; differences: string[] }; error?: { code: string; message: string; hint?: string } }>;
}

/** Both strategies against FerretDB v1.24 (not mongod; see test/servers/mongodb.ts), authentication on. */
describe('mongodb: backup, damage, restore, with both strategies', () => {
  const password = 'rt-secret-pw-9';
  let m: MongoFixture;
  let other: MongoFixture;
  let work: string;
  let env: Record<string, string>;
  let shopIndexes: Record<string, string[]>;

  beforeAll(async () => {
    // The oplog starts after the seed: FerretDB scans all of it for each of mongodump's oplog queries.
    [m, other] = await Promise.all([startMongoFixture({ password, oplog: false }), startMongoFixture()]);
    await seedShop(m.client, 'shop');
    await enableOplog(m.client);
    await m.client.db('crm').collection<AnyDoc>('people').insertMany(Array.from({ length: 300 }, (_, i) => ({ _id: i, name: `person ${i}` })));
    shopIndexes = await indexesOf(m.client, 'shop');
    work = await mkdtemp(join(tmpdir(), 'holdfast-mongo-rt-'));
    env = { ...mongoToolsEnv(), HOLDFAST_REPO: join(work, 'repo'), HOLDFAST_SRC_PASSWORD: password };
  });
  afterAll(async () => {
    await Promise.all([m?.stop(), other?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('plan names FerretDB and why a one-database dump is no point in time', async () => {
    const plan = await holdfast(['plan', '--json', '--service', `src=${m.url('shop')}`], env);
    expect(plan.code, plan.stderr).toBe(0);
    const item = plan.json<{ services: Array<{ strategy: string; consistency: string; reason: string }> }>().services[0]!;
    expect(item).toMatchObject({ strategy: 'mongodump', consistency: 'engine-snapshot' });
    expect(item.reason).toMatch(/FerretDB v1\.24\.0/);
    expect(item.reason).toMatch(/--oplog needs a dump of the whole server.*each collection is read at its own time/);
    const whole = await holdfast(['plan', '--json', '--service', `src=${m.url()}`], env);
    expect(whole.json<{ services: Array<{ consistency: string; reason: string }> }>().services[0]).toMatchObject({ consistency: 'transactional', reason: expect.stringMatching(/with --oplog: one point in time/) });
  });

  test('a whole-server dump: --oplog, several databases, one of them restored under a new name', async () => {
    const backup = await holdfast(['backup', '--json', '--fingerprint', 'full', '--service', `src=${m.url()}`], env);
    expect(backup.code, backup.stderr + backup.stdout).toBe(0);
    const doc = backup.json<BackupDoc>();
    expect(doc.services[0]).toMatchObject({ strategy: 'mongodump', consistency: 'transactional' });

    const ambiguous = await holdfast(['restore', doc.snapshot, '--target', `src=${m.url('one')}`], env);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toMatch(/target names one database \(one\) but the snapshot holds \d+: .*crm.*shop/);
    expect(ambiguous.stderr).toContain('--database NAME');

    const one = await holdfast(['restore', doc.snapshot, '--json', '--database', 'crm', '--target', `src=${m.url('crm_copy')}`], env);
    expect(one.code, one.stderr + one.stdout).toBe(0);
    expect(one.json<RestoreDoc>().services[0]!.fingerprint).toMatchObject({ equal: true, compared: 2 }); // 1 collection: rows and definitions
    expect(await m.client.db('crm_copy').collection<AnyDoc>('people').countDocuments()).toBe(300);
  });

  test('a `databases:` list in holdfast.yml: one archive per database, each restorable alone', async () => {
    const config = join(work, 'holdfast.yml');
    await writeFile(config, `services:\n  src:\n    url: ${m.url()}\n    databases: [crm, shop]\n`);
    const backup = await holdfast(['--config', config, 'backup', '--json', '--fingerprint', 'full'], env);
    expect(backup.code, backup.stderr + backup.stdout).toBe(0);
    const doc = backup.json<BackupDoc>();
    expect(doc.services[0]).toMatchObject({ strategy: 'mongodump', consistency: 'engine-snapshot' });
    const show = await holdfast(['show', doc.snapshot, '--json'], env);
    const artifacts = show.json<{ services: { src: { artifacts: Array<{ name: string; label: string }> } } }>().services.src.artifacts;
    expect(artifacts.map((a) => [a.name, a.label])).toEqual([['00-crm.archive', 'crm'], ['01-shop.archive', 'shop']]);
    const restore = await holdfast(['restore', doc.snapshot, '--json', '--database', 'shop', '--target', `src=${m.url('shop_from_list')}`], env);
    expect(restore.code, restore.stderr + restore.stdout).toBe(0);
    expect(restore.json<RestoreDoc>().services[0]!.fingerprint).toMatchObject({ equal: true, compared: 8 }); // 4 collections: rows and definitions
  });

  for (const strategy of ['mongodump', 'export'] as const) {
    test(`${strategy}: restore into a new database has the backup's documents, types and indexes`, async () => {
      const backup = await holdfast(['backup', '--json', '--fingerprint', 'full', '--strategy', `src=${strategy}`, '--service', `src=${m.url('shop')}`], env);
      expect(backup.code, backup.stderr + backup.stdout).toBe(0);
      const doc = backup.json<BackupDoc>();
      expect(doc.services[0]).toMatchObject({ strategy, consistency: 'engine-snapshot', status: 'ok' });
      expect(doc.services[0]!.notes.join(' ')).toMatch(/each collection is read at its own time/);
      expect(backup.stdout + backup.stderr).not.toContain(password);

      const show = await holdfast(['show', doc.snapshot, '--json'], env);
      const kinds = show.json<{ services: { src: { artifacts: Array<{ kind: string }> } } }>().services.src.artifacts.map((a) => a.kind);
      if (strategy === 'export') expect(kinds.sort()).toEqual(['mongodb-bson', 'mongodb-bson', 'mongodb-bson', 'mongodb-bson', 'mongodb-metadata']);
      else expect(kinds).toEqual(['mongodump-archive']);

      // Damage the source, then restore the snapshot beside it.
      await m.client.db('shop').collection<AnyDoc>('orders').deleteMany({ total: { $lt: 300 } });
      await m.client.db('shop').collection<AnyDoc>('customers').updateMany({}, { $set: { name: 'changed' } });
      const copy = `shop_${strategy}`;
      const restore = await holdfast(['restore', doc.snapshot, '--json', '--target', `src=${m.url(copy)}`], env);
      expect(restore.code, restore.stderr + restore.stdout).toBe(0);
      const outcome = restore.json<RestoreDoc>().services[0]!;
      expect(outcome.fingerprint).toMatchObject({ equal: true, compared: 8 });
      expect(await indexesOf(m.client, copy)).toEqual(shopIndexes);
      const events = await m.client.db(copy).listCollections({ name: 'events' }).toArray();
      expect(events[0]).toMatchObject({ options: { capped: true } });
      expect(await m.client.db(copy).collection<AnyDoc>('audit.log').countDocuments()).toBe(50);
      expect(await m.client.db(copy).listCollections({ name: /^__holdfast/ }).toArray()).toEqual([]);

      // Put the source back for the next case.
      const back = await holdfast(['restore', doc.snapshot, '--json', '--force'], env);
      expect(back.code, back.stderr + back.stdout).toBe(0);
      expect(back.json<RestoreDoc>().services[0]!.fingerprint?.equal).toBe(true);
    });

    test(`${strategy}: restore into another server`, async () => {
      const backup = await holdfast(['backup', '--json', '--fingerprint', 'full', '--strategy', `src=${strategy}`, '--service', `src=${m.url('shop')}`], env);
      const id = backup.json<BackupDoc>().snapshot;
      // The other server has no authentication: no user in the URL, no password.
      const target = `mongodb://127.0.0.1:${other.server.port}/shop`;
      const restore = await holdfast(['restore', id, '--json', '--target', `src=${target}`], env);
      expect(restore.code, restore.stderr + restore.stdout).toBe(0);
      expect(restore.json<RestoreDoc>().services[0]!.fingerprint?.equal).toBe(true);
      expect(await indexesOf(other.client, 'shop')).toEqual(shopIndexes);
      await other.client.db('shop').dropDatabase();
    });
  }

  test('a non-empty target is refused and left untouched; --force replaces it, strays included', async () => {
    const backup = await holdfast(['backup', '--json', '--service', `src=${m.url('crm')}`], env);
    const id = backup.json<BackupDoc>().snapshot;
    await m.client.db('busy').collection<AnyDoc>('keep').insertOne({ _id: 1, v: 'mine' });
    const refused = await holdfast(['restore', id, '--target', `src=${m.url('busy')}`], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/\[src\].*database "busy" on 127\.0\.0\.1:\d+ is not empty/);
    expect(refused.stderr).toContain('--force');
    expect(await m.client.db('busy').collection<AnyDoc>('keep').find().toArray()).toEqual([{ _id: 1, v: 'mine' }]);

    const forced = await holdfast(['restore', id, '--json', '--force', '--target', `src=${m.url('busy')}`], env);
    expect(forced.code, forced.stderr + forced.stdout).toBe(0);
    expect(forced.json<RestoreDoc>().services[0]!.notes.join(' ')).toMatch(/busy: replaced; it now holds exactly the collections of the snapshot/);
    const names = (await m.client.db('busy').listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
    expect(names).toEqual(['people']);
    expect(await m.client.db('busy').collection<AnyDoc>('people').countDocuments()).toBe(300);
  });

});

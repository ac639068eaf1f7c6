import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BSON } from 'mongodb';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { type AnyDoc, enableOplog, indexesOf, type MongoFixture, mongoToolsEnv, seedShop, startMongoFixture } from '../support/mongo-fixture.js';
import { artifactNames, deleteArtifact, expectMissingArtifact, graftArtifacts, verdicts, expectRestoreTestPassed } from '../support/restore-test-support.js';

/** Against FerretDB (see test/servers/mongodb.ts), authentication on, both strategies. */
describe('restore test: mongodb (FerretDB)', () => {
  const password = 'rt-scratch-pw-4';
  let m: MongoFixture;
  let work: string;
  let env: Record<string, string>;

  /** Databases, collections with a hash of their documents (sorted by _id), and indexes: what "untouched" means. */
  async function sourceState() {
    const { databases } = (await m.client.db('admin').command({ listDatabases: 1, nameOnly: true })) as { databases: Array<{ name: string }> };
    const names = databases.map((d) => d.name).sort();
    const collections: Record<string, string> = {};
    const indexes: Record<string, Record<string, string[]>> = {};
    for (const db of names.filter((n) => !['admin', 'local', 'config'].includes(n))) {
      for (const c of await m.client.db(db).listCollections({}, { nameOnly: true }).toArray()) {
        const hash = createHash('sha256');
        let n = 0;
        for await (const doc of m.client.db(db).collection<AnyDoc>(c.name).find({}).sort({ _id: 1 })) {
          hash.update(BSON.serialize(doc));
          n++;
        }
        collections[`${db}.${c.name}`] = `${n}:${hash.digest('hex')}`;
      }
      indexes[db] = await indexesOf(m.client, db);
    }
    return { names, collections, indexes };
  }
  const scratch = async () => ((await m.client.db('admin').command({ listDatabases: 1, nameOnly: true })) as { databases: Array<{ name: string }> }).databases.map((d) => d.name).filter((n) => n.startsWith('holdfast_scratch_'));

  async function backup(strategy: string, url = m.url()): Promise<string> {
    const result = await holdfast(['backup', '--json', '--fingerprint', 'full', '--strategy', `src=${strategy}`, '--service', `src=${url}`], env);
    return savedSnapshot(result);
  }

  beforeAll(async () => {
    m = await startMongoFixture({ password, oplog: false });
    await seedShop(m.client, 'shop', 600);
    await enableOplog(m.client);
    await m.client.db('crm').collection<AnyDoc>('people').insertMany(Array.from({ length: 300 }, (_, i) => ({ _id: i, name: `person ${i}` })));
    work = await mkdtemp(join(tmpdir(), 'holdfast-rt-mongo-'));
    env = { ...mongoToolsEnv(), HOLDFAST_REPO: join(work, 'repo'), HOLDFAST_SRC_PASSWORD: password };
  });
  afterAll(async () => {
    await m?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test.each(['mongodump', 'export'])('a good %s snapshot passes in temporary databases; the source is untouched', async (strategy) => {
    const id = await backup(strategy);
    const before = await sourceState();
    const result = await holdfast(['verify', id, '--restore-test', '--json'], env);
    expectRestoreTestPassed(result, 'src');
    expect(await sourceState()).toEqual(before);
    expect(await scratch()).toEqual([]);
    expect(result.stdout + result.stderr).not.toContain(password);
  });

  test('a deleted artifact fails the checksum phase with the service named', async () => {
    const id = await backup('export');
    const names = await artifactNames(env.HOLDFAST_REPO!, id, 'src');
    await deleteArtifact(env.HOLDFAST_REPO!, id, 'src', names[0]!);
    expectMissingArtifact(await holdfast(['verify', id, '--restore-test', '--json'], env), 'src', names[0]!);
    expect(await scratch()).toEqual([]);
  });

  test('an export that holds less than the server did is a mismatch; no scratch database is left', async () => {
    const good = await backup('export', m.url('crm'));
    await m.client.db('crm').collection<AnyDoc>('people').deleteMany({ _id: { $lt: 30 } });
    const short = await backup('export', m.url('crm'));
    await graftArtifacts(env.HOLDFAST_REPO!, good, short, 'src', await artifactNames(env.HOLDFAST_REPO!, good, 'src'));
    const before = await sourceState();
    const result = await holdfast(['verify', good, '--restore-test', '--json'], env);
    expect(result.code).toBe(1);
    expect(verdicts(result).src).toEqual({ verdict: 'mismatch', detail: expect.stringContaining('crm.people: 270 rows after restore, 300 at backup') });
    expect(await sourceState()).toEqual(before);
    expect(await scratch()).toEqual([]);
  });
});

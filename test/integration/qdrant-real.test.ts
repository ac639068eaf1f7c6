import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QdrantClient } from '@qdrant/js-client-rest';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { docsCount, mutateQdrant, seedQdrant } from '../support/qdrant-data.js';

// Opt-in: against a REAL Qdrant, only when HOLDFAST_TEST_QDRANT_URL is set to Qdrant's own
// URL (http://127.0.0.1:6333, or https://...; the api key, if any, in HOLDFAST_TEST_QDRANT_API_KEY).
// No real Qdrant can be installed on the CI machine, so CI runs the same points against the fake
// (qdrant-node-state.test.ts, qdrant-upload-faults.test.ts, test/servers/qdrant-fake.test.ts).
// Touches only holdfast_test_* collections and aliases, deletes them afterwards, and checks that
// every snapshot list it can see is as it was.
const URL_ = process.env.HOLDFAST_TEST_QDRANT_URL;
const KEY = process.env.HOLDFAST_TEST_QDRANT_API_KEY;
const P = 'holdfast_test_';

interface Doc {
  services: Array<{ error?: { message: string; hint?: string }; notes?: string[]; fingerprint?: { equal: boolean; differences: string[] } }>;
}

describe.runIf(!!URL_)('qdrant against a real Qdrant (HOLDFAST_TEST_QDRANT_URL)', () => {
  const http = (URL_ ?? '').replace(/\/+$/, '');
  const qdrant = http.replace(/^http(s?):/, (_s, tls: string) => (tls ? 'qdrants:' : 'qdrant:'));
  let client: QdrantClient;
  let work: string;
  let env: Record<string, string>;
  let fullBefore: string[];
  const service = (collections = `${P}docs,${P}images,${P}sharded`) => ['--service', `src=${qdrant}/?collections=${collections}`];
  const ours = async () => (await client.getCollections()).collections.map((c) => c.name).filter((n) => n.startsWith(P)).sort();
  const leftovers = async () => {
    const out: Record<string, string[]> = {};
    for (const c of await ours()) {
      const names = (await client.listSnapshots(c)).map((s) => s.name);
      if (names.length) out[c] = names;
    }
    const full = (await client.listFullSnapshots()).map((s) => s.name).filter((n) => !fullBefore.includes(n));
    return full.length ? { ...out, full } : out;
  };
  const expectClean = async () => expect(await leftovers()).toEqual({});

  beforeAll(async () => {
    if (!/^https?:\/\//.test(http)) throw new Error(`HOLDFAST_TEST_QDRANT_URL must be Qdrant's own http:// or https:// URL, got ${http}`);
    client = await seedQdrant(http, KEY, P);
    if ((await client.collectionExists(`${P}sharded`)).exists) await client.deleteCollection(`${P}sharded`);
    await client.createCollection(`${P}sharded`, { vectors: { size: 4, distance: 'Dot' }, shard_number: 2 });
    await client.createPayloadIndex(`${P}sharded`, { field_name: 'n', field_schema: 'integer', wait: true });
    await client.upsert(`${P}sharded`, { wait: true, points: Array.from({ length: 200 }, (_, i) => ({ id: i + 1, vector: [i, 1, 0, 0], payload: { n: i } })) });
    await client.updateCollectionAliases({ actions: [{ create_alias: { collection_name: `${P}docs`, alias_name: `${P}docs_live` } }] });
    fullBefore = (await client.listFullSnapshots()).map((s) => s.name);
    work = await mkdtemp(join(tmpdir(), 'holdfast-qdrant-real-'));
    env = { HOLDFAST_REPO: join(work, 'repo'), HOLDFAST_STATE_DIR: join(work, 'state'), ...(KEY ? { HOLDFAST_SRC_PASSWORD: KEY } : {}) };
  });
  afterAll(async () => {
    if (client) {
      for (const a of (await client.getAliases()).aliases.filter((x) => x.alias_name.startsWith(P))) await client.updateCollectionAliases({ actions: [{ delete_alias: { alias_name: a.alias_name } }] });
      for (const c of await ours()) {
        for (const s of await client.listSnapshots(c)) await client.deleteSnapshot(c, s.name);
        await client.deleteCollection(c);
      }
    }
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('backup, refused and forced restore, restore test: equal fingerprints, aliases back, no snapshot file left', async () => {
    const id = savedSnapshot(await holdfast(['backup', '--json', '--fingerprint', 'full', ...service()], env));
    await expectClean();
    const before = await docsCount(client, P);
    await mutateQdrant(client, P);
    await client.deleteCollection(`${P}docs`); // and with it the alias
    await client.createCollection(`${P}docs`, { vectors: { size: 8, distance: 'Cosine' } });
    await client.upsert(`${P}docs`, { wait: true, points: [{ id: 1, vector: Array(8).fill(0.5) }] });
    const refused = await holdfast(['restore', id, ...service()], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/--force/);
    const forced = await holdfast(['restore', id, '--force', '--json', ...service()], env);
    expect(forced.code, forced.stderr + forced.stdout).toBe(0);
    expect(forced.json<Doc>().services[0]!.fingerprint?.equal).toBe(true);
    expect(await docsCount(client, P)).toBe(before);
    expect((await client.getAliases()).aliases.find((a) => a.alias_name === `${P}docs_live`)?.collection_name).toBe(`${P}docs`);
    const rt = await holdfast(['verify', id, '--restore-test', '--json'], env);
    expect(rt.code, rt.stderr + rt.stdout).toBe(0);
    expect((await client.getCollections()).collections.filter((c) => c.name.startsWith('holdfast_scratch_'))).toEqual([]);
    await expectClean();
  });

  test('a backup under concurrent writes verifies', async () => {
    let stop = false;
    let next = 10_000;
    const writer = (async () => {
      while (!stop) {
        await client.upsert(`${P}sharded`, { wait: true, points: Array.from({ length: 20 }, () => ({ id: next++, vector: [1, 2, 3, 4], payload: { n: next } })) });
        await client.delete(`${P}sharded`, { wait: true, points: [next - 30] });
      }
    })();
    let id: string;
    try {
      id = savedSnapshot(await holdfast(['backup', '--json', '--fingerprint', 'full', ...service(`${P}sharded`)], env));
    } finally {
      stop = true;
      await writer;
    }
    const rt = await holdfast(['verify', id, '--restore-test', '--json'], env);
    expect(rt.code, rt.stderr + rt.stdout).toBe(0);
    await expectClean();
  });

  test('--force over a collection recreated with other vectors is refused before anything changes', async () => {
    const id = savedSnapshot(await holdfast(['backup', '--json', ...service()], env));
    await client.deleteCollection(`${P}images`);
    await client.createCollection(`${P}images`, { vectors: { size: 16, distance: 'Euclid' } });
    const docsBefore = await docsCount(client, P);
    await client.delete(`${P}docs`, { wait: true, points: [2] });
    const res = await holdfast(['restore', id, '--force', '--json', ...service()], env);
    expect(res.code).toBe(1);
    expect(res.json<Doc>().services[0]!.error!.message).toMatch(/cannot restore these snapshots over the existing collections .*images.*nothing was changed/);
    expect(await docsCount(client, P)).toBe(docsBefore - 1);
    await client.deleteCollection(`${P}images`);
    const back = await holdfast(['restore', id, '--force', '--json', ...service()], env);
    expect(back.code, back.stderr + back.stdout).toBe(0);
    await expectClean();
  });

  test('Qdrant\'s early refusals reach the user with its own text; a key in the URL is refused', async () => {
    const id = savedSnapshot(await holdfast(['backup', '--json', ...service(`${P}images`)], env));
    const started = Date.now();
    const colon = await holdfast(['restore', id, '--json', ...service(`${P}images`), '--rename-pattern', '^', '--rename-replacement', `${P}x:`], { ...env, HOLDFAST_STALL_SECONDS: '10' });
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(colon.code).toBe(1);
    expect(colon.json<Doc>().services[0]!.error!.message).toMatch(/HTTP 422 .*collection name cannot contain ":"/);
    const inUrl = await holdfast(['backup', '--service', `src=${qdrant}/?api_key=nope`], env);
    expect(inUrl.code).not.toBe(0);
    expect(inUrl.stdout + inUrl.stderr).toMatch(/api key in the service URL/);
    expect(inUrl.stdout + inUrl.stderr).not.toMatch(/Api key is used with unsecure connection/);
    await expectClean();
  });

  test('full-snapshot: the archive maps our collections, the node keeps nothing; restored in place when it holds only test collections', async () => {
    const backup = await holdfast(['backup', '--json', '--service', `src=${qdrant}`, '--strategy', 'src=full-snapshot'], env);
    const snapshot = savedSnapshot(backup);
    await expectClean();
    const show = await holdfast(['show', snapshot, '--json'], env);
    const full = show.json<{ services: { src: { details: { full: { collections: Array<{ name: string }> } } } } }>().services.src.details.full;
    expect(full.collections.map((c) => c.name)).toEqual(expect.arrayContaining([`${P}docs`, `${P}images`]));
    if (full.collections.every((c) => c.name.startsWith(P))) {
      const before = await docsCount(client, P);
      await mutateQdrant(client, P);
      const forced = await holdfast(['restore', snapshot, '--force', '--json', '--service', `src=${qdrant}`], env);
      expect(forced.code, forced.stderr + forced.stdout).toBe(0);
      expect(forced.json<Doc>().services[0]!.fingerprint?.equal).toBe(true);
      expect(await docsCount(client, P)).toBe(before);
      await expectClean();
    }
  });
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { QdrantClient } from '@qdrant/js-client-rest';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { canonical } from '../../drivers/qdrant/qdrant-fingerprint.js';
import { startFakeQdrant, type FakeQdrant } from '../servers/qdrant-fake.js';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { mutateQdrant, seedQdrant } from '../support/qdrant-data.js';
import { artifactNames, deleteArtifact, expectMissingArtifact, graftArtifacts, verdicts, expectRestoreTestPassed } from '../support/restore-test-support.js';

// Against the FAKE Qdrant (test/servers/qdrant-fake.ts): no real Qdrant can be obtained here.
const KEY = 'fake-api-key-rt-8';

describe('restore test: qdrant snapshot (fake Qdrant)', () => {
  let node: FakeQdrant;
  let client: QdrantClient;
  let work: string;
  let env: Record<string, string>;

  async function sourceState() {
    const collections = (await client.getCollections()).collections.map((c) => c.name).sort();
    const points: Record<string, string> = {};
    for (const name of collections) {
      const page = await client.scroll(name, { limit: 10_000, with_payload: true, with_vector: true });
      points[name] = canonical(page.points);
    }
    return { collections, points };
  }
  const scratch = async () => (await client.getCollections()).collections.map((c) => c.name).filter((n) => n.startsWith('holdfast_scratch_'));

  async function backup(): Promise<string> {
    const result = await holdfast(['backup', '--json', '--fingerprint', 'full', '--service', `src=qdrant://127.0.0.1:${node.port}`], env);
    return savedSnapshot(result);
  }

  beforeAll(async () => {
    node = await startFakeQdrant({ apiKey: KEY });
    client = await seedQdrant(node.url, KEY);
    work = await mkdtemp(join(tmpdir(), 'holdfast-rt-qdrant-'));
    env = { HOLDFAST_REPO: join(work, 'repo'), HOLDFAST_SRC_PASSWORD: KEY };
  });
  afterAll(async () => {
    await node?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('a good snapshot passes under scratch collection names; the source collections are untouched', async () => {
    const id = await backup();
    const before = await sourceState();
    const result = await holdfast(['verify', id, '--restore-test', '--json'], env);
    // 2 collections: their points and their definitions.
    expectRestoreTestPassed(result, 'src', '4 objects equal (full)');
    expect(node.lastUpload()?.priority).toBe('snapshot');
    expect(await sourceState()).toEqual(before);
    expect(await scratch()).toEqual([]);
    expect(result.stdout + result.stderr).not.toContain(KEY);
  });

  test('a deleted artifact fails the checksum phase with the service named', async () => {
    const id = await backup();
    const [name] = await artifactNames(env.HOLDFAST_REPO!, id, 'src');
    await deleteArtifact(env.HOLDFAST_REPO!, id, 'src', name!);
    expectMissingArtifact(await holdfast(['verify', id, '--restore-test', '--json'], env), 'src', name!);
    expect(await scratch()).toEqual([]);
  });

  test('a snapshot the node refuses (checksum of another backup) fails clearly and leaves no scratch collection', async () => {
    const good = await backup();
    await mutateQdrant(client);
    const other = await backup();
    await graftArtifacts(env.HOLDFAST_REPO!, good, other, 'src', await artifactNames(env.HOLDFAST_REPO!, good, 'src'));
    const before = await sourceState();
    const result = await holdfast(['verify', good, '--restore-test', '--json'], env);
    expect(result.code).toBe(1);
    expect(verdicts(result).src).toEqual({ verdict: 'failed', detail: expect.stringMatching(/holdfast_scratch_[0-9a-f]{6}_docs.*HTTP 400/) });
    expect(await sourceState()).toEqual(before);
    expect(await scratch()).toEqual([]);
  });
});

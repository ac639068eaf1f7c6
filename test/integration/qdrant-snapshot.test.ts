import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { QdrantClient } from '@qdrant/js-client-rest';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startFakeQdrant, type FakeQdrant } from '../servers/qdrant-fake.js';
import { holdfast } from '../support/cli.js';
import { docsCount, mutateQdrant, seedQdrant } from '../support/qdrant-data.js';
import { committedSnapshots, stagingLeftovers } from '../support/repo-files.js';

// Against the FAKE Qdrant (test/servers/qdrant-fake.ts), not a real server: it checks the
// driver's protocol handling (streamed download + sha256, upload with priority=snapshot,
// api-key, refusals), not Qdrant itself. qdrant-real.test.ts is the opt-in real-server test.
const KEY = 'fake-api-key-4711';

interface Doc {
  snapshot?: string;
  services: Array<{ status: string; error?: { code: string; message: string }; fingerprint?: { equal: boolean } }>;
}

describe('qdrant snapshot strategy (fake Qdrant)', () => {
  let source: FakeQdrant;
  let target: FakeQdrant;
  let client: QdrantClient;
  let work: string;
  let env: Record<string, string>;
  let snapshot: string;

  beforeAll(async () => {
    source = await startFakeQdrant({ apiKey: KEY });
    target = await startFakeQdrant({ apiKey: KEY });
    client = await seedQdrant(source.url, KEY);
    work = await mkdtemp(join(tmpdir(), 'holdfast-qdrant-'));
    env = { HOLDFAST_REPO: join(work, 'repo'), HOLDFAST_SRC_PASSWORD: KEY };
    const backup = await holdfast(['backup', '--json', '--service', `src=qdrant://127.0.0.1:${source.port}`], env);
    expect(backup.code, backup.stderr + backup.stdout).toBe(0);
    snapshot = backup.json<Doc>().snapshot!;
  });
  afterAll(async () => {
    await source?.stop();
    await target?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('the backup leaves no snapshot on the server and records each collection', async () => {
    expect(Object.values(source.serverSnapshots()).flat()).toEqual([]);
    const show = await holdfast(['show', snapshot, '--json'], env);
    const src = show.json<{ services: { src: { details: { collections: Array<{ name: string; checksum: string; config: unknown }> } } } }>().services.src;
    expect(src.details.collections.map((c) => c.name)).toEqual(['docs', 'images']);
    expect(src.details.collections[0]!.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(src.details.collections[0]!.config).toMatchObject({ params: { vectors: { size: 8, distance: 'Cosine' } } });
    expect(show.stdout).not.toContain(KEY);
  });

  test('restore into a fresh node uploads with priority=snapshot; over it again only with --force', async () => {
    const to = ['--target', `src=qdrant://127.0.0.1:${target.port}`];
    const first = await holdfast(['restore', snapshot, '--json', ...to], { ...env, HOLDFAST_SRC_TARGET_PASSWORD: KEY });
    expect(first.code, first.stderr + first.stdout).toBe(0);
    expect(first.json<Doc>().services[0]!.fingerprint?.equal).toBe(true);
    expect(target.lastUpload()).toMatchObject({ priority: 'snapshot' });

    const again = await holdfast(['restore', snapshot, ...to], { ...env, HOLDFAST_SRC_TARGET_PASSWORD: KEY });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/\[src\].*already has points in the collections docs, images/);
    expect(again.stderr).toMatch(/--force/);

    const forced = await holdfast(['restore', snapshot, '--force', '--json', ...to], { ...env, HOLDFAST_SRC_TARGET_PASSWORD: KEY });
    expect(forced.code, forced.stderr + forced.stdout).toBe(0);
    expect(forced.json<Doc>().services[0]!.fingerprint?.equal).toBe(true);
  });

  test('restore under new names with --option rename_pattern=... (per-collection snapshots)', async () => {
    const to = ['--target', `src=qdrant://127.0.0.1:${target.port}`];
    const res = await holdfast(['restore', snapshot, '--json', ...to, '--option', 'rename_pattern=^', '--option', 'rename_replacement=copy_'], { ...env, HOLDFAST_SRC_TARGET_PASSWORD: KEY });
    expect(res.code, res.stderr + res.stdout).toBe(0);
    expect(res.json<Doc>().services[0]!.fingerprint?.equal).toBe(true);
    const listed = (await (await fetch(`${target.url}/collections`, { headers: { 'api-key': KEY } })).json()) as { result: { collections: Array<{ name: string }> } };
    const names = listed.result.collections.map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['copy_docs', 'copy_images']));
  });

  test('a download cut mid-stream fails its checksum and stores nothing', async () => {
    const cutRepo = join(work, 'cut-repo');
    const cutEnv = { ...env, HOLDFAST_REPO: cutRepo };
    const init = await holdfast(['init'], cutEnv);
    expect(init.code, init.stderr).toBe(0);
    source.cutNextDownload();
    const backup = await holdfast(['backup', '--json', '--service', `src=qdrant://127.0.0.1:${source.port}`], cutEnv);
    expect(backup.code).toBe(1);
    const error = backup.json<Doc>().services[0]!.error!;
    expect(error.message).toMatch(/docs/);
    expect(error.message).toMatch(/was cut after \d+ of \d+ bytes|arrived damaged/);
    expect(await committedSnapshots(cutRepo)).toEqual([]);
    expect(await stagingLeftovers(cutRepo)).toEqual([]);
    const list = await holdfast(['snapshots', '--json'], cutEnv);
    expect(list.json<{ snapshots: unknown[] }>().snapshots).toEqual([]);
    // The server-side copy is deleted on failure too.
    expect(Object.values(source.serverSnapshots()).flat()).toEqual([]);
  });

  test('a wrong api-key is an auth error that names the fix and never prints a key', async () => {
    const bad = await holdfast(['backup', '--json', '--service', `src=qdrant://127.0.0.1:${source.port}`], { ...env, HOLDFAST_SRC_PASSWORD: 'wrong-key-0815' });
    expect(bad.code).toBe(1);
    const error = bad.json<Doc>().services[0]!.error!;
    expect(error.code).toBe('auth');
    expect(bad.stdout + bad.stderr).not.toContain('wrong-key-0815');
    expect(bad.stdout + bad.stderr).not.toContain(KEY);
  });

  test('mutations after the backup are undone by an in-place --force restore', async () => {
    const before = await docsCount(client);
    await mutateQdrant(client);
    expect(await docsCount(client)).toBeLessThan(before);
    const forced = await holdfast(['restore', snapshot, '--force', '--json', '--service', `src=qdrant://127.0.0.1:${source.port}`], env);
    expect(forced.code, forced.stderr + forced.stdout).toBe(0);
    expect(await docsCount(client)).toBe(before);
  });
});

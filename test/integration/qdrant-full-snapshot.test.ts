import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { QdrantClient } from '@qdrant/js-client-rest';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startFakeQdrant, type FakeQdrant } from '../servers/qdrant-fake.js';
import { holdfast } from '../support/cli.js';
import { docsCount, mutateQdrant, seedQdrant } from '../support/qdrant-data.js';
import { committedSnapshots, stagingLeftovers } from '../support/repo-files.js';

// Against the FAKE Qdrant (test/servers/qdrant-fake.ts), whose POST /snapshots builds its
// archive the way Qdrant's do_create_full_snapshot does (a collection snapshot per
// collection, left in place by the node, tarred with config.json). It checks holdfast's
// handling of that protocol and layout, not Qdrant itself; qdrant-real.test.ts runs the
// same strategy against a real node when HOLDFAST_TEST_QDRANT_URL is set.
interface Doc {
  snapshot?: string;
  services: Array<{ status: string; strategy?: string; error?: { code: string; message: string; hint?: string }; fingerprint?: { equal: boolean; compared: number } }>;
}
interface FullDetails {
  full: { snapshot: string; checksum: string; collections: Array<{ name: string; file: string; sha256: string; config: unknown }>; aliases: Record<string, string> };
}

describe('qdrant full-snapshot strategy (fake Qdrant)', () => {
  let source: FakeQdrant;
  let target: FakeQdrant;
  let client: QdrantClient;
  let work: string;
  let env: Record<string, string>;
  let snapshot: string;
  const pin = ['--strategy', 'src=full-snapshot'];

  beforeAll(async () => {
    source = await startFakeQdrant();
    target = await startFakeQdrant();
    client = await seedQdrant(source.url);
    await client.updateCollectionAliases({ actions: [{ create_alias: { collection_name: 'docs', alias_name: 'docs-current' } }] });
    work = await mkdtemp(join(tmpdir(), 'holdfast-qdrant-full-'));
    env = { HOLDFAST_REPO: join(work, 'repo') };
    const backup = await holdfast(['backup', '--json', '--service', `src=qdrant://127.0.0.1:${source.port}`, ...pin], env);
    expect(backup.code, backup.stderr + backup.stdout).toBe(0);
    expect(backup.json<Doc>().services[0]!.strategy).toBe('full-snapshot');
    snapshot = backup.json<Doc>().snapshot!;
  });
  afterAll(async () => {
    await source?.stop();
    await target?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('the manifest maps each archive member to its collection, with its sha256 and the aliases; the node keeps nothing', async () => {
    const show = await holdfast(['show', snapshot, '--json'], env);
    const { full } = show.json<{ services: { src: { details: FullDetails } } }>().services.src.details;
    expect(full.snapshot).toMatch(/^full-snapshot-.*\.snapshot$/);
    expect(full.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(full.collections.map((c) => c.name)).toEqual(['docs', 'images']);
    expect(full.collections[0]!.file).toMatch(/^docs-.*\.snapshot$/);
    expect(full.collections[0]!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(full.collections[0]!.config).toMatchObject({ params: { vectors: { size: 8, distance: 'Cosine' } } });
    expect(full.aliases).toEqual({ 'docs-current': 'docs' });
    // The full snapshot and the collection snapshots the node cut for it are deleted.
    expect(source.fullSnapshots()).toEqual([]);
    expect(Object.values(source.serverSnapshots()).flat()).toEqual([]);
  });

  test('restore into a fresh node uploads each member with its checksum and recreates the aliases; again only with --force', async () => {
    const to = ['--target', `src=qdrant://127.0.0.1:${target.port}`];
    const first = await holdfast(['restore', snapshot, '--json', ...to], env);
    expect(first.code, first.stderr + first.stdout).toBe(0);
    // 2 collections' points, and their definitions (config, payload indexes, aliases).
    expect(first.json<Doc>().services[0]!.fingerprint).toMatchObject({ equal: true, compared: 4 });
    expect(target.lastUpload()).toMatchObject({ priority: 'snapshot', checksum: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(target.aliases()).toEqual({ 'docs-current': 'docs' });

    const again = await holdfast(['restore', snapshot, ...to], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/\[src\].*already has points in the collections docs, images/);
    expect(again.stderr).toContain('--force');
    const forced = await holdfast(['restore', snapshot, '--force', '--json', ...to], env);
    expect(forced.code, forced.stderr + forced.stdout).toBe(0);
    expect(forced.json<Doc>().services[0]!.fingerprint?.equal).toBe(true);
  });

  test('in place after mutations and a moved alias: refused, then put back with --force', async () => {
    const before = await docsCount(client);
    await mutateQdrant(client);
    await client.updateCollectionAliases({ actions: [{ delete_alias: { alias_name: 'docs-current' } }, { create_alias: { collection_name: 'images', alias_name: 'docs-current' } }] });
    const service = ['--service', `src=qdrant://127.0.0.1:${source.port}`];
    const refused = await holdfast(['restore', snapshot, ...service], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/the aliases docs-current pointing to other collections/);
    expect(source.aliases()).toEqual({ 'docs-current': 'images' });
    const forced = await holdfast(['restore', snapshot, '--force', '--json', ...service], env);
    expect(forced.code, forced.stderr + forced.stdout).toBe(0);
    expect(await docsCount(client)).toBe(before);
    expect(source.aliases()).toEqual({ 'docs-current': 'docs' });
  });

  test('restore under new names (--rename-pattern) next to the originals: fingerprints compared by original name, aliases renamed alike', async () => {
    const service = ['--service', `src=qdrant://127.0.0.1:${source.port}`];
    const res = await holdfast(['restore', snapshot, '--json', ...service, '--rename-pattern', '(.+)', '--rename-replacement', 'restored_$1'], env);
    expect(res.code, res.stderr + res.stdout).toBe(0);
    expect(res.json<Doc>().services[0]!.fingerprint).toMatchObject({ equal: true, compared: 4 });
    const names = (await client.getCollections()).collections.map((c) => c.name).sort();
    expect(names).toEqual(['docs', 'images', 'restored_docs', 'restored_images']);
    expect(source.aliases()).toEqual({ 'docs-current': 'docs', 'restored_docs-current': 'restored_docs' });
    const clash = await holdfast(['restore', snapshot, ...service, '--rename-pattern', '.+', '--rename-replacement', 'same'], env);
    expect(clash.code).toBe(2);
    expect(clash.stderr).toMatch(/maps both docs and images to same/);
    for (const c of ['restored_docs', 'restored_images']) await client.deleteCollection(c);
  });

  test('restore --help explains the rename flags and --option; a replacement without a pattern is a usage error', async () => {
    const help = await holdfast(['restore', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--rename-pattern/);
    expect(help.stdout).toMatch(/--rename-replacement/);
    expect(help.stdout).toMatch(/--option\s+an engine restore option KEY=VALUE/);
    const bad = await holdfast(['restore', snapshot, '--rename-replacement', 'x'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--rename-replacement needs --rename-pattern');
  });

  test('a full snapshot cut mid-download stores nothing and leaves nothing on the node', async () => {
    const cutEnv = { HOLDFAST_REPO: join(work, 'cut-repo') };
    expect((await holdfast(['init'], cutEnv)).code).toBe(0);
    source.cutNextDownload();
    const backup = await holdfast(['backup', '--json', '--service', `src=qdrant://127.0.0.1:${source.port}`, ...pin], cutEnv);
    expect(backup.code).toBe(1);
    expect(backup.json<Doc>().services[0]!.error!.message).toMatch(/full snapshot .*(was cut after \d+ of \d+ bytes|arrived damaged)/);
    expect(await committedSnapshots(join(work, 'cut-repo'))).toEqual([]);
    expect(await stagingLeftovers(join(work, 'cut-repo'))).toEqual([]);
    expect(source.fullSnapshots()).toEqual([]);
    expect(Object.values(source.serverSnapshots()).flat()).toEqual([]);
  });

  test('refused on a cluster node and with a collections option, each saying what to do', async () => {
    const clustered = await startFakeQdrant({ peers: 3 });
    try {
      await seedQdrant(clustered.url);
      const res = await holdfast(['backup', '--json', '--service', `c=qdrant://127.0.0.1:${clustered.port}`, '--strategy', 'c=full-snapshot'], env);
      expect(res.code).not.toBe(0);
      expect(res.stdout + res.stderr).toMatch(/single-node deployment/);
      expect(clustered.fullSnapshots()).toEqual([]);
      const plan = await holdfast(['plan', '--service', `c=qdrant://127.0.0.1:${clustered.port}`], env);
      expect(plan.code, plan.stderr).toBe(0);
      expect(plan.stdout).toMatch(/snapshot/);
    } finally {
      await clustered.stop();
    }
    const scoped = await holdfast(['backup', '--json', '--service', `src=qdrant://127.0.0.1:${source.port}/?collections=docs`, ...pin], env);
    expect(scoped.code).toBe(1);
    expect(scoped.json<Doc>().services[0]!.error!.message).toMatch(/takes every collection/);
  });
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { QdrantClient } from '@qdrant/js-client-rest';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startFakeQdrant, type FakeQdrant } from '../servers/qdrant-fake.js';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { seedQdrant } from '../support/qdrant-data.js';

// Against the FAKE Qdrant (test/servers/qdrant-fake.ts), which keeps uploaded snapshot files,
// refuses incompatible snapshots and cuts shards one by one, as Qdrant 1.19 does. Issue 16
// points 1-4 and the Qdrant definitions fingerprint of issue 11 item 6.
interface Doc {
  snapshot?: string;
  services: Array<{ status: string; notes?: string[]; error?: { code: string; message: string; hint?: string }; fingerprint?: { equal: boolean; compared: number; differences: string[] } }>;
}
const both = ['snapshot', 'full-snapshot'] as const;

describe('qdrant: what a run leaves on the node and brings back (fake Qdrant)', () => {
  let source: FakeQdrant;
  let target: FakeQdrant;
  let client: QdrantClient;
  let work: string;
  let env: Record<string, string>;
  const src = () => ['--service', `src=qdrant://127.0.0.1:${source.port}`];
  const to = () => ['--target', `src=qdrant://127.0.0.1:${target.port}`];
  const leftovers = (node: FakeQdrant) => ({ ...node.serverSnapshots(), ...(node.fullSnapshots().length ? { full: node.fullSnapshots() } : {}) });

  beforeAll(async () => {
    source = await startFakeQdrant();
    client = await seedQdrant(source.url);
    await client.createCollection('sharded', { vectors: { size: 4, distance: 'Dot' }, shard_number: 2, hnsw_config: { m: 24 } });
    await client.createPayloadIndex('sharded', { field_name: 'n', field_schema: 'integer', wait: true });
    await client.upsert('sharded', { wait: true, points: Array.from({ length: 60 }, (_, i) => ({ id: i + 1, vector: [i, 1, 0, 0], payload: { n: i } })) });
    await client.updateCollectionAliases({ actions: [{ create_alias: { collection_name: 'docs', alias_name: 'docs-live' } }, { create_alias: { collection_name: 'sharded', alias_name: 'sharded-live' } }] });
    work = await mkdtemp(join(tmpdir(), 'holdfast-qdrant-state-'));
    env = { HOLDFAST_REPO: join(work, 'repo'), HOLDFAST_STATE_DIR: join(work, 'state') };
  });
  afterAll(async () => {
    await source?.stop();
    await target?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test.each(both)('%s: backup, restore, forced restore and restore test leave no snapshot file on either node', async (strategy) => {
    target = await startFakeQdrant();
    const id = savedSnapshot(await holdfast(['backup', '--json', ...src(), '--strategy', `src=${strategy}`], env));
    expect(leftovers(source)).toEqual({});
    const first = await holdfast(['restore', id, '--json', ...to()], env);
    expect(first.code, first.stderr + first.stdout).toBe(0);
    const forced = await holdfast(['restore', id, '--force', '--json', ...to()], env);
    expect(forced.code, forced.stderr + forced.stdout).toBe(0);
    expect(leftovers(target)).toEqual({});
    if (strategy === 'snapshot') {
      const rt = await holdfast(['verify', id, '--restore-test', '--json'], env);
      expect(rt.code, rt.stderr + rt.stdout).toBe(0);
      expect(leftovers(source)).toEqual({});
    }
    await target.stop();
  });

  test.each(both)('%s: aliases come back, in place after the collections were deleted and onto another node', async (strategy) => {
    target = await startFakeQdrant();
    const id = savedSnapshot(await holdfast(['backup', '--json', ...src(), '--strategy', `src=${strategy}`], env));
    const other = await holdfast(['restore', id, '--json', ...to()], env);
    expect(other.code, other.stderr + other.stdout).toBe(0);
    expect(target.aliases()).toEqual({ 'docs-live': 'docs', 'sharded-live': 'sharded' });
    await target.stop();
    // In place, after the collections (and so their aliases) were deleted.
    const scratch = await startFakeQdrant();
    try {
      const seeded = await seedQdrant(scratch.url);
      await seeded.updateCollectionAliases({ actions: [{ create_alias: { collection_name: 'docs', alias_name: 'docs-live' } }] });
      const copy = savedSnapshot(await holdfast(['backup', '--json', '--service', `src=qdrant://127.0.0.1:${scratch.port}`, '--strategy', `src=${strategy}`], env));
      for (const c of ['docs', 'images']) await seeded.deleteCollection(c);
      expect(scratch.aliases()).toEqual({});
      const back = await holdfast(['restore', copy, '--json', '--service', `src=qdrant://127.0.0.1:${scratch.port}`], env);
      expect(back.code, back.stderr + back.stdout).toBe(0);
      expect(scratch.aliases()).toEqual({ 'docs-live': 'docs' });
    } finally {
      await scratch.stop();
    }
  });

  test('--force over a collection recreated with other vectors is refused before anything is replaced', async () => {
    const node = await startFakeQdrant();
    try {
      const c = await seedQdrant(node.url);
      const id = savedSnapshot(await holdfast(['backup', '--json', '--service', `src=qdrant://127.0.0.1:${node.port}`], env));
      await c.upsert('docs', { wait: true, points: [{ id: 999, vector: Array(8).fill(0.1), payload: { after: true } }] });
      await c.deleteCollection('images');
      await c.createCollection('images', { vectors: { size: 16, distance: 'Euclid' } });
      await c.upsert('images', { wait: true, points: [{ id: 1, vector: Array(16).fill(1) }] });
      const res = await holdfast(['restore', id, '--force', '--json', '--service', `src=qdrant://127.0.0.1:${node.port}`], env);
      expect(res.code).toBe(1);
      const error = res.json<Doc>().services[0]!.error!;
      expect(error.message).toMatch(/cannot restore these snapshots over the existing collections images \(vectors .*16.* on the node, .*8.* in the snapshot\): nothing was changed/);
      expect(error.hint).toMatch(/delete those collections/);
      // docs comes before images: it was not replaced either.
      expect((await c.count('docs', { exact: true })).count).toBe(121);
      expect(node.serverSnapshots()).toEqual({});
    } finally {
      await node.stop();
    }
  });

  test('a backup under writes (2 shards cut one by one) records what the snapshot holds: restore and restore test verify; the manifest says per shard', async () => {
    let wrote = false;
    source.betweenShards(async (c, shard) => {
      if (c !== 'sharded' || shard !== 0 || wrote) return;
      wrote = true;
      // id 100 goes to shard 0 (already cut), 101 to shard 1 (not yet): the snapshot holds 101 only.
      await client.upsert('sharded', { wait: true, points: [100, 101].map((id) => ({ id, vector: [id, 0, 0, 1], payload: { n: id } })) });
      await client.delete('sharded', { wait: true, points: [2, 3] });
    });
    try {
      const backup = await holdfast(['backup', '--json', '--fingerprint', 'full', ...src(), '--strategy', 'src=snapshot'], env);
      const id = savedSnapshot(backup);
      expect(wrote).toBe(true);
      expect(backup.json<Doc>().services[0]!.notes?.join('\n')).toMatch(/sharded changed while its snapshot was cut/);
      const show = await holdfast(['show', id, '--json'], env);
      const svc = show.json<{ services: { src: { consistency: string; details: { consistencyScope: string } } } }>().services.src;
      expect(svc.consistency).toBe('engine-snapshot');
      expect(svc.details.consistencyScope).toMatch(/^per shard/);
      expect(source.serverSnapshots()).toEqual({});
      const rt = await holdfast(['verify', id, '--restore-test', '--json'], env);
      expect(rt.code, rt.stderr + rt.stdout).toBe(0);
      target = await startFakeQdrant();
      const restored = await holdfast(['restore', id, '--json', ...to()], env);
      expect(restored.code, restored.stderr + restored.stdout).toBe(0);
      expect(restored.json<Doc>().services[0]!.fingerprint?.equal).toBe(true);
      await target.stop();
    } finally {
      source.betweenShards(undefined);
    }
  });

  test('the definitions fingerprint: one property changed on the target after a restore is named by the comparison', async () => {
    target = await startFakeQdrant();
    try {
      const id = savedSnapshot(await holdfast(['backup', '--json', ...src(), '--strategy', 'src=snapshot'], env));
      const restored = await holdfast(['restore', id, '--json', ...to()], env);
      expect(restored.code, restored.stderr + restored.stdout).toBe(0);
      // One property changed on the target; restore --force replaces the points and compares again.
      // Qdrant keeps an existing collection's own config on recovery (recover.rs), so the change stays and is named.
      await new (await import('@qdrant/js-client-rest')).QdrantClient({ url: target.url, checkCompatibility: false }).updateCollection('sharded', { hnsw_config: { m: 8 } });
      const again = await holdfast(['restore', id, '--force', '--json', ...to()], env);
      expect(again.code).toBe(1);
      const differences = again.json<Doc>().services[0]!.fingerprint!.differences.join('\n');
      expect(differences).toMatch(/sharded.*hnsw/);
      expect(differences).toMatch(/m\W+8\W.*after restore.*m\W+24\W.*at backup/);
    } finally {
      await target.stop();
    }
  });

  test('a backup killed while the node cuts a snapshot: the next command deletes that snapshot and says so', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    source.betweenShards(async (c) => {
      if (c !== 'docs') return;
      entered();
      await held;
    });
    try {
      let pid = 0;
      const run = holdfast(['backup', '--json', ...src(), '--strategy', 'src=snapshot'], env, { onSpawn: (p) => (pid = p) });
      await inside;
      process.kill(pid, 'SIGKILL');
      await run;
      source.betweenShards(undefined);
      release();
      await new Promise((r) => setTimeout(r, 100));
      expect(source.serverSnapshots().docs?.length).toBe(1);
      const next = await holdfast(['backup', '--json', ...src(), '--strategy', 'src=snapshot'], env);
      expect(next.code, next.stderr + next.stdout).toBe(0);
      expect(next.json<Doc>().services[0]!.notes?.join('\n')).toMatch(/deleted snapshot files an earlier holdfast run left on .*docs\/docs-/);
      expect(source.serverSnapshots()).toEqual({});
    } finally {
      source.betweenShards(undefined);
      release();
    }
  });

  test('a snapshot the node failed to delete at the end of a backup is deleted by the next command', async () => {
    source.failNextSnapshotDelete();
    const first = await holdfast(['backup', '--json', ...src(), '--strategy', 'src=snapshot'], env);
    expect(first.code, first.stderr + first.stdout).toBe(0);
    expect(first.json<Doc>().services[0]!.notes?.join('\n')).toMatch(/the next holdfast command against this node deletes it/);
    expect(Object.values(source.serverSnapshots()).flat()).toHaveLength(1);
    const next = await holdfast(['backup', '--json', ...src(), '--strategy', 'src=snapshot'], env);
    expect(next.code, next.stderr + next.stdout).toBe(0);
    expect(next.json<Doc>().services[0]!.notes?.join('\n')).toMatch(/deleted snapshot files an earlier holdfast run left/);
    expect(source.serverSnapshots()).toEqual({});
  });
});

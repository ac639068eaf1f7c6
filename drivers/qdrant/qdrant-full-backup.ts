import type { BackupContext, BackupResult } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { connectQdrant, q, qdrantError, type QdrantNode } from './qdrant-connection.js';
import { FullSnapshotReader, type FullSnapshotLayout } from './qdrant-full-archive.js';
import { fingerprintCollections } from './qdrant-fingerprint.js';
import { listCollections, qdrantVersion } from './qdrant-inspector.js';
import { downloadChecked } from './qdrant-transfer.js';

export const FULL_ARTIFACT = 'storage.snapshot';

/** What the manifest records for a full-storage snapshot. */
export interface FullRecord {
  snapshot: string;
  size: number;
  checksum?: string;
  /** Per collection: the member of the archive that holds its snapshot, with its sha256, and its configuration. */
  collections: Array<FullSnapshotLayout['collections'][number] & { config?: unknown }>;
  aliases: Record<string, string>;
}

/**
 * Strategy `full-snapshot`: one snapshot of the node's whole storage
 * (POST /snapshots: every collection and the aliases), for a single-node
 * deployment. Streamed into the repository checked against the node's
 * sha256 and read on the way (which member is which collection, from its
 * config.json), then deleted from the node, with the per-collection
 * snapshots the node cut for it.
 */
export async function backupFullSnapshot(ctx: BackupContext): Promise<BackupResult> {
  const node = connectQdrant(ctx.service);
  const name = ctx.service.name;
  if (ctx.service.options.collections !== undefined || ctx.service.endpoint?.params.collections !== undefined) {
    throw new HoldfastError('config', 'the full-snapshot strategy takes every collection of the node; a collections option does not apply to it', {
      service: name,
      driver: 'qdrant',
      hint: 'drop the collections option, or pin the strategy snapshot (per collection)',
    });
  }
  const { version } = await qdrantVersion(node);
  await assertSingleNode(node);
  const names = await listCollections(node);
  if (names.length === 0) throw new HoldfastError('not-found', `there is no collection to back up on ${node.location}`, { service: name, driver: 'qdrant', hint: 'create a collection first, or check the service URL' });
  const configs = new Map<string, unknown>();
  for (const c of names) configs.set(c, (await q(node, `read the configuration of ${c}`, () => node.client.getCollection(c))).config);
  const before = await collectionSnapshots(node, names);

  ctx.progress.phase('full-storage snapshot');
  const snap = await q(node, 'create a full-storage snapshot', () => node.client.createFullSnapshot({ wait: true }));
  if (!snap) throw new HoldfastError('tool', 'Qdrant did not describe the full-storage snapshot it created', { service: name, driver: 'qdrant', hint: 'check the node\'s log' });
  let layout: FullSnapshotLayout | undefined;
  try {
    if (!snap.checksum) ctx.note(`Qdrant gave no sha256 for the full snapshot ${snap.name} (older than 1.8?): only its size is checked`);
    ctx.progress.phase(`download ${snap.name}`);
    const download = await downloadChecked(node, `the full snapshot ${snap.name}`, `/snapshots/${encodeURIComponent(snap.name)}`, snap, ctx.signal, (n) => ctx.progress.add(n));
    const reader = new FullSnapshotReader();
    download.once('error', (e) => reader.destroy(e));
    download.pipe(reader);
    await ctx.artifacts.write(FULL_ARTIFACT, reader, { kind: 'qdrant-full-snapshot', label: snap.name });
    try {
      layout = reader.layout();
    } catch (cause) {
      throw new HoldfastError('integrity', `the full snapshot ${snap.name}: ${(cause as Error).message}`, { service: name, driver: 'qdrant', hint: 'nothing was stored; pin the strategy snapshot (per collection) instead', cause });
    }
  } finally {
    await q(node, `delete the server-side full snapshot ${snap.name}`, () => node.client.deleteFullSnapshot(snap.name, { wait: true })).catch((e: Error) => ctx.note(e.message));
    await removeNewSnapshots(node, before, layout).catch((e: Error) => ctx.note(e.message));
  }
  const record: FullRecord = {
    snapshot: snap.name,
    size: snap.size,
    ...(snap.checksum ? { checksum: snap.checksum } : {}),
    collections: layout.collections.map((c) => ({ ...c, ...(configs.has(c.name) ? { config: configs.get(c.name) } : {}) })),
    aliases: layout.aliases,
  };
  const result: BackupResult = { details: { version, full: record } };
  if (ctx.fingerprintScope !== 'none') {
    ctx.progress.phase('fingerprint');
    result.fingerprint = await fingerprintCollections(node, record.collections.map((c) => c.name), ctx.fingerprintScope);
  }
  return result;
}

/** GET /cluster: `{ status: "disabled" }`, or enabled with its peers. A full snapshot holds only this node's shards. */
export async function clusterPeers(node: QdrantNode): Promise<number> {
  let res: Response;
  try {
    res = await fetch(`${node.location}/cluster`, { headers: node.headers() });
  } catch (cause) {
    throw qdrantError(node, 'read the cluster status (GET /cluster)', cause);
  }
  if (!res.ok) throw qdrantError(node, 'read the cluster status (GET /cluster)', Object.assign(new Error(`HTTP ${res.status}`), { status: res.status }));
  const body = (await res.json()) as { result?: { status?: string; peers?: Record<string, unknown> } };
  return body.result?.status === 'enabled' ? Object.keys(body.result.peers ?? {}).length : 1;
}

async function assertSingleNode(node: QdrantNode): Promise<void> {
  const peers = await clusterPeers(node);
  if (peers > 1) {
    throw new HoldfastError('config', `${node.location} is one of ${peers} peers of a Qdrant cluster: a full-storage snapshot holds only this node's shards`, {
      service: node.service,
      driver: 'qdrant',
      hint: 'use the strategy snapshot (per collection) on each node, or back up a single-node deployment',
    });
  }
}

async function collectionSnapshots(node: QdrantNode, names: readonly string[]): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  for (const c of names) out.set(c, new Set((await q(node, `list the snapshots of ${c}`, () => node.client.listSnapshots(c))).map((s) => s.name)));
  return out;
}

/**
 * The node cuts a snapshot per collection for a full snapshot and may keep
 * them. Those its config.json names go; when the archive could not be read,
 * those that appeared since just before the full snapshot.
 */
async function removeNewSnapshots(node: QdrantNode, before: Map<string, Set<string>>, layout: FullSnapshotLayout | undefined): Promise<void> {
  const ours = layout ? new Map(layout.collections.map((c) => [c.name, c.file])) : undefined;
  for (const [c, had] of before) {
    const now = await q(node, `list the snapshots of ${c}`, () => node.client.listSnapshots(c)).catch(() => []);
    for (const s of now) {
      const made = ours ? ours.get(c) === s.name : !had.has(s.name);
      if (made) await q(node, `delete the snapshot ${s.name} of ${c}`, () => node.client.deleteSnapshot(c, s.name));
    }
  }
}

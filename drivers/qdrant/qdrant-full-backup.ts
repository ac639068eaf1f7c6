import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BackupContext, BackupResult, Fingerprint, FingerprintScope } from '../../src/core/driver.js';
import { QDRANT_CONSISTENCY_SCOPE, shardsOf } from './qdrant-backup.js';
import { DebrisJournal } from './qdrant-debris.js';
import { stallMs } from '../../src/core/http-stall.js';
import { fingerprintOfSnapshot, mergeFingerprints, sameFingerprint } from './qdrant-moment.js';
import { noteSwept } from './qdrant-restore.js';
import { HoldfastError } from '../../src/core/errors.js';
import { connectQdrant, q, qdrantError, type QdrantNode } from './qdrant-connection.js';
import { forEachMember, FullSnapshotReader, type FullSnapshotLayout } from './qdrant-full-archive.js';
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
  await noteSwept(node, ctx.note);
  const { version } = await qdrantVersion(node);
  await assertSingleNode(node);
  const names = await listCollections(node);
  if (names.length === 0) throw new HoldfastError('not-found', `there is no collection to back up on ${node.location}`, { service: name, driver: 'qdrant', hint: 'create a collection first, or check the service URL' });
  const configs = new Map<string, unknown>();
  for (const c of names) configs.set(c, (await q(node, `read the configuration of ${c}`, () => node.client.getCollection(c))).config);
  const before = await collectionSnapshots(node, names);
  const scope = ctx.fingerprintScope;
  const fpBefore = scope === 'none' ? undefined : await fingerprintCollections(node, names, scope);

  ctx.progress.phase('full-storage snapshot');
  const journal = new DebrisJournal(node);
  const entry = await journal.add({ kind: 'full', before: (await q(node, 'list the full snapshots', () => node.client.listFullSnapshots())).map((s) => s.name) });
  const snap = await q(node, 'create a full-storage snapshot', () => node.client.createFullSnapshot({ wait: true }));
  if (!snap) throw new HoldfastError('tool', 'Qdrant did not describe the full-storage snapshot it created', { service: name, driver: 'qdrant', hint: 'check the node\'s log' });
  await journal.name(entry, snap.name);
  let layout: FullSnapshotLayout | undefined;
  let fingerprint: Fingerprint | undefined;
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
    if (fpBefore && scope !== 'none') {
      ctx.progress.phase('fingerprint');
      fingerprint = await snapshotFingerprint(ctx, node, snap, layout, fpBefore, scope);
    }
  } finally {
    await q(node, `delete the server-side full snapshot ${snap.name}`, () => node.client.deleteFullSnapshot(snap.name, { wait: true })).then(
      () => journal.done(entry),
      (e: Error) => ctx.note(`${e.message}; the next holdfast command against this node deletes it`),
    );
    await removeNewSnapshots(node, before, layout).catch((e: Error) => ctx.note(e.message));
  }
  const record: FullRecord = {
    snapshot: snap.name,
    size: snap.size,
    ...(snap.checksum ? { checksum: snap.checksum } : {}),
    collections: layout.collections.map((c) => ({ ...c, ...(configs.has(c.name) ? { config: configs.get(c.name) } : {}) })),
    aliases: layout.aliases,
  };
  const sharded = record.collections.filter((c) => shardsOf(c.config) > 1);
  if (sharded.length > 0) ctx.note(`${sharded.map((c) => `${c.name} (${shardsOf(c.config)} shards)`).join(', ')}: Qdrant cuts the shards of a collection one after another, so under writes a collection is consistent per shard, not at one moment`);
  const result: BackupResult = { details: { version, full: record, consistencyScope: QDRANT_CONSISTENCY_SCOPE } };
  if (fingerprint) result.fingerprint = fingerprint;
  return result;
}

/**
 * The fingerprint of what the archive holds (qdrant-moment.ts): collections
 * unchanged between just before and just after the snapshot keep the live
 * fingerprint; those that changed are restored from the archive, still on
 * the node, into a scratch collection and fingerprinted there.
 */
async function snapshotFingerprint(ctx: BackupContext, node: QdrantNode, snap: { name: string; size: number; checksum?: string | null }, layout: FullSnapshotLayout, before: Fingerprint, scope: FingerprintScope): Promise<Fingerprint> {
  const names = layout.collections.map((c) => c.name);
  const after = await fingerprintCollections(node, names, scope);
  const parts: Fingerprint[] = [];
  for (const c of layout.collections) {
    const one = (fp: Fingerprint): Fingerprint => ({ scope, items: { [c.name]: fp.items[c.name]! }, definitions: { [c.name]: fp.definitions?.[c.name] ?? {} } });
    if (before.items[c.name] && sameFingerprint(one(before), one(after))) {
      parts.push(one(after));
      continue;
    }
    ctx.note(`${c.name} changed while the full snapshot was cut: its fingerprint was read from the snapshot itself, restored into a scratch collection`);
    const open = async (): Promise<Readable> => {
      const archive = await downloadChecked(node, `the full snapshot ${snap.name}`, `/snapshots/${encodeURIComponent(snap.name)}`, snap, ctx.signal);
      const member = new PassThrough();
      void forEachMember(archive, async (m, body) => {
        if (m.path === c.file) await pipeline(body, member);
        else body.resume();
      }).then(
        () => member.writableEnded || member.destroy(new Error(`the full snapshot holds no ${c.file}`)),
        (e: Error) => member.destroy(e),
      );
      return member;
    };
    parts.push(await fingerprintOfSnapshot(node, ctx, c.name, open, c.sha256, scope, one(after)));
  }
  return mergeFingerprints(scope, parts);
}

/** GET /cluster: `{ status: "disabled" }`, or enabled with its peers. A full snapshot holds only this node's shards. */
export async function clusterPeers(node: QdrantNode): Promise<number> {
  let res: Response;
  try {
    res = await fetch(`${node.url}/cluster`, { headers: node.headers(), signal: AbortSignal.timeout(stallMs()) });
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

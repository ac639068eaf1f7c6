import type { BackupContext, BackupResult, Fingerprint } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { aliasesOf } from './qdrant-aliases.js';
import { connectQdrant, q, type QdrantNode } from './qdrant-connection.js';
import { DebrisJournal } from './qdrant-debris.js';
import { fingerprintCollections } from './qdrant-fingerprint.js';
import { qdrantVersion, selectCollections } from './qdrant-inspector.js';
import { fingerprintOfSnapshot, mergeFingerprints, sameFingerprint } from './qdrant-moment.js';
import { noteSwept } from './qdrant-restore.js';
import { downloadSnapshot } from './qdrant-transfer.js';

/** What the manifest records per collection, for the restore and for people. */
export interface CollectionRecord {
  name: string;
  artifact: string;
  snapshot: string;
  size: number;
  checksum?: string;
  /** vectors (size, distance), shard_number, replication_factor...: as GET /collections/{c} gave it. */
  config: unknown;
}

/**
 * What `engine-snapshot` means for Qdrant, written into the manifest beside
 * the level (DESIGN.md: per shard, not a cut across indices): each shard is
 * cut at its own moment (a collection's shards one after another), and
 * collections one after another.
 */
export const QDRANT_CONSISTENCY_SCOPE = 'per shard: each shard of a collection is cut at its own moment, collections one after another; not one point in time across shards or collections under writes';

/**
 * Strategy `snapshot`: per collection, create a snapshot on the node, stream
 * it into the repository checked against the node's sha256, and always
 * delete the server-side copy (it would otherwise fill the node's disk).
 * The collections' aliases are recorded. The fingerprint is the snapshot's
 * own (qdrant-moment.ts).
 */
export async function backupWithSnapshots(ctx: BackupContext): Promise<BackupResult> {
  const node = connectQdrant(ctx.service);
  await noteSwept(node, ctx.note);
  const { version } = await qdrantVersion(node);
  const collections = await selectCollections(node, ctx.service);
  if (collections.length === 0) {
    throw new HoldfastError('not-found', `there is no collection to back up on ${node.location}`, { service: node.service, driver: 'qdrant', hint: 'create a collection first, or check the service URL' });
  }
  const aliases = await aliasesOf(node, collections);
  const records: CollectionRecord[] = [];
  const fingerprints: Fingerprint[] = [];
  for (const [i, name] of collections.entries()) {
    if (ctx.signal.aborted) break;
    const { record, fingerprint } = await backupCollection(ctx, node, name, `collection-${i + 1}.snapshot`);
    records.push(record);
    if (fingerprint) fingerprints.push(fingerprint);
  }
  const sharded = records.filter((r) => shardsOf(r.config) > 1);
  if (sharded.length > 0) ctx.note(`${sharded.map((r) => `${r.name} (${shardsOf(r.config)} shards)`).join(', ')}: Qdrant cuts the shards of a collection one after another, so under writes a collection is consistent per shard, not at one moment`);
  const result: BackupResult = { details: { version, collections: records, aliases, consistencyScope: QDRANT_CONSISTENCY_SCOPE } };
  if (ctx.fingerprintScope !== 'none') result.fingerprint = mergeFingerprints(ctx.fingerprintScope, fingerprints);
  return result;
}

export function shardsOf(config: unknown): number {
  return (config as { params?: { shard_number?: number } } | undefined)?.params?.shard_number ?? 1;
}

async function backupCollection(ctx: BackupContext, node: QdrantNode, name: string, artifact: string): Promise<{ record: CollectionRecord; fingerprint?: Fingerprint }> {
  const scope = ctx.fingerprintScope;
  const info = await q(node, `read the configuration of ${name}`, () => node.client.getCollection(name));
  const before = scope === 'none' ? undefined : await fingerprintCollections(node, [name], scope);
  ctx.progress.phase(`snapshot ${name}`);
  // Written down before the snapshot exists: a run killed now leaves it to the next command.
  const journal = new DebrisJournal(node);
  const existing = (await q(node, `list the snapshots of ${name}`, () => node.client.listSnapshots(name))).map((s) => s.name);
  const entry = await journal.add({ kind: 'snapshot', collection: name, before: existing });
  let fingerprint: Fingerprint | undefined;
  let snap;
  try {
    snap = await q(node, `create a snapshot of ${name}`, () => node.client.createSnapshot(name, { wait: true })).catch(async (e: Error & { cause?: { status?: number } }) => {
      // The node answered with an error: it made nothing, and the entry must not outlive this run.
      if ((e.cause as { status?: number } | undefined)?.status) await journal.done(entry);
      throw e;
    });
    if (!snap) throw new HoldfastError('tool', `Qdrant did not describe the snapshot of ${name} it created`, { service: node.service, driver: 'qdrant', hint: 'check the node\'s log; the snapshot may still be in progress' });
    await journal.name(entry, snap.name);
    const made = snap;
    if (!made.checksum) ctx.note(`Qdrant gave no sha256 for the snapshot of ${name} (older than 1.8?): only its size is checked`);
    const stream = await downloadSnapshot(node, name, made, ctx.signal, (n) => ctx.progress.add(n));
    await ctx.artifacts.write(artifact, stream, { kind: 'qdrant-collection-snapshot', label: name });
    if (before && scope !== 'none') {
      ctx.progress.phase(`fingerprint ${name}`);
      const after = await fingerprintCollections(node, [name], scope);
      if (sameFingerprint(before, after)) fingerprint = after;
      else {
        ctx.note(`${name} changed while its snapshot was cut: its fingerprint was read from the snapshot itself, restored into a scratch collection`);
        fingerprint = await fingerprintOfSnapshot(node, ctx, name, () => downloadSnapshot(node, name, made, ctx.signal), made.checksum ?? undefined, scope, after);
      }
    }
  } finally {
    if (snap) {
      const name_ = snap.name;
      await q(node, `delete the server-side snapshot ${name_} of ${name}`, () => node.client.deleteSnapshot(name, name_)).then(
        () => journal.done(entry),
        (e: Error) => ctx.note(`${e.message}; the next holdfast command against this node deletes it`),
      );
    }
  }
  const record: CollectionRecord = { name, artifact, snapshot: snap.name, size: snap.size, config: info.config };
  if (snap.checksum) record.checksum = snap.checksum;
  return { record, ...(fingerprint ? { fingerprint } : {}) };
}

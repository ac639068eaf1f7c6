import type { BackupContext, BackupResult } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { connectQdrant, q, type QdrantNode } from './qdrant-connection.js';
import { fingerprintCollections } from './qdrant-fingerprint.js';
import { qdrantVersion, selectCollections } from './qdrant-inspector.js';
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
 * Strategy `snapshot`: per collection, create a snapshot on the node, stream
 * it into the repository checked against the node's sha256, and always
 * delete the server-side copy (it would otherwise fill the node's disk).
 */
export async function backupWithSnapshots(ctx: BackupContext): Promise<BackupResult> {
  const node = connectQdrant(ctx.service);
  const { version } = await qdrantVersion(node);
  const collections = await selectCollections(node, ctx.service);
  if (collections.length === 0) {
    throw new HoldfastError('not-found', `there is no collection to back up on ${node.location}`, { service: node.service, driver: 'qdrant', hint: 'create a collection first, or check the service URL' });
  }
  const records: CollectionRecord[] = [];
  for (const [i, name] of collections.entries()) {
    if (ctx.signal.aborted) break;
    records.push(await backupCollection(ctx, node, name, `collection-${i + 1}.snapshot`));
  }
  const result: BackupResult = { details: { version, collections: records } };
  if (ctx.fingerprintScope !== 'none') {
    ctx.progress.phase('fingerprint');
    result.fingerprint = await fingerprintCollections(node, collections, ctx.fingerprintScope);
  }
  return result;
}

async function backupCollection(ctx: BackupContext, node: QdrantNode, name: string, artifact: string): Promise<CollectionRecord> {
  const info = await q(node, `read the configuration of ${name}`, () => node.client.getCollection(name));
  ctx.progress.phase(`snapshot ${name}`);
  const snap = await q(node, `create a snapshot of ${name}`, () => node.client.createSnapshot(name, { wait: true }));
  if (!snap) throw new HoldfastError('tool', `Qdrant did not describe the snapshot of ${name} it created`, { service: node.service, driver: 'qdrant', hint: 'check the node\'s log; the snapshot may still be in progress' });
  try {
    if (!snap.checksum) ctx.note(`Qdrant gave no sha256 for the snapshot of ${name} (older than 1.8?): only its size is checked`);
    const stream = await downloadSnapshot(node, name, snap, ctx.signal, (n) => ctx.progress.add(n));
    await ctx.artifacts.write(artifact, stream, { kind: 'qdrant-collection-snapshot', label: name });
  } finally {
    await q(node, `delete the server-side snapshot ${snap.name} of ${name}`, () => node.client.deleteSnapshot(name, snap.name)).catch((e: Error) => ctx.note(e.message));
  }
  const record: CollectionRecord = { name, artifact, snapshot: snap.name, size: snap.size, config: info.config };
  if (snap.checksum) record.checksum = snap.checksum;
  return record;
}

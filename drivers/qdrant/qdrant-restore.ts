import { renameOption, type RestoreContext, type RestoreResult } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { renamer, restoreOption } from '../../src/core/rename.js';
import type { CollectionRecord } from './qdrant-backup.js';
import { connectQdrant, q, type QdrantNode } from './qdrant-connection.js';
import { fingerprintCollections } from './qdrant-fingerprint.js';
import { uploadSnapshot } from './qdrant-transfer.js';

/**
 * Restores each collection by uploading its snapshot with priority=snapshot,
 * which creates the collection or replaces what the node holds for it.
 * A collection that exists with points is refused unless --force; all are
 * checked before the first upload, so a refusal changes nothing. The restore
 * option `rename` restores a collection under another name.
 */
export async function restoreSnapshots(ctx: RestoreContext): Promise<RestoreResult> {
  const node = connectQdrant(ctx.target);
  const records = (ctx.recorded.details.collections as CollectionRecord[] | undefined) ?? [];
  if (records.length === 0) {
    throw new HoldfastError('integrity', 'the manifest lists no Qdrant collection', { service: ctx.target.name, driver: 'qdrant', hint: 'this snapshot was not made by the qdrant snapshot strategy' });
  }
  const rename = collectionRenamer(ctx);
  const scratchNames = renameOption(ctx.options);
  const targets = records.map((r) => ({ ...r, name: scratchNames?.[r.name] ?? rename(r.name), original: r.name }));
  assertDistinct(ctx.target.name, targets.map((t) => ({ from: t.original, to: t.name })));
  const occupied = await occupiedCollections(node, targets);
  if (occupied.length > 0 && !ctx.force) {
    throw new HoldfastError('target', `${node.location} already has points in the collections ${occupied.join(', ')}; restoring would replace them`, {
      service: ctx.target.name,
      driver: 'qdrant',
      hint: 'pass --force to replace them, restore under new names (--rename-pattern "(.+)" --rename-replacement "restored_$1"), or into another node with --target NAME=qdrant://host:6333',
    });
  }
  if (occupied.length > 0) ctx.note(`--force: replaced the collections ${occupied.join(', ')}`);
  for (const record of targets) {
    ctx.progress.phase(`upload ${record.name}`);
    await uploadSnapshot(node, record.name, ctx.artifacts.open(record.artifact), record.checksum, ctx.signal, (n) => ctx.progress.add(n));
  }
  const names = targets.map((r) => r.name);
  const result: RestoreResult = { location: `${node.location} (${names.join(', ')})`, details: { collections: names } };
  if (ctx.recorded.fingerprint) {
    ctx.progress.phase('fingerprint');
    const originalOf = new Map(targets.map((t) => [t.name, t.original]));
    result.fingerprint = await fingerprintCollections(node, names, ctx.recorded.fingerprint.scope, (n) => originalOf.get(n) ?? n);
  }
  return result;
}

/**
 * Restore under new names (--rename-pattern / --rename-replacement, or the
 * target URL parameters): a collection snapshot uploaded to another
 * collection name creates that collection. Two collections renamed to one
 * name are refused.
 */
export function collectionRenamer(ctx: RestoreContext): (name: string) => string {
  const pattern = restoreOption(ctx.options, ctx.target, 'rename_pattern');
  return renamer(pattern, restoreOption(ctx.options, ctx.target, 'rename_replacement') ?? '', 'qdrant');
}

export function assertDistinct(service: string, pairs: ReadonlyArray<{ from: string; to: string }>): void {
  const seen = new Map<string, string>();
  for (const { from, to } of pairs) {
    const other = seen.get(to);
    if (other !== undefined) throw new HoldfastError('usage', `the rename maps both ${other} and ${from} to ${to}`, { service, driver: 'qdrant', hint: 'use a pattern that keeps names apart, e.g. --rename-pattern "(.+)" --rename-replacement "restored_$1"' });
    seen.set(to, from);
    if (!to) throw new HoldfastError('usage', `the rename maps ${from} to an empty name`, { service, driver: 'qdrant' });
  }
}

/** Collections of these names that exist on the node with points in them. */
export async function occupiedCollections(node: QdrantNode, records: ReadonlyArray<{ name: string }>): Promise<string[]> {
  const occupied: string[] = [];
  for (const { name } of records) {
    const { exists } = await q(node, `check whether ${name} exists`, () => node.client.collectionExists(name));
    if (!exists) continue;
    const { count } = await q(node, `count the points of ${name}`, () => node.client.count(name, { exact: true }));
    if (count > 0) occupied.push(name);
  }
  return occupied;
}

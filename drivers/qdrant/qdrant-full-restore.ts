import type { RestoreContext, RestoreResult } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { connectQdrant, q, type QdrantNode } from './qdrant-connection.js';
import { FULL_CONFIG_MEMBER, forEachMember } from './qdrant-full-archive.js';
import { FULL_ARTIFACT, type FullRecord } from './qdrant-full-backup.js';
import { fingerprintCollections } from './qdrant-fingerprint.js';
import { assertDistinct, collectionRenamer, occupiedCollections } from './qdrant-restore.js';
import { uploadSnapshot } from './qdrant-transfer.js';

/**
 * Restores a full-storage snapshot into a running node. Qdrant itself
 * restores one only at start (`qdrant --storage-snapshot FILE`, into an
 * empty storage); holdfast instead uploads the collection snapshots the
 * archive holds, one by one as they stream out of it, with priority=snapshot
 * and each one's sha256, then recreates the aliases. Collections with points
 * and aliases that point elsewhere are refused unless --force, all checked
 * before the first upload.
 */
export async function restoreFullSnapshot(ctx: RestoreContext): Promise<RestoreResult> {
  const node = connectQdrant(ctx.target);
  const service = ctx.target.name;
  const record = ctx.recorded.details.full as FullRecord | undefined;
  if (!record || record.collections.length === 0) {
    throw new HoldfastError('integrity', 'the manifest records no Qdrant full snapshot', { service, driver: 'qdrant', hint: 'this snapshot was not made by the qdrant full-snapshot strategy' });
  }
  const rename = collectionRenamer(ctx);
  const renamed = record.collections.some((c) => rename(c.name) !== c.name);
  assertDistinct(service, record.collections.map((c) => ({ from: c.name, to: rename(c.name) })));
  const occupied = await occupiedCollections(node, record.collections.map((c) => ({ name: rename(c.name) })));
  // Aliases follow the originals: restored copies under new names do not take them over.
  const aliases = renamed ? {} : record.aliases;
  if (renamed && Object.keys(record.aliases).length > 0) ctx.note(`restored under new names: the aliases ${Object.keys(record.aliases).join(', ')} were left as they are`);
  const moved = await movedAliases(node, aliases);
  if ((occupied.length > 0 || moved.length > 0) && !ctx.force) {
    const what = [occupied.length ? `points in the collections ${occupied.join(', ')}` : '', moved.length ? `the aliases ${moved.join(', ')} pointing to other collections` : ''].filter(Boolean).join(' and ');
    throw new HoldfastError('target', `${node.location} already has ${what}; restoring would replace them`, {
      service,
      driver: 'qdrant',
      hint: 'pass --force to replace them, or restore into another node with --target NAME=qdrant://host:6333',
    });
  }
  if (occupied.length > 0) ctx.note(`--force: replaced the collections ${occupied.join(', ')}`);

  const byFile = new Map(record.collections.map((c) => [c.file, c]));
  const restored = new Set<string>();
  await forEachMember(ctx.artifacts.open(FULL_ARTIFACT), async (member, body) => {
    const c = byFile.get(member.path);
    if (!c) {
      body.resume();
      if (member.path === FULL_CONFIG_MEMBER) return;
      throw new HoldfastError('integrity', `the full snapshot holds ${member.path}, which its manifest does not name`, { service, driver: 'qdrant', hint: 'restore from another snapshot' });
    }
    const to = rename(c.name);
    ctx.progress.phase(`upload ${to}`);
    await uploadSnapshot(node, to, body, c.sha256, ctx.signal, (n) => ctx.progress.add(n));
    restored.add(c.name);
  });
  const missing = record.collections.filter((c) => !restored.has(c.name)).map((c) => c.name);
  if (missing.length > 0) throw new HoldfastError('integrity', `the full snapshot lacks the snapshots of ${missing.join(', ')}`, { service, driver: 'qdrant', hint: 'restore from another snapshot' });

  await restoreAliases(node, aliases, moved);
  const names = record.collections.map((c) => rename(c.name));
  const result: RestoreResult = { location: `${node.location} (${names.join(', ')})`, details: { collections: names, aliases } };
  if (ctx.recorded.fingerprint) {
    ctx.progress.phase('fingerprint');
    const originalOf = new Map(record.collections.map((c) => [rename(c.name), c.name]));
    result.fingerprint = await fingerprintCollections(node, names, ctx.recorded.fingerprint.scope, (n) => originalOf.get(n) ?? n);
  }
  return result;
}

/** Recorded aliases that exist on the node pointing to another collection. */
async function movedAliases(node: QdrantNode, aliases: Record<string, string>): Promise<string[]> {
  if (Object.keys(aliases).length === 0) return [];
  const existing = await q(node, 'list aliases', () => node.client.getAliases());
  return existing.aliases.filter((a) => aliases[a.alias_name] !== undefined && aliases[a.alias_name] !== a.collection_name).map((a) => a.alias_name).sort();
}

/** One alias change request: moved aliases deleted and created again, missing ones created. */
async function restoreAliases(node: QdrantNode, aliases: Record<string, string>, moved: readonly string[]): Promise<void> {
  const existing = Object.keys(aliases).length ? new Set((await q(node, 'list aliases', () => node.client.getAliases())).aliases.filter((a) => aliases[a.alias_name] === a.collection_name).map((a) => a.alias_name)) : new Set<string>();
  const actions = [
    ...moved.map((alias_name) => ({ delete_alias: { alias_name } })),
    ...Object.entries(aliases)
      .filter(([alias]) => !existing.has(alias))
      .map(([alias_name, collection_name]) => ({ create_alias: { alias_name, collection_name } })),
  ];
  if (actions.length > 0) await q(node, 'recreate the aliases', () => node.client.updateCollectionAliases({ actions }));
}

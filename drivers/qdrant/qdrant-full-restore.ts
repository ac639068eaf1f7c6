import type { RestoreContext, RestoreResult } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { connectQdrant } from './qdrant-connection.js';
import { FULL_CONFIG_MEMBER, forEachMember } from './qdrant-full-archive.js';
import { FULL_ARTIFACT, type FullRecord } from './qdrant-full-backup.js';
import { fingerprintCollections } from './qdrant-fingerprint.js';
import { aliasRenamer, assertCompatible, assertDistinct, collectionRenamer, noteSwept, occupiedCollections, uploadAndClean } from './qdrant-restore.js';
import { movedAliases, occupiedError, plannedAliases, restoreAliases } from './qdrant-aliases.js';

/**
 * Restores a full-storage snapshot into a running node. Qdrant itself
 * restores one only at start (`qdrant --storage-snapshot FILE`, into an
 * empty storage); holdfast instead uploads the collection snapshots the
 * archive holds, one by one as they stream out of it, with priority=snapshot
 * and each one's sha256 (each uploaded file is deleted again), then recreates
 * the aliases. Collections with points and aliases that point elsewhere are
 * refused unless --force, incompatible collections always, all checked before
 * the first upload.
 */
export async function restoreFullSnapshot(ctx: RestoreContext): Promise<RestoreResult> {
  const node = connectQdrant(ctx.target);
  const service = ctx.target.name;
  const record = ctx.recorded.details.full as FullRecord | undefined;
  if (!record || record.collections.length === 0) {
    throw new HoldfastError('integrity', 'the manifest records no Qdrant full snapshot', { service, driver: 'qdrant', hint: 'this snapshot was not made by the qdrant full-snapshot strategy' });
  }
  await noteSwept(node, ctx.note);
  const rename = collectionRenamer(ctx);
  assertDistinct(service, record.collections.map((c) => ({ from: c.name, to: rename(c.name) })));
  // Aliases follow the collections' names (renamed too under a rename pattern).
  const { aliases, originalOf: aliasOriginal } = plannedAliases(record.aliases, rename, aliasRenamer(ctx, rename));
  await assertCompatible(node, service, record.collections.map((c) => ({ name: rename(c.name), config: c.config })));
  const occupied = await occupiedCollections(node, record.collections.map((c) => ({ name: rename(c.name) })));
  const moved = await movedAliases(node, aliases);
  if ((occupied.length > 0 || moved.length > 0) && !ctx.force) throw occupiedError(node, service, occupied, moved, false);
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
    await uploadAndClean(node, to, body, c.sha256, ctx, (n) => ctx.progress.add(n));
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
    result.fingerprint = await fingerprintCollections(node, names, ctx.recorded.fingerprint.scope, { collection: (n) => originalOf.get(n) ?? n, alias: (a) => aliasOriginal.get(a) ?? a });
  }
  return result;
}

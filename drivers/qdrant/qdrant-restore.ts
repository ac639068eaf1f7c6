import { renameOption, type RestoreContext, type RestoreResult } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { renamer, restoreOption } from '../../src/core/rename.js';
import type { CollectionRecord } from './qdrant-backup.js';
import { connectQdrant, q, type QdrantNode } from './qdrant-connection.js';
import { canonical, fingerprintCollections } from './qdrant-fingerprint.js';
import type { Readable } from 'node:stream';
import { removeUploaded, uploadName, uploadSnapshot } from './qdrant-transfer.js';
import { movedAliases, occupiedError, plannedAliases, restoreAliases } from './qdrant-aliases.js';
import { DebrisJournal, sweepDebris } from './qdrant-debris.js';

/**
 * Restores each collection by uploading its snapshot with priority=snapshot,
 * which creates the collection or replaces what the node holds for it, then
 * its aliases. Everything is checked before the first upload, so a refusal
 * changes nothing: collections with points and aliases pointing elsewhere
 * need --force; a collection whose vectors or shard count differ from the
 * snapshot's is refused even with --force (Qdrant would refuse that upload
 * half way through). Each uploaded file Qdrant keeps is deleted again. The
 * restore option `rename` (a restore test) or a rename pattern restores
 * under other names, aliases included.
 */
export async function restoreSnapshots(ctx: RestoreContext): Promise<RestoreResult> {
  const node = connectQdrant(ctx.target);
  await noteSwept(node, ctx.note);
  const records = (ctx.recorded.details.collections as CollectionRecord[] | undefined) ?? [];
  if (records.length === 0) {
    throw new HoldfastError('integrity', 'the manifest lists no Qdrant collection', { service: ctx.target.name, driver: 'qdrant', hint: 'this snapshot was not made by the qdrant snapshot strategy' });
  }
  const rename = collectionRenamer(ctx);
  const scratchNames = renameOption(ctx.options);
  const renameCollection = (n: string) => scratchNames?.[n] ?? rename(n);
  const targets = records.map((r) => ({ ...r, name: renameCollection(r.name), original: r.name }));
  assertDistinct(ctx.target.name, targets.map((t) => ({ from: t.original, to: t.name })));
  const { aliases, originalOf: aliasOriginal } = plannedAliases((ctx.recorded.details.aliases as Record<string, string> | undefined) ?? {}, renameCollection, aliasRenamer(ctx, rename));
  await assertCompatible(node, ctx.target.name, targets);
  const occupied = await occupiedCollections(node, targets);
  const moved = await movedAliases(node, aliases);
  if ((occupied.length > 0 || moved.length > 0) && !ctx.force) throw occupiedError(node, ctx.target.name, occupied, moved, true);
  if (occupied.length > 0) ctx.note(`--force: replaced the collections ${occupied.join(', ')}`);
  for (const record of targets) {
    ctx.progress.phase(`upload ${record.name}`);
    await uploadAndClean(node, record.name, ctx.artifacts.open(record.artifact), record.checksum, ctx, (n) => ctx.progress.add(n));
  }
  await restoreAliases(node, aliases, moved);
  const names = targets.map((r) => r.name);
  const result: RestoreResult = { location: `${node.location} (${names.join(', ')})`, details: { collections: names, aliases } };
  if (ctx.recorded.fingerprint) {
    ctx.progress.phase('fingerprint');
    const originalOf = new Map(targets.map((t) => [t.name, t.original]));
    result.fingerprint = await fingerprintCollections(node, names, ctx.recorded.fingerprint.scope, { collection: (n) => originalOf.get(n) ?? n, alias: (a) => aliasOriginal.get(a) ?? a });
  }
  return result;
}

/** Aliases follow the collections: the scratch prefix in a restore test (option alias_prefix), else the rename pattern. */
export function aliasRenamer(ctx: RestoreContext, rename: (name: string) => string): (alias: string) => string {
  const prefix = ctx.options.alias_prefix;
  return typeof prefix === 'string' ? (a) => `${prefix}${a}` : rename;
}

/**
 * Uploads one snapshot, journaled, and deletes the file Qdrant keeps of it,
 * after success and after failure (a failure of the delete is a note).
 */
export async function uploadAndClean(node: QdrantNode, collection: string, artifact: Readable, checksum: string | undefined, ctx: { signal: AbortSignal; note(text: string): void }, onBytes: (n: number) => void): Promise<void> {
  const journal = new DebrisJournal(node);
  const file = uploadName();
  const entry = await journal.add({ kind: 'upload', collection, name: file });
  let kept = true;
  try {
    await uploadSnapshot(node, collection, artifact, checksum, ctx.signal, onBytes, file);
  } catch (e) {
    kept = !(e as { nothingKept?: boolean }).nothingKept;
    throw e;
  } finally {
    const removed = kept ? removeUploaded(node, collection, file) : Promise.resolve();
    await removed.then(
      () => journal.done(entry),
      (e: Error) => ctx.note(`the uploaded snapshot ${file} stays on ${node.location} for now (${e.message}); the next holdfast command against this node deletes it`),
    );
  }
}

/** Says what a dead run left on the node and was deleted now. */
export async function noteSwept(node: QdrantNode, note: (text: string) => void): Promise<void> {
  const swept = await sweepDebris(node).catch(() => []);
  if (swept.length > 0) note(`deleted snapshot files an earlier holdfast run left on ${node.location} (it was interrupted, or the node could not delete them then): ${swept.join(', ')}`);
}

/**
 * Qdrant recovers a snapshot into an existing collection only when its
 * vectors and shard number are the same (recover.rs); checked for every
 * target before the first upload, so a restore never stops half way.
 */
export async function assertCompatible(node: QdrantNode, service: string, targets: ReadonlyArray<{ name: string; config?: unknown }>): Promise<void> {
  const bad: string[] = [];
  for (const t of targets) {
    const params = (t.config as { params?: { vectors?: unknown; shard_number?: number } } | undefined)?.params;
    if (!params) continue;
    if (!(await q(node, `check whether ${t.name} exists`, () => node.client.collectionExists(t.name))).exists) continue;
    const have = ((await q(node, `read the configuration of ${t.name}`, () => node.client.getCollection(t.name))).config as unknown as { params: { vectors?: unknown; shard_number?: number } }).params;
    if (canonical(have.vectors ?? null) !== canonical(params.vectors ?? null)) bad.push(`${t.name} (vectors ${canonical(have.vectors ?? null)} on the node, ${canonical(params.vectors ?? null)} in the snapshot)`);
    else if ((have.shard_number ?? 1) !== (params.shard_number ?? 1)) bad.push(`${t.name} (${have.shard_number ?? 1} shards on the node, ${params.shard_number ?? 1} in the snapshot)`);
  }
  if (bad.length > 0) {
    throw new HoldfastError('target', `Qdrant cannot restore these snapshots over the existing collections ${bad.join('; ')}: nothing was changed`, {
      service,
      driver: 'qdrant',
      hint: 'delete those collections on the node first (the restore then creates them as they were), or restore under new names (--rename-pattern "(.+)" --rename-replacement "restored_$1")',
    });
  }
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

import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Fingerprint, FingerprintScope } from '../../src/core/driver.js';
import { q, type QdrantNode } from './qdrant-connection.js';
import { canonical, fingerprintCollections } from './qdrant-fingerprint.js';
import { uploadAndClean } from './qdrant-restore.js';

/**
 * The fingerprint of what a snapshot holds, when the node was written to
 * while it was cut (issue 16 point 3). The approach: fingerprint each
 * collection just before its snapshot and again just after. When both are
 * equal, nothing changed while the snapshot was cut, and that fingerprint is
 * the snapshot's. When they differ, the snapshot file itself is restored into
 * a scratch collection on the same node (`holdfast_scratch_<run>_fp…`) and
 * fingerprinted there: exactly what a restore will bring back, whatever
 * moment each shard was cut at. The scratch collection and the file Qdrant
 * keeps of the upload are deleted at once.
 */
export interface MomentContext {
  signal: AbortSignal;
  note(text: string): void;
}

export function sameFingerprint(a: Fingerprint, b: Fingerprint): boolean {
  return canonical(a.items) === canonical(b.items) && canonical(a.definitions ?? {}) === canonical(b.definitions ?? {});
}

/** Merges per-collection fingerprints into one. */
export function mergeFingerprints(scope: FingerprintScope, parts: readonly Fingerprint[]): Fingerprint {
  const out: Fingerprint = { scope, items: {}, definitions: {} };
  for (const p of parts) {
    Object.assign(out.items, p.items);
    Object.assign(out.definitions!, p.definitions ?? {});
  }
  return out;
}

/**
 * Restores `open()` (a fresh stream of the snapshot of `collection`) into a
 * scratch collection and fingerprints it under the collection's own name.
 * Aliases are node metadata, not in a collection snapshot: they are taken
 * from `live` (read just after the snapshot).
 */
export async function fingerprintOfSnapshot(node: QdrantNode, ctx: MomentContext, collection: string, open: () => Promise<Readable>, checksum: string | undefined, scope: FingerprintScope, live: Fingerprint): Promise<Fingerprint> {
  const scratch = `holdfast_scratch_${randomBytes(3).toString('hex')}_fp`;
  try {
    await uploadAndClean(node, scratch, await open(), checksum, ctx, () => undefined);
    const fp = await fingerprintCollections(node, [scratch], scope, { collection: () => collection });
    const aliases = live.definitions?.[collection]?.aliases;
    if (fp.definitions?.[collection] && aliases !== undefined) fp.definitions[collection].aliases = aliases;
    return fp;
  } finally {
    await q(node, `drop the scratch collection ${scratch}`, async () => {
      if ((await node.client.collectionExists(scratch)).exists) await node.client.deleteCollection(scratch);
    }).catch((e: Error) => ctx.note(e.message));
  }
}

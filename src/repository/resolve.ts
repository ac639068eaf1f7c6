import { HoldfastError, toHoldfastError } from '../core/errors.js';
import type { Manifest } from './manifest.js';
import { isBroken, type BrokenSnapshot } from './repository.js';

/**
 * Resolves what a user typed to a snapshot id: the id itself, a unique
 * prefix of one, `latest`, or a tag (the newest snapshot carrying it).
 */
export function resolveSnapshotRef(ref: string, entries: Array<Manifest | BrokenSnapshot>): string {
  const ids = entries.map((e) => e.id);
  if (ids.includes(ref)) return ref;
  const good = entries.filter((e): e is Manifest => !isBroken(e));
  if (ref === 'latest') {
    const last = good.at(-1);
    if (!last) throw new HoldfastError('not-found', 'the repository has no snapshot yet', { hint: 'run `holdfast backup` first' });
    return last.id;
  }
  const tagged = good.filter((m) => m.tags.includes(ref));
  if (tagged.length > 0) return tagged.at(-1)!.id;
  const prefixed = ids.filter((id) => id.startsWith(ref));
  if (prefixed.length === 1) return prefixed[0]!;
  // Exit 1 like an unknown one: what a reference names depends on what the repository holds (a
  // prefix unique today is ambiguous tomorrow), while exit 2 is for flags wrong whatever it holds.
  if (prefixed.length > 1) {
    throw new HoldfastError('not-found', `${JSON.stringify(ref)} matches ${prefixed.length} snapshots (${prefixed.slice(0, 3).join(', ')}${prefixed.length > 3 ? ', ...' : ''}), not one`, { hint: 'type more of the id' });
  }
  throw new HoldfastError('not-found', `no snapshot or tag ${JSON.stringify(ref)} in this repository`, {
    hint: 'list them with `holdfast snapshots`',
  });
}

/**
 * Committed snapshots oldest first, as every backend lists them. Ids have
 * one-second precision: within a second, the manifest's time decides.
 */
export function sortSnapshots(entries: Array<Manifest | BrokenSnapshot>): Array<Manifest | BrokenSnapshot> {
  const when = (e: Manifest | BrokenSnapshot) => ('createdAt' in e ? e.createdAt : '');
  return entries.sort((a, b) => a.id.slice(0, 16).localeCompare(b.id.slice(0, 16)) || when(a).localeCompare(when(b)) || a.id.localeCompare(b.id));
}

/**
 * Every snapshot a backend holds, sorted: each id's manifest loaded in turn;
 * one that cannot be read is listed as broken (never hidden), one whose
 * manifest is not there yet (`undefined`: being written or removed) is left out.
 */
export async function listSnapshots(ids: Iterable<string>, load: (id: string) => Promise<Manifest | undefined>): Promise<Array<Manifest | BrokenSnapshot>> {
  const out: Array<Manifest | BrokenSnapshot> = [];
  for (const id of ids) {
    try {
      const manifest = await load(id);
      if (manifest) out.push(manifest);
    } catch (error) {
      out.push({ id, broken: toHoldfastError(error).message });
    }
  }
  return sortSnapshots(out);
}

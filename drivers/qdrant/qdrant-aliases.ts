import { HoldfastError } from '../../src/core/errors.js';
import { q, type QdrantNode } from './qdrant-connection.js';

/**
 * Aliases at backup and restore, for both strategies. A restore brings each
 * alias of a restored collection back under the same rename as the
 * collections (in place: the same name; under a rename pattern: the
 * renamed alias; in a restore test: the scratch prefix), so that what is
 * restored is what was backed up and the definitions fingerprint can say so.
 */

/** alias -> collection, for the given collections only. */
export async function aliasesOf(node: QdrantNode, collections: readonly string[]): Promise<Record<string, string>> {
  const wanted = new Set(collections);
  const all = await q(node, 'list aliases', () => node.client.getAliases());
  return Object.fromEntries(all.aliases.filter((a) => wanted.has(a.collection_name)).map((a) => [a.alias_name, a.collection_name]).sort(([a], [b]) => (a! < b! ? -1 : 1)));
}

/** Recorded aliases mapped to the restore's names: target alias -> target collection, and target alias -> recorded alias. */
export function plannedAliases(recorded: Record<string, string>, renameCollection: (name: string) => string, renameAlias: (alias: string) => string): { aliases: Record<string, string>; originalOf: Map<string, string> } {
  const aliases: Record<string, string> = {};
  const originalOf = new Map<string, string>();
  for (const [alias, collection] of Object.entries(recorded)) {
    const to = renameAlias(alias);
    aliases[to] = renameCollection(collection);
    originalOf.set(to, alias);
  }
  return { aliases, originalOf };
}

/** Aliases to create that exist on the node pointing to another collection. */
export async function movedAliases(node: QdrantNode, aliases: Record<string, string>): Promise<string[]> {
  if (Object.keys(aliases).length === 0) return [];
  const existing = await q(node, 'list aliases', () => node.client.getAliases());
  return existing.aliases.filter((a) => aliases[a.alias_name] !== undefined && aliases[a.alias_name] !== a.collection_name).map((a) => a.alias_name).sort();
}

/** One alias change request: moved aliases deleted and created again, missing ones created. */
export async function restoreAliases(node: QdrantNode, aliases: Record<string, string>, moved: readonly string[]): Promise<void> {
  if (Object.keys(aliases).length === 0) return;
  const existing = new Set((await q(node, 'list aliases', () => node.client.getAliases())).aliases.filter((a) => aliases[a.alias_name] === a.collection_name).map((a) => a.alias_name));
  const actions = [
    ...moved.map((alias_name) => ({ delete_alias: { alias_name } })),
    ...Object.entries(aliases)
      .filter(([alias]) => !existing.has(alias))
      .map(([alias_name, collection_name]) => ({ create_alias: { alias_name, collection_name } })),
  ];
  if (actions.length > 0) await q(node, 'recreate the aliases', () => node.client.updateCollectionAliases({ actions }));
}

/** The refusal when collections hold points or aliases point elsewhere, before anything changes. */
export function occupiedError(node: QdrantNode, service: string, occupied: readonly string[], moved: readonly string[], hintRename: boolean): HoldfastError {
  const what = [occupied.length ? `points in the collections ${occupied.join(', ')}` : '', moved.length ? `the aliases ${moved.join(', ')} pointing to other collections` : ''].filter(Boolean).join(' and ');
  return new HoldfastError('target', `${node.location} already has ${what}; restoring would replace them`, {
    service,
    driver: 'qdrant',
    hint: hintRename
      ? 'pass --force to replace them, restore under new names (--rename-pattern "(.+)" --rename-replacement "restored_$1"), or into another node with --target NAME=qdrant://host:6333'
      : 'pass --force to replace them, or restore into another node with --target NAME=qdrant://host:6333',
  });
}

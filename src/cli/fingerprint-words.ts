import type { Fingerprint } from '../core/driver.js';
import { formatBytes } from '../core/progress.js';

/**
 * What a fingerprint counted, in the engine's own words: a database has
 * tables and rows, a volume has files (and a size), never "1 tables, 60 rows".
 */
const WORDS: Record<string, { object: [string, string]; item: [string, string] }> = {
  postgres: { object: ['table', 'tables'], item: ['row', 'rows'] },
  mysql: { object: ['table', 'tables'], item: ['row', 'rows'] },
  mongodb: { object: ['collection', 'collections'], item: ['document', 'documents'] },
  opensearch: { object: ['index', 'indices'], item: ['document', 'documents'] },
  qdrant: { object: ['collection', 'collections'], item: ['point', 'points'] },
  volume: { object: ['volume', 'volumes'], item: ['file or folder', 'files and folders'] },
};
const OTHER = { object: ['object', 'objects'] as [string, string], item: ['item', 'items'] as [string, string] };

const counted = (n: number, [one, many]: [string, string]) => `${n} ${n === 1 ? one : many}`;

/** `3 tables` / `1 volume`: the objects a fingerprint (or a comparison of one) covers. */
export function fingerprintObjects(engine: string, n: number): string {
  return counted(n, (WORDS[engine] ?? OTHER).object);
}

/**
 * `2 tables, 60 rows`; for volumes `1 volume, 60 files and folders, 1.2 MiB`
 * (`bytes`, the size of their regular files, when the backup recorded it).
 */
export function fingerprintSummary(engine: string, fingerprint: Fingerprint, bytes?: number): string {
  const words = WORDS[engine] ?? OTHER;
  const items = Object.values(fingerprint.items).reduce((n, i) => n + i.count, 0);
  const parts = [counted(Object.keys(fingerprint.items).length, words.object), counted(items, words.item)];
  if (bytes !== undefined) parts.push(formatBytes(bytes));
  return parts.join(', ');
}

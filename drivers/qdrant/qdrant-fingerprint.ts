import { createHash } from 'node:crypto';
import type { Fingerprint, FingerprintScope } from '../../src/core/driver.js';
import { q, type QdrantNode } from './qdrant-connection.js';

const PAGE = 256;
const MASK = (1n << 128n) - 1n;

/** Maps names on the node back to the names at backup (a rename, a restore test). */
export interface FingerprintKeys {
  collection?: (name: string) => string;
  alias?: (name: string) => string;
}

/**
 * Per collection: the exact points count and an order-independent checksum
 * (a sum of per-point hashes) over each point's id, payload and vectors, read
 * with scroll. Payload keys are sorted first, so JSON key order does not count.
 * And the definitions (definitionsOf). `keys` maps a restored collection and
 * its aliases back to their names at backup.
 */
export async function fingerprintCollections(node: QdrantNode, collections: readonly string[], scope: FingerprintScope, keys: FingerprintKeys | ((name: string) => string) = {}): Promise<Fingerprint> {
  const { collection: keyOf = (n: string) => n, alias: aliasKeyOf = (n: string) => n } = typeof keys === 'function' ? { collection: keys } : keys;
  const items: Fingerprint['items'] = {};
  const definitions = await definitionsOf(node, collections, keyOf, aliasKeyOf);
  for (const name of collections) {
    if (scope === 'counts') {
      const res = await q(node, `count the points of ${name}`, () => node.client.count(name, { exact: true }));
      items[keyOf(name)] = { count: res.count };
    } else {
      items[keyOf(name)] = await checksumCollection(node, name);
    }
  }
  return { scope, items, definitions };
}

/**
 * The definitions half, per collection (issue 11 item 6): what decides how
 * it searches and what a restore must bring back. Properties: vectors (size,
 * distance, datatype, multivector, per-vector hnsw/quantization/on_disk, as
 * one normalized JSON), sparse_vectors, shard_number, on_disk_payload, hnsw
 * (m, ef_construct, full_scan_threshold, on_disk, payload_m), quantization,
 * optimizer (the thresholds that shape segments), one `index:<field>` per
 * payload index (type and params), and aliases (sorted names). Runtime-only
 * settings (thread counts, flush interval, WAL) are left out: they do not
 * change what the collection holds or answers.
 */
export async function definitionsOf(node: QdrantNode, collections: readonly string[], keyOf: (name: string) => string = (n) => n, aliasKeyOf: (name: string) => string = (n) => n): Promise<Record<string, Record<string, string>>> {
  const out: Record<string, Record<string, string>> = {};
  const aliases = await q(node, 'list aliases', () => node.client.getAliases());
  for (const name of collections) {
    const info = (await q(node, `read the configuration of ${name}`, () => node.client.getCollection(name))) as unknown as { config: Record<string, any>; payload_schema?: Record<string, Record<string, unknown>> };
    const { config } = info;
    const pick = (o: Record<string, unknown> | null | undefined, keys: string[]) => (o ? Object.fromEntries(keys.filter((k) => o[k] !== undefined && o[k] !== null).map((k) => [k, o[k]])) : null);
    const props: Record<string, string> = {
      vectors: canonical(config.params?.vectors ?? null),
      sparse_vectors: canonical(config.params?.sparse_vectors ?? null),
      shard_number: String(config.params?.shard_number ?? 1),
      on_disk_payload: String(config.params?.on_disk_payload ?? null),
      hnsw: canonical(pick(config.hnsw_config, ['m', 'ef_construct', 'full_scan_threshold', 'on_disk', 'payload_m'])),
      quantization: canonical(config.quantization_config ?? null),
      optimizer: canonical(pick(config.optimizer_config, ['deleted_threshold', 'vacuum_min_vector_number', 'default_segment_number', 'max_segment_size', 'memmap_threshold', 'indexing_threshold'])),
      aliases: aliases.aliases
        .filter((a) => a.collection_name === name)
        .map((a) => aliasKeyOf(a.alias_name))
        .sort()
        .join(','),
    };
    for (const [field, schema] of Object.entries(info.payload_schema ?? {})) {
      const { points: _count, ...rest } = schema;
      props[`index:${field}`] = canonical(rest);
    }
    out[keyOf(name)] = props;
  }
  return out;
}

async function checksumCollection(node: QdrantNode, name: string): Promise<{ count: number; checksum: string }> {
  let sum = 0n;
  let count = 0;
  let offset: string | number | Record<string, unknown> | null | undefined = undefined;
  do {
    const page = await q(node, `scroll the points of ${name}`, () =>
      node.client.scroll(name, { limit: PAGE, with_payload: true, with_vector: true, ...(offset === undefined || offset === null ? {} : { offset: offset as string | number }) }),
    );
    for (const point of page.points) {
      const digest = createHash('sha256').update(canonical({ id: point.id, payload: point.payload ?? null, vector: point.vector ?? null })).digest();
      sum = (sum + BigInt(`0x${digest.subarray(0, 16).toString('hex')}`)) & MASK;
      count++;
    }
    offset = page.next_page_offset as typeof offset;
  } while (offset !== undefined && offset !== null);
  return { count, checksum: `${count}:${sum.toString(16).padStart(32, '0')}` };
}

/** JSON with object keys sorted at every level. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

import { createHash } from 'node:crypto';
import type { Fingerprint, FingerprintScope } from '../../src/core/driver.js';
import { q, type QdrantNode } from './qdrant-connection.js';

const PAGE = 256;
const MASK = (1n << 128n) - 1n;

/**
 * Per collection: the exact points count and an order-independent checksum
 * (a sum of per-point hashes) over each point's id, payload and vectors, read
 * with scroll. Payload keys are sorted first, so JSON key order does not count.
 * `keyOf` maps a restored collection back to its name at backup (a rename).
 */
export async function fingerprintCollections(node: QdrantNode, collections: readonly string[], scope: FingerprintScope, keyOf: (name: string) => string = (n) => n): Promise<Fingerprint> {
  const items: Fingerprint['items'] = {};
  for (const name of collections) {
    if (scope === 'counts') {
      const res = await q(node, `count the points of ${name}`, () => node.client.count(name, { exact: true }));
      items[keyOf(name)] = { count: res.count };
    } else {
      items[keyOf(name)] = await checksumCollection(node, name);
    }
  }
  return { scope, items };
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

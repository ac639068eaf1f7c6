import { createHash } from 'node:crypto';
import type { Fingerprint, FingerprintScope } from '../../src/core/driver.js';
import type { OpenSearchApi } from './opensearch-connection.js';
import { defineIndices } from './opensearch-definitions.js';

const PAGE = 1000;
const MASK = (1n << 128n) - 1n;

/**
 * Per index: the document count and an order-independent checksum over every
 * document's _id and _version (a sum of per-document hashes, so shard order
 * and paging order do not matter). A snapshot restore brings back the Lucene
 * segments, so ids and versions are kept; an update or delete changes them.
 * `keyOf` maps a restored index back to its name at backup (rename_pattern).
 */
export async function fingerprintIndices(os: OpenSearchApi, indices: readonly string[], scope: FingerprintScope, keyOf: (index: string) => string = (i) => i): Promise<Fingerprint> {
  const items: Fingerprint['items'] = {};
  if (indices.length > 0) await os.call('POST', `/${indices.map(encodeURIComponent).join(',')}/_refresh`, undefined, { expand_wildcards: 'all' });
  for (const index of indices) {
    if (scope === 'counts') {
      const res = await os.call<{ count: number }>('GET', `/${encodeURIComponent(index)}/_count`);
      items[keyOf(index)] = { count: res.count };
    } else {
      items[keyOf(index)] = await checksumIndex(os, index);
    }
  }
  return { scope, items, definitions: await defineIndices(os, indices, keyOf) };
}

interface Hit {
  _id: string;
  _version?: number;
}

/** Scroll in _doc order (the cheapest), short-lived scroll contexts cleared at the end. */
async function checksumIndex(os: OpenSearchApi, index: string): Promise<{ count: number; checksum: string }> {
  let sum = 0n;
  let count = 0;
  let page = await os.call<{ _scroll_id?: string; hits: { hits: Hit[] } }>('POST', `/${encodeURIComponent(index)}/_search`, { size: PAGE, sort: ['_doc'], version: true, _source: false }, { scroll: '1m' });
  let scrollId = page._scroll_id;
  try {
    while (page.hits.hits.length > 0) {
      for (const hit of page.hits.hits) {
        const digest = createHash('sha256').update(`${hit._id}\0${hit._version ?? 0}`).digest();
        sum = (sum + BigInt(`0x${digest.subarray(0, 16).toString('hex')}`)) & MASK;
        count++;
      }
      if (!scrollId) break;
      page = await os.call('POST', '/_search/scroll', { scroll: '1m', scroll_id: scrollId });
      scrollId = page._scroll_id ?? scrollId;
    }
  } finally {
    if (scrollId) await os.call('DELETE', '/_search/scroll', { scroll_id: scrollId }).catch(() => undefined);
  }
  return { count, checksum: `${count}:${sum.toString(16).padStart(32, '0')}` };
}

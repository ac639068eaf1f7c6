import type { Fingerprint } from '../../src/core/driver.js';
import type { OpenSearchApi } from './opensearch-connection.js';

/**
 * The definitions half of an OpenSearch fingerprint: per index, its field
 * mappings (`mapping.<field>`, and `mapping:<key>` for dynamic, _source, ...),
 * the settings that change what the index does (`setting.<name>`), and its
 * aliases (`alias.<name>`), each a canonical JSON value (keys sorted). Ids,
 * dates, versions and allocation, which a restore rightly changes, are left out.
 */
export async function defineIndices(os: OpenSearchApi, indices: readonly string[], keyOf: (index: string) => string): Promise<NonNullable<Fingerprint['definitions']>> {
  const definitions: NonNullable<Fingerprint['definitions']> = {};
  if (indices.length === 0) return definitions;
  const list = indices.map(encodeURIComponent).join(',');
  const opts = { expand_wildcards: 'all' };
  const mappings = await os.call<Record<string, { mappings?: Record<string, unknown> }>>('GET', `/${list}/_mapping`, undefined, opts);
  const settings = await os.call<Record<string, { settings?: Record<string, unknown> }>>('GET', `/${list}/_settings`, undefined, { ...opts, flat_settings: true });
  const aliases = await os.call<Record<string, { aliases?: Record<string, unknown> }>>('GET', `/${list}/_alias`, undefined, opts);
  for (const index of indices) {
    const props: Record<string, string> = {};
    const mapping = mappings[index]?.mappings ?? {};
    for (const [key, value] of Object.entries(mapping)) {
      if (key === 'properties') {
        for (const [field, def] of Object.entries(value as Record<string, unknown>)) props[`mapping.${field}`] = canonical(def);
      } else props[`mapping:${key}`] = canonical(value);
    }
    for (const [name, value] of Object.entries(settings[index]?.settings ?? {})) {
      if (MATTERS.test(name)) props[`setting.${name.replace(/^index\./, '')}`] = canonical(value);
    }
    for (const [name, def] of Object.entries(aliases[index]?.aliases ?? {})) props[`alias.${name}`] = canonical(def);
    definitions[keyOf(index)] = props;
  }
  return definitions;
}

/** Settings that decide what an index holds and how it answers. */
const MATTERS = /^index\.(number_of_shards|number_of_replicas|analysis\.|mapping\.|similarity\.|sort\.|codec|knn|max_result_window|max_inner_result_window|refresh_interval|routing_partition_size|hidden|blocks\.|default_pipeline|final_pipeline|query\.default_field|max_ngram_diff|max_shingle_diff)/;

/** A string as it is; anything else as JSON with object keys sorted at every level: equal definitions give equal strings. */
export function canonical(value: unknown): string {
  if (typeof value === 'string') return value;
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])]));
    return v;
  };
  return JSON.stringify(sort(value));
}

import type { Inspection } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import type { Service } from '../../src/core/service.js';
import type { OpenSearchApi } from './opensearch-connection.js';

export interface NodeFacts {
  version: string;
  distribution: string;
  /** path.repo of every node (the first is used; every node needs the same shared path). */
  pathRepo: string[];
}

/** `GET /` and `GET _nodes/settings`: version, distribution, path.repo. */
export async function nodeFacts(os: OpenSearchApi): Promise<NodeFacts> {
  const root = await os.call<{ version?: { number?: string; distribution?: string } }>('GET', '/');
  const settings = await os.call<{ nodes?: Record<string, { settings?: { path?: { repo?: string | string[] } } }> }>('GET', '/_nodes/settings');
  const repos = new Set<string>();
  for (const node of Object.values(settings.nodes ?? {})) {
    const repo = node.settings?.path?.repo;
    for (const r of Array.isArray(repo) ? repo : repo ? [repo] : []) repos.add(r);
  }
  return { version: root.version?.number ?? 'unknown', distribution: root.version?.distribution ?? 'opensearch', pathRepo: [...repos] };
}

export const PATH_REPO_HINT =
  'set path.repo on every node and restart it: in opensearch.yml `path.repo: ["/usr/share/opensearch/snapshots"]`; ' +
  'in docker compose `environment: [path.repo=/usr/share/opensearch/snapshots]` plus a volume mounted there ' +
  '(`volumes: [search_snapshots:/usr/share/opensearch/snapshots]`), and give holdfast that directory (service option repo_path_host when its host path differs)';

export function requirePathRepo(facts: NodeFacts, service: string): string {
  const first = facts.pathRepo[0];
  if (!first) {
    throw new HoldfastError('config', 'the OpenSearch node has no path.repo, so it cannot write a filesystem snapshot', { service, driver: 'opensearch', hint: PATH_REPO_HINT });
  }
  return first;
}

interface CatIndex {
  index: string;
  'docs.count'?: string;
  'store.size'?: string;
}

/** Open and closed indices, system and hidden ones (names starting with '.') left out unless named. */
export async function listIndices(os: OpenSearchApi): Promise<Array<{ name: string; docs: number; bytes: number }>> {
  const rows = await os.call<CatIndex[]>('GET', '/_cat/indices', undefined, { format: 'json', bytes: 'b', h: 'index,docs.count,store.size', expand_wildcards: 'all' });
  return rows
    .map((r) => ({ name: r.index, docs: Number(r['docs.count'] ?? 0), bytes: Number(r['store.size'] ?? 0) }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The indices a backup takes: the service option `indices` (list or comma string), else all but '.'-names. */
export async function selectIndices(os: OpenSearchApi, service: Service): Promise<string[]> {
  const all = await listIndices(os);
  const wanted = service.options.indices ?? service.endpoint?.params.indices;
  if (wanted === undefined) return all.map((i) => i.name).filter((n) => !n.startsWith('.'));
  const names = Array.isArray(wanted) ? wanted.map(String) : String(wanted).split(',').map((s) => s.trim()).filter(Boolean);
  const known = new Set(all.map((i) => i.name));
  const missing = names.filter((n) => !known.has(n));
  if (missing.length > 0) {
    throw new HoldfastError('not-found', `no index ${missing.join(', ')} on ${os.location}`, { service: service.name, driver: 'opensearch', hint: `indices there: ${[...known].join(', ') || 'none'}` });
  }
  return names;
}

export async function inspectOpenSearch(os: OpenSearchApi): Promise<Inspection> {
  const facts = await nodeFacts(os);
  const indices = await listIndices(os);
  return {
    version: facts.version,
    objects: indices.map((i) => ({ name: i.name, kind: 'index', bytes: i.bytes })),
    details: { distribution: facts.distribution, pathRepo: facts.pathRepo },
  };
}
